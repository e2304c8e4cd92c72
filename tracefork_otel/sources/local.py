"""The embedded default source: the local span store under ``TFOTEL_HOME``."""

from __future__ import annotations

from tracefork_otel.errors import TraceNotFoundError
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.spanstore import SpanStore


class LocalSource:
    """Reads traces from a ``SpanStore`` (default: the one under ``TFOTEL_HOME``)."""

    def __init__(self, store: SpanStore | None = None) -> None:
        self._store = store or SpanStore.default()
        self.name = f"local store {self._store.path}"

    def get(self, trace_id: str) -> list[SpanRecord]:
        spans = self._store.get_trace(trace_id)
        if not spans:
            raise TraceNotFoundError(trace_id, self.name)
        return spans
