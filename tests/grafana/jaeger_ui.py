"""OTLP/JSON → Jaeger's legacy UI model, the way Jaeger's query service shows a trace.

A test-side model of Jaeger's translation (the collector's ``jaeger`` translator that
Jaeger v2 uses): attributes become typed tags (``string``/``bool``/``int64``/``float64``/
``binary``), the scope name a ``otel.scope.name`` tag, the kind a ``span.kind`` tag,
events become logs whose fields start with ``event: <name>``, the parent a ``CHILD_OF``
reference and links ``FOLLOWS_FROM`` references. It is checked against Jaeger's own
golden pair in ``../shared/fixtures/backends/jaeger/legacy_transform_otlp2jaeger-*.json``
before it is used to look at our blame trace.
"""

from __future__ import annotations

from typing import Any

_KINDS = {1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _tag(key: str, value: dict[str, Any]) -> dict[str, Any]:
    if "stringValue" in value:
        return {"key": key, "type": "string", "value": value["stringValue"]}
    if "boolValue" in value:
        return {"key": key, "type": "bool", "value": value["boolValue"]}
    if "intValue" in value:
        return {"key": key, "type": "int64", "value": int(value["intValue"])}
    if "doubleValue" in value:
        return {"key": key, "type": "float64", "value": float(value["doubleValue"])}
    if "bytesValue" in value:
        return {"key": key, "type": "binary", "value": value["bytesValue"]}
    import json

    return {"key": key, "type": "string", "value": json.dumps(value)}


def _tags(attributes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [_tag(a["key"], a.get("value", {})) for a in attributes]


def to_ui_model(traces_data: dict[str, Any]) -> dict[str, Any]:
    """The ``{"data": [trace...]}`` body of Jaeger's ``GET /api/traces/{id}`` for OTLP/JSON input."""
    traces: dict[str, dict[str, Any]] = {}
    for rs in traces_data.get("resourceSpans", []):
        resource = rs.get("resource", {}).get("attributes", [])
        service = next((a["value"].get("stringValue", "") for a in resource if a["key"] == "service.name"), "")
        process_tags = [t for t in _tags(resource) if t["key"] != "service.name"]
        for ss in rs.get("scopeSpans", []):
            scope = ss.get("scope", {}).get("name", "")
            for span in ss.get("spans", []):
                trace = traces.setdefault(
                    span["traceId"], {"traceID": span["traceId"], "spans": [], "processes": {}, "warnings": None}
                )
                pid = next(
                    (k for k, v in trace["processes"].items() if v == {"serviceName": service, "tags": process_tags}),
                    None,
                )
                if pid is None:
                    pid = f"p{len(trace['processes']) + 1}"
                    trace["processes"][pid] = {"serviceName": service, "tags": process_tags}
                tags = ([{"key": "otel.scope.name", "type": "string", "value": scope}] if scope else []) + _tags(
                    span.get("attributes", [])
                )
                kind = _KINDS.get(int(span.get("kind", 0)))
                if kind:
                    tags.append({"key": "span.kind", "type": "string", "value": kind})
                status = span.get("status", {})
                if int(status.get("code", 0)) == 2:
                    tags.append({"key": "error", "type": "bool", "value": True})
                refs = []
                if span.get("parentSpanId"):
                    refs.append({"refType": "CHILD_OF", "traceID": span["traceId"], "spanID": span["parentSpanId"]})
                refs += [
                    {"refType": "FOLLOWS_FROM", "traceID": link["traceId"], "spanID": link["spanId"]}
                    for link in span.get("links", [])
                ]
                start, end = int(span["startTimeUnixNano"]), int(span["endTimeUnixNano"])
                trace["spans"].append(
                    {
                        "traceID": span["traceId"],
                        "spanID": span["spanId"],
                        "operationName": span["name"],
                        "references": refs,
                        "startTime": start // 1000,
                        "duration": (end - start) // 1000,
                        "tags": tags,
                        "logs": [
                            {
                                "timestamp": int(e["timeUnixNano"]) // 1000,
                                "fields": [
                                    {"key": "event", "type": "string", "value": e.get("name", "")},
                                    *_tags(e.get("attributes", [])),
                                ],
                            }
                            for e in span.get("events", [])
                        ],
                        "processID": pid,
                        "warnings": None,
                    }
                )
    return {"data": list(traces.values()), "total": 0, "limit": 0, "offset": 0, "errors": None}
