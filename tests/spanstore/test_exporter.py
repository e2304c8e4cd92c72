"""LocalSpanExporter behind the real OTel SDK: every field round-trips; failures never raise."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracefork_otel import semconv
from tracefork_otel.environment_variables import TFOTEL_HOME
from tracefork_otel.spanmodel import SpanKind, StatusCode
from tracefork_otel.spanstore import LocalSpanExporter, RunSummary, SpanStore, span_record_from_readable

LINKED_TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
LINKED_SPAN_ID = 0x00F067AA0BA902B7
EXPORTER_LOGGER = "tracefork_otel.spanstore.exporter"


def _record_run(*processors: SimpleSpanProcessor) -> None:
    """An ``invoke_agent demo`` root with two exchange children, an event and a link."""
    resource = Resource.create({"service.name": "demo-agent", "deploy.zones": ["a", "b"]})
    # No provider shutdown: it would shut the exporter (and close its store) before we read.
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for processor in processors:
        provider.add_span_processor(processor)
    tracer = provider.get_tracer(semconv.INSTRUMENTATION_SCOPE)
    link = trace_api.Link(
        trace_api.SpanContext(LINKED_TRACE_ID, LINKED_SPAN_ID, is_remote=True), {"tracefork.link": "parent"}
    )
    with tracer.start_as_current_span("invoke_agent demo", links=[link]) as root:
        root.set_attribute(semconv.GEN_AI_OPERATION_NAME, semconv.OPERATION_INVOKE_AGENT)
        root.add_event(semconv.EVENT_DRAW, {semconv.DRAW_ORDER: 0, semconv.DRAW_KIND: "random"})
        for step, (input_tokens, output_tokens) in enumerate([(100, 20), (150, 30)]):
            with tracer.start_as_current_span("chat claude", kind=trace_api.SpanKind.CLIENT) as chat:
                chat.set_attribute(semconv.STEP, step)
                chat.set_attribute(semconv.GEN_AI_USAGE_INPUT_TOKENS, input_tokens)
                chat.set_attribute(semconv.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens)
                chat.set_attribute(semconv.GEN_AI_RESPONSE_FINISH_REASONS, ("end_turn", "tool_use"))
                chat.set_attribute(semconv.REQUEST_SHA256, "ab" * 32)
                if step == 1:
                    chat.set_status(trace_api.Status(trace_api.StatusCode.ERROR, "overloaded"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SpanStore]:
    s = SpanStore(tmp_path / "spans.sqlite3")
    yield s
    s.close()


def _finished_spans() -> tuple[ReadableSpan, ...]:
    memory = InMemorySpanExporter()
    _record_run(SimpleSpanProcessor(memory))
    return memory.get_finished_spans()


def test_sdk_spans_round_trip_through_the_store(store: SpanStore) -> None:
    memory = InMemorySpanExporter()
    _record_run(SimpleSpanProcessor(LocalSpanExporter(store)), SimpleSpanProcessor(memory))
    sdk_spans = sorted(memory.get_finished_spans(), key=lambda s: s.start_time or 0)
    root_sdk = sdk_spans[0]
    assert root_sdk.context is not None
    trace_id = format(root_sdk.context.trace_id, "032x")

    stored = store.get_trace(trace_id)

    assert stored == [span_record_from_readable(s) for s in sdk_spans]
    root, chat0, chat1 = stored
    assert len(trace_id) == 32 and len(root.span_id) == 16
    assert (root.name, root.parent_span_id, root.kind) == ("invoke_agent demo", None, SpanKind.INTERNAL)
    assert chat0.parent_span_id == chat1.parent_span_id == root.span_id
    assert (chat0.kind, chat0.status_code) == (SpanKind.CLIENT, StatusCode.UNSET)
    assert (chat1.status_code, chat1.status_message) == (StatusCode.ERROR, "overloaded")
    assert chat1.attributes == {
        semconv.STEP: 1,
        semconv.GEN_AI_USAGE_INPUT_TOKENS: 150,
        semconv.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
        semconv.GEN_AI_RESPONSE_FINISH_REASONS: ["end_turn", "tool_use"],
        semconv.REQUEST_SHA256: "ab" * 32,
    }
    assert root.start_time_unix_nano == root_sdk.start_time
    assert root.end_time_unix_nano == root_sdk.end_time
    [event] = root.events
    assert (event.name, event.attributes) == (
        semconv.EVENT_DRAW,
        {semconv.DRAW_ORDER: 0, semconv.DRAW_KIND: "random"},
    )
    assert event.time_unix_nano == root_sdk.events[0].timestamp
    [link] = root.links
    assert (link.trace_id, link.span_id, link.attributes) == (
        format(LINKED_TRACE_ID, "032x"),
        format(LINKED_SPAN_ID, "016x"),
        {"tracefork.link": "parent"},
    )
    assert root.resource["service.name"] == "demo-agent"
    assert root.resource["deploy.zones"] == ["a", "b"]
    assert root.scope_name == semconv.INSTRUMENTATION_SCOPE

    [run] = store.list_runs()
    assert run == RunSummary(
        trace_id=trace_id,
        name="invoke_agent demo",
        start_time_unix_nano=root.start_time_unix_nano,
        duration_ns=root.end_time_unix_nano - root.start_time_unix_nano,
        exchanges=2,
        input_tokens=250,
        output_tokens=50,
        errors=1,
        partial=False,
    )


def test_unwritable_home_fails_the_export_without_raising_and_logs_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    exporter = LocalSpanExporter(SpanStore(tmp_path / "blocker" / "spans.sqlite3"))
    spans = _finished_spans()

    with caplog.at_level(logging.WARNING, logger=EXPORTER_LOGGER):
        results = [exporter.export(spans), exporter.export(spans)]
        # Through the SDK too: the processor must see no exception either.
        _record_run(SimpleSpanProcessor(exporter))

    assert results == [SpanExportResult.FAILURE] * 2
    warnings = [r for r in caplog.records if r.name == EXPORTER_LOGGER]
    assert len(warnings) == 1
    assert "blocker" in warnings[0].getMessage()


def test_locked_database_fails_after_the_retry_budget(tmp_path: Path) -> None:
    path = tmp_path / "spans.sqlite3"
    exporter = LocalSpanExporter(SpanStore(path, busy_timeout=0.05, retries=2))
    spans = _finished_spans()
    assert exporter.export(spans[:1]) is SpanExportResult.SUCCESS
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        result = exporter.export(spans)
        # Generous: the budget is ~3 x 50 ms plus backoff; only "it returned" matters.
        assert time.monotonic() - began < 30
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()

    assert result is SpanExportResult.FAILURE
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()


def test_shutdown_closes_the_store_and_later_exports_fail(store: SpanStore) -> None:
    exporter = LocalSpanExporter(store)
    exporter.shutdown()

    assert exporter.force_flush() is True
    assert exporter.export(_finished_spans()) is SpanExportResult.FAILURE


def test_default_store_is_under_tfotel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TFOTEL_HOME, str(tmp_path))

    exporter = LocalSpanExporter()

    assert exporter.store.path == tmp_path / "spans.sqlite3"
    exporter.shutdown()
