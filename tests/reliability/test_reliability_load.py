"""Load: many runs at once in one process, several processes on one ``TFOTEL_HOME``, and memory that stays flat.

Sizes: 200 concurrent runs x 20 steps always (about 20 s); the multi-process and memory
tests run what CI affords, and ``TFOTEL_RELIABILITY_FULL=1`` runs the issue's sizes
(4 processes x 10 runs x 10 steps, 3 runs in CI; 10,000 exchanges for memory).
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import subprocess
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cli_support import clean_env
from reliability_support import (
    MODEL,
    Trace,
    child_command,
    integrity_ok,
    next_turn,
    run_child,
    scaled,
    tfotel_command,
    turn_policy,
)
from trace_support import async_sdk_client, sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.demo import MessagesEndpoint
from tracefork_otel.spanstore import SpanStore

MARKER = re.compile(r"load-marker-[0-9a-f]{32}")
THREAD_RUNS = 100
TASK_RUNS = 100
STEPS = 20
STREAM_EVERY = 4
"""Every fourth step of the threaded runs streams (SSE)."""

SSL = ssl.create_default_context()
"""One TLS context for every client: the SDK's default client loads the CA bundle (~80 ms) per client."""
TIMEOUT = httpx2.Timeout(120)
"""Generous: 200 clients on one loopback server and two cores; a slow answer must not become a retry (a step)."""


def _sync_run(endpoint: MessagesEndpoint, marker: str) -> tuple[str, str]:
    with (
        record_run("load-thread") as run,
        sdk_client(
            endpoint.base_url, run, http={"verify": SSL, "timeout": TIMEOUT}, max_retries=0, open_telemetry=False
        ) as client,
    ):
        messages: list[Any] = [{"role": "user", "content": f"Work for {marker}."}]
        for step in range(STEPS):
            if step % STREAM_EVERY == STREAM_EVERY - 1:
                with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as events:
                    text = events.get_final_message().content[0].text  # type: ignore[union-attr]
            else:
                text = client.messages.create(model=MODEL, max_tokens=64, messages=messages).content[0].text  # type: ignore[union-attr]
            messages = next_turn(messages, text)
    return marker, run.trace_id


async def _async_run(endpoint: MessagesEndpoint, marker: str) -> tuple[str, str]:
    with record_run("load-task") as run:
        async with async_sdk_client(
            endpoint.base_url, run, http={"verify": SSL, "timeout": TIMEOUT}, max_retries=0, open_telemetry=False
        ) as client:
            messages: list[Any] = [{"role": "user", "content": f"Work for {marker}."}]
            for step in range(STEPS):
                if step % STREAM_EVERY == 1:
                    async with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as events:
                        text = (await events.get_final_message()).content[0].text  # type: ignore[union-attr]
                else:
                    reply = await client.messages.create(model=MODEL, max_tokens=64, messages=messages)
                    text = reply.content[0].text  # type: ignore[union-attr]
                messages = next_turn(messages, text)
    return marker, run.trace_id


@pytest.mark.slow
def test_two_hundred_concurrent_runs_in_threads_and_tasks(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Trace], tmp_path: Path
) -> None:
    """100 threads and 100 asyncio tasks on one event loop, at once, against one endpoint and one blob store."""
    endpoint = serve(turn_policy)
    markers = [f"load-marker-{uuid.uuid4().hex}" for _ in range(THREAD_RUNS + TASK_RUNS)]

    async def tasks() -> list[tuple[str, str]]:
        return await asyncio.gather(*(_async_run(endpoint, m) for m in markers[THREAD_RUNS:]))

    with ThreadPoolExecutor(THREAD_RUNS) as pool:
        threaded = [pool.submit(_sync_run, endpoint, marker) for marker in markers[:THREAD_RUNS]]
        runs = dict(asyncio.run(tasks()))  # the loop runs while the threads do
        runs.update(future.result() for future in threaded)

    assert len(runs) == len(set(runs.values())) == THREAD_RUNS + TASK_RUNS
    assert len(endpoint.requests) == len(runs) * STEPS
    store = FsspecBlobStore(str(tmp_path / "home" / "blobs"))  # a fresh handle: reads hit the disk
    streamed = 0
    for marker, trace_id in runs.items():
        trace = trace_of(trace_id)
        exchanges = trace.exchanges
        assert [s.attributes[semconv.STEP] for s in exchanges] == list(range(STEPS)), marker
        assert trace.root.attributes[semconv.RUN_EXCHANGES] == STEPS
        assert trace.root.attributes[semconv.RUN_PARTIAL] is False
        for span in exchanges:
            attrs = span.attributes
            assert semconv.RECORD_ERROR not in attrs
            assert span.parent is not None and span.parent.span_id == trace.root.context.span_id
            request = store.get(attrs[semconv.REQUEST_SHA256])  # every sha resolves, and verifies
            assert set(MARKER.findall(request.decode())) == {marker}  # nothing of another run
            assert store.has(attrs[semconv.RESPONSE_SHA256])
            store.get(attrs[semconv.RESPONSE_SHA256])
            streamed += bool(attrs[semconv.RESPONSE_STREAM])
    assert streamed == len(runs) * (STEPS // STREAM_EVERY)


@pytest.mark.subprocess
def test_four_processes_write_one_home_at_once(serve: Callable[..., MessagesEndpoint], tmp_path: Path) -> None:
    endpoint = serve(turn_policy)
    home = tmp_path / "shared-home"
    runs, steps = scaled(3, 10), 10
    children = [
        subprocess.Popen(
            child_command("writer", endpoint.base_url, str(runs), str(steps), f"p{index}"),
            env=clean_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(4)
    ]
    trace_ids: list[str] = []
    for child in children:
        out, err = child.communicate(timeout=180)
        assert child.returncode == 0, err[-3000:]
        assert "Traceback" not in err
        trace_ids += json.loads(out.strip().splitlines()[-1])["trace_ids"]
    assert len(set(trace_ids)) == 4 * runs

    assert integrity_ok(home / "spans.sqlite3") == "ok"
    listed = subprocess.run(
        tfotel_command("runs", "--json", "--limit", "100"), env=clean_env(home), capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    summaries = {run["trace_id"]: run for run in json.loads(listed.stdout)["runs"]}
    assert set(summaries) == set(trace_ids)
    assert all(s["exchanges"] == steps and s["partial"] is False for s in summaries.values())
    store = SpanStore(home / "spans.sqlite3")
    blobs = FsspecBlobStore(str(home / "blobs"))
    try:
        for trace_id in trace_ids:
            spans = store.get_trace(trace_id)
            steps_seen = sorted(s.attributes[semconv.STEP] for s in spans if semconv.STEP in s.attributes)
            assert steps_seen == list(range(steps))
            for span in spans:
                for key in (semconv.REQUEST_SHA256, semconv.RESPONSE_SHA256):
                    if key in span.attributes:
                        blobs.get(str(span.attributes[key]))
    finally:
        store.close()


MEMORY_RUNS = scaled(60, 500)
MEMORY_STEPS = 20
MEMORY_WARMUP_RUNS = scaled(20, 50)
MAX_BYTES_PER_EXCHANGE = 200
"""Net Python memory growth allowed per exchange after warm-up (measured: about 0; the ambient-run leak was ~550)."""


@pytest.mark.parametrize("how", ["record_run", "session"])
@pytest.mark.subprocess
def test_memory_stays_flat_per_exchange(how: str, tmp_path: Path) -> None:
    """Exchanges through a MockTransport in a fresh process; tracemalloc's net growth from warm-up to the end.

    ``record_run``: one run per ``record_run``. ``session``: ``instrument()``-style recording,
    every exchange in one long-lived span of the user's (the implicit-run path). The blob
    store's LRU is bounded (32 MiB); it is set to 256 KiB here so it is full by the end of
    warm-up and its steady state is what gets measured.
    """
    result, stderr = run_child(
        "memory",
        str(MEMORY_RUNS),
        str(MEMORY_STEPS),
        str(MEMORY_WARMUP_RUNS),
        str(256 << 10),
        how,
        env=clean_env(tmp_path / "home"),
        timeout=600,
    )
    assert "Traceback" not in stderr
    assert result["exchanges"] == MEMORY_RUNS * MEMORY_STEPS
    assert result["bytes_per_exchange"] < MAX_BYTES_PER_EXCHANGE, json.dumps(result, indent=2)
