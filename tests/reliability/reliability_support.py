"""Helpers of the reliability tests (plain code; the fixtures that use them are in ``conftest.py``)."""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from trace_support import Trace as Trace  # re-exported for this folder's tests

from tracefork_otel.wire import message

HERE = Path(__file__).resolve().parent
CHILD = HERE / "reliability_child.py"
MODEL = "claude-sonnet-4-6"

FULL = os.environ.get("TFOTEL_RELIABILITY_FULL", "").lower() in {"1", "true", "yes"}
"""``TFOTEL_RELIABILITY_FULL=1`` runs the load and memory tests at the issue's sizes (slower than CI's budget)."""


def scaled(ci: int, full: int) -> int:
    """A size: ``ci`` in the default suite, ``full`` with ``TFOTEL_RELIABILITY_FULL=1``."""
    return full if FULL else ci


def turn_policy(request: dict[str, Any]) -> dict[str, Any]:
    """A model that answers every turn with a short text naming the turn (a pure function of the request)."""
    turns = sum(1 for m in request["messages"] if m["role"] == "assistant")
    return message(f"turn {turns} of the run", request=request)


def next_turn(messages: list[Any], text: str) -> list[Any]:
    return [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": "go on"}]


def child_command(mode: str, *args: str) -> list[str]:
    """The command line running one mode of ``reliability_child.py``."""
    return [sys.executable, str(CHILD), mode, *args]


def run_child(mode: str, *args: str, env: dict[str, str], timeout: float = 120) -> tuple[dict[str, Any], str]:
    """Run a child mode to its end; its last stdout line is JSON. Returns (that JSON, stderr)."""
    done = subprocess.run(child_command(mode, *args), env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.strip().splitlines()
    assert lines, done.stderr[-4000:]
    return json.loads(lines[-1]), done.stderr


def tfotel_command(*args: str) -> list[str]:
    """The ``tfotel`` console script (or its module) with ``args``."""
    script = Path(sys.executable).parent / "tfotel"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-c", "from tracefork_otel.cli import main; main()", *args]


def integrity_ok(path: Path) -> str:
    """``PRAGMA integrity_check`` of a SQLite file, from a fresh connection."""
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])


def last_error_line(stderr: str) -> str:
    """The ``tfotel: error:`` line ending a bad-input exit, after any progress lines (no traceback, one error)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("tfotel: error: ")]
    assert errors == lines[-1:], stderr
    return lines[-1]


def one_error_line(stderr: str) -> str:
    """The single ``tfotel: error:`` line of a bad-input exit (no traceback, nothing else)."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfotel: error: "), stderr
    return lines[0]


def rle_bomb(expands_to: int, *, claim: int | None = None) -> bytes:
    """A zstd frame of RLE blocks: ~4 bytes per 128 KiB of zeros, so a few KiB expand to gigabytes.

    ``claim`` puts a content size in the header; by default the size is unknown (the
    decoder can only find out by decompressing).
    """
    block = 128 * 1024
    if claim is None:
        header = struct.pack("<IBB", 0xFD2FB528, 0x00, (17 - 10) << 3)  # no size, window 128 KiB
    else:
        header = struct.pack("<IBBQ", 0xFD2FB528, 0xC0, (17 - 10) << 3, claim)  # 8-byte content size
    blocks = bytearray()
    count = expands_to // block
    for index in range(count):
        last = index == count - 1
        blocks += (int(last) | 1 << 1 | block << 3).to_bytes(3, "little") + b"\x00"  # RLE block of zeros
    return header + bytes(blocks)
