"""Running ``tfotel`` from tests (in-process, or the environment of a child process), and reading its result.

Shared by every test folder (and ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PROXY_VARIABLES = (
    *("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"),
    *("http_proxy", "https_proxy", "all_proxy", "no_proxy"),
    "grpc_proxy",
)
"""The proxy settings httpx and gRPC read from the environment; loopback traffic in tests must not go through one."""

LOOPBACK = "127.0.0.1,localhost"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: ours without proxies or OTel/tracefork/Anthropic settings, plus ``extra``.

    ``TFOTEL_HOME`` is ``home``, and ``NO_PROXY`` keeps loopback direct even if a proxy comes back in ``extra``.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in PROXY_VARIABLES and not key.startswith(("OTEL_", "TFOTEL_", "ANTHROPIC_"))
    }
    env.update({"TFOTEL_HOME": str(home), "NO_PROXY": LOOPBACK, "no_proxy": LOOPBACK})
    env.update(extra)
    return env


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
