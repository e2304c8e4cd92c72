"""What ``runs``, ``show`` and ``verify`` print on a real terminal (a pty) holds no escape sequence.

Run names, model ids, tool names and trace ids come from model output, a trace backend
or a ``.tftape``. At f8a9b07 they reached the terminal raw: an OSC retitled the window,
CSI cleared the screen, and CR/LF forged a line such as ``ok … bit-exact``.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path

import pytest
from cli_support import clean_env
from reliability_support import tfotel_command

from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.tape import Exchange, Tape, encode_bundle, tape_digest

pytestmark = pytest.mark.subprocess

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
FORGED = "ok 4bf92f3577b34da6a3ce929d0e0e4736: 3 steps bit-exact"
EVIL = f"\x1b]0;pwned\x07\x1b[2J\x1b[31mred\x9b0m\r\n{FORGED}\u202e"


def evil_bundle(path: Path, trace_id: str) -> Path:
    request = json.dumps({"model": EVIL, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}).encode()
    response = json.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": EVIL,
            "content": [{"type": "tool_use", "id": "toolu_1", "name": EVIL, "input": {}}],
            "stop_reason": EVIL,
            "usage": {"input_tokens": 1, "output_tokens": 1},
        }
    ).encode()
    exchanges = (
        Exchange(step=0, request_sha256=sha256_hex(request), response_sha256=sha256_hex(response), request_model=EVIL),
    )
    tape = Tape(trace_id=trace_id, exchanges=exchanges, run_name=EVIL, digest=tape_digest(exchanges, ()))
    path.write_bytes(encode_bundle(tape, {sha256_hex(request): request, sha256_hex(response): response}))
    return path


def in_pty(args: list[str], env: dict[str, str], timeout: float = 60) -> bytes:
    """Everything ``tfotel ARGS`` wrote to its terminal (stdout and stderr are the pty)."""
    master, slave = os.openpty()
    proc = subprocess.Popen(tfotel_command(*args), stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed its side
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        proc.wait(timeout)
    return bytes(out)


def assert_inert(screen: bytes) -> None:
    assert b"\x1b" not in screen and b"\x07" not in screen and "\x9b".encode() not in screen, screen
    assert b"\r" not in screen.replace(b"\r\n", b""), screen  # a pty shows LF as CRLF; no bare CR
    assert "\u202e".encode() not in screen
    lines = screen.decode("utf-8", "replace").splitlines()
    assert not any(line.startswith("ok ") for line in lines), lines
    assert "\\x1b]0;pwned" in screen.decode("utf-8", "replace")  # shown, escaped


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("terminal")
    imported = subprocess.run(
        tfotel_command("import", str(evil_bundle(root / "evil.tftape", TRACE_ID))),
        env=clean_env(root / "home"),
        capture_output=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    return root


@pytest.mark.parametrize("command", [["runs"], ["show", TRACE_ID]], ids=["runs", "show"])
def test_names_models_and_tools_are_escaped(command: list[str], home: Path) -> None:
    assert_inert(in_pty(command, clean_env(home / "home")))


def test_verify_of_a_foreign_tape_escapes_its_trace_id(home: Path) -> None:
    tape = evil_bundle(home / "foreign.tftape", EVIL)
    screen = in_pty(["verify", str(tape), "--agent", "tracefork_otel.demo.agent:run"], clean_env(home / "home"))
    assert b"DRIFT" in screen, screen
    assert_inert(screen)
