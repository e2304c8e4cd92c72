"""What the record path needs to know, resolved once: blob store, tracer, strictness, content capture.

Precedence: an argument to ``instrument()`` / ``record_run()``, then the environment
variable, then the default.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from opentelemetry import trace

from tracefork_otel import environment_variables as env
from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore, open_blob_store


@dataclass(frozen=True)
class RecordConfig:
    """Settings of the record path."""

    blob_store: BlobStore
    strict: bool = False
    """Raise recording failures into the agent (and write synchronously) instead of logging them."""
    capture_content: bool = False
    """Put message content on spans (``gen_ai.input.messages`` / ``gen_ai.output.messages``)."""

    def tracer(self) -> trace.Tracer:
        # Looked up per use so a provider configured after instrument() is honoured.
        return trace.get_tracer(semconv.INSTRUMENTATION_SCOPE)


_config: RecordConfig | None = None
_lock = threading.Lock()


def resolve(
    blob_store: BlobStore | str | None = None,
    strict: bool | None = None,
    capture_content: bool | None = None,
) -> RecordConfig:
    """A config from arguments, falling back to the environment."""
    store = open_blob_store(blob_store) if blob_store is None or isinstance(blob_store, str) else blob_store
    return RecordConfig(
        blob_store=store,
        strict=env.parse_bool(env.TFOTEL_STRICT, False) if strict is None else strict,
        capture_content=(
            env.parse_bool(env.TFOTEL_CAPTURE_CONTENT, False) if capture_content is None else capture_content
        ),
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
