"""Rebuilding a tape from recorded spans: every way the spans can be incomplete or altered is named."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from replay_support import Recording, trace_spans

from tracefork_otel import semconv
from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.demo import run
from tracefork_otel.errors import RebuildError
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.spanstore import span_record_from_readable

Record = Callable[..., Recording]


def _step_span(spans: list[SpanRecord], step: int) -> SpanRecord:
    (span,) = [s for s in spans if s.attributes.get(semconv.STEP) == step]
    return span


def _without(spans: list[SpanRecord], span: SpanRecord) -> list[SpanRecord]:
    return [s for s in spans if s.span_id != span.span_id]


def test_the_recorded_spans_rebuild_the_recorded_tape(record: Record) -> None:
    recording = record(run)
    tape = recording.tape
    root = next(s for s in recording.spans if s.parent_span_id is None)
    assert tape.trace_id == recording.trace_id
    assert tape.root_span_id == root.span_id
    assert tape.digest == root.attributes[semconv.TAPE_DIGEST]
    assert [ex.step for ex in tape.exchanges] == [0, 1, 2]
    assert tape.partial is False
    assert tape.run_name == "replay-test"


def test_a_missing_exchange_span_names_the_missing_step(record: Record) -> None:
    recording = record(run)
    spans = _without(recording.spans, _step_span(recording.spans, 1))

    with pytest.raises(RebuildError, match=rf"step 1 is missing from trace {recording.trace_id} \(next is 2\)") as e:
        rebuild_tape(recording.trace_id, spans)
    assert e.value.step == 1


def test_a_span_from_another_trace_is_refused(record: Record) -> None:
    first, second = record(run), record(run)
    intruder = _step_span(second.spans, 1)

    with pytest.raises(RebuildError, match=f"span {intruder.span_id} belongs to trace {second.trace_id}"):
        rebuild_tape(first.trace_id, [*first.spans, intruder])


def test_a_span_from_another_run_relabelled_into_this_trace_breaks_the_digest(record: Record) -> None:
    first, second = record(run), record(run)
    original = _step_span(first.spans, 2)
    # Same step, same trace id, but another run's bytes: only the digest can tell.
    intruder = dataclasses.replace(_step_span(second.spans, 2), trace_id=first.trace_id)
    assert intruder.attributes[semconv.REQUEST_SHA256] != original.attributes[semconv.REQUEST_SHA256]

    with pytest.raises(RebuildError, match="do not reproduce the recorded tape digest"):
        rebuild_tape(first.trace_id, [*_without(first.spans, original), intruder])
    with pytest.raises(RebuildError, match="step 2 appears twice with different content") as e:
        rebuild_tape(first.trace_id, [*first.spans, intruder])
    assert e.value.step == 2


def test_an_altered_response_sha_breaks_the_digest(record: Record) -> None:
    recording = record(run)
    span = _step_span(recording.spans, 0)
    other = recording.tape.exchanges[1].response_sha256  # a real blob, so only the digest can catch it
    altered = dataclasses.replace(span, attributes={**span.attributes, semconv.RESPONSE_SHA256: other})

    with pytest.raises(RebuildError, match=r"a span was altered, dropped or spliced in"):
        rebuild_tape(recording.trace_id, [*_without(recording.spans, span), altered], recording.store())


def test_a_reordered_step_breaks_the_digest(record: Record) -> None:
    recording = record(run)
    a, b = _step_span(recording.spans, 0), _step_span(recording.spans, 1)
    swapped = [
        dataclasses.replace(a, attributes={**a.attributes, semconv.STEP: 1}),
        dataclasses.replace(b, attributes={**b.attributes, semconv.STEP: 0}),
    ]
    with pytest.raises(RebuildError, match="do not reproduce the recorded tape digest"):
        rebuild_tape(recording.trace_id, [*_without(_without(recording.spans, a), b), *swapped])


@pytest.mark.parametrize(("step", "label"), [(0, "request"), (2, "response")])
def test_a_missing_blob_names_the_step_and_the_digest(record: Record, step: int, label: str) -> None:
    recording = record(run)
    store = recording.store()
    ex = recording.tape.exchanges[step]
    missing = ex.request_sha256 if label == "request" else ex.response_sha256
    partial_store = MemoryBlobStore("partial")
    for digest in recording.tape.blob_digests():
        if digest != missing:
            partial_store.put(store.get(digest))

    with pytest.raises(RebuildError) as e:
        rebuild_tape(recording.trace_id, recording.spans, partial_store)
    assert e.value.step == step
    assert str(e.value).startswith(f"step {step}: {label} blob {missing[:16]}… is not in memory://partial")


def test_the_same_span_delivered_twice_is_tolerated(record: Record) -> None:
    recording = record(run)
    duplicated = [*recording.spans, *recording.spans[:3], _step_span(recording.spans, 1)]

    tape = rebuild_tape(recording.trace_id, duplicated, recording.store())

    assert tape == recording.tape
    assert replay_run(tape, recording.store(), run).bit_exact


def test_a_crashed_run_without_its_root_span_rebuilds_partial(record: Record) -> None:
    recording = record(run)
    root = next(s for s in recording.spans if s.parent_span_id is None)
    assert semconv.TAPE_DIGEST in root.attributes

    tape = rebuild_tape(recording.trace_id, _without(recording.spans, root), recording.store())

    assert tape.partial is True
    assert [ex.step for ex in tape.exchanges] == [0, 1, 2]
    assert tape.draws == ()  # they travel on the root span, which never arrived
    assert tape.root_span_id == ""


def test_a_run_that_raised_rebuilds_complete_with_its_exception_as_the_outcome(
    record: Record, spans: InMemorySpanExporter
) -> None:
    seen: list[str] = []

    def crashing(client: Any, nondet: Any) -> None:
        seen.append(format(trace.get_current_span().get_span_context().trace_id, "032x"))
        run(client, nondet)
        raise RuntimeError("the agent crashed after its last call")

    with pytest.raises(RuntimeError, match="crashed"):
        record(crashing)
    (trace_id,) = seen
    records = [span_record_from_readable(s) for s in trace_spans(spans, trace_id)]

    tape = rebuild_tape(trace_id, records)

    assert tape.partial is False  # every byte is there: a replay must raise the same exception
    assert tape.outcome is not None and (tape.outcome.status, tape.recorded_error_type) == ("error", "RuntimeError")
    assert [ex.step for ex in tape.exchanges] == [0, 1, 2]
    assert len(tape.draws) == 2


def test_no_exchange_spans_at_all_is_refused(record: Record) -> None:
    recording = record(run)
    roots = [s for s in recording.spans if semconv.STEP not in s.attributes]
    with pytest.raises(RebuildError, match=f"trace {recording.trace_id} has no recorded exchanges"):
        rebuild_tape(recording.trace_id, roots)
