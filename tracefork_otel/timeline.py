"""A run's timeline, for ``tfotel show`` and the HTML report: one row per exchange.

Built from the trace's spans; when a blob store is at hand, each row also names the
tools the model called (read from the response bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.entrypoint import EntryPoint, Outcome, entry_point_of, outcome_of, outcome_summary
from tracefork_otel.errors import BlobError
from tracefork_otel.spanmodel import Attributes, SpanRecord, exchange_spans, find_root
from tracefork_otel.wire import MESSAGES_PATH, api_path, is_model_call, response_message


@dataclass(frozen=True)
class StepRow:
    """One exchange of the run."""

    step: int
    span_id: str
    model: str
    status_code: int
    stream: bool
    incomplete: bool
    latency_ms: float
    input_tokens: int | None
    output_tokens: int | None
    finish_reason: str
    tool_calls: tuple[str, ...] = ()
    error: str = ""
    request_sha256: str = ""
    response_sha256: str = ""
    method: str = "POST"
    path: str = MESSAGES_PATH

    @property
    def is_model_step(self) -> bool:
        """A model call; other calls (``count_tokens``, models…) are shown with their endpoint, never blamed."""
        return is_model_call(self.method, self.path)

    @property
    def endpoint(self) -> str:
        return api_path(self.path).removeprefix("/v1/")


@dataclass(frozen=True)
class BlameCell:
    """A step's blame, when the run was analysed."""

    score: float
    ci_low: float
    ci_high: float
    rank: int
    samples: int


@dataclass(frozen=True)
class Timeline:
    """A run, as a person reads it."""

    trace_id: str
    name: str
    start_time_unix_nano: int
    duration_ms: float
    partial: bool
    steps: tuple[StepRow, ...]
    draws: int
    digest: str
    blame: dict[int, BlameCell] = field(default_factory=dict)
    entry: EntryPoint | None = None
    """How the run starts again (None: recorded before entry points, or a trace no run boundary opened)."""
    outcome: Outcome | None = None
    outcome_document: dict[str, Any] | None = None
    """The outcome blob, when a blob store was at hand."""

    @property
    def outcome_text(self) -> str:
        """One line: ``ok: VALUE``, ``raised Type: message``, or "" when no outcome was recorded."""
        if self.outcome_document is not None:
            summary = outcome_summary(self.outcome_document)
            return summary if summary.startswith("raised ") else f"ok: {summary}"
        if self.outcome is None:
            return ""
        return f"raised {self.outcome.error_type}" if not self.outcome.ok else "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "name": self.name,
            "start_time_unix_nano": self.start_time_unix_nano,
            "duration_ms": round(self.duration_ms, 3),
            "partial": self.partial,
            "digest": self.digest,
            "draws": self.draws,
            "entry_point": None
            if self.entry is None
            else {**self.entry.attributes(), "describe": self.entry.describe()},
            "outcome": None
            if self.outcome is None
            else {
                "status": self.outcome.status.value,
                "error_type": self.outcome.error_type,
                "sha256": self.outcome.sha256,
                "document": self.outcome_document,
            },
            "steps": [
                {
                    "step": s.step,
                    "span_id": s.span_id,
                    "model": s.model,
                    "status_code": s.status_code,
                    "stream": s.stream,
                    "incomplete": s.incomplete,
                    "latency_ms": round(s.latency_ms, 3),
                    "input_tokens": s.input_tokens,
                    "output_tokens": s.output_tokens,
                    "finish_reason": s.finish_reason,
                    "tool_calls": list(s.tool_calls),
                    "error": s.error,
                    "request_sha256": s.request_sha256,
                    "response_sha256": s.response_sha256,
                    "endpoint": s.endpoint,
                    "model_step": s.is_model_step,
                    **({"blame": vars(self.blame[s.step])} if s.step in self.blame else {}),
                }
                for s in self.steps
            ],
        }


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _lookup(attrs: Sequence[Attributes], key: str) -> object:
    for a in attrs:
        if key in a:
            return a[key]
    return None


def response_summary(body: bytes, *, stream: bool) -> tuple[str, tuple[str, ...]]:
    """The stop reason of a Messages response and the names of the tools it asked for."""
    doc = response_message(body, stream=stream)
    if doc is None:
        return "", ()
    content = doc.get("content")
    if not isinstance(content, list):
        content = []
    tools = tuple(str(b.get("name", "")) for b in content if isinstance(b, dict) and b.get("type") == "tool_use")
    stop = doc.get("stop_reason")
    return (stop if isinstance(stop, str) else ""), tools


def build_timeline(trace_id: str, spans: Sequence[SpanRecord], blob_store: BlobStore | None = None) -> Timeline:
    """The timeline of the run in ``spans`` (exchanges in step order)."""
    by_id = {s.span_id: s for s in spans}
    rows: list[StepRow] = []
    for span in exchange_spans(spans):
        parent = by_id.get(span.parent_span_id or "")
        # With the SDK's own GenAI span current, gen_ai.* sits on the parent and tracefork.* on the child.
        layers = [span.attributes] + (
            [parent.attributes] if parent is not None and span.name == semconv.SPAN_EXCHANGE else []
        )
        a = span.attributes
        status_code = _int_or_none(a.get(semconv.RESPONSE_STATUS_CODE)) or 0
        # The SDK's span holds the call's usage; of its attempts (retries) only the one that succeeded used it.
        answered = layers if 200 <= status_code < 300 else [a]
        finish = _lookup(answered, semconv.GEN_AI_RESPONSE_FINISH_REASONS)
        stream = bool(a.get(semconv.RESPONSE_STREAM, False))
        response_sha = str(a.get(semconv.RESPONSE_SHA256, ""))
        finish_reason = str(finish[0]) if isinstance(finish, (list, tuple)) and finish else ""
        tools: tuple[str, ...] = ()
        if blob_store is not None and response_sha:
            try:
                stop, tools = response_summary(blob_store.get(response_sha), stream=stream)
                finish_reason = finish_reason or stop
            except BlobError:
                pass
        rows.append(
            StepRow(
                step=int(str(a[semconv.STEP])),
                span_id=span.span_id,
                model=str(_lookup(layers, semconv.GEN_AI_REQUEST_MODEL) or ""),
                status_code=status_code,
                stream=stream,
                incomplete=bool(a.get(semconv.RESPONSE_INCOMPLETE, False)),
                latency_ms=(span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
                input_tokens=_int_or_none(_lookup(answered, semconv.GEN_AI_USAGE_INPUT_TOKENS)),
                output_tokens=_int_or_none(_lookup(answered, semconv.GEN_AI_USAGE_OUTPUT_TOKENS)),
                finish_reason=finish_reason,
                tool_calls=tools,
                error=str(a.get(semconv.ERROR_TYPE) or a.get(semconv.RECORD_ERROR) or ""),
                request_sha256=str(a.get(semconv.REQUEST_SHA256, "")),
                response_sha256=response_sha,
                method=str(a.get(semconv.REQUEST_METHOD, "POST")),
                path=str(a.get(semconv.REQUEST_PATH, MESSAGES_PATH)),
            )
        )
    root = find_root(spans)
    ra = root.attributes if root is not None else {}
    start = root.start_time_unix_nano if root is not None else min((s.start_time_unix_nano for s in spans), default=0)
    end = root.end_time_unix_nano if root is not None else max((s.end_time_unix_nano for s in spans), default=0)
    outcome = outcome_of(ra)
    return Timeline(
        trace_id=trace_id,
        name=str(ra.get(semconv.GEN_AI_AGENT_NAME, root.name if root is not None else "")),
        start_time_unix_nano=start,
        duration_ms=(end - start) / 1e6,
        partial=bool(ra.get(semconv.RUN_PARTIAL, False)) or root is None,
        steps=tuple(rows),
        draws=sum(1 for e in (root.events if root is not None else ()) if e.name == semconv.EVENT_DRAW),
        digest=str(ra.get(semconv.TAPE_DIGEST, "")),
        entry=entry_point_of(ra),
        outcome=outcome,
        outcome_document=_outcome_document(outcome, blob_store),
    )


def _outcome_document(outcome: Outcome | None, blob_store: BlobStore | None) -> dict[str, Any] | None:
    if outcome is None or not outcome.sha256 or blob_store is None:
        return None
    try:
        doc = json.loads(blob_store.get(outcome.sha256))
    except (BlobError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def blame_cells(spans: Sequence[SpanRecord]) -> dict[int, BlameCell]:
    """Each step's blame, read from the spans of a ``tracefork.blame`` trace."""
    cells: dict[int, BlameCell] = {}
    for span in spans:
        a = span.attributes
        step, score = a.get(semconv.BLAME_STEP), a.get(semconv.BLAME_SCORE)
        if span.name == semconv.SPAN_BLAME or not isinstance(step, int) or not isinstance(score, (int, float)):
            continue
        cells[step] = BlameCell(
            score=float(score),
            ci_low=float(str(a.get(semconv.BLAME_CI_LOW, 0.0))),
            ci_high=float(str(a.get(semconv.BLAME_CI_HIGH, 0.0))),
            rank=_int_or_none(a.get(semconv.BLAME_RANK)) or 0,
            samples=_int_or_none(a.get(semconv.BLAME_SAMPLES)) or 0,
        )
    return cells
