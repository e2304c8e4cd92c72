"""The local span store: the embedded default home of finished spans (SQLite under ``$TFOTEL_HOME``)."""

from __future__ import annotations

from tracefork_otel.spanstore.exporter import LocalSpanExporter, span_record_from_readable
from tracefork_otel.spanstore.sqlite import RunSummary, SpanStore

__all__ = ["LocalSpanExporter", "RunSummary", "SpanStore", "span_record_from_readable"]
