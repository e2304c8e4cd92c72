"""The SDK's retries are steps of their own: a 529 and the 200 that follows are both on the tape."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry.trace import StatusCode
from trace_support import sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.demo import MessagesEndpoint, error_body, message
from tracefork_otel.demo.endpoint import dumps

MODEL = "claude-sonnet-4-6"


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message("Done on the second try.", request=request)


@pytest.mark.parametrize("sdk_tracing", [False, True], ids=["full-span", "sdk-span"])
def test_an_overloaded_answer_and_its_retry_are_two_steps(
    sdk_tracing: bool,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    tmp_path: Path,
) -> None:
    endpoint = serve(policy, statuses=[529])
    with (
        record_run("retry", blob_store=str(tmp_path / "blobs")) as run,
        sdk_client(endpoint.base_url, run, max_retries=2, open_telemetry=None if sdk_tracing else False) as client,
    ):
        reply = client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hello"}])
    assert reply.content[0].text == "Done on the second try."
    first, second = endpoint.requests
    assert first.body == second.body

    trace = trace_of(run.trace_id)
    overloaded, ok = trace.exchanges
    assert [overloaded.attributes[semconv.STEP], ok.attributes[semconv.STEP]] == [0, 1]
    assert overloaded.attributes[semconv.RESPONSE_STATUS_CODE] == 529
    assert ok.attributes[semconv.RESPONSE_STATUS_CODE] == 200
    headers = list(overloaded.attributes[semconv.RESPONSE_HEADERS])
    assert "retry-after: 0" in headers
    assert "x-should-retry: true" in headers
    assert "content-type: application/json" in headers
    assert all(h.split(":", 1)[0] in {"content-type", "request-id", "retry-after", "x-should-retry"} for h in headers)
    assert overloaded.attributes[semconv.ERROR_TYPE] == "529"
    assert overloaded.status.status_code is StatusCode.ERROR
    assert ok.status.status_code is not StatusCode.ERROR

    store = FsspecBlobStore(str(tmp_path / "blobs"))
    assert store.get(overloaded.attributes[semconv.REQUEST_SHA256]) == first.body
    assert store.get(ok.attributes[semconv.REQUEST_SHA256]) == second.body
    assert store.get(overloaded.attributes[semconv.RESPONSE_SHA256]) == dumps(error_body(529, "Overloaded"))
    assert store.get(ok.attributes[semconv.RESPONSE_SHA256]) == dumps(policy(second.json()))

    if sdk_tracing:
        # Both attempts sit under the SDK's one span for the call.
        assert overloaded.parent.span_id == ok.parent.span_id
        assert trace.by_id(ok.parent.span_id).attributes[semconv.GEN_AI_OPERATION_NAME] == "chat"
    else:
        assert semconv.GEN_AI_RESPONSE_ID not in overloaded.attributes  # an error body is not a Message
        assert ok.attributes[semconv.GEN_AI_RESPONSE_ID] == reply.id
    assert trace.root.attributes[semconv.RUN_EXCHANGES] == 2
    assert trace.root.attributes[semconv.RUN_PARTIAL] is False


def test_an_error_the_sdk_does_not_retry_is_one_step(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    endpoint = serve(policy, statuses=[400])
    with (
        record_run("bad-request", blob_store=str(tmp_path / "blobs")) as run,
        sdk_client(endpoint.base_url, run, open_telemetry=False) as client,
        pytest.raises(anthropic.BadRequestError),
    ):
        client.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hello"}])
    (span,) = trace_of(run.trace_id).exchanges
    assert span.attributes[semconv.RESPONSE_STATUS_CODE] == 400
    assert "x-should-retry: false" in span.attributes[semconv.RESPONSE_HEADERS]
    assert span.attributes[semconv.ERROR_TYPE] == "400"
