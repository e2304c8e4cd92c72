"""Running ``tfotel`` in-process from tests, and reading its result (shared by every test folder)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class CliResult:
    """What one ``tfotel`` invocation returned: exit code, stdout, stderr."""

    code: int
    out: str
    err: str

    def error_line(self) -> str:
        """The one ``tfotel: error:`` line of a bad-input exit, checked: exit 2, last line, no traceback."""
        assert self.code == 2, (self.code, self.out, self.err)
        assert "Traceback" not in self.err
        lines = self.err.rstrip("\n").splitlines()
        errors = [line for line in lines if line.startswith("tfotel: error: ")]
        assert lines and errors == [lines[-1]], lines
        return lines[-1]

    def only_error_line(self) -> str:
        """Like ``error_line``, and stderr holds nothing else."""
        line = self.error_line()
        assert self.err == line + "\n", self.err
        return line


def run_tfotel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    """Run the ``tfotel`` console entry point in this process with ``args``."""
    from tracefork_otel.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["tfotel", *args])
    code: Any = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return CliResult(int(code or 0), captured.out, captured.err)
