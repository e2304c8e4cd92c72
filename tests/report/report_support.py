"""Helpers of the report tests (plain code; the fixtures that use them are in ``conftest.py``)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cli_support import CliResult as CliResult  # re-exported for this folder's tests
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tracefork_otel import semconv, wire
from tracefork_otel.blame.export import export_blame
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blame.strategy import BlameOutcome, StepScore
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.report import DATA_ELEMENT_ID
from tracefork_otel.spanmodel import SpanKind, SpanRecord
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore
from tracefork_otel.tape import Tape

MS = 1_000_000
T0 = 1_767_225_600 * 10**9  # 2026-01-01 00:00:00 UTC
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
HOSTILE = "</script><img src=x onerror=alert(1)>"
"""Message content that would run script if it ever reached the page as markup."""


@dataclass(frozen=True)
class Exchange:
    """One hand-made exchange: the request and the response Message (streamed as SSE when ``stream``)."""

    request: dict[str, Any]
    response: dict[str, Any]
    stream: bool = False
    status: int = 200


def demo_like_exchanges(final_text: str = "Refunded 129.99 USD for order A-1001.") -> list[Exchange]:
    """Three exchanges shaped like the demo's: two tool calls in JSON, a streamed final answer."""
    ask = {"role": "user", "content": "Please refund order A-1001."}
    first = {"model": "claude-sonnet-4-6", "max_tokens": 512, "messages": [ask]}
    lookup = wire.message(tool_use={"name": "lookup_order", "input": {"order_id": "A-1001"}}, request=first)
    second = {**first, "messages": [ask, {"role": "assistant", "content": lookup["content"]}]}
    refund = wire.message(tool_use={"name": "issue_refund", "input": {"amount": 129.99}}, request=second)
    third = {**second, "stream": True}
    final = wire.message(text=final_text, request=third)
    return [Exchange(first, lookup), Exchange(second, refund), Exchange(third, final, stream=True)]


def run_spans(
    store: BlobStore,
    exchanges: Sequence[Exchange],
    *,
    trace_id: str = TRACE,
    name: str = "refund-desk",
    root_attributes: dict[str, Any] | None = None,
    start: int = T0,
) -> list[SpanRecord]:
    """The spans the recorder would write for ``exchanges``, with the bodies put in ``store``."""
    root_id = "a" * 16
    spans = [
        SpanRecord(
            trace_id=trace_id,
            span_id=root_id,
            parent_span_id=None,
            name=f"{semconv.SPAN_INVOKE_AGENT_PREFIX} {name}",
            kind=SpanKind.INTERNAL,
            start_time_unix_nano=start,
            end_time_unix_nano=start + 100 * MS * (len(exchanges) + 1),
            attributes={
                semconv.GEN_AI_AGENT_NAME: name,
                semconv.TAPE_DIGEST: "d" * 64,
                **(root_attributes or {}),
            },
        )
    ]
    for step, ex in enumerate(exchanges):
        request = wire.dumps(ex.request)
        response = wire.sse_body(ex.response) if ex.stream else wire.dumps(ex.response)
        usage = ex.response.get("usage", {})
        spans.append(
            SpanRecord(
                trace_id=trace_id,
                span_id=format(step + 1, "016x"),
                parent_span_id=root_id,
                name="chat claude-sonnet-4-6",
                kind=SpanKind.CLIENT,
                start_time_unix_nano=start + 100 * MS * step + 20 * MS,
                end_time_unix_nano=start + 100 * MS * step + 20 * MS + (60 if ex.stream else 15) * MS,
                attributes={
                    semconv.STEP: step,
                    semconv.GEN_AI_REQUEST_MODEL: str(ex.request.get("model", "")),
                    semconv.GEN_AI_USAGE_INPUT_TOKENS: int(usage.get("input_tokens", 0)),
                    semconv.GEN_AI_USAGE_OUTPUT_TOKENS: int(usage.get("output_tokens", 0)),
                    semconv.REQUEST_SHA256: store.put(request),
                    semconv.RESPONSE_SHA256: store.put(response),
                    semconv.RESPONSE_STREAM: ex.stream,
                    semconv.RESPONSE_STATUS_CODE: ex.status,
                },
            )
        )
    return spans


def blame_outcome(scores: dict[int, tuple[float, float, float]], agent_runs: int = 60) -> BlameOutcome:
    """A finished blame outcome with ``{step: (score, ci_low, ci_high)}``, ranked by score."""
    ordered = sorted(scores, key=lambda s: -scores[s][0])
    steps = [
        StepScore(step, score, low, high, samples=20, method="measured", rank=ordered.index(step) + 1)
        for step, (score, low, high) in sorted(scores.items())
    ]
    return BlameOutcome(steps=steps, agent_runs=agent_runs, estimates={}, strategy="fixed k=20 per step")


def export_blame_to(store: SpanStore, report: BlameReport, tape: Tape) -> str:
    """Export ``report`` through the real exporter into the file of ``store``; returns the blame trace id."""
    provider = TracerProvider(shutdown_on_exit=False)
    # The exporter owns (and on shutdown closes) its store: give it its own handle on the file.
    provider.add_span_processor(SimpleSpanProcessor(LocalSpanExporter(SpanStore(store.path))))
    try:
        return export_blame(report, tape, tracer=provider.get_tracer(semconv.INSTRUMENTATION_SCOPE))
    finally:
        provider.shutdown()


_DATA_BLOCK = re.compile(rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', re.S)


def embedded_data(page: str) -> Any:
    """The JSON block of a report page, parsed strictly (no NaN or Infinity)."""
    found = _DATA_BLOCK.findall(page)
    assert len(found) == 1, "exactly one data block"

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(found[0], parse_constant=refuse)


def tape_of(spans: Sequence[SpanRecord]) -> Tape:
    """Just enough of a tape for ``export_blame`` (its trace id, run name and exchange span ids)."""
    from tracefork_otel.tape.model import Exchange as TapeExchange

    exchanges = tuple(
        TapeExchange(
            step=int(str(s.attributes[semconv.STEP])),
            request_sha256=str(s.attributes[semconv.REQUEST_SHA256]),
            response_sha256=str(s.attributes[semconv.RESPONSE_SHA256]),
            span_id=s.span_id,
        )
        for s in spans
        if semconv.STEP in s.attributes
    )
    root = next(s for s in spans if s.parent_span_id is None)
    return Tape(trace_id=root.trace_id, exchanges=exchanges, run_name=str(root.attributes[semconv.GEN_AI_AGENT_NAME]))
