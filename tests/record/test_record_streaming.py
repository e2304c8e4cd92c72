"""Streams pass through as they arrive, and an abandoned or broken stream is kept as the prefix the agent saw."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import pytest
from trace_support import sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.record import Run

MODEL = "claude-sonnet-4-6"
WAIT = 10.0  # generous upper bound for a loopback event; never reached when things work
QUESTION: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Tell me a long story."}]


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message("Once upon a time there was a recorder that never buffered a stream.", request=request)


def test_the_first_event_reaches_the_agent_while_the_server_still_holds_the_rest(
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    expected_body: Callable[..., bytes],
    tmp_path: Path,
) -> None:
    hold = threading.Event()
    endpoint = serve(policy, hold_after_first_event=hold)
    saw_start = threading.Event()
    kinds: list[str] = []
    failures: list[BaseException] = []

    with record_run("stream", blob_store=str(tmp_path / "blobs")) as run:
        client = sdk_client(endpoint.base_url, run, open_telemetry=False)

        def agent() -> None:
            try:
                with client.messages.create(model=MODEL, max_tokens=100, messages=QUESTION, stream=True) as events:
                    for event in events:
                        kinds.append(event.type)
                        if event.type == "message_start":
                            saw_start.set()
            except BaseException as exc:
                failures.append(exc)

        thread = threading.Thread(target=agent)
        thread.start()
        try:
            arrived = saw_start.wait(WAIT)
            held = not hold.is_set()
            kinds_while_held = list(kinds)
        finally:
            hold.set()
            thread.join(WAIT)
        client.close()

    assert arrived and held, "message_start did not reach the agent before the rest of the stream was sent"
    assert kinds_while_held == ["message_start"]
    assert failures == []
    assert kinds[-1] == "message_stop"
    (span,) = trace_of(run.trace_id).exchanges
    (request,) = endpoint.requests
    stored = FsspecBlobStore(str(tmp_path / "blobs")).get(span.attributes[semconv.RESPONSE_SHA256])
    assert stored == expected_body(policy, request)
    assert semconv.RESPONSE_INCOMPLETE not in span.attributes


def test_an_agent_that_stops_reading_early_leaves_an_incomplete_prefix(
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    expected_body: Callable[..., bytes],
    tmp_path: Path,
) -> None:
    hold = threading.Event()
    endpoint = serve(policy, hold_after_first_event=hold)
    try:
        with (
            record_run("early-stop", blob_store=str(tmp_path / "blobs")) as run,
            sdk_client(endpoint.base_url, run, open_telemetry=False) as client,
        ):
            events = client.messages.create(model=MODEL, max_tokens=100, messages=QUESTION, stream=True)
            for event in events:
                assert event.type == "message_start"
                break
            events.close()
            # The same client goes on working after the abandoned stream.
            reply = client.messages.create(model=MODEL, max_tokens=100, messages=QUESTION)
    finally:
        hold.set()
    assert reply.content[0].text.startswith("Once upon a time")
    trace = trace_of(run.trace_id)
    abandoned, follow_up = trace.exchanges
    full = expected_body(policy, endpoint.requests[0])
    stored = FsspecBlobStore(str(tmp_path / "blobs")).get(abandoned.attributes[semconv.RESPONSE_SHA256])
    assert stored and full.startswith(stored) and len(stored) < len(full)
    assert abandoned.attributes[semconv.RESPONSE_INCOMPLETE] is True
    assert abandoned.attributes[semconv.RESPONSE_STREAM] is True
    assert semconv.RESPONSE_INCOMPLETE not in follow_up.attributes
    assert trace.root.attributes[semconv.RUN_EXCHANGES] == 2


def broken_stream(endpoint: MessagesEndpoint, hold: threading.Event, run: Run | None) -> type[BaseException]:
    """Read a held stream, stop the endpoint under it, and return the error class the agent got.

    The client records into ``run``; with None, it is a plain client that records nothing.
    """
    saw_start = threading.Event()
    caught: list[BaseException] = []
    client = sdk_client(endpoint.base_url, run, max_retries=0, open_telemetry=False)

    def agent() -> None:
        try:
            with client.messages.create(model=MODEL, max_tokens=100, messages=QUESTION, stream=True) as events:
                for event in events:
                    if event.type == "message_start":
                        saw_start.set()
        except BaseException as exc:
            caught.append(exc)

    thread = threading.Thread(target=agent)
    thread.start()
    try:
        assert saw_start.wait(WAIT)
        endpoint.stop()  # drops the connection in the middle of the stream
    finally:
        hold.set()
        thread.join(WAIT)
    client.close()
    assert not thread.is_alive()
    assert len(caught) == 1, "the agent should see the broken connection"
    return type(caught[0])


def test_a_connection_broken_mid_stream_is_recorded_as_incomplete(
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    expected_body: Callable[..., bytes],
    tmp_path: Path,
) -> None:
    unrecorded_hold = threading.Event()
    unrecorded = serve(policy, hold_after_first_event=unrecorded_hold)
    baseline = broken_stream(unrecorded, unrecorded_hold, None)

    hold = threading.Event()
    endpoint = serve(policy, hold_after_first_event=hold)
    with record_run("broken", blob_store=str(tmp_path / "blobs")) as run:
        error = broken_stream(endpoint, hold, run)

    assert error is baseline  # the SDK's own error, unchanged by recording
    (span,) = trace_of(run.trace_id).exchanges
    attrs = span.attributes
    assert attrs[semconv.RESPONSE_INCOMPLETE] is True
    assert attrs[semconv.ERROR_TYPE]
    stored = FsspecBlobStore(str(tmp_path / "blobs")).get(attrs[semconv.RESPONSE_SHA256])
    full = expected_body(policy, endpoint.requests[0])
    assert stored and full.startswith(stored) and len(stored) < len(full)
    assert trace_of(run.trace_id).root.attributes[semconv.RUN_EXCHANGES] == 1


def test_a_refused_connection_is_recorded_and_raised_as_usual(
    trace_of: Callable[[str], Any], tmp_path: Path, serve: Callable[..., MessagesEndpoint]
) -> None:
    endpoint = serve(policy)
    base_url = endpoint.base_url
    endpoint.stop()  # nothing listens there any more
    with record_run("refused", blob_store=str(tmp_path / "blobs")) as run:
        client = sdk_client(base_url, run, open_telemetry=False, max_retries=0)
        with pytest.raises(anthropic.APIConnectionError):
            client.messages.create(model=MODEL, max_tokens=10, messages=QUESTION)
    (span,) = trace_of(run.trace_id).exchanges
    assert span.attributes[semconv.ERROR_TYPE]
    assert span.attributes[semconv.RESPONSE_STATUS_CODE] == 0
