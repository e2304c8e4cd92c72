"""Span attributes read from the exact bytes of one Messages API exchange.

Runs on the background writer, never on the agent's thread: it parses JSON. Only
metadata becomes attributes (model, limits, ids, usage, finish reasons); message
content stays in the blob store unless the user opted in to content capture.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tracefork_otel import semconv
from tracefork_otel.spanmodel import AttributeValue

Attrs = dict[str, AttributeValue]


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def request_attributes(body: bytes, *, capture_content: bool) -> Attrs:
    """``gen_ai.request.*`` from a request body (empty when it is not a JSON object)."""
    doc = _loads(body)
    attrs: Attrs = {}
    if not isinstance(doc, dict):
        return attrs
    if isinstance(doc.get("model"), str):
        attrs[semconv.GEN_AI_REQUEST_MODEL] = doc["model"]
    if isinstance(doc.get("max_tokens"), int):
        attrs[semconv.GEN_AI_REQUEST_MAX_TOKENS] = doc["max_tokens"]
    if isinstance(doc.get("temperature"), (int, float)) and not isinstance(doc.get("temperature"), bool):
        attrs[semconv.GEN_AI_REQUEST_TEMPERATURE] = float(doc["temperature"])
    if isinstance(doc.get("stream"), bool):
        attrs[semconv.GEN_AI_REQUEST_STREAM] = doc["stream"]
    if capture_content and "messages" in doc:
        attrs[semconv.GEN_AI_INPUT_MESSAGES] = json.dumps(doc["messages"], ensure_ascii=False)
    return attrs


def sse_events(data: bytes) -> Iterator[tuple[str, Any]]:
    """``(event, parsed data)`` for each complete event of an SSE body."""
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        event = ""
        payload: list[bytes] = []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                payload.append(line[5:].strip())
        if payload:
            yield event, _loads(b"\n".join(payload))


def message_from_sse(data: bytes) -> dict[str, Any] | None:
    """The Message an SSE body describes (id, model, stop_reason, usage, content), or None."""
    message: dict[str, Any] | None = None
    blocks: dict[int, dict[str, Any]] = {}
    partial_json: dict[int, list[str]] = {}
    for event, doc in sse_events(data):
        if not isinstance(doc, dict):
            continue
        kind = doc.get("type", event)
        if kind == "message_start" and isinstance(doc.get("message"), dict):
            message = dict(doc["message"])
            message["usage"] = dict(message.get("usage") or {})
        elif message is None:
            continue
        elif kind == "content_block_start" and isinstance(doc.get("content_block"), dict):
            blocks[int(doc.get("index", len(blocks)))] = dict(doc["content_block"])
        elif kind == "content_block_delta" and isinstance(doc.get("delta"), dict):
            block = blocks.get(int(doc.get("index", 0)))
            delta = doc["delta"]
            if block is None:
                continue
            if delta.get("type") == "text_delta":
                block["text"] = block.get("text", "") + str(delta.get("text", ""))
            elif delta.get("type") == "input_json_delta":
                partial_json.setdefault(int(doc.get("index", 0)), []).append(str(delta.get("partial_json", "")))
        elif kind == "message_delta":
            delta = doc.get("delta") or {}
            if isinstance(delta, dict) and "stop_reason" in delta:
                message["stop_reason"] = delta["stop_reason"]
            if isinstance(doc.get("usage"), dict):
                message["usage"].update(doc["usage"])
    if message is None:
        return None
    for index, pieces in partial_json.items():
        parsed = _loads("".join(pieces).encode())
        if index in blocks:
            blocks[index]["input"] = parsed if parsed is not None else {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


def response_attributes(body: bytes, *, stream: bool, capture_content: bool) -> Attrs:
    """``gen_ai.response.*`` and ``gen_ai.usage.*`` from a response body (JSON or SSE)."""
    doc = message_from_sse(body) if stream else _loads(body)
    attrs: Attrs = {}
    if not isinstance(doc, dict) or doc.get("type") == "error":
        return attrs
    if isinstance(doc.get("id"), str):
        attrs[semconv.GEN_AI_RESPONSE_ID] = doc["id"]
    if isinstance(doc.get("model"), str):
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = doc["model"]
    if isinstance(doc.get("stop_reason"), str):
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [doc["stop_reason"]]
    usage = doc.get("usage")
    if isinstance(usage, dict):
        # Anthropic's input_tokens excludes cached tokens; the convention's includes them.
        parts = [usage.get(k) for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")]
        if isinstance(parts[0], int):
            attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = sum(p for p in parts if isinstance(p, int))
        if isinstance(usage.get("output_tokens"), int):
            attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = usage["output_tokens"]
        if isinstance(parts[1], int):
            attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = parts[1]
        if isinstance(parts[2], int):
            attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = parts[2]
    if capture_content and "content" in doc:
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = json.dumps(doc["content"], ensure_ascii=False)
    return attrs
