"""The one OTLP/JSON reader: every envelope, id encoding, enum style and AnyValue kind."""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tracefork_otel.errors import ConfigError, SourceError
from tracefork_otel.sources import parse_traces, to_otlp_json
from tracefork_otel.sources._otlp_json import load_documents, select_trace
from tracefork_otel.spanmodel import EventRecord, LinkRecord, SpanKind, SpanRecord, StatusCode

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"


def _span(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"traceId": RUN, "spanId": "00f067aa0ba902b7", "name": "s"}
    base.update(fields)
    return base


def _doc(*spans: dict[str, object]) -> dict[str, object]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}


def _attr(value: dict[str, object]) -> object:
    (span,) = parse_traces(_doc(_span(attributes=[{"key": "k", "value": value}])))
    return span.attributes.get("k", "<absent>")


def _snake_keys(value: object) -> object:
    if isinstance(value, dict):
        return {re.sub(r"([A-Z])", r"_\1", k).lower(): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


# --- every format gives the same run -----------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["otlp_trace.json", "jaeger_get_trace.json", "tempo_v2_trace.json", "tempo_v1_trace.json"],
)
def test_every_format_parses_to_the_same_spans(
    name: str, fixture_json: Callable[[str], object], run_spans: list[SpanRecord]
) -> None:
    spans = [s for s in parse_traces(fixture_json(name)) if s.trace_id == RUN]
    assert spans == run_spans


def test_the_reference_run_carries_what_tracefork_reads(run_spans: list[SpanRecord]) -> None:
    root, chat0, chat1 = run_spans
    assert root.parent_span_id is None
    assert root.kind is SpanKind.INTERNAL
    assert root.events == (
        EventRecord(
            "tracefork.draw",
            1764089400050000000,
            {
                "tracefork.draw.order": 0,
                "tracefork.draw.kind": "uuid4",
                "tracefork.draw.value": "9b2f4c1e-6a57-4d0b-8f3e-2c1d7a9e5b40",
            },
        ),
    )
    assert root.links == (
        LinkRecord("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", {"tracefork.fork.step": 1}),
    )
    assert chat0.attributes["tracefork.step"] == 0
    assert chat0.attributes["tracefork.request.sha256"] == (
        "f162b493dd9bf56e431f6d9db5dcd9dd2af4e4442f711d454b30f50745621c00"
    )
    assert chat0.attributes["tracefork.response.headers"] == [
        "content-type: application/json",
        "request-id: req_011CVUa3hYzQm8kfD2xW7Jp4",
    ]
    assert chat0.attributes["gen_ai.request.temperature"] == 0.2
    assert chat0.parent_span_id == root.span_id
    assert (chat1.status_code, chat1.status_message) == (StatusCode.ERROR, "overloaded_error")
    assert root.resource == {"service.name": "support-bot", "telemetry.sdk.language": "python", "process.pid": 48213}
    assert root.scope_name == "tracefork_otel"
    assert root.start_time_unix_nano == 1764089400000000000


def test_snake_case_field_names(fixture_json: Callable[[str], object], run_spans: list[SpanRecord]) -> None:
    snake = _snake_keys(fixture_json("otlp_trace.json"))
    assert "resource_spans" in snake  # type: ignore[operator]
    assert [s for s in parse_traces(snake) if s.trace_id == RUN] == run_spans


def test_partial_tempo_body_still_parses(fixture_json: Callable[[str], object], run_spans: list[SpanRecord]) -> None:
    # Refusing partial traces is the Tempo source's decision, not the reader's.
    assert parse_traces(fixture_json("tempo_v2_partial.json")) == run_spans[:2]


@pytest.mark.parametrize(
    "doc",
    [
        {},
        {"resourceSpans": []},
        {"result": {}},
        {"trace": {}},
        {"batches": []},
        {"resourceSpans": None},
        {"trace": {}, "metrics": {"inspectedBytes": "0"}},
        {"metrics": {}},
    ],
)
def test_empty_envelopes_have_no_spans(doc: object) -> None:
    assert parse_traces(doc) == []


# --- shared samples from the backends' own repositories ----------------------------


def test_jaeger_apiv3_get_trace_sample(shared_backends: Path) -> None:
    (span,) = parse_traces(json.loads((shared_backends / "jaeger/apiv3_GetTrace.json").read_text()))
    # The golden answer has no times, no resource and an empty scope: all defaults.
    assert span == SpanRecord(
        trace_id="00000000000000000000000000000001",
        span_id="0000000000000002",
        parent_span_id=None,
        name="foobar",
        kind=SpanKind.SERVER,
        start_time_unix_nano=0,
        end_time_unix_nano=0,
        status_code=StatusCode.ERROR,
    )


def test_jaeger_storage_sample(shared_backends: Path) -> None:
    sample = shared_backends / "jaeger/otlp_storage_otel_traces_01.json"
    spans = parse_traces(json.loads(sample.read_text()))
    assert [s.span_id[-2:] for s in spans] == ["02", "03", "04", "05"]
    # One TracesData holding two traces: filtering by trace id is the source's job.
    assert {s.trace_id for s in spans} == {"00000000000000010000000000000000", "00000000000000020000000000000000"}
    first = spans[0]
    # intValue as a string → int; bytesValue stays base64 text; doubleValue → float
    assert first.attributes == {
        "peer.service": "service-y",
        "peer.ipv4": 23456,
        "blob": "AAAwOQ==",
        "temperature": 72.5,
    }
    assert first.events[0] == EventRecord("testing-event", 1485467191639875000, {"event-x": "event-y"})
    assert first.events[1].name == ""  # an event without a name
    assert first.links[1] == LinkRecord(
        "00000000000000ff0000000000000000", "00000000000000ff", {"opentracing.ref_type": "child_of"}
    )
    assert [s.kind for s in spans] == [SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER]
    assert [s.scope_name for s in spans] == ["testing-library-2"] * 2 + ["testing-library-3"] * 2
    assert first.resource == {"service.name": "service-x"}


def test_otlp_spec_example_uppercase_hex(shared_backends: Path) -> None:
    (span,) = parse_traces(json.loads((shared_backends / "otlp/otlp_examples_trace.json").read_text()))
    assert (span.trace_id, span.span_id, span.parent_span_id) == (
        "5b8efff798038103d269b633813fc60c",
        "eee19b7ec3c1b174",
        "eee19b7ec3c1b173",
    )
    assert span.end_time_unix_nano - span.start_time_unix_nano == 1_000_000_000


def test_legacy_jaeger_json_is_named(shared_backends: Path) -> None:
    for name in ("legacy_api_response_otlp2jaeger-out.json", "legacy_uimodel_trace_ui_01.json"):
        with pytest.raises(SourceError, match="legacy Jaeger UI JSON"):
            parse_traces(json.loads((shared_backends / "jaeger" / name).read_text()))


# --- ids, enums, values --------------------------------------------------------------


def test_a_32_hex_trace_id_is_hex_even_though_it_is_valid_base64() -> None:
    hex_id = "0123456789abcdef0123456789ABCDEF"  # also decodes as base64, to 24 bytes
    (span,) = parse_traces(_doc(_span(traceId=hex_id)))
    assert span.trace_id == hex_id.lower()


@pytest.mark.parametrize("parent", ["", None])
def test_empty_parent_is_none(parent: str | None) -> None:
    (span,) = parse_traces(_doc(_span(parentSpanId=parent)))
    assert span.parent_span_id is None


def test_base64_ids_url_safe_and_unpadded() -> None:
    raw = bytes(range(250, 256)) + b"\xfb\xff"
    span_id = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    (span,) = parse_traces(_doc(_span(spanId=span_id)))
    assert span.span_id == raw.hex()


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        (3, 2, (SpanKind.CLIENT, StatusCode.ERROR)),
        ("SPAN_KIND_CLIENT", "STATUS_CODE_ERROR", (SpanKind.CLIENT, StatusCode.ERROR)),
        ("3", "2", (SpanKind.CLIENT, StatusCode.ERROR)),
        (None, None, (SpanKind.UNSPECIFIED, StatusCode.UNSET)),
        ("SPAN_KIND_UNSPECIFIED", "STATUS_CODE_OK", (SpanKind.UNSPECIFIED, StatusCode.OK)),
    ],
)
def test_enum_forms(kind: object, code: object, expected: tuple[SpanKind, StatusCode]) -> None:
    (span,) = parse_traces(_doc(_span(kind=kind, status={"code": code})))
    assert (span.kind, span.status_code) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"stringValue": "x"}, "x"),
        ({"boolValue": True}, True),
        ({"intValue": "-9223372036854775808"}, -(2**63)),
        ({"intValue": 7}, 7),
        ({"doubleValue": 1}, 1.0),
        ({"doubleValue": "Infinity"}, float("inf")),
        ({"bytesValue": "AAAwOQ=="}, "AAAwOQ=="),
        ({"arrayValue": {"values": [{"intValue": "1"}, {"intValue": 2}]}}, [1, 2]),
        ({"arrayValue": {}}, []),
        ({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "a"}]}}, '[1,"a"]'),
        ({"arrayValue": {"values": [{"arrayValue": {"values": [{"boolValue": False}]}}]}}, "[[false]]"),
        (
            {
                "kvlistValue": {
                    "values": [
                        {"key": "a", "value": {"intValue": "1"}},
                        {"key": "b", "value": {"kvlistValue": {"values": []}}},
                    ]
                }
            },
            '{"a":1,"b":{}}',
        ),
        ({"string_value": "snake"}, "snake"),
        ({}, "<absent>"),
        ({"stringValue": None}, "<absent>"),
    ],
)
def test_any_value_kinds(value: dict[str, object], expected: object) -> None:
    assert _attr(value) == expected


# --- malformed input: SourceError with a reason that says where ------------------------


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "the document: expected an object, got an array"),
        ({"spans": []}, "expected resourceSpans, result, trace or batches, got keys 'spans'"),
        ({"resourceSpans": {}}, "resourceSpans: expected an array"),
        (_doc({"spanId": "00f067aa0ba902b7"}), r"spans\[0\].traceId: expected a string, got null"),
        (_doc(_span(traceId="x!z")), "'x!z' is neither hex nor base64"),
        (_doc(_span(traceId="xyz")), "'xyz' is neither 32 hex digits nor base64 of 16 bytes"),
        (_doc(_span(traceId="AAAA")), "neither 32 hex digits nor base64 of 16 bytes"),
        (_doc(_span(spanId="0123456789abcdef0123456789abcdef")), "spanId"),
        (_doc(_span(kind="SPAN_KIND_NOPE")), r"expected a SPAN_KIND_\* name or number"),
        (_doc(_span(kind=9)), "out of range"),
        (_doc(_span(kind=True)), "kind"),
        (_doc(_span(startTimeUnixNano="-1")), "startTimeUnixNano"),
        (_doc(_span(startTimeUnixNano=1.5)), "startTimeUnixNano"),
        (_doc(_span(endTimeUnixNano=str(2**64))), "out of range"),
        (_doc(_span(attributes=[{"key": 1, "value": {}}])), r"attributes\[0\].key"),
        (_doc(_span(attributes=[{"key": "k", "value": {"intValue": "1.5"}}])), r"attributes\['k'\]"),
        (_doc(_span(attributes=[{"key": "k", "value": {"intValue": str(2**63)}}])), "out of range"),
        (_doc(_span(attributes=[{"key": "k", "value": {"doubleValue": 10**400}}])), "too large"),
        (_doc(_span(attributes=[{"key": "k", "value": {"doubleValue": "abc"}}])), "expected a number"),
        (_doc(_span(attributes=[{"key": "k", "value": {"boolValue": "true"}}])), "boolValue"),
        (_doc(_span(attributes=[{"key": "k", "value": {"bytesValue": "!!"}}])), "neither hex nor base64"),
        (_doc(_span(attributes=[{"key": "k", "value": {"fooValue": 1}}])), "unknown AnyValue kind"),
        (_doc(_span(attributes=[{"key": "k", "value": {"stringValue": "a", "intValue": 1}}])), "one value"),
        (_doc(_span(links=[{"spanId": "00f067aa0ba902b7"}])), r"links\[0\].traceId"),
        (_doc(_span(events=[{"timeUnixNano": "x"}])), r"events\[0\].timeUnixNano"),
        ({"error": {"httpCode": 500, "message": "storage down"}}, "answered an error: 'storage down'"),
    ],
)
def test_malformed_documents_name_the_place(doc: object, message: str) -> None:
    with pytest.raises(SourceError, match=message) as caught:
        parse_traces(doc)
    assert "\n" not in str(caught.value)


def test_deep_nesting_is_refused() -> None:
    value: dict[str, object] = {"stringValue": "leaf"}
    for _ in range(100):
        value = {"arrayValue": {"values": [value]}}
    with pytest.raises(SourceError, match="nested more than"):
        _attr(value)


# --- documents and JSON Lines --------------------------------------------------------------


def test_load_documents_single_and_lines() -> None:
    assert load_documents('{"a": 1}', "x") == [{"a": 1}]
    assert load_documents('{"a": 1}\n\n{"b": 2}\n', "x") == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"resourceSpans": [', "x is not JSON"),
        ('{\n  "resourceSpans": [\n', "x is not JSON"),
        ('{"a": 1}\n{"b": ', "x line 2 is not JSON"),
        ("1" * 5000, "x is not JSON"),
        ("[" * 100000, "x is not JSON"),
        ("", "x is not JSON"),
    ],
)
def test_load_documents_refuses_broken_json(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        load_documents(text, "x")


def test_select_trace_names_the_line(fixture_json: Callable[[str], object]) -> None:
    good = fixture_json("otlp_trace.json")
    with pytest.raises(SourceError, match=r"^f line 2: bad OTLP/JSON at resourceSpans"):
        select_trace([good, {"resourceSpans": [1]}], RUN, "f")
    assert len(select_trace([good, good], RUN, "f")) == 6


# --- writing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("ids", "enums"), [("hex", "int"), ("base64", "name"), ("hex", "name"), ("base64", "int")])
def test_round_trip_of_every_fixture_span(ids: str, enums: str, fixture_json: Callable[[str], object]) -> None:
    spans = parse_traces(fixture_json("otlp_trace.json"))
    body = json.loads(json.dumps(to_otlp_json(spans, id_encoding=ids, enum_style=enums)))  # type: ignore[arg-type]
    assert parse_traces(body) == spans
    assert len(body["resourceSpans"]) == 2  # grouped by resource


def test_to_otlp_json_looks_like_tempo_and_jaeger(run_spans: list[SpanRecord]) -> None:
    tempo = to_otlp_json(run_spans, id_encoding="base64", enum_style="name")
    span = tempo["resourceSpans"][0]["scopeSpans"][0]["spans"][1]  # type: ignore[index]
    assert span["traceId"] == "S/kvNXezTaajzpKdDg5HNg=="
    assert span["kind"] == "SPAN_KIND_CLIENT"
    assert span["startTimeUnixNano"] == "1764089400100000000"
    jaeger = {"result": to_otlp_json(run_spans)}
    span = jaeger["result"]["resourceSpans"][0]["scopeSpans"][0]["spans"][1]  # type: ignore[index]
    assert (span["traceId"], span["kind"], span["status"]) == (RUN, 3, {"code": 1, "message": ""})
    assert parse_traces(jaeger) == run_spans


def test_to_otlp_json_special_floats_and_bad_values(run_spans: list[SpanRecord]) -> None:
    span = dataclasses.replace(run_spans[0], attributes={"inf": float("-inf"), "tuple": (1.5, 2.5)})
    (back,) = parse_traces(json.loads(json.dumps(to_otlp_json([span]), allow_nan=False)))
    assert back.attributes == {"inf": float("-inf"), "tuple": [1.5, 2.5]}
    with pytest.raises(ConfigError, match="'bad' holds a dict"):
        to_otlp_json([dataclasses.replace(run_spans[0], attributes={"bad": {}})])  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="id_encoding"):
        to_otlp_json(run_spans, id_encoding="b32")  # type: ignore[arg-type]
