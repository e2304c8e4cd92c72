"""An OTel SDK span exporter that writes finished spans to the local span store.

Add it to a ``TracerProvider`` behind a ``SimpleSpanProcessor`` or, in production,
a ``BatchSpanProcessor``. Like every exporter it never raises into the SDK (and so
never into the agent): a failed batch is logged once per distinct reason and reported
as ``SpanExportResult.FAILURE``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Final, cast

from opentelemetry import trace as trace_api
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from tracefork_otel.spanmodel import (
    AttributeValue,
    EventRecord,
    LinkRecord,
    SpanKind,
    SpanRecord,
    StatusCode,
)
from tracefork_otel.spanstore.sqlite import SpanStore

logger = logging.getLogger(__name__)

_KINDS: Final[Mapping[trace_api.SpanKind, SpanKind]] = {
    trace_api.SpanKind.INTERNAL: SpanKind.INTERNAL,
    trace_api.SpanKind.SERVER: SpanKind.SERVER,
    trace_api.SpanKind.CLIENT: SpanKind.CLIENT,
    trace_api.SpanKind.PRODUCER: SpanKind.PRODUCER,
    trace_api.SpanKind.CONSUMER: SpanKind.CONSUMER,
}

_STATUSES: Final[Mapping[trace_api.StatusCode, StatusCode]] = {
    trace_api.StatusCode.UNSET: StatusCode.UNSET,
    trace_api.StatusCode.OK: StatusCode.OK,
    trace_api.StatusCode.ERROR: StatusCode.ERROR,
}

_MAX_REMEMBERED_ERRORS: Final = 64
"""Distinct failure reasons remembered for the once-only warning; beyond that, repeats log again."""


def span_record_from_readable(span: ReadableSpan) -> SpanRecord:
    """Convert a finished SDK span to a :class:`SpanRecord`.

    Ids become lowercase hex, kind and status the OTLP numbers, attribute values plain
    Python (tuples become lists); events, links, resource attributes and the
    instrumentation scope name are kept.

    Raises:
        ValueError: the span has no context.
    """
    context = span.context
    if context is None:
        raise ValueError(f"span {span.name!r} has no span context")
    start = span.start_time or 0
    return SpanRecord(
        trace_id=format(context.trace_id, "032x"),
        span_id=format(context.span_id, "016x"),
        parent_span_id=format(span.parent.span_id, "016x") if span.parent is not None else None,
        name=span.name,
        kind=_KINDS.get(span.kind, SpanKind.UNSPECIFIED),
        start_time_unix_nano=start,
        end_time_unix_nano=span.end_time or start,
        attributes=_plain(span.attributes),
        events=tuple(
            EventRecord(name=event.name, time_unix_nano=event.timestamp, attributes=_plain(event.attributes))
            for event in span.events
        ),
        links=tuple(
            LinkRecord(
                trace_id=format(link.context.trace_id, "032x"),
                span_id=format(link.context.span_id, "016x"),
                attributes=_plain(link.attributes),
            )
            for link in span.links
        ),
        status_code=_STATUSES.get(span.status.status_code, StatusCode.UNSET),
        status_message=span.status.description or "",
        resource=_plain(span.resource.attributes),
        scope_name=span.instrumentation_scope.name if span.instrumentation_scope is not None else "",
    )


def _plain(attributes: Mapping[str, object] | None) -> dict[str, AttributeValue]:
    return {key: _plain_value(value) for key, value in (attributes or {}).items()}


def _plain_value(value: object) -> AttributeValue:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Sequence):
        # The SDK keeps homogeneous sequences of scalars (as tuples); JSON and OTLP want lists.
        return cast(
            AttributeValue,
            [item if isinstance(item, str | bool | int | float) else str(item) for item in value],
        )
    # Anything else (a mapping from a log-style resource) is kept readable rather than dropped.
    return str(value)


class LocalSpanExporter(SpanExporter):
    """Writes finished spans to a :class:`SpanStore` (by default ``$TFOTEL_HOME/spans.sqlite3``).

    ``export`` blocks while the store writes (at most the store's busy timeout times its
    retries), is thread-safe, and never raises.
    """

    def __init__(self, store: SpanStore | None = None) -> None:
        """Export to ``store``, or to :meth:`SpanStore.default` when none is given.

        The exporter owns the store: ``shutdown`` closes it.
        """
        self.store = store if store is not None else SpanStore.default()
        self._shutdown = False
        self._reported: set[str] = set()
        self._reported_lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write ``spans`` in one transaction; FAILURE (logged, not raised) if that fails."""
        if self._shutdown:
            self._warn_once("Local span store exporter is shut down; dropping %d span(s)", "shutdown", len(spans))
            return SpanExportResult.FAILURE
        try:
            self.store.write([span_record_from_readable(span) for span in spans])
        except Exception as exc:  # an exporter must never throw into the SDK
            reason = f"{type(exc).__name__}: {exc}"
            self._warn_once("Could not write %d span(s) to the local span store: %s", reason, len(spans), reason)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the store; later exports return FAILURE."""
        self._shutdown = True
        try:
            self.store.close()
        except Exception as exc:  # shutdown runs at interpreter exit; never raise there
            logger.warning("Could not close the local span store: %s", exc)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here: every export is written before it returns."""
        return True

    def _warn_once(self, message: str, key: str, *args: object) -> None:
        # A dead disk fails every batch; say so once per distinct reason, not per batch.
        with self._reported_lock:
            if key in self._reported:
                return
            if len(self._reported) >= _MAX_REMEMBERED_ERRORS:
                self._reported.clear()
            self._reported.add(key)
        logger.warning(message, *args)
