"""A recording process killed with SIGKILL mid-run: the store stays sound and the finished steps rebuild.

What is lost, precisely: exchange spans reach the local store in batches (every 100 ms,
the local ``BatchSpanProcessor``), after the background writer has stored their bytes. A
kill loses the root span (the run is never sealed: no digest, no draws) and the exchanges
whose spans were still in the writer's queue or the current batch window. Every exchange
that finished before that window is in the store with its blobs, as steps 0..k with no gap.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cli_support import clean_env
from click.testing import CliRunner
from reliability_support import child_command, integrity_ok

from tracefork_otel import semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.cli import cli
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.spanstore import SpanStore

pytestmark = pytest.mark.subprocess

STEPS = 30
KILL_AFTER = 10
"""Exchanges the child has finished when it is killed."""


def _start(home: Path, pause_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        child_command("crash", str(STEPS), str(KILL_AFTER - 1), str(pause_s), "0.002"),
        env=clean_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after_step(child: subprocess.Popen[str], wait_s: float) -> tuple[str, dict[str, Any]]:
    """Read the child's trace id and steps; SIGKILL it ``wait_s`` after step ``KILL_AFTER - 1`` finished."""
    assert child.stdout is not None
    trace_id = json.loads(child.stdout.readline())["trace_id"]
    last: dict[str, Any] = {}
    while last.get("done") != KILL_AFTER - 1:
        line = child.stdout.readline()
        assert line, child.communicate()[1][-3000:]
        last = json.loads(line)
    time.sleep(wait_s)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return trace_id, last


def _stored_steps(home: Path, trace_id: str) -> list[int]:
    store = SpanStore(home / "spans.sqlite3")
    try:
        spans = store.get_trace(trace_id)
    finally:
        store.close()
    return sorted(int(s.attributes[semconv.STEP]) for s in spans if semconv.STEP in s.attributes)


def test_sigkill_mid_run(tmp_path: Path) -> None:
    """Two victims at once: one killed 1 s into a slow tool call after step 9, one right after step 9."""
    homes = {"paused": tmp_path / "paused", "immediate": tmp_path / "immediate"}
    children = {"paused": _start(homes["paused"], 5.0), "immediate": _start(homes["immediate"], 0.0)}
    with ThreadPoolExecutor(2) as pool:  # each victim watched on its own thread, so each dies on time
        watching = {
            name: pool.submit(_kill_after_step, children[name], 1.0 if name == "paused" else 0.0) for name in homes
        }
        killed = {name: future.result() for name, future in watching.items()}

    for name, home in homes.items():
        trace_id, _ = killed[name]
        db = home / "spans.sqlite3"
        assert integrity_ok(db) == "ok", name
        steps = _stored_steps(home, trace_id)
        assert steps == list(range(len(steps))), f"{name}: a gap in {steps}"  # a prefix, never a hole
        if name == "paused":
            assert steps == list(range(KILL_AFTER))  # the batch window had passed: every finished step is there
        else:
            assert 1 <= len(steps) <= KILL_AFTER  # the last window's exchanges may be lost, nothing else

        # The run is listed (unsealed, so unnamed and partial), shown, and rebuilds as a partial tape.
        env = {"TFOTEL_HOME": str(home), "TFOTEL_BLOBS": None}
        listed = CliRunner().invoke(cli, ["runs", "--json"], env=env)
        assert listed.exit_code == 0, listed.output
        (run,) = json.loads(listed.stdout)["runs"]
        assert (run["trace_id"], run["exchanges"], run["partial"], run["name"]) == (trace_id, len(steps), True, "")
        shown = CliRunner().invoke(cli, ["show", trace_id], env=env)
        assert shown.exit_code == 0, shown.output
        assert f"{len(steps)} steps" in shown.stdout and "partial" in shown.stdout

        store = SpanStore(db)
        try:
            spans = store.get_trace(trace_id)
        finally:
            store.close()
        tape = rebuild_tape(trace_id, spans, FsspecBlobStore(str(home / "blobs")))  # every blob is there
        assert tape.partial is True
        assert [ex.step for ex in tape.exchanges] == steps
        assert all(ex.stream and not ex.incomplete for ex in tape.exchanges)
