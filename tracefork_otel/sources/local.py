"""The embedded default source: the local span store under ``TFOTEL_HOME``."""

from __future__ import annotations

from tracefork_otel.errors import ConfigError, TraceNotFoundError
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.spanstore import SpanStore


class LocalSource:
    """Reads traces from a ``SpanStore`` (default: the one under ``TFOTEL_HOME``)."""

    def __init__(self, store: SpanStore | None = None) -> None:
        self._store = store or SpanStore.default()
        self.name = f"local store {self._store.path}"

    def resolve(self, prefix: str) -> str:
        """The one stored trace id that starts with ``prefix`` (a short id, as git takes a short hash).

        Raises:
            TraceNotFoundError: no stored trace id starts with it.
            ConfigError: several do (the message lists them).
        """
        found = self._store.trace_ids_starting(prefix.lower())
        if not found:
            raise TraceNotFoundError(prefix, self.name)
        if len(found) > 1:
            shown = ", ".join(found[:4]) + (", …" if len(found) > 4 else "")
            raise ConfigError(f"trace id {prefix!r} is ambiguous in {self.name}: it starts {shown}; give more digits")
        return found[0]

    def get(self, trace_id: str) -> list[SpanRecord]:
        spans = self._store.get_trace(trace_id)
        if not spans:
            raise TraceNotFoundError(trace_id, self.name)
        return spans
