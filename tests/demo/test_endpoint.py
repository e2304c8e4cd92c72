"""The stand-in Messages API, driven by the real ``anthropic`` SDK over loopback HTTP."""

from __future__ import annotations

import asyncio
import http.client
import itertools
import json
import threading
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from cli_support import PROXY_VARIABLES
from trace_support import async_sdk_client, sdk_client

from tracefork_otel.demo import (
    DEMO_MODEL,
    MessagesEndpoint,
    demo_policy,
    encode_event,
    message,
    oracle,
    run,
    run_async,
    stream_events,
)

TIMEOUT = 10.0
USER: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Refund order A-1001 please."}]


class FixedNondet:
    """A nondeterminism source that is entirely deterministic."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def now_iso(self) -> str:
        return "2025-01-02T03:04:05+00:00"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):04d}"

    def random(self) -> float:
        return 0.25


def hello_policy(request: dict[str, Any]) -> dict[str, Any]:
    return message("Hello there, refund desk speaking.", request=request)


def tool_policy(request: dict[str, Any]) -> dict[str, Any]:
    return message("Let me check.", {"name": "lookup_order", "input": {"order_id": "A-1001"}}, request=request)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK honours proxy variables; loopback traffic must not go through one.
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def endpoint() -> Iterator[MessagesEndpoint]:
    with MessagesEndpoint(hello_policy) as ep:
        yield ep


def client_for(ep: MessagesEndpoint, max_retries: int = 0) -> anthropic.Anthropic:
    return sdk_client(ep.base_url, max_retries=max_retries, timeout=TIMEOUT)


def raw_post(ep: MessagesEndpoint, path: str, body: bytes) -> tuple[int, Any]:
    """POST raw bytes, bypassing the SDK; returns the status and the parsed JSON body."""
    port = int(ep.base_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json"})
        response = conn.getresponse()
        return response.status, json.loads(response.read())
    finally:
        conn.close()


def run_agent(mode: str, ep: MessagesEndpoint) -> dict[str, Any]:
    """Run the demo agent on the sync or the async client."""
    if mode == "sync":
        with client_for(ep) as client:
            return run(client, FixedNondet())

    async def main() -> dict[str, Any]:
        async with async_sdk_client(ep.base_url, max_retries=0, timeout=TIMEOUT) as client:
            return await run_async(client, FixedNondet())

    return asyncio.run(main())


def test_serves_on_loopback_ephemeral_port(endpoint: MessagesEndpoint) -> None:
    assert endpoint.base_url.startswith("http://127.0.0.1:")
    assert int(endpoint.base_url.rsplit(":", 1)[1]) > 0


def test_create_returns_the_policy_message_as_json(endpoint: MessagesEndpoint) -> None:
    with client_for(endpoint) as client:
        raw = client.messages.with_raw_response.create(model=DEMO_MODEL, max_tokens=64, messages=USER)
    reply = raw.parse()
    assert reply.content[0].type == "text"
    assert reply.content[0].text == "Hello there, refund desk speaking."
    assert reply.stop_reason == "end_turn"
    assert reply.model == DEMO_MODEL
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert raw.headers["content-type"] == "application/json"
    assert raw.headers["request-id"].startswith("req_")


def test_requests_are_recorded(endpoint: MessagesEndpoint) -> None:
    with client_for(endpoint) as client:
        client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER)
    [received] = endpoint.requests
    assert received.path == "/v1/messages"
    assert received.headers["content-type"] == "application/json"
    assert "anthropic-version" in received.headers
    assert received.json()["messages"] == USER
    assert received.json()["max_tokens"] == 64


def test_same_request_gets_the_same_bytes(endpoint: MessagesEndpoint) -> None:
    with client_for(endpoint) as client:
        bodies = [
            client.messages.with_raw_response.create(
                model=DEMO_MODEL, max_tokens=64, messages=USER
            ).http_response.content
            for _ in range(2)
        ]
    assert bodies[0] == bodies[1]


def test_create_stream_yields_the_real_event_sequence() -> None:
    with MessagesEndpoint(tool_policy) as ep, client_for(ep) as client:
        raw = client.messages.with_raw_response.create(model=DEMO_MODEL, max_tokens=64, messages=USER, stream=True)
        assert raw.headers["content-type"].startswith("text/event-stream")
        events = list(raw.parse())
    kinds = [event.type for event in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 2
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    partial = "".join(
        e.delta.partial_json for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    assert text == "Let me check."
    assert json.loads(partial) == {"order_id": "A-1001"}
    assert sum(1 for e in events if e.type == "content_block_delta") > 2  # split into pieces


def test_stream_helper_accumulates_the_final_message() -> None:
    with MessagesEndpoint(tool_policy) as ep, client_for(ep) as client:
        with client.messages.stream(model=DEMO_MODEL, max_tokens=64, messages=USER) as stream:
            final = stream.get_final_message()
        [received] = ep.requests
    assert [block.type for block in final.content] == ["text", "tool_use"]
    tool_use = final.content[1]
    assert tool_use.type == "tool_use" and tool_use.input == {"order_id": "A-1001"}
    assert final.stop_reason == "tool_use"
    assert final.model_dump() == anthropic.types.Message.model_validate(tool_policy(received.json())).model_dump()


def test_async_client_create_stream_and_stream_helper() -> None:
    async def drive(base_url: str) -> tuple[str, list[str], str]:
        async with async_sdk_client(base_url, max_retries=0, timeout=TIMEOUT) as client:
            reply = await client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER)
            events = await client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER, stream=True)
            kinds: list[str] = [event.type async for event in events]
            async with client.messages.stream(model=DEMO_MODEL, max_tokens=64, messages=USER) as stream:
                final = await stream.get_final_message()
        assert reply.content[0].type == "text" and final.content[0].type == "text"
        return reply.content[0].text, kinds, final.content[0].text

    with MessagesEndpoint(hello_policy) as ep:
        text, kinds, final_text = asyncio.run(drive(ep.base_url))
    assert text == final_text == "Hello there, refund desk speaking."
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_demo_agent_refunds_the_right_amount(mode: str) -> None:
    with MessagesEndpoint(demo_policy) as ep:
        outcome = run_agent(mode, ep)
        received = ep.requests
    assert outcome == {
        "refunded": 129.99,
        "refund_id": "rf_0001",
        "steps": 3,
        "final_text": "Refunded 129.99 USD for order A-1001 (id rf_0001).",
    }
    assert oracle(outcome)
    assert [r.json().get("stream", False) for r in received] == [False, False, True]
    json.dumps(outcome)  # the outcome must be JSON-serialisable


def test_oracle_rejects_a_wrong_or_missing_refund() -> None:
    assert not oracle({"refunded": 12.0, "refund_id": "rf_1", "steps": 3, "final_text": ""})
    assert not oracle({"refunded": None, "refund_id": None, "steps": 8, "final_text": None})
    assert not oracle(None)


def test_demo_policy_answers_from_the_request_alone() -> None:
    with MessagesEndpoint(demo_policy) as ep:
        run_agent("sync", ep)
        requests = [r.json() for r in ep.requests]
    # Replaying the requests in any order, from any thread, gives the same answers.
    forward = [demo_policy(r) for r in requests]
    backward = [demo_policy(r) for r in reversed(requests)][::-1]
    assert forward == backward
    assert [m["stop_reason"] for m in forward] == ["tool_use", "tool_use", "end_turn"]
    assert forward[1]["content"][0]["input"] == {"order_id": "A-1001", "amount": 129.99}


def test_first_event_arrives_before_the_stream_is_released() -> None:
    hold = threading.Event()
    first_seen = threading.Event()
    kinds: list[str] = []
    errors: list[BaseException] = []

    with MessagesEndpoint(hello_policy, hold_after_first_event=hold) as ep, client_for(ep) as client:

        def consume() -> None:
            try:
                stream = client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER, stream=True)
                for event in stream:
                    kinds.append(event.type)
                    first_seen.set()
            except BaseException as exc:
                errors.append(exc)
                first_seen.set()

        consumer = threading.Thread(target=consume)
        consumer.start()
        assert first_seen.wait(TIMEOUT)
        assert kinds == ["message_start"]  # the rest is still held back by the server
        hold.set()
        consumer.join(TIMEOUT)
    assert not consumer.is_alive() and not errors
    assert kinds[-1] == "message_stop"


def test_chunk_delay_slows_the_stream_but_keeps_it_whole() -> None:
    with (
        MessagesEndpoint(hello_policy, chunk_delay=0.01) as ep,
        client_for(ep) as client,
        client.messages.stream(model=DEMO_MODEL, max_tokens=64, messages=USER) as stream,
    ):
        assert stream.get_final_text() == "Hello there, refund desk speaking."


def test_forced_529_is_retried_then_served() -> None:
    with MessagesEndpoint(hello_policy, statuses=[529]) as ep, client_for(ep, max_retries=2) as client:
        reply = client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER)
        received = ep.requests
    assert reply.content[0].type == "text"
    assert len(received) == 2
    assert [r.headers["x-stainless-retry-count"] for r in received] == ["0", "1"]
    assert received[0].body == received[1].body


@pytest.mark.parametrize(
    ("status", "error", "error_type"),
    [
        (529, anthropic.OverloadedError, "overloaded_error"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
    ],
)
def test_forced_status_carries_anthropic_error_json(
    status: int, error: type[anthropic.APIStatusError], error_type: str
) -> None:
    with MessagesEndpoint(hello_policy, statuses=[status]) as ep, client_for(ep) as client:
        with pytest.raises(error) as raised:
            client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER)
        # The queue is used up: the next request is served normally.
        client.messages.create(model=DEMO_MODEL, max_tokens=64, messages=USER)
    assert raised.value.status_code == status
    body: Any = raised.value.body
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert raised.value.response.headers["x-should-retry"] == "true"
    assert raised.value.response.headers["retry-after"] == "0"
    assert raised.value.request_id is not None


def test_unknown_path_is_404_and_bad_json_is_400(endpoint: MessagesEndpoint) -> None:
    status, body = raw_post(endpoint, "/v1/nope", b"{}")
    assert (status, body["error"]["type"]) == (404, "not_found_error")
    status, body = raw_post(endpoint, "/v1/messages", b"{not json")
    assert (status, body["error"]["type"]) == (400, "invalid_request_error")
    assert [r.path for r in endpoint.requests] == ["/v1/nope", "/v1/messages"]


def test_count_tokens(endpoint: MessagesEndpoint) -> None:
    with client_for(endpoint) as client:
        counted = client.messages.count_tokens(model=DEMO_MODEL, messages=USER)
    assert counted.input_tokens > 0
    assert endpoint.requests[0].path == "/v1/messages/count_tokens"


def test_stream_events_and_wire_encoding_are_deterministic() -> None:
    reply = tool_policy({"model": DEMO_MODEL, "messages": USER})
    events = stream_events(reply)
    assert [name for name, _ in events][:2] == ["message_start", "content_block_start"]
    assert events[0][1]["message"]["content"] == []
    wire = b"".join(encode_event(name, data) for name, data in events)
    again = b"".join(encode_event(name, data) for name, data in stream_events(dict(reversed(reply.items()))))
    assert wire == again
    assert wire.startswith(b'event: message_start\ndata: {"message":')
