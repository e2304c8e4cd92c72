"""Bad answers from Tempo or Jaeger never crash a source: spans of the asked trace, or one of our errors.

tests/sources fuzzes ``parse_traces`` on documents; this goes through the HTTP path the
CLI uses (status, headers, content encoding, body bytes, Tempo's v2→v1 fallback and
partial flag, Jaeger's error lines) with a ``MockTransport`` serving fuzzed answers.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracefork_otel.errors import SourceError, TraceforkError, TraceNotFoundError
from tracefork_otel.sources import JaegerSource, TempoSource

EXAMPLES = {"tempo answers": 1000, "jaeger answers": 800}
"""Cases per fuzz test below (docs/guarantees.md quotes the total)."""

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TEMPO_BODIES = [(FIXTURES / name).read_bytes() for name in ("tempo_v2_trace.json", "tempo_v1_trace.json")]
TEMPO_BODIES.append((FIXTURES / "tempo_v2_partial.json").read_bytes())
JAEGER_BODIES = [(FIXTURES / name).read_bytes() for name in ("jaeger_get_trace.json", "jaeger_not_found.json")]
JAEGER_BODIES.append((FIXTURES / "collector_traces.jsonl").read_bytes())

KEYS = ["trace", "batches", "result", "resourceSpans", "scopeSpans", "spans", "status", "message", "error"]
KEYS += ["traceId", "spanId", "parentSpanId", "attributes", "key", "value", "httpCode", "grpcCode", "name"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.sampled_from(["PARTIAL", TRACE_ID, 404, 5]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(KEYS), children, max_size=4),
    max_leaves=20,
)


@st.composite
def bodies(draw: st.DrawFn, samples: list[bytes]) -> bytes:
    """A real answer cut, garbled or spliced, or a random JSON document (sometimes one per line)."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        docs = draw(st.lists(JSON, min_size=1, max_size=3))
        return "\n".join(json.dumps(doc) for doc in docs).encode()
    body = bytearray(draw(st.sampled_from(samples)))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(body)))
        op = draw(st.sampled_from(["cut", "insert", "replace"]))
        if op == "cut":
            del body[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            body[at:at] = draw(st.binary(max_size=8) | st.sampled_from([b'"', b"{", b"]", b"\n", b"\xff\xfe"]))
        else:
            body[at : at + 1] = draw(st.binary(min_size=1, max_size=2))
    return bytes(body)


Answer = tuple[int, dict[str, str], bytes]


@st.composite
def answers(draw: st.DrawFn, samples: list[bytes]) -> Answer:
    status = draw(st.sampled_from([200, 200, 200, 404, 404, 500, 302, 401, 422]))
    body = draw(bodies(samples) | st.binary(max_size=64))
    headers = {"content-type": draw(st.sampled_from(["application/json", "text/plain", "text/html"]))}
    if status == 302:
        headers["location"] = "http://127.0.0.1:1/elsewhere"
    encoding = draw(st.sampled_from([None, None, "gzip", "gzip-broken"]))
    if encoding == "gzip":
        body, headers["content-encoding"] = gzip.compress(body), "gzip"
    elif encoding == "gzip-broken":
        headers["content-encoding"] = "gzip"  # a lie: the body is not gzip
    return status, headers, body


def fetch(source: TempoSource | JaegerSource) -> None:
    try:
        spans = source.get(TRACE_ID)
    except (SourceError, TraceNotFoundError) as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    except TraceforkError as exc:  # pragma: no cover - any other of ours would be a wrong mapping
        raise AssertionError(f"unexpected {type(exc).__name__}: {exc}") from exc
    assert spans and all(span.trace_id == TRACE_ID for span in spans)


def client_answering(responses: list[Answer]) -> httpx.Client:
    """A client whose every request gets the next of ``responses`` (the last one repeats), read as it streams."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        status, headers, body = queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    return httpx.Client(transport=httpx.MockTransport(handler))


FUZZ = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


@pytest.mark.slow
@settings(FUZZ, max_examples=EXAMPLES["tempo answers"])
@given(st.lists(answers(TEMPO_BODIES), min_size=1, max_size=2))
def test_tempo_http_answers(responses: list[Answer]) -> None:
    """One or two answers: Tempo's v2 route, then (after a 404) the v1 fallback."""
    with client_answering(responses) as client:
        fetch(TempoSource("http://tempo.test:3200", client=client, headers={"Authorization": "Bearer t"}))


@pytest.mark.slow
@settings(FUZZ, max_examples=EXAMPLES["jaeger answers"])
@given(answers(JAEGER_BODIES))
def test_jaeger_http_answers(response: Answer) -> None:
    with client_answering([response]) as client:
        fetch(JaegerSource("http://jaeger.test:16686", client=client))
