"""JaegerSource over httpx.MockTransport serving our Jaeger fixture bytes and the shared golden answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tracefork_otel.errors import SourceError, TraceNotFoundError
from tracefork_otel.sources import JaegerSource, TraceSource, to_otlp_json
from tracefork_otel.spanmodel import SpanKind, SpanRecord

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"
PATH = f"/api/v3/traces/{RUN}"


def _source(status: int, body: bytes, seen: list[httpx.Request] | None = None, **kwargs: object) -> JaegerSource:
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        # Jaeger writes errors with http.Error: text/plain, a JSON body and a newline.
        return httpx.Response(status, content=body, headers={"content-type": "text/plain; charset=utf-8"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return JaegerSource("http://jaeger:16686", client=client, **kwargs)  # type: ignore[arg-type]


def test_get_trace(fixture_bytes: Callable[[str], bytes], run_spans: list[SpanRecord]) -> None:
    seen: list[httpx.Request] = []
    source = _source(200, fixture_bytes("jaeger_get_trace.json"), seen, headers={"Authorization": "Basic dTpw"})
    assert isinstance(source, TraceSource)
    assert source.name == "jaeger http://jaeger:16686"
    assert source.get(RUN) == run_spans
    (request,) = seen
    assert request.url.path == PATH
    assert request.headers["authorization"] == "Basic dTpw"
    assert request.headers["accept"] == "application/json"


def test_shared_golden_answer(shared_backends: Path) -> None:
    body = (shared_backends / "jaeger/apiv3_GetTrace.json").read_bytes()
    (span,) = _source(200, body).get("00000000000000000000000000000001")
    assert (span.name, span.kind, span.span_id) == ("foobar", SpanKind.SERVER, "0000000000000002")


def test_not_found(fixture_bytes: Callable[[str], bytes]) -> None:
    with pytest.raises(TraceNotFoundError, match=f"trace {RUN} not found in jaeger http://jaeger:16686"):
        _source(404, fixture_bytes("jaeger_not_found.json") + b"\n").get(RUN)


def test_empty_result_is_not_found() -> None:
    with pytest.raises(TraceNotFoundError):
        _source(200, b'{"result": {"resourceSpans": []}}').get(RUN)


def test_a_non_json_404_means_no_api_v3_there() -> None:
    with pytest.raises(SourceError, match=r"no Jaeger API v3 at http://jaeger:16686.*404 page not found"):
        _source(404, b"404 page not found\n").get(RUN)


def test_grpc_gateway_streams_one_result_per_line(run_spans: list[SpanRecord]) -> None:
    lines = [json.dumps({"result": to_otlp_json([span])}) for span in run_spans]
    assert _source(200, "\n".join(lines).encode()).get(RUN) == run_spans


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b'{"error": {"grpcCode": 5, "httpCode": 404, "message": "trace not found"}}', TraceNotFoundError),
        (b'{"error": {"grpcCode": 13, "httpCode": 500, "message": "storage: timeout"}}', SourceError),
    ],
)
def test_errors_inside_a_200(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        _source(200, body).get(RUN)


def test_bad_request_shows_jaegers_message() -> None:
    body = b'{"error":{"httpCode":400,"message":"malformed parameter trace_id: bad"}}\n'
    with pytest.raises(SourceError, match=r"answered 400 Bad Request: .*malformed parameter trace_id"):
        _source(400, body).get(RUN)


def test_refused() -> None:
    with pytest.raises(SourceError, match="refused: 401 Unauthorized"):
        _source(401, b"").get(RUN)


def test_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    source = JaegerSource("http://jaeger:16686", client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(SourceError, match=f"http://jaeger:16686{PATH} timed out"):
        source.get(RUN)
