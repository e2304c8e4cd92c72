"""What a trace source is: something that turns a trace id into the run's spans.

Every backend (the local span store, Jaeger, Tempo, an OTLP/JSON file) is one small
module behind :class:`TraceSource`; each normalises its wire format into
:class:`~tracefork_otel.spanmodel.SpanRecord` at the edge, so nothing above it knows
where a span came from.
"""

from __future__ import annotations

import string
from typing import Protocol, runtime_checkable

from tracefork_otel.errors import ConfigError
from tracefork_otel.spanmodel import SpanRecord

_HEX_DIGITS = frozenset(string.hexdigits)


@runtime_checkable
class TraceSource(Protocol):
    """A place to read a recorded run from, by trace id.

    ``get`` may block on I/O (HTTP, disk) for up to the source's timeout; a source is
    not required to be thread-safe. The spans come back in the order the backend
    served them (not sorted), all of them carrying the requested trace id.
    """

    name: str
    """A human description for messages, e.g. ``"tempo http://tempo:3200"`` (never a secret)."""

    def get(self, trace_id: str) -> list[SpanRecord]:
        """Return every span of the trace ``trace_id``.

        Args:
            trace_id: 32 hex digits (any case), or 16 for a 64-bit id; see
                :func:`normalize_trace_id`.

        Raises:
            ConfigError: ``trace_id`` is not a trace id.
            TraceNotFoundError: the source has no span of that trace.
            SourceError: the source is unreachable, refused, timed out, or answered
                something that is not a trace.
        """
        ...


def normalize_trace_id(text: str) -> str:
    """Return ``text`` as 32 lowercase hex digits, the form every source is asked with.

    Accepts 32 hex digits in any case, or 16 hex digits (a 64-bit Jaeger/Zipkin id),
    which is left-padded with zeros as OTLP and Jaeger's API v3 store it. Surrounding
    whitespace is ignored.

    Raises:
        ConfigError: anything else, or the all-zero id (invalid in W3C Trace Context).
    """
    if not isinstance(text, str):
        raise ConfigError(f"bad trace id {text!r}: expected a string of 32 hex digits")
    value = text.strip()
    if len(value) not in (16, 32) or not _HEX_DIGITS.issuperset(value):
        shown = value if len(value) <= 64 else value[:64] + "…"
        raise ConfigError(f"bad trace id {shown!r}: expected 32 hex digits (or 16 for a 64-bit id)")
    value = value.lower().rjust(32, "0")
    if value == "0" * 32:
        raise ConfigError("bad trace id: all zeros is not a valid trace id")
    return value
