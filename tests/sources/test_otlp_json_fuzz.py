"""Fuzzing the OTLP/JSON reader: whatever comes in, it parses or raises SourceError, nothing else."""

from __future__ import annotations

import contextlib
import copy
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracefork_otel.errors import SourceError
from tracefork_otel.sources import parse_traces, to_otlp_json
from tracefork_otel.sources._otlp_json import load_documents
from tracefork_otel.spanmodel import EventRecord, LinkRecord, SpanKind, SpanRecord, StatusCode

OWN = Path(__file__).resolve().parents[1] / "fixtures" / "sources"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "backends"

# Field names the reader looks for, so random objects reach past the first check.
KEYS = [
    "resourceSpans",
    "resource_spans",
    "result",
    "trace",
    "batches",
    "error",
    "data",
    "metrics",
    "status",
    "resource",
    "attributes",
    "scopeSpans",
    "scope_spans",
    "instrumentationLibrarySpans",
    "scope",
    "name",
    "spans",
    "traceId",
    "spanId",
    "parentSpanId",
    "kind",
    "startTimeUnixNano",
    "endTimeUnixNano",
    "events",
    "links",
    "code",
    "message",
    "timeUnixNano",
    "key",
    "value",
    "stringValue",
    "boolValue",
    "intValue",
    "doubleValue",
    "bytesValue",
    "arrayValue",
    "kvlistValue",
    "values",
    "int_value",
    "array_value",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(
        [
            "",
            "SPAN_KIND_CLIENT",
            "STATUS_CODE_ERROR",
            "3",
            "-1",
            "NaN",
            "Infinity",
            "S/kvNXezTaajzpKdDg5HNg==",
            "APBnqgupArc=",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "AAAwOQ==",
            "18446744073709551616",
            "1e3",
        ]
    )
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=40,
)


def _samples() -> list[object]:
    docs = [json.loads(path.read_text()) for path in sorted(OWN.glob("*.json"))]
    if SHARED.is_dir():
        docs += [json.loads(path.read_text()) for path in sorted(SHARED.glob("*/*.json")) if "schema" not in path.name]
    return docs


SAMPLES = _samples()


def _paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _parses_or_source_error(doc: object) -> None:
    try:
        spans = parse_traces(doc)
    except SourceError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert all(isinstance(span, SpanRecord) for span in spans)


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON)
def test_arbitrary_json_values(doc: object) -> None:
    _parses_or_source_error(doc)
    _parses_or_source_error({"resourceSpans": [{"scopeSpans": [{"spans": [doc]}]}]})
    _parses_or_source_error(
        {
            "resourceSpans": [
                {
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
                                    "spanId": "00f067aa0ba902b7",
                                    "attributes": [{"key": "k", "value": doc}],
                                }
                            ]
                        }
                    ]
                }
            ]
        }
    )


@pytest.mark.slow
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_fixture_documents(data: st.DataObject) -> None:
    doc = copy.deepcopy(data.draw(st.sampled_from(SAMPLES), label="sample"))
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        path = data.draw(st.sampled_from(_paths(doc)), label="path")
        if not path:
            doc = data.draw(JSON, label="replacement")
            continue
        parent = doc
        for step in path[:-1]:
            parent = parent[step]  # type: ignore[index]
        action = data.draw(st.sampled_from(["replace", "delete", "truncate"]), label="action")
        old = parent[path[-1]]  # type: ignore[index]
        if action == "delete":
            del parent[path[-1]]  # type: ignore[attr-defined]
        elif action == "truncate" and isinstance(old, str):
            parent[path[-1]] = old[: data.draw(st.integers(0, max(len(old) - 1, 0)))]  # type: ignore[index]
        else:
            parent[path[-1]] = data.draw(JSON, label="replacement")  # type: ignore[index]
    _parses_or_source_error(doc)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_truncated_and_garbled_text(data: st.DataObject) -> None:
    text = json.dumps(data.draw(st.sampled_from(SAMPLES)), indent=data.draw(st.sampled_from([None, 2])))
    cut = data.draw(st.integers(0, len(text)))
    garbage = data.draw(st.text(max_size=5))
    for candidate in (text[:cut], text[:cut] + garbage + text[cut:]):
        try:
            docs = load_documents(candidate, "f")
        except SourceError:
            continue
        for doc in docs:
            _parses_or_source_error(doc)


@given(st.text())
def test_load_documents_any_text(text: str) -> None:
    with contextlib.suppress(SourceError):
        assert isinstance(load_documents(text, "f"), list)


# --- round trip of arbitrary spans ---------------------------------------------------------

HEX32 = st.binary(min_size=16, max_size=16).map(bytes.hex)
HEX16 = st.binary(min_size=8, max_size=8).map(bytes.hex)
UINT64 = st.integers(0, 2**64 - 1)
VALUES = (
    st.text()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.lists(st.text(), max_size=3)
    | st.lists(st.booleans(), max_size=3)
    | st.lists(st.integers(-(2**63), 2**63 - 1), min_size=1, max_size=3)
    | st.lists(st.floats(allow_nan=False), min_size=1, max_size=3)
)
ATTRIBUTES = st.dictionaries(st.text(max_size=12), VALUES, max_size=4)
SPANS = st.builds(
    SpanRecord,
    trace_id=HEX32,
    span_id=HEX16,
    parent_span_id=st.none() | HEX16,
    name=st.text(max_size=20),
    kind=st.sampled_from(SpanKind),
    start_time_unix_nano=UINT64,
    end_time_unix_nano=UINT64,
    attributes=ATTRIBUTES,
    events=st.lists(
        st.builds(EventRecord, name=st.text(max_size=8), time_unix_nano=UINT64, attributes=ATTRIBUTES), max_size=2
    ).map(tuple),
    links=st.lists(st.builds(LinkRecord, trace_id=HEX32, span_id=HEX16, attributes=ATTRIBUTES), max_size=2).map(tuple),
    status_code=st.sampled_from(StatusCode),
    status_message=st.text(max_size=10),
    resource=st.sampled_from([{}, {"service.name": "a"}, {"service.name": "b", "n": 1}]),
    scope_name=st.sampled_from(["", "tracefork_otel", "other"]),
)


@pytest.mark.slow
@pytest.mark.parametrize(("ids", "enums"), [("hex", "int"), ("base64", "name")])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans=st.lists(SPANS, max_size=4))
def test_round_trip_of_arbitrary_spans(ids: str, enums: str, spans: list[SpanRecord]) -> None:
    body = json.loads(json.dumps(to_otlp_json(spans, id_encoding=ids, enum_style=enums)))  # type: ignore[arg-type]
    back = parse_traces(body)
    # Grouping by resource and scope may reorder spans; each comes back equal.
    key = lambda s: (s.trace_id, s.span_id, s.name, s.start_time_unix_nano, repr(s))  # noqa: E731
    assert sorted(back, key=key) == sorted(spans, key=key)
