"""Streaming time-to-first-event, with and without recording, over real loopback HTTP.

The stand-in `MessagesEndpoint` streams a Message (a short text and a tool call) as SSE,
sleeping ``chunk_delay`` between events so the stream dribbles over ~0.5 s. The agent
calls ``messages.create(stream=True)`` with a 10-step conversation and iterates the
events. Timed from just before ``create`` to the first event the agent sees
(time-to-first-event) and to the last. Recording tees chunk by chunk, so the first
event should reach the agent about as early as without it.

Each arm keeps its own pooled ``httpx2.HTTPTransport`` (warm keep-alive connection);
the recorded arm opens a ``record_run`` per request and wraps a client over its pool.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path
from typing import Any

import anthropic
import httpx2

from bench import workload
from bench.timing import field, interleave, now_ns, summary
from tracefork_otel.demo import MessagesEndpoint, message, stream_events
from tracefork_otel.record import record_run

STREAM_SECONDS = 0.5


def _reply(request: dict[str, Any]) -> dict[str, Any]:
    use = {"name": "run_shell", "input": {"command": "pytest -q", "reason": "Run the whole suite once more."}}
    return message("The fix is in; running the tests again to be sure nothing else broke.", use, request=request)


def _events_per_reply() -> int:
    return len(stream_events(_reply({"model": workload.MODEL})))


def stream_once(client: anthropic.Anthropic, messages: list[Any]) -> dict[str, float]:
    """One streamed call: ns to the first event, ns to the last, and how many events."""
    t0 = now_ns()
    stream = client.messages.create(
        model=workload.MODEL,
        max_tokens=workload.MAX_TOKENS,
        system=workload.SYSTEM,
        tools=workload.TOOLS,
        messages=messages,
        stream=True,  # type: ignore[arg-type]
    )
    first = 0
    events = 0
    for _ in stream:
        if not events:
            first = now_ns()
        events += 1
    last = now_ns()
    return {"ttfe_ns": first - t0, "total_ns": last - t0, "events": events}


def _ms(samples: list[dict[str, float]], key: str) -> dict[str, Any]:
    return summary([value / 1e6 for value in field(samples, key)])


def _paired_ms(a: list[dict[str, float]], b: list[dict[str, float]], key: str) -> dict[str, Any]:
    """Per-round differences B - A in ms (the two requests of a round run back to back)."""
    return summary([(y[key] - x[key]) / 1e6 for x, y in zip(a, b, strict=True)])


def measure(root: Path, rounds: int, warmup: int = 1) -> dict[str, Any]:
    """Arms A (plain) and B (recorded) interleaved against one loopback endpoint."""
    events = _events_per_reply()
    delay = STREAM_SECONDS / max(1, events - 1)
    messages = workload.conversation(10)
    ids = itertools.count()
    with MessagesEndpoint(_reply, chunk_delay=delay) as endpoint:
        plain_pool, recorded_pool = httpx2.HTTPTransport(), httpx2.HTTPTransport()
        plain = workload.make_client(httpx2.Client(transport=plain_pool, trust_env=False), endpoint.base_url)

        def run_plain() -> dict[str, float]:
            return stream_once(plain, messages)

        def run_recorded() -> dict[str, float]:
            blobs = root / f"stream-blobs-{next(ids)}"
            with record_run("bench-stream", blob_store=str(blobs)) as run:
                http = run.wrap(httpx2.Client(transport=recorded_pool, trust_env=False))
                sample = stream_once(workload.make_client(http, endpoint.base_url), messages)
            shutil.rmtree(blobs, ignore_errors=True)
            if run.exchanges != 1:
                raise RuntimeError(f"the streamed exchange was not recorded ({run.exchanges} exchanges)")
            return sample

        samples = interleave({"A": run_plain, "B": run_recorded}, rounds, warmup)
        plain_pool.close()
        recorded_pool.close()
    a, b = samples["A"], samples["B"]
    ttfe_a, ttfe_b = _ms(a, "ttfe_ns"), _ms(b, "ttfe_ns")
    total_a, total_b = _ms(a, "total_ns"), _ms(b, "total_ns")
    return {
        "rounds": rounds,
        "events": events,
        "chunk_delay_ms": delay * 1000,
        "request_bytes": len(workload.dumps({"messages": messages})),
        "ttfe_ms": {
            "A": ttfe_a,
            "B": ttfe_b,
            "added": ttfe_b["median"] - ttfe_a["median"],
            "paired_added": _paired_ms(a, b, "ttfe_ns"),
        },
        "stream_ms": {
            "A": total_a,
            "B": total_b,
            "added": total_b["median"] - total_a["median"],
            "paired_added": _paired_ms(a, b, "total_ns"),
        },
        "events_seen": {"A": sorted(set(field(a, "events"))), "B": sorted(set(field(b, "events")))},
    }
