"""Fixtures for the record tests: loopback Messages API endpoints and the spans of one recorded trace."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracefork_otel.demo import Policy, ReceivedRequest


@pytest.fixture(autouse=True)
def _isolated(spans: InMemorySpanExporter) -> None:
    """Every record test: a cleared exporter, its own ``TFOTEL_HOME``, the record config re-read."""


def _json(doc: object) -> bytes:
    """JSON as the endpoint writes it: sorted keys, no whitespace, UTF-8 (not ``\\u`` escapes)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _thirds(text: str) -> list[str]:
    """``text`` cut as the endpoint streams it: every ``ceil(len / 3)`` characters (at most 3 pieces; "" is one)."""
    size = max(1, (len(text) + 2) // 3)
    return [text[start : start + size] for start in range(0, len(text), size)] or [""]


def _sse(reply: dict[str, Any]) -> bytes:
    """The SSE body streaming the Message ``reply``, written out from the Messages API's streaming format.

    ``message_start`` (no content, no stop reason, at most 1 output token), then per block
    ``content_block_start`` (text empty, tool input ``{}``), its deltas (a tool's JSON opens
    with an empty ``partial_json``) and ``content_block_stop``; then ``message_delta`` with
    the stop reason and the output tokens, and ``message_stop``.
    """
    output_tokens = reply["usage"]["output_tokens"]
    start = {**reply, "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {**reply["usage"], "output_tokens": min(1, output_tokens)}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(reply["content"]):
        if block["type"] == "text":
            empty = {**block, "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _thirds(block["text"])]
        else:
            assert block["type"] == "tool_use", block
            empty = {**block, "input": {}}
            pieces = ["", *_thirds(_json(block["input"]).decode())]
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": empty}))
        events += [
            ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}) for delta in deltas
        ]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    stop = {"stop_reason": reply["stop_reason"], "stop_sequence": reply["stop_sequence"]}
    events.append(
        ("message_delta", {"type": "message_delta", "delta": stop, "usage": {"output_tokens": output_tokens}})
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return b"".join(b"event: %s\ndata: %s\n\n" % (name.encode(), _json(data)) for name, data in events)


def sent_bytes(policy: Policy, request: ReceivedRequest) -> bytes:
    """The exact response body the endpoint sent for ``request`` (its policies are pure functions of it).

    Written here from the API's formats, not with ``tracefork_otel.wire`` (which the endpoint
    uses): a bug there makes the recorded bytes differ from these.
    """
    doc = request.json()
    reply = policy(doc)
    return _sse(reply) if doc.get("stream") is True else _json(reply)


@pytest.fixture
def expected_body() -> Callable[[Policy, ReceivedRequest], bytes]:
    return sent_bytes


@pytest.fixture(scope="session")
def tfotel() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the ``tfotel`` console script in a fresh process: ``tfotel(*args, env=...)``."""
    script = Path(sys.executable).parent / "tfotel"
    fallback = [sys.executable, "-c", "from tracefork_otel.cli import main; main()"]
    command = [str(script)] if script.exists() else fallback

    def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=timeout)

    return run
