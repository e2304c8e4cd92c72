"""A blob store that cannot be opened fails open, and its URL's credentials are never written down.

At f8a9b07, resolving ``TFOTEL_BLOBS`` happened outside the recording transport's
fail-open ``try``: a typo (``nosuchfs://``), a backend that is not installed, or an FTP
server that is down made every model call fail under ``instrument()`` (and
``record_run`` raise before the agent ran). And the store URL was copied verbatim into
``tracefork.blob_store`` and every ``gen_ai.*.messages_ref``, password included.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import pytest
from trace_support import sdk_client

import tracefork_otel
from tracefork_otel import record_run, semconv
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.errors import BlobError

MODEL = "claude-sonnet-4-6"
SECRET = "hunter2-s3cr3t"


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message(f"reply {len(request['messages'])}", request=request)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STORES = {
    "unknown-protocol": lambda: "nosuchfs://bucket/blobs",
    "backend-not-installed": lambda: "gcs://bucket/blobs",
    "ftp-down": lambda: f"ftp://tfuser:{SECRET}@127.0.0.1:{closed_port()}/blobs",
    "http-with-credentials": lambda: f"http://tfuser:{SECRET}@127.0.0.1:{closed_port()}/blobs?token={SECRET}",
}


def ask(client: anthropic.Anthropic, calls: int = 2) -> list[str]:
    texts = []
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]
    for _ in range(calls):
        reply = client.messages.create(model=MODEL, max_tokens=16, messages=messages)
        texts.append(reply.content[0].text)  # type: ignore[union-attr]
        messages = [*messages, {"role": "assistant", "content": texts[-1]}, {"role": "user", "content": "more"}]
    return texts


def no_secret_anywhere(spans: list[Any], caplog: pytest.LogCaptureFixture) -> None:
    for span in spans:
        for key, value in span.attributes.items():
            assert SECRET not in str(value), (span.name, key, value)
    assert all(SECRET not in r.getMessage() for r in caplog.records)


@pytest.fixture
def instrumented(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    tracefork_otel.instrument()
    try:
        yield
    finally:
        tracefork_otel.uninstrument()


@pytest.mark.parametrize("make_url", STORES.values(), ids=STORES.keys())
def test_under_instrument_every_call_goes_through_with_one_warning(
    make_url: Callable[[], str],
    monkeypatch: pytest.MonkeyPatch,
    instrumented: None,
    serve: Callable[..., MessagesEndpoint],
    spans: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TFOTEL_BLOBS", make_url())
    endpoint = serve(policy)
    caplog.set_level(logging.WARNING)
    client = sdk_client(endpoint.base_url, max_retries=0, open_telemetry=False)
    assert ask(client) == ["reply 1", "reply 3"]
    assert tracefork_otel.shutdown()  # the exchanges end on the background writer
    warnings = [r for r in caplog.records if r.name.startswith("tracefork_otel") and r.levelno >= logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    exchanges = [s for s in spans.get_finished_spans() if semconv.STEP in (s.attributes or {})]
    assert len(exchanges) == 2
    assert all(semconv.RECORD_ERROR in s.attributes for s in exchanges)
    no_secret_anywhere(list(spans.get_finished_spans()), caplog)


@pytest.mark.parametrize("make_url", STORES.values(), ids=STORES.keys())
def test_record_run_runs_the_agent_and_marks_the_run_partial(
    make_url: Callable[[], str],
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = serve(policy)
    with record_run("unopenable", blob_store=make_url()) as run:
        client = sdk_client(endpoint.base_url, run, max_retries=0)
        assert ask(client) == ["reply 1", "reply 3"]
    trace = trace_of(run.trace_id)
    assert trace.root.attributes[semconv.RUN_PARTIAL] is True
    assert trace.root.attributes[semconv.RECORD_ERROR]
    assert all(semconv.RECORD_ERROR in s.attributes for s in trace.exchanges)
    no_secret_anywhere([trace.root, *trace.exchanges], caplog)


def test_strict_mode_raises_the_reason_into_the_agent(serve: Callable[..., MessagesEndpoint]) -> None:
    endpoint = serve(policy)
    with (
        pytest.raises(BlobError, match="nosuchfs"),
        record_run("strict", blob_store="nosuchfs://b", strict=True) as run,
    ):
        client = sdk_client(endpoint.base_url, run, max_retries=0)
        ask(client, calls=1)
