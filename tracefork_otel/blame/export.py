"""Blame back into the trace backend: a ``tracefork.blame`` trace linked to the analysed run.

A root span ``tracefork.blame`` (links to the analysed trace's exchange spans; the
analysed trace id, oracle, perturbation, agent runs and top step as attributes) and
one child span per step carrying ``tracefork.blame.*``, with the same values as a
``tracefork.blame.step`` event (Jaeger shows events as logs; TraceQL can query both
``span.`` and ``event.`` scopes) and a ``gen_ai.evaluation.result`` event for
GenAI-aware backends. Spans go through the OTel API to whatever exporters are set up.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Link, SpanContext, SpanKind, TraceFlags

from tracefork_otel import semconv
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.spanmodel import AttributeValue
from tracefork_otel.tape.model import Tape


def _link(trace_id: str, span_id: str, step: int) -> Link | None:
    try:
        context = SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(1))
    except ValueError:
        return None
    return Link(context, {semconv.BLAME_STEP: step}) if context.is_valid else None


def export_blame(report: BlameReport, tape: Tape, tracer: trace.Tracer | None = None) -> str:
    """Emit the blame trace; returns its trace id."""
    tracer = tracer or trace.get_tracer(semconv.INSTRUMENTATION_SCOPE)
    links = [link for ex in tape.exchanges if (link := _link(tape.trace_id, ex.span_id, ex.step)) is not None]
    root_attrs: dict[str, AttributeValue] = {
        semconv.BLAME_TRACE_ID: report.trace_id,
        semconv.BLAME_ORACLE: report.oracle,
        semconv.BLAME_PERTURB: report.perturb,
        semconv.BLAME_AGENT_RUNS: report.outcome.agent_runs,
        semconv.GEN_AI_AGENT_NAME: tape.run_name,
        semconv.BLAME_STRATEGY: report.outcome.strategy,
    }
    if report.top_step is not None:
        root_attrs[semconv.BLAME_TOP_STEP] = report.top_step
    root = tracer.start_span(semconv.SPAN_BLAME, kind=SpanKind.INTERNAL, attributes=root_attrs, links=links)
    context = trace.set_span_in_context(root)
    for s in report.steps:
        values: dict[str, AttributeValue] = {
            semconv.BLAME_STEP: s.step,
            semconv.BLAME_SCORE: s.score,
            semconv.BLAME_CI_LOW: s.ci_low,
            semconv.BLAME_CI_HIGH: s.ci_high,
            semconv.BLAME_SAMPLES: s.samples,
            semconv.BLAME_RANK: s.rank,
        }
        ex = tape.exchanges[s.step] if s.step < len(tape.exchanges) else None
        link = _link(tape.trace_id, ex.span_id, s.step) if ex is not None else None
        child = tracer.start_span(
            f"{semconv.SPAN_BLAME} step {s.step}",
            context=context,
            kind=SpanKind.INTERNAL,
            attributes={**values, semconv.BLAME_TRACE_ID: report.trace_id},
            links=[link] if link is not None else None,
        )
        child.add_event(semconv.EVENT_BLAME_STEP, values)
        child.add_event(
            semconv.GEN_AI_EVALUATION_RESULT_EVENT,
            {
                semconv.GEN_AI_EVALUATION_NAME: semconv.SPAN_BLAME,
                semconv.GEN_AI_EVALUATION_SCORE_VALUE: s.score,
                semconv.BLAME_STEP: s.step,
            },
        )
        child.end()
    root.end()
    ctx = root.get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""
