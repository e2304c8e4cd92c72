"""One span, as every part of tracefork-otel sees it after it leaves the OTel SDK.

The local span store, the OTLP/JSON, Tempo and Jaeger parsers all produce
``SpanRecord`` so that nothing above them knows where a span came from. Ids are
lowercase hex (32 digits for trace ids, 16 for span ids); times are Unix nanoseconds;
attribute values are plain Python (str, bool, int, float, or lists of those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from tracefork_otel import semconv

AttributeValue = str | bool | int | float | Sequence[str] | Sequence[bool] | Sequence[int] | Sequence[float]
Attributes = Mapping[str, AttributeValue]


TRACE_ID_DIGITS = 32
SPAN_ID_DIGITS = 16
_LOWER_HEX = frozenset("0123456789abcdef")


def is_hex_id(text: str, digits: int) -> bool:
    """Whether ``text`` is an id as OTel writes it: exactly ``digits`` lowercase hex digits, not all zero."""
    return len(text) == digits and _LOWER_HEX.issuperset(text) and text != "0" * digits


class SpanKind(IntEnum):
    """OTLP's span kind numbers (``SPAN_KIND_*``)."""

    UNSPECIFIED = 0
    INTERNAL = 1
    SERVER = 2
    CLIENT = 3
    PRODUCER = 4
    CONSUMER = 5


class StatusCode(IntEnum):
    """OTLP's status code numbers (``STATUS_CODE_*``)."""

    UNSET = 0
    OK = 1
    ERROR = 2


@dataclass(frozen=True)
class EventRecord:
    """A span event: a name, a time and attributes."""

    name: str
    time_unix_nano: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class LinkRecord:
    """A span link to another trace's span."""

    trace_id: str
    span_id: str
    attributes: Attributes = field(default_factory=dict)


@dataclass(frozen=True)
class SpanRecord:
    """A finished span, normalised (hex ids, int enums, plain attribute values)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: SpanKind
    start_time_unix_nano: int
    end_time_unix_nano: int
    attributes: Attributes = field(default_factory=dict)
    events: tuple[EventRecord, ...] = ()
    links: tuple[LinkRecord, ...] = ()
    status_code: StatusCode = StatusCode.UNSET
    status_message: str = ""
    resource: Attributes = field(default_factory=dict)
    scope_name: str = ""


def int_attribute(value: object, default: int = 0) -> int:
    """An attribute read as an int, however a backend typed it (bool, int, integral float or digits)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return default


def find_root(spans: Sequence[SpanRecord]) -> SpanRecord | None:
    """The run's root span: the ``invoke_agent`` span carrying a tape digest, else any root span."""
    for span in spans:
        if semconv.TAPE_DIGEST in span.attributes or (
            span.name.startswith(semconv.SPAN_INVOKE_AGENT_PREFIX) and span.parent_span_id is None
        ):
            return span
    roots = [s for s in spans if s.parent_span_id is None]
    return roots[0] if roots else None


def exchange_spans(spans: Sequence[SpanRecord]) -> list[SpanRecord]:
    """The spans that record one exchange each, in step order."""
    return sorted(
        (s for s in spans if semconv.STEP in s.attributes), key=lambda s: int_attribute(s.attributes[semconv.STEP])
    )
