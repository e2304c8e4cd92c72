"""Fixtures of the report tests: a fresh ``TFOTEL_HOME``, and ``tfotel`` run in-process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import run_tfotel
from report_support import CliResult


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh ``TFOTEL_HOME`` (local span store and blobs) for one test."""
    path = tmp_path / "home"
    monkeypatch.setenv("TFOTEL_HOME", str(path))
    monkeypatch.delenv("TFOTEL_BLOBS", raising=False)
    monkeypatch.delenv("TFOTEL_SOURCE", raising=False)
    return path


@pytest.fixture
def tfotel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., CliResult]]:
    """Run the ``tfotel`` console entry point in-process: ``tfotel("report", ID, ...) -> CliResult``."""

    def invoke(*args: str) -> CliResult:
        return run_tfotel(monkeypatch, capsys, *args)

    yield invoke
