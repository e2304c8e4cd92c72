"""The Messages API wire format: deterministic JSON, Message bodies, and their SSE event stream.

Shared by everything that speaks the API without being the SDK: the in-process
stand-in endpoint, forks that splice a response in, the fault library, and the
recorder's span attributes (which read a Message back out of an SSE body).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

DEFAULT_MODEL: Final = "claude-sonnet-4-6"

ERROR_TYPES: Final[Mapping[int, str]] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
"""Anthropic's ``error.type`` for each HTTP status (others map to ``api_error``)."""

_PIECES: Final = 3  # deltas per content block; more than one, so clients must accumulate


MESSAGES_PATH: Final = "/v1/messages"
"""The one endpoint whose calls are model steps; every other call (``count_tokens``, models, batches, files) is
recorded and replayed but is not a step: never resampled, never ranked."""


def api_path(path: str) -> str:
    """A request path without the base URL's own prefix (``/proxy/v1/messages`` → ``/v1/messages``), no query."""
    path = path.split("?", 1)[0]
    index = path.find("/v1/")
    return path[index:] if index >= 0 else path


def is_model_call(method: str, path: str) -> bool:
    """Whether a request is a model step (``POST /v1/messages``), not an auxiliary call."""
    return method.upper() == "POST" and api_path(path) == MESSAGES_PATH


def dumps(obj: object) -> bytes:
    """Serialise JSON deterministically: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def estimate_tokens(obj: object) -> int:
    """A deterministic token count for ``obj``: a quarter of its serialised size, at least 1."""
    return max(1, len(dumps(obj)) // 4)


def error_body(status: int, text: str) -> dict[str, Any]:
    """Anthropic's error JSON for an HTTP status, e.g. 529 → ``overloaded_error``."""
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": text}}


def _digest(obj: object) -> str:
    return hashlib.sha256(dumps(obj)).hexdigest()[:24]


def message(
    text: str | None = None,
    tool_use: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    *,
    stop_reason: str | None = None,
    model: str | None = None,
    usage: Mapping[str, int] | None = None,
    request: Mapping[str, Any] | None = None,
    message_id: str | None = None,
) -> dict[str, Any]:
    """Build an Anthropic Message dict for a policy to return.

    Args:
        text: Text of a leading ``text`` block, if any.
        tool_use: One or more ``{"name": ..., "input": {...}}`` (optionally ``"id"``) to
            add as ``tool_use`` blocks.
        stop_reason: Defaults to ``tool_use`` when there are tool calls, else ``end_turn``.
        model: Defaults to the request's model, else `DEFAULT_MODEL`.
        usage: Defaults to token counts estimated from the request and the content.
        request: The request being answered; ids, usage and model derive from it, so one
            request always gets the same bytes back.
        message_id: Overrides the derived ``msg_…`` id.

    Returns:
        A dict in the shape of the API's non-streaming response body.
    """
    uses = [tool_use] if isinstance(tool_use, Mapping) else list(tool_use or ())
    seed = {"request": request, "text": text, "tool_use": [dict(use) for use in uses]}
    content: list[dict[str, Any]] = [] if text is None else [{"type": "text", "text": text}]
    for index, use in enumerate(uses):
        tool_id = use.get("id") or f"toolu_{_digest([seed, index])}"
        content.append({"type": "tool_use", "id": tool_id, "name": use["name"], "input": dict(use["input"])})
    return {
        "id": message_id or f"msg_{_digest(seed)}",
        "type": "message",
        "role": "assistant",
        "model": model or str((request or {}).get("model") or DEFAULT_MODEL),
        "content": content,
        "stop_reason": stop_reason or ("tool_use" if uses else "end_turn"),
        "stop_sequence": None,
        "usage": dict(usage)
        if usage is not None
        else {
            "input_tokens": estimate_tokens(request) if request is not None else 0,
            "output_tokens": estimate_tokens(content),
        },
    }


def _pieces(text: str) -> list[str]:
    size = max(1, -(-len(text) // _PIECES))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def _block_start(block: Mapping[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    if kind == "text":
        return {**block, "text": ""}
    if kind == "tool_use":
        return {**block, "input": {}}
    if kind == "thinking":
        return {**block, "thinking": "", "signature": ""}
    return dict(block)


def _block_deltas(block: Mapping[str, Any]) -> list[dict[str, Any]]:
    kind = block.get("type")
    if kind == "text":
        return [{"type": "text_delta", "text": piece} for piece in _pieces(str(block.get("text", "")))]
    if kind == "tool_use":
        # The API opens every tool_use block with an empty partial_json.
        raw = dumps(block.get("input", {})).decode()
        return [{"type": "input_json_delta", "partial_json": p} for p in ["", *_pieces(raw)]]
    if kind == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": p} for p in _pieces(str(block.get("thinking", "")))]
        return [*deltas, {"type": "signature_delta", "signature": str(block.get("signature", ""))}]
    return []


def stream_events(msg: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The SSE events, as ``(name, data)`` pairs, that stream the Message ``msg``.

    ``message_start`` (empty content), then per block ``content_block_start``, its
    deltas and ``content_block_stop``, then ``message_delta`` and ``message_stop``.
    """
    usage = dict(msg.get("usage") or {})
    output_tokens = int(usage.get("output_tokens", 0))
    head = {
        **msg,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**usage, "output_tokens": min(1, output_tokens)},
    }
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": head})]
    for index, block in enumerate(msg.get("content") or ()):
        start = {"type": "content_block_start", "index": index, "content_block": _block_start(block)}
        events.append(("content_block_start", start))
        for delta in _block_deltas(block):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}))
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": msg.get("stop_reason"), "stop_sequence": msg.get("stop_sequence")}
    events.append(
        (
            "message_delta",
            {"type": "message_delta", "delta": delta, "usage": {"output_tokens": output_tokens}},
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def encode_event(name: str, data: object) -> bytes:
    """One SSE event on the wire: ``event: NAME\\ndata: JSON\\n\\n``."""
    return b"event: " + name.encode() + b"\ndata: " + dumps(data) + b"\n\n"


def sse_body(msg: Mapping[str, Any]) -> bytes:
    """The whole SSE body that streams the Message ``msg``."""
    return b"".join(encode_event(name, data) for name, data in stream_events(msg))


def json_or_none(data: bytes) -> Any:
    """``data`` parsed as JSON, or None when it is not JSON (or not UTF-8)."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None


def looks_like_sse(body: bytes) -> bool:
    """Whether ``body`` is an SSE stream (starts with an ``event:`` or ``data:`` line), not a JSON document."""
    return body.lstrip().startswith((b"event:", b"data:"))


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
            yield event, json_or_none(b"\n".join(payload))


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
        parsed = json_or_none("".join(pieces).encode())
        if index in blocks:
            blocks[index]["input"] = parsed if parsed is not None else {}
    message["content"] = [blocks[i] for i in sorted(blocks)]
    return message


def response_message(body: bytes, *, stream: bool) -> dict[str, Any] | None:
    """The Message a Messages API response body holds: parsed JSON, or reassembled from SSE; None if neither."""
    doc = message_from_sse(body) if stream else json_or_none(body)
    return doc if isinstance(doc, dict) else None


CACHE_INPUT_KEYS: Final = ("cache_read_input_tokens", "cache_creation_input_tokens")


def input_tokens(usage: Mapping[str, Any]) -> int | None:
    """Input tokens as the GenAI conventions count them: Anthropic's ``input_tokens`` plus cache reads and writes.

    Anthropic's ``input_tokens`` excludes cached tokens; spans, budgets and prices all use this
    one sum. None when the usage reports no input tokens at all.
    """
    counts = [v for k in ("input_tokens", *CACHE_INPUT_KEYS) if isinstance(v := usage.get(k), int)]
    return sum(counts) if counts else None
