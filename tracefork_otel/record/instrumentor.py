"""Recording every Anthropic client with no code change: ``instrument()`` and the OTel instrumentor.

``tracefork_otel.instrument()`` (or ``opentelemetry-instrument python agent.py``, via
the ``opentelemetry_instrumentor`` entry point) makes every Anthropic SDK client record:
those built from now on, and those built before (a module-level client imported first),
from their next request on (the client seam, ``clientseam.py``). Calls then record into
the run that holds them (see ``boundary.py``): an explicit run (``record_run``,
``@tracefork_otel.agent``); else the current trace, when other instrumentation opened one;
else the process, one run from the first call to exit (or ``shutdown()``).

Wrapping happens once per client, through the SDK's base clients, so every client class
(``Anthropic``, ``AsyncAnthropic``, Bedrock, Vertex, ``with_options`` copies) is covered
while the client's own transport, retries and proxies stay.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.trace import TracerProvider

from tracefork_otel import clientseam, nondet_capture
from tracefork_otel import environment_variables as env
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.record import boundary
from tracefork_otel.record import config as record_config
from tracefork_otel.record.config import Redactor
from tracefork_otel.record.transport import recording_transport, transport_records

logger = logging.getLogger(__name__)


class AnthropicRecordingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentor: records every Anthropic client's exchanges."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 1.14",)

    def _instrument(self, **kwargs: Any) -> None:
        from tracefork_otel.otel_setup import ensure_tracing

        settings = [kwargs.get(key) for key in ("blob_store", "strict", "capture_content", "redact", "tracer_provider")]
        if any(value is not None for value in settings):
            record_config.set_config(record_config.resolve(*settings))
        ensure_tracing(local_store=kwargs.get("local_store"), provider=kwargs.get("tracer_provider"))
        capture = kwargs.get("capture_nondeterminism")
        if env.parse_bool(env.TFOTEL_CAPTURE_NONDET, False) if capture is None else capture:
            nondet_capture.enable()
        clientseam.install()
        clientseam.set_recorder(recording_transport, transport_records)
        boundary.enable_process_run()

    def _uninstrument(self, **kwargs: Any) -> None:
        clientseam.set_recorder(None)
        nondet_capture.disable()


def instrument(
    *,
    blob_store: BlobStore | str | None = None,
    strict: bool | None = None,
    capture_content: bool | None = None,
    local_store: bool | None = None,
    redact: Redactor | None = None,
    tracer_provider: TracerProvider | None = None,
    capture_nondeterminism: bool | None = None,
) -> None:
    """Record every Anthropic client, made before or after this call (idempotent).

    Sets up the OTel SDK from the standard environment when nothing else has, and adds
    the local span store under ``TFOTEL_HOME`` (``local_store=False`` or
    ``TFOTEL_LOCAL_STORE=false`` to skip it). ``redact`` is ``record_run``'s hook, for
    every exchange recorded outside a ``record_run`` (and inside one that sets none).
    ``tracer_provider``, as every OTel instrumentor takes it, receives the spans instead of
    the global provider (and the local store, when it is an SDK provider).
    ``capture_nondeterminism=True`` (or ``TFOTEL_CAPTURE_NONDET=true``) also records what the agent's
    own code reads from the clock, ``uuid4``, ``random`` and ``secrets`` past the seam
    (``tracefork_otel.nondet_capture``); replay serves it back.
    """
    AnthropicRecordingInstrumentor().instrument(
        blob_store=blob_store,
        strict=strict,
        capture_content=capture_content,
        local_store=local_store,
        redact=redact,
        tracer_provider=tracer_provider,
        capture_nondeterminism=capture_nondeterminism,
    )


def uninstrument() -> None:
    """Stop wrapping Anthropic clients (clients already recording keep recording)."""
    AnthropicRecordingInstrumentor().uninstrument()
