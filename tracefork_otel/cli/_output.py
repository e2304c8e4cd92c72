"""Output and the one way out: ``--json``, terminal text, and errors as one stderr line with exit 2."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click

from tracefork_otel.errors import TraceforkError

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2


class Abort(click.ClickException):
    """Ends the command with one ``tfotel: error: …`` line on stderr and an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]

    def show(self, file: Any = None) -> None:
        click.echo(f"tfotel: error: {self.format_message()}", err=True)


def one_line(exc: BaseException) -> str:
    """An error as one line (no traceback, no newlines)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def fail(exc: TraceforkError) -> NoReturn:
    raise Abort(one_line(exc), EXIT_BAD_INPUT) from exc


def emit_json(data: Any) -> None:
    """Machine output: one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def status(message: str) -> None:
    """Progress for people, on stderr (stdout stays clean for --json)."""
    click.echo(message, err=True)


def isatty() -> bool:
    return sys.stderr.isatty()
