"""Recording every Anthropic client with no code change: ``instrument()`` and the OTel instrumentor.

``tracefork_otel.instrument()`` (or ``opentelemetry-instrument python agent.py``, via
the ``opentelemetry_instrumentor`` entry point) wraps the transport of every Anthropic
SDK client when it is constructed. Calls then record into the current trace: inside
``record_run`` into that run, elsewhere into an implicit run per trace.

Wrapping happens once per client, in the SDK's base client ``__init__``, so every
client class (``Anthropic``, ``AsyncAnthropic``, Bedrock, Vertex, ``with_options``
copies) is covered while the client's own transport, retries and proxies stay.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection
from typing import Any

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from tracefork_otel.blobstore import BlobStore
from tracefork_otel.record import config as record_config
from tracefork_otel.record.config import Redactor
from tracefork_otel.record.transport import wrap_client

logger = logging.getLogger(__name__)

_ORIGINAL = "__tracefork_original_init__"


def _patch(cls: type) -> None:
    if hasattr(cls, _ORIGINAL):
        return
    original: Callable[..., None] = cls.__init__  # type: ignore[misc]

    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        try:
            wrap_client(self._client)
        except Exception:
            logger.warning("tracefork: could not record this Anthropic client", exc_info=True)

    setattr(cls, _ORIGINAL, original)
    cls.__init__ = __init__  # type: ignore[misc]


def _unpatch(cls: type) -> None:
    original = cls.__dict__.get(_ORIGINAL)
    if original is not None:
        cls.__init__ = original  # type: ignore[misc]
        delattr(cls, _ORIGINAL)


def _client_classes() -> list[type]:
    from anthropic._base_client import AsyncAPIClient, SyncAPIClient

    return [SyncAPIClient, AsyncAPIClient]


class AnthropicRecordingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """OpenTelemetry instrumentor: records every Anthropic client's exchanges."""

    def instrumentation_dependencies(self) -> Collection[str]:
        return ("anthropic >= 1.14",)

    def _instrument(self, **kwargs: Any) -> None:
        from tracefork_otel.otel_setup import ensure_tracing

        settings = [kwargs.get(key) for key in ("blob_store", "strict", "capture_content", "redact")]
        if any(value is not None for value in settings):
            record_config.set_config(record_config.resolve(*settings))
        ensure_tracing(local_store=kwargs.get("local_store"))
        for cls in _client_classes():
            _patch(cls)

    def _uninstrument(self, **kwargs: Any) -> None:
        for cls in _client_classes():
            _unpatch(cls)


def instrument(
    *,
    blob_store: BlobStore | str | None = None,
    strict: bool | None = None,
    capture_content: bool | None = None,
    local_store: bool | None = None,
    redact: Redactor | None = None,
) -> None:
    """Record every Anthropic client created from now on (idempotent).

    Sets up the OTel SDK from the standard environment when nothing else has, and adds
    the local span store under ``TFOTEL_HOME`` (``local_store=False`` or
    ``TFOTEL_LOCAL_STORE=false`` to skip it). ``redact`` is ``record_run``'s hook, for
    every exchange recorded outside a ``record_run`` (and inside one that sets none).
    """
    AnthropicRecordingInstrumentor().instrument(
        blob_store=blob_store,
        strict=strict,
        capture_content=capture_content,
        local_store=local_store,
        redact=redact,
    )


def uninstrument() -> None:
    """Stop wrapping new Anthropic clients (clients already made keep recording)."""
    AnthropicRecordingInstrumentor().uninstrument()
