"""OTLP/JSON traces, in every envelope a backend serves them, to and from ``SpanRecord``.

One hand-written reader for all of them, because they disagree in ways protobuf's
``json_format`` cannot be told about:

=====================  ======================================  =========  ==========
shape                  envelope                                ids        enums
=====================  ======================================  =========  ==========
OTLP/JSON TracesData   ``{"resourceSpans": […]}`` (or snake)   hex        int
collector file         one TracesData per line (JSON Lines)    hex        int
Jaeger API v3          ``{"result": {"resourceSpans": […]}}``  hex        int
Tempo v2               ``{"trace": {…}, "status": …}``         base64     name
Tempo v1               ``{"batches": […]}``                    base64     name
=====================  ======================================  =========  ==========

Ids are decided per value: 32 (trace) or 16 (span) hex digits are hex, anything else
must be base64 of 16 or 8 bytes. A 32-digit hex id is also valid base64 (of 24
bytes), which is why OTLP/JSON must never go through ``json_format``. Every malformed
input raises :class:`SourceError` with a one-line reason naming where it is.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal, NoReturn, TypeAlias, TypeVar

from tracefork_otel.errors import ConfigError, SourceError
from tracefork_otel.spanmodel import (
    Attributes,
    AttributeValue,
    EventRecord,
    LinkRecord,
    SpanKind,
    SpanRecord,
    StatusCode,
)

IdEncoding = Literal["hex", "base64"]
EnumStyle = Literal["int", "name"]

# A decoded AnyValue before it is squeezed into an attribute value (kvlists and
# nested arrays become JSON strings there).
_Plain: TypeAlias = str | bool | int | float | list["_Plain"] | dict[str, "_Plain"] | None
_E = TypeVar("_E", SpanKind, StatusCode)

_HEX = frozenset(string.hexdigits)
_UINT = re.compile(r"[0-9]{1,20}")
_INT = re.compile(r"-?[0-9]{1,19}")
MAX_TRACE_SPANS = 50_000
"""Most spans one trace may have (a run of 10,000 exchanges has ~20,000): spans, not only bytes, cost memory."""
MAX_DOCUMENT_BYTES = 128 * 1024 * 1024
"""Largest single JSON document parsed: ``json.loads`` holds its whole tree, ~6-8x its size in memory.
(JSON Lines are parsed a line at a time, each line under this cap.)"""
_MAX_DEPTH = 32  # nesting of arrayValue/kvlistValue; real attributes are 1-2 deep
_TEMPO_ONLY_KEYS = frozenset({"metrics", "status", "message"})
_SCOPE_SPANS_KEYS = ("scopeSpans", "instrumentationLibrarySpans")
_SCOPE_KEYS = ("scope", "instrumentationLibrary")


def parse_traces(doc: object, trace_id: str | None = None) -> list[SpanRecord]:
    """Return the spans of a decoded JSON document of any shape in the module table.

    Spans keep the document's order; nothing is deduplicated. With ``trace_id`` (32 lowercase
    hex digits) only that trace's spans are parsed past their ``traceId``: a file holding many
    traces costs the memory of one.

    Raises:
        SourceError: the document is not one of those shapes, or any part is malformed.
    """
    resource_spans, where = _resource_spans(doc)
    spans: list[SpanRecord] = []
    for i, rs in enumerate(_list(resource_spans, where)):
        rs_where = f"{where}[{i}]"
        rs_obj = _obj(rs, rs_where)
        resource = _attributes(
            _get(_obj(_get(rs_obj, "resource"), f"{rs_where}.resource"), "attributes"),
            f"{rs_where}.resource.attributes",
        )
        ss_key = next((k for k in _SCOPE_SPANS_KEYS if _get(rs_obj, k) is not None), _SCOPE_SPANS_KEYS[0])
        for j, ss in enumerate(_list(_get(rs_obj, ss_key), f"{rs_where}.{ss_key}")):
            ss_where = f"{rs_where}.{ss_key}[{j}]"
            ss_obj = _obj(ss, ss_where)
            scope = next((_get(ss_obj, k) for k in _SCOPE_KEYS if _get(ss_obj, k) is not None), None)
            scope_name = _str(_get(_obj(scope, f"{ss_where}.scope"), "name"), f"{ss_where}.scope.name")
            for k, span in enumerate(_list(_get(ss_obj, "spans"), f"{ss_where}.spans")):
                span_where = f"{ss_where}.spans[{k}]"
                if trace_id is not None and _trace_id_of(span, span_where) != trace_id:
                    continue
                spans.append(_span(span, span_where, resource, scope_name))
    return spans


def load_documents(text: str, where: str) -> list[object]:
    """Decode ``text`` as one JSON document, or as JSON Lines (blank lines skipped).

    Raises:
        SourceError: neither (the reason names the line for JSON Lines), or one document
            over `MAX_DOCUMENT_BYTES`.
    """
    whole_error: Exception | None = None
    if len(text) <= MAX_DOCUMENT_BYTES:
        try:
            return [json.loads(text)]
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an int of 4,300+ digits
            whole_error = exc
    lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    if len(lines) < 2 or not _is_json(lines[0][1]):
        if whole_error is None:
            raise SourceError(too_big_document(where, len(text)))
        raise SourceError(f"{where} is not JSON: {_reason(whole_error)}") from whole_error
    docs: list[object] = []
    for number, line in lines:
        if len(line) > MAX_DOCUMENT_BYTES:
            raise SourceError(f"{where} line {number} is over {MAX_DOCUMENT_BYTES} bytes")
        try:
            docs.append(json.loads(line))
        except (ValueError, RecursionError) as exc:
            raise SourceError(f"{where} line {number} is not JSON: {_reason(exc)}") from exc
    return docs


def read_document_lines(lines: Iterable[bytes], where: str) -> Iterator[object]:
    """Decode JSON Lines one line at a time (blank lines skipped), so a big file costs one line of memory.

    Raises:
        SourceError: a line is not UTF-8 JSON, or is over `MAX_DOCUMENT_BYTES`; the message names it.
    """
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_DOCUMENT_BYTES:
            raise SourceError(f"{where} line {number} is over {MAX_DOCUMENT_BYTES} bytes")
        if not line.strip():
            continue
        try:
            yield json.loads(line.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as exc:
            raise SourceError(f"{where} line {number} is not UTF-8 (byte {exc.start})") from exc
        except (ValueError, RecursionError) as exc:
            raise SourceError(f"{where} line {number} is not JSON: {_reason(exc)}") from exc


def too_big_document(where: str, size: int) -> str:
    """Why a single JSON document of ``size`` bytes is refused, and what to do instead."""
    return (
        f"{where} is one JSON document of {size} bytes, over the {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB a single"
        " document may have (it is parsed whole); write JSON Lines (one TracesData per line, as the collector's"
        " file exporter does) or extract the trace first"
    )


def select_trace(
    docs: Iterable[object], trace_id: str, where: str, *, numbered: bool | None = None
) -> list[SpanRecord]:
    """Parse each document in turn and keep the spans of ``trace_id`` (32 lowercase hex digits).

    ``docs`` may be a lazy iterator (a file read a line at a time); ``numbered`` says whether
    errors name the line (default: when there are several documents, which needs a list).

    Raises:
        SourceError: a document is malformed; the message starts with ``where``
            (and the line number when there are several documents).
    """
    if numbered is None:
        docs = list(docs)
        numbered = len(docs) > 1
    spans: list[SpanRecord] = []
    for number, doc in enumerate(docs, 1):
        try:
            parsed = parse_traces(doc, trace_id)
        except SourceError as exc:
            place = f"{where} line {number}" if numbered else where
            raise SourceError(f"{place}: {exc}") from exc
        spans.extend(parsed)
        if len(spans) > MAX_TRACE_SPANS:
            raise SourceError(f"{where}: trace {trace_id} has more than {MAX_TRACE_SPANS} spans; refusing to load it")
    return spans


def to_otlp_json(
    spans: Iterable[SpanRecord], *, id_encoding: IdEncoding = "hex", enum_style: EnumStyle = "int"
) -> dict[str, object]:
    """Return an OTLP/JSON ``TracesData`` dict of ``spans``, grouped by resource and scope.

    ``id_encoding="hex", enum_style="int"`` is OTLP/JSON as the spec and Jaeger write
    it; ``"base64", "name"`` is what Tempo's JSON (protobuf's jsonpb) looks like.
    64-bit integers are written as strings, as both do.

    Raises:
        ConfigError: an unknown encoding or style, or an attribute OTLP cannot carry.
    """
    if id_encoding not in ("hex", "base64") or enum_style not in ("int", "name"):
        raise ConfigError(
            f"bad to_otlp_json options {id_encoding!r}/{enum_style!r}: "
            "id_encoding is 'hex' or 'base64', enum_style is 'int' or 'name'"
        )

    def ident(hex_id: str) -> str:
        return hex_id if id_encoding == "hex" else base64.b64encode(bytes.fromhex(hex_id)).decode()

    def enum(member: SpanKind | StatusCode, prefix: str) -> int | str:
        return int(member) if enum_style == "int" else prefix + member.name

    groups: dict[str, tuple[Attributes, dict[str, list[object]]]] = {}
    for span in spans:
        key = json.dumps(_encode_attributes(span.resource), sort_keys=True)
        by_scope = groups.setdefault(key, (span.resource, {}))[1]
        encoded: dict[str, object] = {
            "traceId": ident(span.trace_id),
            "spanId": ident(span.span_id),
            "parentSpanId": ident(span.parent_span_id) if span.parent_span_id else "",
            "name": span.name,
            "kind": enum(span.kind, "SPAN_KIND_"),
            "startTimeUnixNano": str(span.start_time_unix_nano),
            "endTimeUnixNano": str(span.end_time_unix_nano),
            "attributes": _encode_attributes(span.attributes),
            "events": [
                {"timeUnixNano": str(e.time_unix_nano), "name": e.name, "attributes": _encode_attributes(e.attributes)}
                for e in span.events
            ],
            "links": [
                {
                    "traceId": ident(link.trace_id),
                    "spanId": ident(link.span_id),
                    "attributes": _encode_attributes(link.attributes),
                }
                for link in span.links
            ],
            "status": {"code": enum(span.status_code, "STATUS_CODE_"), "message": span.status_message},
        }
        by_scope.setdefault(span.scope_name, []).append(encoded)
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _encode_attributes(resource)},
                "scopeSpans": [{"scope": {"name": name}, "spans": group} for name, group in by_scope.items()],
            }
            for resource, by_scope in groups.values()
        ]
    }


# --- reading -------------------------------------------------------------------------


def _resource_spans(doc: object) -> tuple[object, str]:
    """Unwrap the envelopes; return the ResourceSpans list and its path for messages."""
    where = ""
    for _ in range(3):  # result / trace wrap at most once each
        obj = _obj(doc, where.rstrip(".") or "the document")
        for key in ("resourceSpans", "batches"):
            if key in obj or _snake(key) in obj:  # null counts: it is the empty list in proto3 JSON
                return _get(obj, key), f"{where}{key}"
        if _get(obj, "result") is not None:
            doc, where = obj["result"], f"{where}result."
        elif _get(obj, "trace") is not None:
            doc, where = obj["trace"], f"{where}trace."
        elif _get(obj, "error") is not None:
            error = _get(obj, "error")
            message = _get(error, "message") if isinstance(error, dict) else error
            raise SourceError(f"the backend answered an error: {_show(message)}")
        elif isinstance(_get(obj, "data"), list) or {"traceID", "spans"} <= obj.keys():
            raise SourceError(
                "this is the legacy Jaeger UI JSON (/api/traces), not OTLP/JSON; "
                "read traces from Jaeger's API v3 (/api/v3/traces/{id}) instead"
            )
        elif _TEMPO_ONLY_KEYS.issuperset(obj):
            return [], where.rstrip(".") or "the document"  # empty TracesData, or Tempo's empty v2 answer
        else:
            keys = ", ".join(sorted(_show(k) for k in obj)[:5])
            raise SourceError(
                f"not OTLP/JSON at {where.rstrip('.') or 'the top level'}: expected resourceSpans, result, "
                f"trace or batches, got keys {keys}"
            )
    raise SourceError(f"not OTLP/JSON: envelopes nested too deeply at {where.rstrip('.')}")


def _trace_id_of(value: object, where: str) -> str:
    return _id(_get(_obj(value, where), "traceId"), 16, f"{where}.traceId")


def _span(value: object, where: str, resource: dict[str, AttributeValue], scope_name: str) -> SpanRecord:
    span = _obj(value, where)
    parent = _get(span, "parentSpanId")
    status = _obj(_get(span, "status"), f"{where}.status")
    return SpanRecord(
        trace_id=_id(_get(span, "traceId"), 16, f"{where}.traceId"),
        span_id=_id(_get(span, "spanId"), 8, f"{where}.spanId"),
        parent_span_id=None if parent in (None, "") else _id(parent, 8, f"{where}.parentSpanId"),
        name=_str(_get(span, "name"), f"{where}.name"),
        kind=_enum(SpanKind, "SPAN_KIND_", _get(span, "kind"), f"{where}.kind"),
        start_time_unix_nano=_uint64(_get(span, "startTimeUnixNano"), f"{where}.startTimeUnixNano"),
        end_time_unix_nano=_uint64(_get(span, "endTimeUnixNano"), f"{where}.endTimeUnixNano"),
        attributes=_attributes(_get(span, "attributes"), f"{where}.attributes"),
        events=tuple(
            _event(event, f"{where}.events[{i}]")
            for i, event in enumerate(_list(_get(span, "events"), f"{where}.events"))
        ),
        links=tuple(
            _link(link, f"{where}.links[{i}]") for i, link in enumerate(_list(_get(span, "links"), f"{where}.links"))
        ),
        status_code=_enum(StatusCode, "STATUS_CODE_", _get(status, "code"), f"{where}.status.code"),
        status_message=_str(_get(status, "message"), f"{where}.status.message"),
        resource=resource,
        scope_name=scope_name,
    )


def _event(value: object, where: str) -> EventRecord:
    event = _obj(value, where)
    return EventRecord(
        name=_str(_get(event, "name"), f"{where}.name"),
        time_unix_nano=_uint64(_get(event, "timeUnixNano"), f"{where}.timeUnixNano"),
        attributes=_attributes(_get(event, "attributes"), f"{where}.attributes"),
    )


def _link(value: object, where: str) -> LinkRecord:
    link = _obj(value, where)
    return LinkRecord(
        trace_id=_id(_get(link, "traceId"), 16, f"{where}.traceId"),
        span_id=_id(_get(link, "spanId"), 8, f"{where}.spanId"),
        attributes=_attributes(_get(link, "attributes"), f"{where}.attributes"),
    )


def _attributes(value: object, where: str) -> dict[str, AttributeValue]:
    attributes: dict[str, AttributeValue] = {}
    for key, plain in _key_values(value, where, 0):
        if plain is None:
            continue  # an empty AnyValue carries nothing
        if isinstance(plain, dict):
            attributes[key] = json.dumps(plain, separators=(",", ":"))
        elif isinstance(plain, list):
            attributes[key] = _homogeneous(plain)
        else:
            attributes[key] = plain
    return attributes


def _homogeneous(values: list[_Plain]) -> AttributeValue:
    """A list of one primitive type stays a list; anything mixed or nested becomes JSON."""
    kinds = {type(v) for v in values}
    if not values or (len(kinds) == 1 and kinds <= {str, bool, int, float}):
        return values  # type: ignore[return-value]  # checked just above
    return json.dumps(values, separators=(",", ":"))


def _key_values(value: object, where: str, depth: int) -> list[tuple[str, _Plain]]:
    pairs: list[tuple[str, _Plain]] = []
    for i, item in enumerate(_list(value, where)):
        kv = _obj(item, f"{where}[{i}]")
        key = _get(kv, "key")
        if not isinstance(key, str):
            _fail(f"{where}[{i}].key", f"expected a string, got {_kind(key)}")
        pairs.append((key, _any_value(_get(kv, "value"), f"{where}[{_show(key)}]", depth)))
    return pairs


def _any_value(value: object, where: str, depth: int) -> _Plain:
    if depth > _MAX_DEPTH:
        _fail(where, f"values nested more than {_MAX_DEPTH} deep")
    obj = _obj(value, where)
    if not obj:
        return None
    if len(obj) != 1:
        _fail(where, f"an AnyValue holds one value, got keys {', '.join(sorted(map(_show, obj))[:5])}")
    ((kind, inner),) = obj.items()
    kind = _CAMEL.get(kind, kind)
    if inner is None:
        return None
    if kind == "stringValue":
        return _strict_str(inner, where)
    if kind == "boolValue":
        if not isinstance(inner, bool):
            _fail(where, f"boolValue must be true or false, got {_kind(inner)}")
        return inner
    if kind == "intValue":
        return _int(inner, where, _INT, -(2**63), 2**63 - 1)
    if kind == "doubleValue":
        return _double(inner, where)
    if kind == "bytesValue":
        text = _strict_str(inner, where)
        _decode_base64(text, where)
        return text  # kept as its base64 text, once it is known to decode
    if kind == "arrayValue":
        values = _list(_get(_obj(inner, where), "values"), f"{where}.values")
        return [_any_value(v, f"{where}.values[{i}]", depth + 1) for i, v in enumerate(values)]
    if kind == "kvlistValue":
        pairs = _get(_obj(inner, where), "values")
        return dict(_key_values(pairs, f"{where}.values", depth + 1))
    _fail(where, f"unknown AnyValue kind {_show(kind)}")


_CAMEL = {
    "string_value": "stringValue",
    "bool_value": "boolValue",
    "int_value": "intValue",
    "double_value": "doubleValue",
    "bytes_value": "bytesValue",
    "array_value": "arrayValue",
    "kvlist_value": "kvlistValue",
}


def _id(value: object, size: int, where: str) -> str:
    text = _strict_str(value, where)
    if len(text) == 2 * size and _HEX.issuperset(text):
        return text.lower()
    raw = _decode_base64(text, where)
    if len(raw) != size:
        _fail(where, f"{_show(text)} is neither {2 * size} hex digits nor base64 of {size} bytes")
    return raw.hex()


def _decode_base64(text: str, where: str) -> bytes:
    padded = text.replace("-", "+").replace("_", "/")
    padded += "=" * (-len(padded) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        _fail(where, f"{_show(text)} is neither hex nor base64")


def _enum(enum_type: type[_E], prefix: str, value: object, where: str) -> _E:
    if value is None:
        return enum_type(0)
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :] in enum_type.__members__:
        return enum_type.__members__[value[len(prefix) :]]
    number = _int(value, where, _INT, 0, max(enum_type), f"a {prefix}* name or number")
    return enum_type(number)


def _uint64(value: object, where: str) -> int:
    return 0 if value is None else _int(value, where, _UINT, 0, 2**64 - 1)


def _int(value: object, where: str, pattern: re.Pattern[str], low: int, high: int, expected: str = "an integer") -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and pattern.fullmatch(value):
        number = int(value)
    else:
        _fail(where, f"expected {expected}, got {_show(value)}")
    if not low <= number <= high:
        _fail(where, f"{number} is out of range [{low}, {high}]")
    return number


def _double(value: object, where: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            _fail(where, "doubleValue is too large")
    if isinstance(value, str) and len(value) <= 64:
        try:
            return float(value)  # also "NaN", "Infinity", "-Infinity" (proto3 JSON)
        except ValueError:
            pass
    _fail(where, f"expected a number, got {_show(value)}")


def _get(obj: Mapping[str, object], camel: str) -> object:
    """``obj[camel]``, or the proto field name (``trace_id``) that proto3 JSON also allows."""
    if camel in obj:
        return obj[camel]
    return obj.get(_snake(camel))


@functools.cache
def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", camel).lower()


def _obj(value: object, where: str) -> dict[str, object]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, f"expected an object, got {_kind(value)}")
    return value


def _list(value: object, where: str) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        _fail(where, f"expected an array, got {_kind(value)}")
    return value


def _str(value: object, where: str) -> str:
    return "" if value is None else _strict_str(value, where)


def _strict_str(value: object, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, f"expected a string, got {_kind(value)}")
    return value


def _kind(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value)) or ("a number" if isinstance(value, (int, float)) else type(value).__name__)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _reason(exc: Exception) -> str:
    return "nested too deeply" if isinstance(exc, RecursionError) else str(exc)


def _fail(where: str, reason: str) -> NoReturn:
    raise SourceError(f"bad OTLP/JSON at {where}: {reason}")


# --- writing -------------------------------------------------------------------------


def _encode_attributes(attributes: Attributes) -> list[dict[str, object]]:
    return [{"key": key, "value": _encode_value(value, key)} for key, value in attributes.items()]


def _encode_value(value: object, key: str) -> dict[str, object]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"doubleValue": value}
        return {"doubleValue": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [_encode_value(v, key) for v in value]}}
    raise ConfigError(f"attribute {key!r} holds a {type(value).__name__}, which OTLP cannot carry")
