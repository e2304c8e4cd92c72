"""Span attributes read from the exact bytes of one Messages API exchange.

Runs on the background writer, never on the agent's thread: it parses JSON. Only
metadata becomes attributes (model, limits, ids, usage, finish reasons); message
content stays in the blob store unless the user opted in to content capture.
"""

from __future__ import annotations

import json

from tracefork_otel import semconv
from tracefork_otel.spanmodel import AttributeValue
from tracefork_otel.wire import CACHE_INPUT_KEYS, input_tokens, json_or_none, response_message

Attrs = dict[str, AttributeValue]


def request_attributes(body: bytes, *, capture_content: bool) -> Attrs:
    """``gen_ai.request.*`` from a request body (empty when it is not a JSON object)."""
    doc = json_or_none(body)
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


def response_attributes(body: bytes, *, stream: bool, capture_content: bool) -> Attrs:
    """``gen_ai.response.*`` and ``gen_ai.usage.*`` from a response body (JSON or SSE)."""
    doc = response_message(body, stream=stream)
    attrs: Attrs = {}
    if doc is None or doc.get("type") == "error":
        return attrs
    if isinstance(doc.get("id"), str):
        attrs[semconv.GEN_AI_RESPONSE_ID] = doc["id"]
    if isinstance(doc.get("model"), str):
        attrs[semconv.GEN_AI_RESPONSE_MODEL] = doc["model"]
    if isinstance(doc.get("stop_reason"), str):
        attrs[semconv.GEN_AI_RESPONSE_FINISH_REASONS] = [doc["stop_reason"]]
    usage = doc.get("usage")
    if isinstance(usage, dict):
        if (total_in := input_tokens(usage)) is not None:
            attrs[semconv.GEN_AI_USAGE_INPUT_TOKENS] = total_in
        if isinstance(usage.get("output_tokens"), int):
            attrs[semconv.GEN_AI_USAGE_OUTPUT_TOKENS] = usage["output_tokens"]
        cache_read, cache_creation = (usage.get(k) for k in CACHE_INPUT_KEYS)
        if isinstance(cache_read, int):
            attrs[semconv.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
        if isinstance(cache_creation, int):
            attrs[semconv.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_creation
    if capture_content and "content" in doc:
        attrs[semconv.GEN_AI_OUTPUT_MESSAGES] = json.dumps(doc["content"], ensure_ascii=False)
    return attrs
