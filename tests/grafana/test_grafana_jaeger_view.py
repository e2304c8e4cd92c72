"""A blame trace reads well in Jaeger: events become logs with an ``event`` field, values are typed tags."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jaeger_ui import to_ui_model
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracefork_otel import semconv
from tracefork_otel.blame.export import export_blame
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blame.strategy import BlameOutcome, StepScore, rank
from tracefork_otel.sources import to_otlp_json
from tracefork_otel.spanstore.exporter import span_record_from_readable
from tracefork_otel.tape.model import Exchange, Tape

SHARED = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "backends" / "jaeger"


def test_the_model_of_jaegers_translation_matches_jaegers_golden_pair() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/fixtures/backends/jaeger is absent")
    given = json.loads((SHARED / "legacy_transform_otlp2jaeger-in.json").read_text())
    expected = json.loads((SHARED / "legacy_api_response_otlp2jaeger-out.json").read_text())
    assert to_ui_model(given) == expected


def _blame_trace() -> dict[str, object]:
    tape = Tape(
        trace_id="ab" * 16,
        run_name="refund-desk",
        exchanges=tuple(
            Exchange(step=i, request_sha256="a" * 64, response_sha256="b" * 64, span_id=f"{i + 1:016x}")
            for i in range(3)
        ),
    ).sealed()
    scores = rank(
        [
            StepScore(0, 0.0, -0.1, 0.2, 10, "bounded"),
            StepScore(1, 0.6, 0.3, 0.8, 20, "measured"),
            StepScore(2, 0.0, 0.0, 0.1, 10, "measured"),
        ]
    )
    report = BlameReport(
        trace_id=tape.trace_id,
        outcome=BlameOutcome(scores, 40, {}, "Bisection(...)"),
        perturb="resample",
        oracle="pkg.checks:ok",
    )
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    export_blame(report, tape, provider.get_tracer("test"))
    spans = [span_record_from_readable(s) for s in exporter.get_finished_spans()]
    ui = to_ui_model(to_otlp_json(spans))
    assert len(ui["data"]) == 1
    trace: dict[str, object] = ui["data"][0]
    return trace


def _tags(span: dict[str, object]) -> dict[str, tuple[str, object]]:
    return {t["key"]: (t["type"], t["value"]) for t in span["tags"]}  # type: ignore[index, union-attr]


def test_a_blame_trace_in_jaegers_ui_model() -> None:
    trace = _blame_trace()
    spans = {s["operationName"]: s for s in trace["spans"]}  # type: ignore[union-attr, index]
    root = spans[semconv.SPAN_BLAME]
    root_tags = _tags(root)
    assert root_tags[semconv.BLAME_TRACE_ID] == ("string", "ab" * 16)
    assert root_tags[semconv.BLAME_TOP_STEP] == ("int64", 1)
    assert root_tags[semconv.BLAME_AGENT_RUNS] == ("int64", 40)
    # The analysed run's exchanges are FOLLOWS_FROM references: Jaeger links to them.
    assert {(r["refType"], r["traceID"]) for r in root["references"]} == {("FOLLOWS_FROM", "ab" * 16)}

    for step in range(3):
        child = spans[f"{semconv.SPAN_BLAME} step {step}"]
        tags = _tags(child)
        # Typed tags: Jaeger shows numbers as numbers and can filter on them.
        assert tags[semconv.BLAME_STEP] == ("int64", step)
        assert tags[semconv.BLAME_RANK][0] == "int64"
        assert tags[semconv.BLAME_SAMPLES][0] == "int64"
        for key in (semconv.BLAME_SCORE, semconv.BLAME_CI_LOW, semconv.BLAME_CI_HIGH):
            assert tags[key][0] == "float64", key
        assert any(r["refType"] == "CHILD_OF" and r["spanID"] == root["spanID"] for r in child["references"])
        # Events become logs whose first field names the event; the values ride along typed.
        logs = {log["fields"][0]["value"]: log for log in child["logs"]}
        assert logs.keys() == {semconv.EVENT_BLAME_STEP, semconv.GEN_AI_EVALUATION_RESULT_EVENT}
        for log in logs.values():
            assert log["fields"][0]["key"] == "event"
        step_fields = {f["key"]: (f["type"], f["value"]) for f in logs[semconv.EVENT_BLAME_STEP]["fields"][1:]}
        assert step_fields[semconv.BLAME_STEP] == ("int64", step)
        assert step_fields[semconv.BLAME_SCORE] == tags[semconv.BLAME_SCORE]
        evaluation = {f["key"]: f for f in logs[semconv.GEN_AI_EVALUATION_RESULT_EVENT]["fields"]}
        assert evaluation[semconv.GEN_AI_EVALUATION_NAME]["value"] == semconv.SPAN_BLAME
        assert evaluation[semconv.GEN_AI_EVALUATION_SCORE_VALUE]["type"] == "float64"


def test_the_blame_view_has_the_shape_of_jaegers_ui_sample() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/fixtures/backends/jaeger is absent")
    sample = json.loads((SHARED / "legacy_uimodel_trace_ui_01.json").read_text())
    trace = _blame_trace()
    assert set(trace) >= set(sample) - {"warnings"} | {"traceID", "spans", "processes"}
    sample_span_keys = set(sample["spans"][0])
    tag_types = {t["type"] for s in sample["spans"] for t in s["tags"]}
    for span in trace["spans"]:  # type: ignore[union-attr]
        assert set(span) == sample_span_keys
        assert {t["type"] for t in span["tags"]} <= tag_types
        for log in span["logs"]:
            assert set(log) == set(sample["spans"][0]["logs"][0])
