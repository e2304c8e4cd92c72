"""Recording the real Anthropic SDK against a loopback Messages API: exact bytes, and the spans that point at them.

Every call shape (``create``, ``create(stream=True)``, ``messages.stream``), sync and async,
in both span modes: with the SDK's own tracing on we add a ``tracefork.exchange`` child
under its GenAI span; with it off we emit the full ``chat {model}`` span ourselves.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import Message, MessageParam
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from trace_support import async_sdk_client, sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.tape import SCHEMA_VERSION, Exchange, tape_digest

MODEL = "claude-sonnet-4-6"
MAX_TOKENS = 256
RUN_NAME = "sdk-agent"
QUESTION: MessageParam = {"role": "user", "content": "What is the weather in Lisbon? Use the tool."}


def policy(request: dict[str, Any]) -> dict[str, Any]:
    """A tool call first (so streams carry ``input_json_delta``), then a text answer."""
    if len(request["messages"]) == 1:
        return message("Let me look.", tool_use={"name": "weather", "input": {"city": "Lisbon"}}, request=request)
    return message("It is sunny in Lisbon, 24 °C.", request=request)


def follow_up(reply: Message) -> list[MessageParam]:
    tool = next(block for block in reply.content if block.type == "tool_use")
    return [
        QUESTION,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in reply.content]},  # type: ignore[misc]
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tool.id, "content": "sunny, 24 C"}]},
    ]


def sync_agent(client: anthropic.Anthropic, shape: str) -> list[Message | None]:
    """Two calls of one shape; returns the parsed Messages (None for raw event streams)."""
    results: list[Message | None] = []
    messages = [QUESTION]
    for _ in range(2):
        if shape == "create":
            reply = client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=messages)
            results.append(reply)
        elif shape == "create_stream":
            with client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=messages, stream=True) as events:
                kinds = [event.type for event in events]
            assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
            results.append(None)
        else:
            with client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=messages) as stream:
                reply = stream.get_final_message()
            results.append(reply)
        if len(results) == 1:
            first = reply if shape != "create_stream" else Message.model_validate(policy({"messages": messages}))
            messages = follow_up(first)
    return results


async def async_agent(client: anthropic.AsyncAnthropic, shape: str) -> list[Message | None]:
    results: list[Message | None] = []
    messages = [QUESTION]
    for _ in range(2):
        if shape == "create":
            reply = await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=messages)
            results.append(reply)
        elif shape == "create_stream":
            events = await client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=messages, stream=True)
            async with events:
                kinds = [event.type async for event in events]
            assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
            results.append(None)
        else:
            async with client.messages.stream(model=MODEL, max_tokens=MAX_TOKENS, messages=messages) as stream:
                reply = await stream.get_final_message()
            results.append(reply)
        if len(results) == 1:
            first = reply if shape != "create_stream" else Message.model_validate(policy({"messages": messages}))
            messages = follow_up(first)
    return results


def record(
    endpoint: MessagesEndpoint, store: FsspecBlobStore, *, shape: str, is_async: bool, sdk_tracing: bool
) -> tuple[str, list[Message | None]]:
    open_telemetry = None if sdk_tracing else False
    with record_run(RUN_NAME, blob_store=store) as run:
        if is_async:

            async def main() -> list[Message | None]:
                async with async_sdk_client(endpoint.base_url, run, open_telemetry=open_telemetry) as client:
                    return await async_agent(client, shape)

            results = asyncio.run(main())
        else:
            with sdk_client(endpoint.base_url, run, open_telemetry=open_telemetry) as client:
                results = sync_agent(client, shape)
    return run.trace_id, results


def exchange_from_span(span: ReadableSpan) -> Exchange:
    attrs = span.attributes or {}
    return Exchange(
        step=attrs[semconv.STEP],  # type: ignore[arg-type]
        request_sha256=attrs[semconv.REQUEST_SHA256],  # type: ignore[arg-type]
        response_sha256=attrs[semconv.RESPONSE_SHA256],  # type: ignore[arg-type]
        status_code=attrs[semconv.RESPONSE_STATUS_CODE],  # type: ignore[arg-type]
        stream=attrs[semconv.RESPONSE_STREAM],  # type: ignore[arg-type]
        incomplete=bool(attrs.get(semconv.RESPONSE_INCOMPLETE, False)),
    )


@pytest.mark.parametrize("sdk_tracing", [False, True], ids=["full-span", "sdk-span"])
@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize("shape", ["create", "create_stream", "stream"])
def test_every_exchange_is_recorded_byte_for_byte(
    shape: str,
    is_async: bool,
    sdk_tracing: bool,
    tmp_path: Path,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    expected_body: Callable[..., bytes],
) -> None:
    endpoint = serve(policy)
    store = FsspecBlobStore(str(tmp_path / "blobs"))
    trace_id, results = record(endpoint, store, shape=shape, is_async=is_async, sdk_tracing=sdk_tracing)
    streamed = shape != "create"

    received = endpoint.requests
    assert len(received) == 2
    trace = trace_of(trace_id)
    exchanges = trace.exchanges
    assert [s.attributes[semconv.STEP] for s in exchanges] == [0, 1]
    reader = FsspecBlobStore(str(tmp_path / "blobs"))  # a cold cache: bytes come from the files
    for span, request, result in zip(exchanges, received, results, strict=True):
        attrs = span.attributes
        assert format(span.context.trace_id, "032x") == trace_id
        sent = expected_body(policy, request)
        assert reader.get(attrs[semconv.REQUEST_SHA256]) == request.body
        assert reader.get(attrs[semconv.RESPONSE_SHA256]) == sent
        assert attrs[semconv.REQUEST_SHA256] == hashlib.sha256(request.body).hexdigest()
        assert attrs[semconv.RESPONSE_SHA256] == hashlib.sha256(sent).hexdigest()
        assert attrs[semconv.RESPONSE_STATUS_CODE] == 200
        assert attrs[semconv.RESPONSE_STREAM] is streamed
        assert semconv.RESPONSE_INCOMPLETE not in attrs
        assert semconv.RECORD_ERROR not in attrs
        assert attrs[semconv.TAPE_SCHEMA] == SCHEMA_VERSION
        assert attrs[semconv.GEN_AI_INPUT_MESSAGES_REF] == store.uri(attrs[semconv.REQUEST_SHA256])
        assert attrs[semconv.GEN_AI_OUTPUT_MESSAGES_REF] == store.uri(attrs[semconv.RESPONSE_SHA256])
        assert attrs[semconv.REQUEST_METHOD] == "POST"
        assert attrs[semconv.REQUEST_PATH] == "/v1/messages"
        assert semconv.GEN_AI_INPUT_MESSAGES not in attrs  # content stays in the blob store by default
        assert semconv.GEN_AI_OUTPUT_MESSAGES not in attrs
        reply = Message.model_validate(policy(request.json()))
        if result is not None:
            assert result.model_dump() == reply.model_dump()
        if shape == "create":
            parsed = Message.model_validate_json(reader.get(attrs[semconv.RESPONSE_SHA256]))
            assert parsed.model_dump() == reply.model_dump()

        if sdk_tracing:
            assert span.name == semconv.SPAN_EXCHANGE
            assert span.kind is SpanKind.INTERNAL
            assert not any(key.startswith("gen_ai.") and not key.endswith("_ref") for key in attrs), dict(attrs)
            parent = trace.by_id(span.parent.span_id)
            assert parent.instrumentation_scope.name != semconv.INSTRUMENTATION_SCOPE
            assert parent.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OPERATION_CHAT
            assert trace.ancestors(span)[-1] is trace.root
        else:
            assert span.name == f"chat {MODEL}"
            assert span.kind is SpanKind.CLIENT
            assert span.parent.span_id == trace.root.context.span_id
            assert attrs[semconv.GEN_AI_OPERATION_NAME] == "chat"
            assert attrs[semconv.GEN_AI_PROVIDER_NAME] == "anthropic"
            assert attrs[semconv.GEN_AI_SYSTEM] == "anthropic"
            assert attrs[semconv.GEN_AI_REQUEST_MODEL] == MODEL
            assert attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] == MAX_TOKENS
            assert attrs.get(semconv.GEN_AI_REQUEST_STREAM, False) is streamed
            assert attrs[semconv.GEN_AI_RESPONSE_ID] == reply.id
            assert attrs[semconv.GEN_AI_RESPONSE_MODEL] == reply.model
            assert tuple(attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS]) == (reply.stop_reason,)
            assert attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] == reply.usage.input_tokens
            assert attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == reply.usage.output_tokens
            assert attrs[semconv.SERVER_ADDRESS] == "127.0.0.1"
            assert attrs[semconv.SERVER_PORT] == int(endpoint.base_url.rsplit(":", 1)[1])

    genai = [s for s in trace.spans if (s.attributes or {}).get(semconv.GEN_AI_OPERATION_NAME) == "chat"]
    assert len(genai) == 2  # exactly one GenAI span per call, whoever made it
    if sdk_tracing:
        assert all(s.instrumentation_scope.name != semconv.INSTRUMENTATION_SCOPE for s in genai)
        assert not any(semconv.GEN_AI_REQUEST_MODEL in (s.attributes or {}) for s in exchanges)

    root = trace.root
    assert root.name == f"invoke_agent {RUN_NAME}"
    assert root.kind is SpanKind.INTERNAL
    assert root.attributes[semconv.GEN_AI_OPERATION_NAME] == semconv.OPERATION_INVOKE_AGENT
    assert root.attributes[semconv.GEN_AI_AGENT_NAME] == RUN_NAME
    assert root.attributes[semconv.GEN_AI_CONVERSATION_ID] == trace_id
    assert root.attributes[semconv.TAPE_SCHEMA] == SCHEMA_VERSION
    assert root.attributes[semconv.BLOB_STORE] == store.url
    assert root.attributes[semconv.RUN_EXCHANGES] == 2
    assert root.attributes[semconv.RUN_PARTIAL] is False
    assert root.attributes[semconv.TAPE_DIGEST] == tape_digest([exchange_from_span(s) for s in exchanges], [])
    assert format(root.context.trace_id, "032x") == trace_id
    assert len(trace_id) == 32 and int(trace_id, 16)
    assert all(root.start_time <= s.start_time and s.end_time <= root.end_time for s in exchanges)


def test_a_conversation_id_and_extra_attributes_reach_the_root(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    endpoint = serve(policy)
    with record_run(
        "named", blob_store=str(tmp_path / "b"), conversation_id="conv-42", attributes={"app.tenant": "t1"}
    ) as run:
        with sdk_client(endpoint.base_url, run, open_telemetry=False) as client:
            client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=[QUESTION])
        assert run.name == "named"
    root = trace_of(run.trace_id).root
    assert root.attributes[semconv.GEN_AI_CONVERSATION_ID] == "conv-42"
    assert root.attributes["app.tenant"] == "t1"
    assert run.exchanges == 1


def test_content_capture_is_opt_in(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    endpoint = serve(policy)
    with (
        record_run("capture", blob_store=str(tmp_path / "b"), capture_content=True) as run,
        sdk_client(endpoint.base_url, run, open_telemetry=False) as client,
    ):
        client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=[QUESTION])
    (span,) = trace_of(run.trace_id).exchanges
    assert "Lisbon" in span.attributes[semconv.GEN_AI_INPUT_MESSAGES]
    assert "weather" in span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]


def test_an_exception_in_the_agent_is_the_runs_outcome_not_a_partial_recording(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    endpoint = serve(policy)
    with pytest.raises(RuntimeError, match="agent bug"), record_run("crash", blob_store=str(tmp_path / "b")) as run:
        with sdk_client(endpoint.base_url, run, open_telemetry=False) as client:
            client.messages.create(model=MODEL, max_tokens=MAX_TOKENS, messages=[QUESTION])
        raise RuntimeError("agent bug")
    trace = trace_of(run.trace_id)
    assert trace.root.attributes[semconv.RUN_PARTIAL] is False  # every byte is there: the run is replayable
    assert trace.root.attributes[semconv.ERROR_TYPE] == "RuntimeError"
    assert trace.root.attributes[semconv.OUTCOME_STATUS] == "error"
    assert trace.root.attributes[semconv.OUTCOME_ERROR_TYPE] == "RuntimeError"
    assert [s.attributes[semconv.STEP] for s in trace.exchanges] == [0]
