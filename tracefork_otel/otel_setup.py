"""Setting up the OpenTelemetry SDK for tfotel's own commands and for ``instrument()``.

The record path speaks only the OTel API; it imports this module only when a run needs
spans to go somewhere and no provider is set (``record_run`` and ``instrument()`` call
`ensure_tracing`, lazily, so importing ``tracefork_otel`` does not load the SDK). This is
the one place that builds a ``TracerProvider``, and only when nobody else has: a program
that configured the SDK itself (or runs under ``opentelemetry-instrument``) keeps its
provider, and we add the local span store to it.

Exporters follow the standard environment: ``OTEL_TRACES_EXPORTER`` (``otlp``,
``console``, ``none``; several comma-separated), ``OTEL_EXPORTER_OTLP_PROTOCOL``
(``grpc`` default, or ``http/protobuf``), and the OTLP endpoint/header/timeout
variables the exporters read themselves. Unlike the SDK's own default, OTLP is added
only when ``OTEL_TRACES_EXPORTER`` names it or an OTLP endpoint is set, so a laptop
with nothing configured does not spend its exit retrying a collector that is not
there. The local span store under ``TFOTEL_HOME`` is always added (unless
``TFOTEL_LOCAL_STORE=false``).
"""

from __future__ import annotations

import logging
import os
import threading

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from tracefork_otel import environment_variables as env
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_local_added: set[int] = set()
_local_processors: list[SpanProcessor] = []


def _otlp_protocol() -> str:
    protocol = (
        os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    ).strip()
    if protocol in {"grpc", "http/protobuf"}:
        return protocol
    if protocol == "http":
        return "http/protobuf"
    logger.warning("Unsupported OTEL_EXPORTER_OTLP_PROTOCOL %r, using grpc", protocol)
    return "grpc"


def exporter_names() -> list[str]:
    """The exporters the standard environment asks for, named without building them: ``otlp/grpc``,
    ``otlp/http/protobuf``, ``console`` (see the module docstring)."""
    names = [n.strip() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",") if n.strip()]
    if not names and (
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        names = ["otlp"]
    chosen: list[str] = []
    for name in names:
        if name == "otlp":
            chosen.append(f"otlp/{_otlp_protocol()}")
        elif name == "console":
            chosen.append(name)
        elif name != "none":
            logger.warning("Unsupported OTEL_TRACES_EXPORTER %r, ignored", name)
    return chosen


def _exporter(name: str) -> SpanExporter:
    if name == "otlp/grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    if name == "otlp/http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter()
    return ConsoleSpanExporter()


def configured_exporters() -> list[SpanExporter]:
    """The exporters `exporter_names` names, built."""
    return [_exporter(name) for name in exporter_names()]


def local_store_processor(store: SpanStore | None = None) -> SpanProcessor:
    """A batch processor feeding the local span store (the agent's path stays flat)."""
    return BatchSpanProcessor(LocalSpanExporter(store or SpanStore.default()), schedule_delay_millis=100)


def ensure_tracing(
    *, local_store: bool | None = None, provider: trace.TracerProvider | None = None
) -> TracerProvider | None:
    """Make sure spans go somewhere: set up an SDK provider if none, and add the local store once.

    With ``provider`` (``instrument(tracer_provider=...)``) that provider is used instead of the
    global one, which is then left alone.

    Returns the SDK provider in use, or None when the provider is not the SDK's
    (a vendor's own provider: then we leave it alone).
    """
    use_local = env.parse_bool(env.TFOTEL_LOCAL_STORE, True) if local_store is None else local_store
    with _lock:
        chosen = provider if provider is not None else trace.get_tracer_provider()
        if not isinstance(chosen, TracerProvider):
            if provider is not None or not isinstance(chosen, trace.ProxyTracerProvider):
                return None
            chosen = TracerProvider(resource=Resource.create())
            for exporter in configured_exporters():
                chosen.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(chosen)
            chosen = trace.get_tracer_provider()  # set_tracer_provider refuses a second provider
            if not isinstance(chosen, TracerProvider):
                return None
        if use_local and id(chosen) not in _local_added:
            processor = local_store_processor()
            chosen.add_span_processor(processor)
            _local_processors.append(processor)
            _local_added.add(id(chosen))
        return chosen


def flush_local(timeout_millis: int = 10_000) -> bool:
    """Flush the local span store only: fast, and independent of any collector's health.

    ``record_run`` calls this on exit, so a run is complete in the local store without
    the agent waiting on an OTLP exporter that may be retrying against a dead
    collector; those exports carry on in the background and at process exit.
    """
    return all(p.force_flush(timeout_millis) for p in list(_local_processors))


def force_flush(timeout_millis: int = 10_000) -> bool:
    """Flush the global SDK provider's processors, if there is one."""
    provider = trace.get_tracer_provider()
    flush = getattr(provider, "force_flush", None)
    if flush is None:
        return True
    try:
        return bool(flush(timeout_millis))
    except Exception:
        logger.warning("flushing spans failed", exc_info=True)
        return False
