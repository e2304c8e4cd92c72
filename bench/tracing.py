"""The OpenTelemetry setup every benchmark arm runs under, as in production.

An SDK ``TracerProvider`` is the global provider, so the Anthropic SDK emits its own
``anthropic.messages.create`` CLIENT span per call in *every* arm (the SDK traces
whenever a global provider is set). Spans go through a ``BatchSpanProcessor`` (what
production uses) to `CountingExporter`, a no-op that only counts them by name, so
exporting costs nothing but what the SDK itself does. A `SwitchProcessor` lets the
storage measurement plug the local span store in for one run and out again (the SDK
cannot remove a processor).

``TFOTEL_LOCAL_STORE=false`` and a temporary ``TFOTEL_HOME`` keep ``record_run`` from
adding its own span store or writing under ``~/.tracefork``.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult


class CountingExporter(SpanExporter):
    """A no-op exporter that counts exported spans by name (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self._lock:
            self.counts.update(span.name.split(" ")[0] for span in spans)
        return SpanExportResult.SUCCESS

    def take(self) -> dict[str, int]:
        """The counts so far, and start again from zero."""
        with self._lock:
            counts, self.counts = dict(self.counts), Counter()
        return counts


class SwitchProcessor(SpanProcessor):
    """Forwards to ``target`` when one is set, else does nothing."""

    def __init__(self) -> None:
        self.target: SpanProcessor | None = None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        target = self.target
        if target is not None:
            target.on_start(span, parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        target = self.target
        if target is not None:
            target.on_end(span)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        target = self.target
        return True if target is None else target.force_flush(timeout_millis)


@dataclass
class Tracing:
    """The configured provider and its two processors."""

    provider: TracerProvider
    exporter: CountingExporter
    switch: SwitchProcessor

    def spans(self) -> dict[str, int]:
        """Flush, then the spans exported since the last call, by name."""
        self.provider.force_flush()
        return self.exporter.take()


def configure(home: Path) -> Tracing:
    """Point ``TFOTEL_HOME`` at ``home``, turn the local store off, and install the SDK provider.

    Call once, before anything records or builds an Anthropic client.
    """
    os.environ["TFOTEL_HOME"] = str(home)
    os.environ["TFOTEL_LOCAL_STORE"] = "false"
    os.environ.pop("TFOTEL_BLOBS", None)
    os.environ.pop("ANTHROPIC_OPEN_TELEMETRY", None)  # the SDK's own span stays on, as in production
    provider = TracerProvider(resource=Resource.create({"service.name": "tracefork-bench"}))
    exporter = CountingExporter()
    switch = SwitchProcessor()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    provider.add_span_processor(switch)
    trace.set_tracer_provider(provider)
    if trace.get_tracer_provider() is not provider:
        raise RuntimeError("a tracer provider was already set; run the benchmark in a fresh process")
    return Tracing(provider, exporter, switch)
