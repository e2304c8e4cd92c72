"""Runs: the unit a tape replays. One trace per run; its trace id is the run id.

A run is opened explicitly with ``record_run`` (a root span ``invoke_agent {name}``,
draws logged, a digest on the root span when it ends) or implicitly, per trace, when
``instrument()`` records calls made inside some other span. Runs are found through a
context variable, so runs in different threads and asyncio tasks never mix.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.nondet import Nondet
from tracefork_otel.record.config import RecordConfig
from tracefork_otel.record.nondet import RecordingNondet
from tracefork_otel.tape.model import Draw, Exchange

logger = logging.getLogger(__name__)

_MAX_AMBIENT_RUNS = 4096


class RunState:
    """The bookkeeping of one run while it records. Thread-safe.

    ``config`` is the run's own record config (``record_run`` arguments); None means the
    process-wide one. Keeping it on the run, not in a global, lets runs with different
    stores or strictness record side by side in threads.

    ``next_step`` is called on the agent's thread when a request starts; ``add_exchange``
    and the ``previous_*`` digests are touched by the background writer.

    ``keep_log=False`` keeps no list of exchanges and errors, only the step counter and the
    previous digests: an implicit run is never sealed, and its trace may live for days.
    """

    def __init__(
        self,
        trace_id: str,
        name: str,
        blob_store: BlobStore,
        root_span: trace.Span | None = None,
        nondet_source: Nondet | None = None,
        config: RecordConfig | None = None,
        *,
        keep_log: bool = True,
    ) -> None:
        self.trace_id = trace_id
        self._keep_log = keep_log
        self.config = config
        self.name = name
        self.blob_store = blob_store
        self.root_span = root_span
        self._started = 0
        self._lock = threading.Lock()
        self.exchanges: list[Exchange] = []
        self.previous_request: str | None = None
        self.previous_response: str | None = None
        self.record_errors: list[str] = []
        self.blobs: list[bytes] = []
        """The run's own blobs (its inputs), stored when it is sealed."""
        self.outcome: dict[str, Any] | None = None
        """The outcome document (``entrypoint.outcome_document``) set by the run's entry point."""
        self.nondet = RecordingNondet(self._on_draw, lambda: self._started, nondet_source)

    @property
    def steps_started(self) -> int:
        with self._lock:
            return self._started

    def next_step(self) -> int:
        with self._lock:
            step = self._started
            self._started += 1
            return step

    def add_exchange(self, exchange: Exchange, record_error: str | None) -> None:
        with self._lock:
            if self._keep_log:
                self.exchanges.append(exchange)
                if record_error:
                    self.record_errors.append(record_error)
            self.previous_request = exchange.request_sha256
            self.previous_response = exchange.response_sha256

    def _on_draw(self, draw: Draw) -> None:
        if self.root_span is None:
            return
        try:
            self.root_span.add_event(
                semconv.EVENT_DRAW,
                {
                    semconv.DRAW_ORDER: draw.order,
                    semconv.DRAW_KIND: draw.kind,
                    semconv.DRAW_VALUE: draw.value,
                    semconv.DRAW_BEFORE_STEP: draw.before_step,
                },
            )
        except Exception:  # never break the agent over a span event
            logger.debug("could not add a draw event", exc_info=True)


_current_run: contextvars.ContextVar[RunState | None] = contextvars.ContextVar("tracefork_run", default=None)
_ambient: OrderedDict[str, RunState] = OrderedDict()
_ambient_lock = threading.Lock()


def current_run() -> RunState | None:
    """The run opened by ``record_run`` in this context, if any."""
    return _current_run.get()


def set_current_run(run: RunState | None) -> contextvars.Token[RunState | None]:
    return _current_run.set(run)


def reset_current_run(token: contextvars.Token[RunState | None]) -> None:
    _current_run.reset(token)


def _no_run(parent: trace.Span) -> RunState | None:
    return None


_fallback_run: Callable[[trace.Span], RunState | None] = _no_run


def set_fallback_run(provider: Callable[[trace.Span], RunState | None]) -> None:
    """Where a call outside any explicit run records, given its current span (the process's run, once enabled)."""
    global _fallback_run
    _fallback_run = provider


def fallback_run(parent: trace.Span) -> RunState | None:
    """The run of a call made outside any explicit run: the process's, when enabled and ``parent`` is no other
    instrumentation's trace; else None (the trace's implicit run)."""
    return _fallback_run(parent)


def ambient_run(trace_id: str, blob_store: BlobStore) -> RunState:
    """The implicit run of a trace that no ``record_run`` opened (instrument-only recording)."""
    with _ambient_lock:
        run = _ambient.get(trace_id)
        if run is None:
            run = RunState(trace_id, "", blob_store, keep_log=False)
            _ambient[trace_id] = run
            while len(_ambient) > _MAX_AMBIENT_RUNS:
                _ambient.popitem(last=False)
        else:
            _ambient.move_to_end(trace_id)
        return run


def trace_id_of(span: trace.Span) -> str | None:
    """A span's trace id as 32 hex digits, or None for an invalid (no-op) span."""
    ctx = span.get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def new_trace_id() -> str:
    """A random run id, for when no tracing SDK gives one."""
    return secrets.token_hex(16)
