"""Many runs at once, in asyncio tasks and in threads: each keeps its own trace, steps, bytes and store."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from anthropic.types import Message, MessageParam
from trace_support import async_sdk_client, sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.demo import MessagesEndpoint, message

MODEL = "claude-sonnet-4-6"
STEPS = 10
MARKER = re.compile(r"run-marker-[0-9a-f]{32}")


def policy(request: dict[str, Any]) -> dict[str, Any]:
    """Calls a tool until the conversation has ``STEPS`` model turns, then answers."""
    turns = sum(1 for m in request["messages"] if m["role"] == "assistant")
    if turns < STEPS - 1:
        return message(tool_use={"name": "count", "input": {"turn": turns}}, request=request)
    return message(f"Finished after {turns + 1} turns.", request=request)


def next_messages(messages: list[MessageParam], reply: Message) -> list[MessageParam] | None:
    if reply.stop_reason != "tool_use":
        return None
    tool = next(block for block in reply.content if block.type == "tool_use")
    return [
        *messages,
        {"role": "assistant", "content": [tool.model_dump(exclude_none=True)]},  # type: ignore[list-item]
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "ok"}]},
    ]


def first_message(marker: str) -> list[MessageParam]:
    return [{"role": "user", "content": f"Count to ten for {marker}."}]


def check_runs(
    runs: dict[str, tuple[str, MemoryBlobStore]], trace_of: Callable[[str], Any], endpoint: MessagesEndpoint
) -> None:
    """``runs`` maps marker → (trace id, the run's own store)."""
    assert len({trace_id for trace_id, _ in runs.values()}) == len(runs)
    assert len(endpoint.requests) == len(runs) * STEPS
    for marker, (trace_id, store) in runs.items():
        trace = trace_of(trace_id)
        exchanges = trace.exchanges
        assert [s.attributes[semconv.STEP] for s in exchanges] == list(range(STEPS)), marker
        root = trace.root
        assert root.attributes[semconv.RUN_EXCHANGES] == STEPS
        assert root.attributes[semconv.BLOB_STORE] == store.url
        for span in exchanges:
            assert trace.ancestors(span)[-1] is root
            assert semconv.RECORD_ERROR not in span.attributes
            body = store.get(span.attributes[semconv.REQUEST_SHA256]).decode()
            assert set(MARKER.findall(body)) == {marker}
            assert store.has(span.attributes[semconv.RESPONSE_SHA256])
        assert len(store.digests()) == 2 * STEPS  # nothing of any other run landed here


@pytest.mark.slow
def test_fifty_concurrent_asyncio_runs(serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any]) -> None:
    endpoint = serve(policy)

    async def one_run(marker: str) -> tuple[str, MemoryBlobStore]:
        store = MemoryBlobStore(marker)
        with record_run(f"agent-{marker[-6:]}", blob_store=store) as run:
            async with async_sdk_client(endpoint.base_url, run, open_telemetry=False) as client:
                messages: list[MessageParam] | None = first_message(marker)
                while messages is not None:
                    reply = await client.messages.create(model=MODEL, max_tokens=64, messages=messages)
                    messages = next_messages(messages, reply)
        return run.trace_id, store

    async def main() -> dict[str, tuple[str, MemoryBlobStore]]:
        markers = [f"run-marker-{uuid.uuid4().hex}" for _ in range(50)]
        results = await asyncio.gather(*(one_run(marker) for marker in markers))
        return dict(zip(markers, results, strict=True))

    check_runs(asyncio.run(main()), trace_of, endpoint)


@pytest.mark.slow
def test_eight_threads_of_five_runs(serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any]) -> None:
    """With the SDK's own spans on (the asyncio test has them off): our spans still find their run's root."""
    endpoint = serve(policy)
    runs: dict[str, tuple[str, MemoryBlobStore]] = {}
    lock = threading.Lock()
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            for _ in range(5):
                marker = f"run-marker-{uuid.uuid4().hex}"
                store = MemoryBlobStore(marker)
                with (
                    record_run("threaded", blob_store=store) as run,
                    sdk_client(endpoint.base_url, run) as client,
                ):
                    messages: list[MessageParam] | None = first_message(marker)
                    while messages is not None:
                        reply = client.messages.create(model=MODEL, max_tokens=64, messages=messages)
                        messages = next_messages(messages, reply)
                with lock:
                    runs[marker] = (run.trace_id, store)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(runs) == 40
    check_runs(runs, trace_of, endpoint)


def test_a_shared_store_still_keeps_each_runs_bytes_apart(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any]
) -> None:
    """The common case: every run writes to one store; the request bodies still name their own run."""
    endpoint = serve(policy)
    store = MemoryBlobStore("shared")

    async def one_run(marker: str) -> str:
        with record_run("shared", blob_store=store) as run:
            async with async_sdk_client(endpoint.base_url, run, open_telemetry=False) as client:
                messages: list[MessageParam] | None = first_message(marker)
                while messages is not None:
                    reply = await client.messages.create(model=MODEL, max_tokens=64, messages=messages)
                    messages = next_messages(messages, reply)
        return run.trace_id

    async def main() -> dict[str, str]:
        markers = [f"run-marker-{uuid.uuid4().hex}" for _ in range(10)]
        return dict(zip(markers, await asyncio.gather(*(one_run(m) for m in markers)), strict=True))

    for marker, trace_id in asyncio.run(main()).items():
        exchanges = trace_of(trace_id).exchanges
        assert [s.attributes[semconv.STEP] for s in exchanges] == list(range(STEPS))
        for span in exchanges:
            body = json.loads(store.get(span.attributes[semconv.REQUEST_SHA256]))
            assert marker in body["messages"][0]["content"]
