"""Output and the one way out: ``--json``, terminal text, and errors as one stderr line with exit 2."""

from __future__ import annotations

import json
import logging
from typing import Any, Final

import click

_UNSAFE: Final = [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
"""C0 and C1 controls (ESC starts CSI/OSC sequences, CR rewrites a line, LF forges one), DEL, the
Unicode line/paragraph separators and the bidirectional overrides ("Trojan Source")."""
_ESCAPED: Final = {code: ascii(chr(code))[1:-1] for code in _UNSAFE}
_ESCAPED_BUT_NEWLINE: Final = {code: text for code, text in _ESCAPED.items() if code != 0x0A}

EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class Abort(click.ClickException):
    """Ends the command with one ``tfotel: error: …`` line on stderr and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.echo(f"tfotel: error: {printable(self.format_message())}", err=True)


def printable(text: object) -> str:
    """``text`` safe for a terminal on one line: every control character shown as its escape (``\\x1b``, ``\\n``).

    Names, model ids, tool names, error texts and trace ids come from model output, a
    trace backend or a ``.tftape``; printed raw they could move the cursor, retitle the
    window or forge a line such as ``ok … bit-exact``.
    """
    return str(text).translate(_ESCAPED)


def printable_lines(text: str) -> str:
    """Like `printable`, but keeps the line breaks of text we laid out ourselves."""
    return text.translate(_ESCAPED_BUT_NEWLINE)


class PrintableFormatter(logging.Formatter):
    """Log records as the CLI shows them on stderr: each record on its own lines, control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return printable_lines(super().format(record))


def one_line(exc: BaseException) -> str:
    """An error as one printable line (no traceback, no newlines, no control characters)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return printable(text)


def emit_json(data: Any) -> None:
    """Machine output: one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def status(message: str) -> None:
    """One line of progress for people, on stderr (stdout stays clean for --json); control characters,
    line breaks included, escaped: a progress line quotes trace ids and names from the tape."""
    click.echo(printable(message), err=True)
