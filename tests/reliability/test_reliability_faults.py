"""Faults while recording: a dead or slow collector, a blob store that fills up, a locked span store, strict mode.

The agent never notices (no test times it: the assertions are that its calls all return,
what reached the local store, and what the spans say about what was lost). A process
killed mid-run is in ``test_reliability_crash.py``.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from cli_support import clean_env
from loopback import OtlpReceiver
from reliability_support import MODEL, Trace, child_command, integrity_ok, next_turn, turn_policy
from trace_support import sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore, fsspec_store, is_digest, sha256_hex
from tracefork_otel.demo import MessagesEndpoint
from tracefork_otel.errors import BlobError, RebuildError
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.spanmodel import SpanKind, SpanRecord
from tracefork_otel.spanstore import SpanStore, span_record_from_readable

STEPS = 6


# --- (a) the collector is down, or slow ------------------------------------------------


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed on return: nothing listens there


@pytest.fixture
def slow_collector() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver that sleeps 3 s on every export."""
    with OtlpReceiver(delay=3) as receiver:
        yield receiver


@pytest.mark.subprocess
def test_a_dead_or_slow_collector_never_holds_the_run_back(
    closed_port: int, slow_collector: OtlpReceiver, tmp_path: Path
) -> None:
    """Two processes at once: OTLP/gRPC to a closed port, OTLP/HTTP to a receiver that takes 3 s per export.

    Either way the run completes and, the moment ``record_run`` returns, every span of it is
    in the local store (its exit flushes only the local store; OTLP carries on in the background).
    """
    setups = {
        "dead": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{closed_port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        },
        "slow": {
            "OTEL_EXPORTER_OTLP_ENDPOINT": slow_collector.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        },
    }
    children = {
        name: subprocess.Popen(
            child_command("otlp-run", str(STEPS)),
            env=clean_env(tmp_path / name, OTEL_EXPORTER_OTLP_TIMEOUT="2", **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, extra in setups.items()
    }
    for name, child in children.items():
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, f"{name}: {err[-3000:]}"
        result = json.loads(out.strip().splitlines()[-1])
        assert result["exchanges"] == result["requests"] == STEPS, name
        assert result["stored_exchanges"] == list(range(STEPS)), name
        assert result["stored_root"] is True, name
    assert slow_collector.paths, "the slow collector was never reached: the test did not test it"


# --- (b) the blob store fails mid-run ---------------------------------------------------------


class DiskFullAfter:
    """The blob store's files: the ``after``-th and later writes stop halfway with ENOSPC."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.opened = 0
        self.failed = 0

    def wrap(self, real_open: Callable[..., Any]) -> Callable[..., Any]:
        def open_(path: str, mode: str = "rb", *args: Any, **kwargs: Any) -> Any:
            handle = real_open(path, mode, *args, **kwargs)
            if "w" not in mode:
                return handle
            self.opened += 1
            if self.opened <= self.after:
                return handle
            self.failed += 1
            return _HalfWriter(handle)

        return open_


class _HalfWriter(io.RawIOBase):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, data: Any) -> int:
        self._inner.write(bytes(data)[: len(data) // 2])
        self._inner.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def close(self) -> None:
        self._inner.close()
        super().close()


def _agent(client: anthropic.Anthropic, calls: int) -> list[str]:
    texts = []
    messages: list[Any] = [{"role": "user", "content": "hello"}]
    for call in range(calls):
        if call % 3 == 2:
            with client.messages.stream(model=MODEL, max_tokens=32, messages=messages) as events:
                texts.append(events.get_final_message().content[0].text)  # type: ignore[union-attr]
        else:
            texts.append(client.messages.create(model=MODEL, max_tokens=32, messages=messages).content[0].text)  # type: ignore[union-attr]
        messages = next_turn(messages, texts[-1])
    return texts


def test_a_blob_store_that_fills_up_mid_run_corrupts_nothing(
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Trace],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = serve(turn_policy)
    root = tmp_path / "blobs"
    store = FsspecBlobStore(str(root))
    disk = DiskFullAfter(5)  # two and a half exchanges fit
    monkeypatch.setattr(fsspec_store, "open", disk.wrap(open), raising=False)  # the store's local writes
    caplog.set_level(logging.WARNING)
    calls = 8
    with (
        record_run("disk-full", blob_store=store) as run,
        sdk_client(endpoint.base_url, run, max_retries=0, open_telemetry=False) as client,
    ):
        texts = _agent(client, calls)

    assert texts == [f"turn {n} of the run" for n in range(calls)]  # every call returned, unchanged
    assert disk.failed > 0
    trace = trace_of(run.trace_id)
    exchanges = trace.exchanges
    assert [s.attributes[semconv.STEP] for s in exchanges] == list(range(calls))
    assert trace.root.attributes[semconv.RUN_PARTIAL] is True
    assert "No space left on device" in trace.root.attributes[semconv.RECORD_ERROR]
    errors = [semconv.RECORD_ERROR in s.attributes for s in exchanges]
    first_failed = errors.index(True)
    assert first_failed == 2 and all(errors[first_failed:]), errors  # the 6th file write was exchange 2's response
    warnings = [r for r in caplog.records if r.name.startswith("tracefork_otel") and r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "No space left" in warnings[0].getMessage()

    # Nothing already written is damaged, and no half-written file is left behind.
    files = [p for p in root.rglob("*") if p.is_file()]
    assert files and all(is_digest(p.name) for p in files), [p.name for p in files if not is_digest(p.name)]
    fresh = FsspecBlobStore(str(root))
    for path in files:
        assert sha256_hex(fresh.get(path.name)) == path.name
    for span in exchanges[:first_failed]:
        for key in (semconv.REQUEST_SHA256, semconv.RESPONSE_SHA256):
            fresh.get(span.attributes[key])

    # The tape says what is true: partial, and the first exchange whose bytes are missing.
    records: list[SpanRecord] = [span_record_from_readable(s) for s in trace.spans]
    tape = rebuild_tape(run.trace_id, records)
    assert tape.partial is True and len(tape.exchanges) == calls
    with pytest.raises(RebuildError) as missing:
        rebuild_tape(run.trace_id, records, fresh)
    assert missing.value.step == first_failed


def test_strict_mode_from_the_environment_raises_the_first_failure_into_the_agent(
    serve: Callable[..., MessagesEndpoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``TFOTEL_STRICT=true``: the calls before the store failed are recorded; the failing one raises."""
    monkeypatch.setenv("TFOTEL_STRICT", "true")
    endpoint = serve(turn_policy)
    store = FsspecBlobStore(str(tmp_path / "blobs"))
    monkeypatch.setattr(fsspec_store, "open", DiskFullAfter(4).wrap(open), raising=False)
    done: list[str] = []
    with (
        pytest.raises(Exception) as caught,  # the BlobError itself, or the SDK wrapping it
        record_run("strict", blob_store=store) as run,
        sdk_client(endpoint.base_url, run, max_retries=0, open_telemetry=False) as client,
    ):
        messages: list[Any] = [{"role": "user", "content": "hello"}]
        for _ in range(5):
            done.append(client.messages.create(model=MODEL, max_tokens=32, messages=messages).content[0].text)  # type: ignore[union-attr]
            messages = next_turn(messages, done[-1])
    error = caught.value if isinstance(caught.value, BlobError) else caught.value.__cause__
    assert isinstance(error, BlobError), repr(caught.value)
    assert "No space left on device" in str(error)
    assert len(done) == 2  # exchanges 0 and 1 (four files) were written; exchange 2 raised
    assert len(endpoint.requests) == 3


# --- (c) another process holds the span store's lock ---------------------------------------


def _read_json(stream: Any) -> dict[str, Any]:
    line = stream.readline()
    assert line, "the child ended early"
    return dict(json.loads(line))


@pytest.mark.parametrize("budget", ["default", "small"])
@pytest.mark.subprocess
def test_a_locked_span_store(budget: str, tmp_path: Path) -> None:
    """A process holds ``BEGIN EXCLUSIVE`` on ``spans.sqlite3`` while a run records.

    ``default``: the store waits for the lock (10 s busy timeout, 3 retries); the lock goes
    after ~1.5 s and nothing is lost. ``small``: a store that gives up after ~0.3 s drops the
    locked run's spans, says so in one warning (no traceback), and records the next run whole.
    """
    home = tmp_path / "home"
    db = home / "spans.sqlite3"
    store = SpanStore(db)  # the file exists, in WAL mode, before the lock is taken
    store.write([SpanRecord("0" * 31 + "1", "0" * 15 + "1", None, "setup", SpanKind.INTERNAL, 1, 2)])
    store.close()
    holder = subprocess.Popen(
        child_command("hold-lock", str(db)), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    recorder = None
    try:
        assert _read_json(holder.stdout)["locked"] is True
        recorder = subprocess.Popen(
            child_command("locked-run", "4", budget),
            env=clean_env(home),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert _read_json(recorder.stdout)["started"] is True
        if budget == "default":
            time.sleep(1.5)  # the run is recording against a locked store
            holder.communicate("release\n", timeout=30)
            first = _read_json(recorder.stdout)
        else:
            first = _read_json(recorder.stdout)  # the locked run is over: its spans had nowhere to go
            holder.communicate("release\n", timeout=30)
        assert first["exchanges"] == 4  # the agent's run went through either way
        out, err = recorder.communicate("go\n", timeout=60)
    finally:
        for child in (holder, recorder):
            if child is not None and child.poll() is None:
                child.kill()
    assert recorder.returncode == 0, err[-3000:]
    assert "Traceback" not in err
    second = json.loads(out.strip().splitlines()[-1])

    assert integrity_ok(db) == "ok"
    store = SpanStore(db)
    try:
        steps = {
            trace_id: sorted(
                s.attributes[semconv.STEP] for s in store.get_trace(trace_id) if semconv.STEP in s.attributes
            )
            for trace_id in (second["first"], second["second"])
        }
    finally:
        store.close()
    assert steps[second["second"]] == [0, 1, 2, 3]  # after the lock, recording is whole again
    dropped = [line for line in err.splitlines() if "Could not write" in line and "local span store" in line]
    if budget == "default":
        assert steps[second["first"]] == [0, 1, 2, 3]
        assert dropped == []
    else:
        assert steps[second["first"]] == []  # dropped by the exporter, not written half
        assert len(dropped) == 1 and "database is locked" in dropped[0], err
