"""What the record path needs to know, resolved once: blob store, tracer, strictness, content capture, redaction.

Precedence: an argument to ``instrument()`` / ``record_run()``, then the environment
variable, then the default.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from opentelemetry import trace

from tracefork_otel import environment_variables as env
from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore, UnavailableBlobStore, open_blob_store
from tracefork_otel.errors import ConfigError
from tracefork_otel.urls import scrub_urls

Redactor = Callable[[Literal["request", "response"], bytes], bytes]
"""``redact(kind, body) -> body``: rewrites a request or response body before it is hashed and stored."""


@dataclass(frozen=True)
class RecordConfig:
    """Settings of the record path."""

    blob_store: BlobStore
    strict: bool = False
    """Raise recording failures into the agent (and write synchronously) instead of logging them."""
    capture_content: bool = False
    """Put message content on spans (``gen_ai.input.messages`` / ``gen_ai.output.messages``)."""
    redact: Redactor | None = None
    """Applied to every request (``"request"``) and response (``"response"``) body on the background
    writer, before hashing, storage and span attributes. Exchanges it changed are marked
    ``tracefork.redacted``: they can be inspected, not replayed. If it raises, nothing of that
    exchange is stored (the span carries ``tracefork.record.error``)."""
    tracer_provider: trace.TracerProvider | None = None
    """Where the spans go (``instrument(tracer_provider=...)``, as every OTel instrumentor takes it);
    None: the global provider."""

    def tracer(self) -> trace.Tracer:
        return _tracer(self.tracer_provider)


@functools.cache
def _tracer(provider: trace.TracerProvider | None) -> trace.Tracer:
    # One lookup per provider (~40 µs each): before an SDK provider is set the global one is the
    # API's proxy tracer, which switches to the real provider once one is set.
    return trace.get_tracer(semconv.INSTRUMENTATION_SCOPE, tracer_provider=provider)


_stores: dict[str, BlobStore] = {}


def _store(url: str | None) -> BlobStore:
    """One store object per URL for the record path, so its caches (the previous exchange
    for delta compression, folders already made) outlive a single run.

    A store that cannot be opened (unknown protocol, backend not installed, server down)
    becomes an `UnavailableBlobStore`: recording fails open on it, put by put. It is not
    kept, so the next run tries the URL again."""
    key = url or env.blob_url()
    with _lock:
        store = _stores.get(key)
        if store is None:
            try:
                store = _stores[key] = open_blob_store(key)
            except Exception as exc:
                return UnavailableBlobStore(key, scrub_urls(f"{type(exc).__name__}: {exc}"))
        return store


_config: RecordConfig | None = None
_lock = threading.RLock()  # get() holds it while resolve() opens the store through _store()


def resolve(
    blob_store: BlobStore | str | None = None,
    strict: bool | None = None,
    capture_content: bool | None = None,
    redact: Redactor | None = None,
    tracer_provider: trace.TracerProvider | None = None,
) -> RecordConfig:
    """A config from arguments, falling back to the environment.

    Raises:
        ConfigError: ``redact`` is not callable.
    """
    if redact is not None and not callable(redact):
        raise ConfigError(f"redact must be a function (kind, body) -> body, got {type(redact).__name__}")
    store = _store(blob_store) if blob_store is None or isinstance(blob_store, str) else blob_store
    return RecordConfig(
        blob_store=store,
        strict=env.parse_bool(env.TFOTEL_STRICT, False) if strict is None else strict,
        capture_content=(
            env.parse_bool(env.TFOTEL_CAPTURE_CONTENT, False) if capture_content is None else capture_content
        ),
        redact=redact,
        tracer_provider=tracer_provider,
    )


def get() -> RecordConfig:
    """The process-wide config (from the environment until ``set_config`` is called)."""
    global _config
    if _config is None:
        with _lock:
            if _config is None:
                _config = resolve()
    return _config


def set_config(config: RecordConfig | None) -> None:
    """Replace the process-wide config (``None`` re-reads the environment on next use)."""
    global _config
    with _lock:
        _config = config
