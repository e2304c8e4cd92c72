"""What a report shows, gathered from a trace, the blob store and the local span store."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tracefork_otel import __version__, semconv
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.report.body import BODY_LIMIT, Body, read_body
from tracefork_otel.report.forks import ForkNode, fork_tree
from tracefork_otel.spanmodel import SpanRecord, exchange_spans, find_root
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.threads import THREAD_FIELD, ThreadHistory, continued_id, thread_of
from tracefork_otel.timeline import BlameCell, StepRow, Timeline, blame_cells, build_timeline
from tracefork_otel.urls import safe_url

REPORT_SCHEMA: Final = "tracefork.report/1"
"""Names the shape of the JSON embedded in a report; bumped when a field changes meaning."""


@dataclass(frozen=True)
class BlameSummary:
    """The newest blame analysis of the run: how it was made and each step's score."""

    trace_id: str
    """The ``tracefork.blame`` trace the scores were read from."""
    cells: dict[int, BlameCell]
    oracle: str = ""
    perturb: str = ""
    strategy: str = ""
    agent_runs: int | None = None
    top_step: int | None = None

    def ranked(self) -> list[tuple[int, BlameCell]]:
        """``(step, cell)`` by rank (unranked last, then by step)."""
        return sorted(self.cells.items(), key=lambda kv: (kv[1].rank or 1 << 30, kv[0]))

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "oracle": self.oracle,
            "perturb": self.perturb,
            "strategy": self.strategy,
            "agent_runs": self.agent_runs,
            "top_step": self.top_step,
            "steps": [{"step": step, **vars(cell)} for step, cell in self.ranked()],
        }


def blame_summary(blame_trace_id: str, spans: Sequence[SpanRecord]) -> BlameSummary | None:
    """The blame held by the spans of a ``tracefork.blame`` trace; None when it scores no step."""
    cells = blame_cells(spans)
    if not cells:
        return None
    root = next((s for s in spans if s.name == semconv.SPAN_BLAME), None)
    a = root.attributes if root is not None else {}

    def number(key: str) -> int | None:
        value = a.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    return BlameSummary(
        trace_id=blame_trace_id,
        cells=cells,
        oracle=str(a.get(semconv.BLAME_ORACLE, "")),
        perturb=str(a.get(semconv.BLAME_PERTURB, "")),
        strategy=str(a.get(semconv.BLAME_STRATEGY, "")),
        agent_runs=number(semconv.BLAME_AGENT_RUNS),
        top_step=number(semconv.BLAME_TOP_STEP),
    )


@dataclass(frozen=True)
class StepView:
    """One exchange: its timeline row, when it started, and both bodies."""

    row: StepRow
    offset_ms: float
    """Start, in milliseconds after the run started."""
    request: Body
    response: Body


@dataclass(frozen=True)
class Report:
    """Everything one report file shows."""

    timeline: Timeline
    steps: tuple[StepView, ...]
    blame: BlameSummary | None = None
    forks: ForkNode | None = None
    source: str = ""
    blob_store: str = ""

    @property
    def started(self) -> str:
        t = self.timeline.start_time_unix_nano
        if not t:
            return ""
        return datetime.datetime.fromtimestamp(t / 1e9, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def totals(self) -> dict[str, int]:
        rows = [s.row for s in self.steps]
        return {
            "input_tokens": sum(r.input_tokens or 0 for r in rows),
            "output_tokens": sum(r.output_tokens or 0 for r in rows),
            "tool_calls": sum(len(r.tool_calls) for r in rows),
            "errors": sum(1 for r in rows if r.error or r.status_code >= 400),
        }

    def to_json(self) -> dict[str, Any]:
        tl = self.timeline.to_json()
        steps = tl.pop("steps")
        for doc, view in zip(steps, self.steps, strict=True):
            doc["offset_ms"] = round(view.offset_ms, 3)
            doc["request"] = view.request.to_json()
            doc["response"] = view.response.to_json()
        return {
            "schema": REPORT_SCHEMA,
            "generator": f"tracefork-otel {__version__}",
            "source": self.source,
            "blob_store": self.blob_store,
            "run": {**tl, "started": self.started, "totals": self.totals()},
            "steps": steps,
            "blame": self.blame.to_json() if self.blame is not None else None,
            "forks": self.forks.to_json() if self.forks is not None else None,
        }


THREAD_NOTE: Final = (
    "the whole conversation, rebuilt from its message thread: the request itself carried only the new turn"
)


def _whole_threads(views: Iterable[StepView]) -> tuple[StepView, ...]:
    """The steps, each request that continues a server-side thread shown with the whole conversation it
    stands for (the report is self-contained: a reader needs no server to see what the model saw)."""
    history = ThreadHistory()
    shown: list[StepView] = []
    for view in views:
        request = view.request.doc if view.request.kind == "json" else None
        if isinstance(request, dict) and thread_of(request) is not None:
            full = history.full_request(request)
            if full is not None:
                reply = view.response.doc if view.response.kind in ("json", "sse") else None
                if isinstance(reply, dict) and reply.get("type") != "error":
                    history.remember(full, reply)
                if continued_id(request) is not None:
                    whole = {**full, THREAD_FIELD: request[THREAD_FIELD]}
                    view = dataclasses.replace(
                        view, request=dataclasses.replace(view.request, doc=whole, note=THREAD_NOTE)
                    )
        shown.append(view)
    return tuple(shown)


def build_report(
    trace_id: str,
    spans: Sequence[SpanRecord],
    blob_store: BlobStore | None,
    *,
    span_store: SpanStore | None = None,
    source: str = "",
    body_limit: int = BODY_LIMIT,
) -> Report:
    """Gather the report of run ``trace_id`` from its spans.

    Args:
        blob_store: where the request and response bytes are; a body it cannot give
            is shown as missing, with the reason.
        span_store: the local span store, for the newest blame of the run and its forks;
            None shows neither (only the parent named on the run's own root span).
        source: where the spans came from, for the page header.
        body_limit: bytes of each body embedded.

    Raises:
        StoreError: the local span store cannot be read.
    """
    timeline = build_timeline(trace_id, spans, blob_store)
    blame: BlameSummary | None = None
    if span_store is not None:
        blame_id = span_store.latest_blame(trace_id)
        if blame_id is not None:
            blame = blame_summary(blame_id, span_store.get_trace(blame_id))
    if blame is not None:
        timeline = dataclasses.replace(timeline, blame=blame.cells)
    root = find_root(spans)
    run_start = root.start_time_unix_nano if root is not None else timeline.start_time_unix_nano
    starts = {s.span_id: s.start_time_unix_nano for s in exchange_spans(spans)}
    views = _whole_threads(
        StepView(
            row=row,
            offset_ms=max(0.0, (starts.get(row.span_id, run_start) - run_start) / 1e6),
            request=read_body(blob_store, row.request_sha256, stream=False, limit=body_limit),
            response=read_body(blob_store, row.response_sha256, stream=row.stream, limit=body_limit),
        )
        for row in timeline.steps
    )
    return Report(
        timeline=timeline,
        steps=views,
        blame=blame,
        forks=fork_tree(trace_id, spans, span_store),
        source=source,
        blob_store=safe_url(blob_store.url) if blob_store is not None else "",
    )
