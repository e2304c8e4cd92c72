"""Forking a run: replay the prefix for $0, answer step N differently, let the same agent run on live.

The prefix before step N replays from the tape (requests still verified, draws made
before step N served back). Step N's request is verified too, then answered with the
given response, or sent to the live endpoint for a fresh sample. Every later request
goes live. The whole fork is recorded as a new run (a new trace) whose root span links
to the parent run and carries ``tracefork.fork.*``; its tape is complete, prefix included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Link, SpanContext, TraceFlags

from tracefork_otel import semconv
from tracefork_otel.agents import outcome_json
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import ConfigError, ReplayDivergence
from tracefork_otel.record import record_run
from tracefork_otel.replay.session import ReplaySession, load_blobs
from tracefork_otel.replay.transport import LIVE, CannedResponse
from tracefork_otel.spanmodel import AttributeValue
from tracefork_otel.tape.model import Tape
from tracefork_otel.wire import looks_like_sse, sse_body


@dataclass(frozen=True)
class ForkResult:
    """What a fork did."""

    parent_trace_id: str
    trace_id: str
    step: int
    replayed: int
    recorded: int
    outcome: Any
    divergence: ReplayDivergence | None
    agent_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "parent_trace_id": self.parent_trace_id,
            "trace_id": self.trace_id,
            "step": self.step,
            "replayed": self.replayed,
            "recorded": self.recorded,
            "outcome": outcome_json(self.outcome),
            "agent_error": self.agent_error,
            "divergence": None if self.divergence is None else str(self.divergence),
        }


def response_for_step(tape: Tape, step: int, body: bytes) -> CannedResponse:
    """A user-given response for ``step``: JSON, or SSE when the recorded step streamed.

    A JSON Message given for a streamed step is turned into the SSE events that stream
    it; an SSE body is served as it is.

    Raises:
        ConfigError: the body is neither a JSON object nor an SSE stream.
    """
    recorded = tape.exchanges[step]
    looks_sse = looks_like_sse(body)
    if not looks_sse:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"the response for step {step} is neither JSON nor SSE: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f"the response for step {step} must be a JSON object (a Message)")
        if recorded.stream:
            body, looks_sse = sse_body(doc), True
    content_type = "text/event-stream; charset=utf-8" if looks_sse else "application/json"
    return CannedResponse(200, (("content-type", content_type), ("request-id", "req_tfotel_fork")), body)


def _parent_link(tape: Tape) -> list[Link]:
    if not tape.root_span_id:
        return []
    context = SpanContext(
        trace_id=int(tape.trace_id, 16),
        span_id=int(tape.root_span_id, 16),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return [Link(context, {semconv.FORK_STEP: 0})]


def fork_run(
    tape: Tape,
    blob_store: BlobStore,
    agent: Callable[..., Any],
    *,
    step: int,
    response: CannedResponse | None,
    live: Any,
    client_kwargs: dict[str, Any],
    name: str | None = None,
    record_blobs: BlobStore | str | None = None,
) -> ForkResult:
    """Fork ``tape`` at ``step`` and run ``agent`` on; see the module docstring.

    Args:
        response: the answer for ``step``; None samples it fresh from ``live``.
        live: the transport for live requests (an ``httpx2`` transport to the model API).
        client_kwargs: ``api_key``/``base_url`` for the Anthropic client (the key is never recorded).
        record_blobs: where the fork's bytes go (default: the recording default).
    """
    if not 0 <= step < len(tape.exchanges):
        raise ConfigError(f"step {step} is out of range: the run has steps 0..{len(tape.exchanges) - 1}")
    if not tape.exchanges[step].is_model_step:
        ex = tape.exchanges[step]
        steps = ", ".join(map(str, tape.model_steps())) or "none"
        raise ConfigError(f"step {step} is a {ex.method} {ex.url_path} call, not a model call; model steps: {steps}")
    session = ReplaySession(
        tape,
        load_blobs(tape, blob_store),
        fork_at=step,
        override=response if response is not None else LIVE,
        live=live,
        client_kwargs=client_kwargs,
    )
    attributes: dict[str, AttributeValue] = {semconv.FORK_PARENT_TRACE_ID: tape.trace_id, semconv.FORK_STEP: step}
    with record_run(
        name or f"{tape.run_name or 'agent'} (fork@{step})",
        blob_store=record_blobs,
        attributes=attributes,
        links=_parent_link(tape),
        nondet_source=session.nondet,
    ) as run:
        result = session.run(agent, nondet=run.nondet, wrap_transport=run.recording_transport)
        run.set_outcome(result.outcome, error=result.error)
        replayed = len(result.served_steps) - (1 if step in result.served_steps else 0)
        total = run.started_exchanges
        run.set_attributes({semconv.FORK_REPLAYED: replayed, semconv.FORK_RECORDED: total - replayed})
    return ForkResult(
        parent_trace_id=tape.trace_id,
        trace_id=run.trace_id,
        step=step,
        replayed=replayed,
        recorded=total - replayed,
        outcome=result.outcome,
        divergence=result.divergence,
        agent_error=result.agent_error,
    )
