"""TempoSource over httpx.MockTransport serving our Tempo fixture bytes."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import httpx
import pytest

from tracefork_otel.errors import ConfigError, SourceError, TraceNotFoundError
from tracefork_otel.sources import TempoSource, TraceSource
from tracefork_otel.spanmodel import SpanRecord

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"
V2 = f"/api/v2/traces/{RUN}"
V1 = f"/api/traces/{RUN}"
SECRET = "Bearer glc_eyJrIjoiNmQ5YzQ0"
Routes = dict[str, tuple[int, bytes]]


class Backend:
    """A fake Tempo: answers from a path → (status, body) table and keeps every request."""

    def __init__(self, routes: Routes) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, body = self.routes.get(request.url.path, (404, b"404 page not found\n"))
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})

    def source(self, **kwargs: object) -> TempoSource:
        client = httpx.Client(transport=httpx.MockTransport(self))
        return TempoSource("http://tempo:3200", client=client, **kwargs)  # type: ignore[arg-type]

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def test_is_a_trace_source() -> None:
    source = TempoSource("http://tempo:3200")
    assert isinstance(source, TraceSource)
    assert source.name == "tempo http://tempo:3200"


def test_v2_answer(fixture_bytes: Callable[[str], bytes], run_spans: list[SpanRecord]) -> None:
    backend = Backend({V2: (200, fixture_bytes("tempo_v2_trace.json"))})
    source = backend.source(headers={"Authorization": SECRET, "X-Scope-OrgID": "tenant-7"})
    assert source.get(RUN.upper()) == run_spans
    (request,) = backend.requests
    assert request.url == f"http://tempo:3200{V2}"
    assert request.headers["accept"] == "application/json"
    assert request.headers["authorization"] == SECRET
    assert request.headers["x-scope-orgid"] == "tenant-7"


def test_a_64_bit_id_is_padded(fixture_bytes: Callable[[str], bytes]) -> None:
    padded = "0000000000000000a3ce929d0e0e4736"
    backend = Backend({f"/api/v2/traces/{padded}": (200, b'{"trace": {}}')})
    with pytest.raises(TraceNotFoundError, match=f"trace {padded} not found"):
        backend.source().get("A3CE929D0E0E4736")
    assert backend.paths == [f"/api/v2/traces/{padded}"]


def test_falls_back_to_v1_when_the_v2_route_is_missing(
    fixture_bytes: Callable[[str], bytes], run_spans: list[SpanRecord]
) -> None:
    backend = Backend({V1: (200, fixture_bytes("tempo_v1_trace.json"))})
    assert backend.source().get(RUN) == run_spans
    assert backend.paths == [V2, V1]


def test_v1_404_is_not_found_after_a_non_json_v2_404() -> None:
    backend = Backend({V2: (404, b""), V1: (404, b"trace not found")})
    with pytest.raises(TraceNotFoundError) as caught:
        backend.source().get(RUN)
    assert (caught.value.trace_id, caught.value.source) == (RUN, "tempo http://tempo:3200")
    assert backend.paths == [V2, V1]


def test_a_json_404_from_the_v2_route_is_not_found_without_fallback() -> None:
    backend = Backend({V2: (404, b'{"metrics": {"inspectedBytes": "0"}}')})
    with pytest.raises(TraceNotFoundError, match=f"trace {RUN} not found in tempo"):
        backend.source().get(RUN)
    assert backend.paths == [V2]


def test_an_empty_v2_trace_is_not_found() -> None:
    backend = Backend({V2: (200, b'{"trace": {}, "metrics": {"inspectedBytes": "1024"}}')})
    with pytest.raises(TraceNotFoundError):
        backend.source().get(RUN)


def test_spans_of_other_traces_are_dropped(fixture_bytes: Callable[[str], bytes]) -> None:
    # A proxy answering with the wrong trace must not pass for the asked one.
    other = "5b8efff798038103d269b633813fc60c"
    backend = Backend({f"/api/v2/traces/{other}": (200, fixture_bytes("tempo_v2_trace.json"))})
    with pytest.raises(TraceNotFoundError):
        backend.source().get(other)


def test_no_tempo_api_at_all() -> None:
    with pytest.raises(SourceError, match="no Tempo query API at http://tempo:3200"):
        Backend({}).source().get(RUN)


def test_partial_trace_is_refused(fixture_bytes: Callable[[str], bytes]) -> None:
    backend = Backend({V2: (200, fixture_bytes("tempo_v2_partial.json"))})
    with pytest.raises(SourceError, match=r"is partial \(Trace exceeds maximum size of 5000000 bytes.*allow_partial"):
        backend.source().get(RUN)


def test_partial_trace_can_be_allowed(
    fixture_bytes: Callable[[str], bytes], run_spans: list[SpanRecord], caplog: pytest.LogCaptureFixture
) -> None:
    backend = Backend({V2: (200, fixture_bytes("tempo_v2_partial.json"))})
    with caplog.at_level(logging.WARNING):
        assert backend.source(allow_partial=True).get(RUN) == run_spans[:2]
    assert "partial trace" in caplog.text


@pytest.mark.parametrize("status", [401, 403])
def test_refused(status: int) -> None:
    backend = Backend({V2: (status, b"invalid token " + SECRET.encode())})
    with pytest.raises(SourceError, match=f"http://tempo:3200{V2} refused: {status}") as caught:
        backend.source(headers={"Authorization": SECRET}).get(RUN)
    assert SECRET not in str(caught.value)
    assert "TFOTEL_SOURCE_AUTHORIZATION" in str(caught.value)


def test_redirects_are_not_followed() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(302, headers={"location": "https://login.example.com/sso?state=s3cr3t"})

    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=True)
    with pytest.raises(SourceError, match=r"302 Found to https://login\.example\.com/sso; redirects are not") as caught:
        TempoSource("http://tempo:3200", client=client, headers={"Authorization": SECRET}).get(RUN)
    assert len(calls) == 1
    assert "s3cr3t" not in str(caught.value)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (httpx.ReadTimeout("timed out"), f"http://tempo:3200{V2} timed out waiting for the answer"),
        (httpx.ConnectTimeout("timed out"), "timed out connecting"),
        (httpx.ConnectError("[Errno 111] Connection refused"), "cannot connect to http://tempo:3200/api/v2"),
        (httpx.RemoteProtocolError("peer closed connection"), "failed: RemoteProtocolError"),
    ],
)
def test_transport_errors(error: Exception, message: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    source = TempoSource("http://tempo:3200", client=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(SourceError, match=message) as caught:
        source.get(RUN)
    assert caught.value.__cause__ is error


def test_server_error_shows_the_start_of_the_body() -> None:
    backend = Backend({V2: (500, b"rpc error: code = Unavailable desc = ingester unavailable")})
    with pytest.raises(SourceError, match="answered 500 Internal Server Error: rpc error: code = Unavailable"):
        backend.source().get(RUN)


def test_trace_too_large_422() -> None:
    backend = Backend({V2: (422, b"trace exceeds max size (max bytes: 5000000)")})
    with pytest.raises(SourceError, match="422 Unprocessable Entity: trace exceeds max size"):
        backend.source().get(RUN)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"trace": {"resourceSpans": [', "is not JSON"),
        (b"<html>maintenance</html>", "is not JSON"),
        (
            b'{"trace": {"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 7}]}]}]}}',
            r"the answer of http://tempo:3200/api/v2/traces/\w+: bad OTLP/JSON at trace.resourceSpans\[0\]",
        ),
    ],
)
def test_unreadable_answers(body: bytes, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        Backend({V2: (200, body)}).source().get(RUN)


def test_answer_size_is_capped(fixture_bytes: Callable[[str], bytes]) -> None:
    backend = Backend({V2: (200, fixture_bytes("tempo_v2_trace.json"))})
    with pytest.raises(SourceError, match="answered more than 1000 bytes"):
        backend.source(max_bytes=1000).get(RUN)


def test_base_path_and_credentials_in_the_url(fixture_bytes: Callable[[str], bytes]) -> None:
    backend = Backend({f"/tempo{V2}": (200, fixture_bytes("tempo_v2_trace.json"))})
    client = httpx.Client(transport=httpx.MockTransport(backend))
    source = TempoSource("https://user:pa55@grafana.example.com/tempo/", client=client)
    assert source.name == "tempo https://grafana.example.com/tempo"
    assert len(source.get(RUN)) == 3
    assert backend.requests[0].url.host == "grafana.example.com"


@pytest.mark.parametrize("url", ["tempo:3200", "ftp://tempo", "http://", "http://tempo:3200/?org=1", ""])
def test_bad_base_url(url: str) -> None:
    with pytest.raises(ConfigError, match="bad source URL"):
        TempoSource(url)


def test_bad_trace_id_is_a_config_error() -> None:
    backend = Backend({})
    with pytest.raises(ConfigError, match="bad trace id 'not-a-trace'"):
        backend.source().get("not-a-trace")
    assert backend.requests == []


def test_connection_refused_without_an_injected_client() -> None:
    # A loopback port nobody listens on: the source's own client fails fast, nothing leaves the machine.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = TempoSource(f"http://127.0.0.1:{port}", timeout=2.0)
    with pytest.raises(SourceError, match=rf"(cannot connect to|timed out).*127\.0\.0\.1:{port}/api/v2/traces"):
        source.get(RUN)
