"""The finished spans of one trace, for tests that check what recording emitted."""

from __future__ import annotations

from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan

from tracefork_otel import semconv


@dataclass(frozen=True)
class Trace:
    """The finished spans of one trace, as the in-memory exporter got them."""

    trace_id: str
    spans: list[ReadableSpan]

    @property
    def root(self) -> ReadableSpan:
        roots = [s for s in self.spans if s.parent is None]
        assert len(roots) == 1, [s.name for s in roots]
        return roots[0]

    @property
    def exchanges(self) -> list[ReadableSpan]:
        """Spans with a ``tracefork.step``, in step order."""
        found = [s for s in self.spans if semconv.STEP in (s.attributes or {})]
        return sorted(found, key=lambda s: s.attributes[semconv.STEP])  # type: ignore[index]

    def by_id(self, span_id: int) -> ReadableSpan:
        return next(s for s in self.spans if s.context.span_id == span_id)

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        """The parent chain of ``span`` up to its root (all in this trace)."""
        chain = []
        while span.parent is not None:
            span = self.by_id(span.parent.span_id)
            chain.append(span)
        return chain
