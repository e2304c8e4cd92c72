"""One request or response body as the report shows it: parsed, reassembled, and bounded."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import BlobError
from tracefork_otel.wire import message_from_sse, sse_events

BODY_LIMIT: Final = 256 * 1024
"""Bytes of one body the report embeds; past it, the head is shown as text with a note."""


@dataclass(frozen=True)
class Body:
    """A body read from the blob store and made fit to embed.

    ``kind`` is ``json`` (``doc`` holds the parsed body), ``sse`` (``doc`` holds the Message
    reassembled from the stream and ``raw`` the events as sent), ``text`` (not JSON:
    ``raw`` holds it), ``empty``, or ``missing`` (the blob store could not give it:
    ``note`` says why).
    """

    sha256: str
    size: int
    kind: str
    doc: Any = None
    raw: str | None = None
    events: int = 0
    truncated: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "kind": self.kind,
            "doc": self.doc,
            "raw": self.raw,
            "events": self.events,
            "truncated": self.truncated,
            "note": self.note,
        }


def _kib(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


def _head(data: bytes, limit: int) -> str:
    # Cutting inside a UTF-8 sequence leaves at most one replacement character at the end.
    return data[:limit].decode("utf-8", "replace")


def _fits(doc: Any, limit: int) -> bool:
    return len(json.dumps(doc, ensure_ascii=False).encode()) <= limit


def body_from_bytes(data: bytes, *, sha256: str = "", stream: bool, limit: int = BODY_LIMIT) -> Body:
    """The ``Body`` for ``data``; a streamed body is reassembled with ``wire.message_from_sse``."""
    size = len(data)
    if not data:
        return Body(sha256, 0, "empty")
    over = size > limit
    cut = f"truncated: the body is {_kib(size)}, the first {_kib(limit)} are shown" if over else ""
    if stream:
        message = message_from_sse(data)
        note = cut
        if message is not None and not _fits(message, limit):
            message, note = (
                None,
                f"the reassembled Message is over {_kib(limit)}; see the raw events" + (f" ({cut})" if cut else ""),
            )
        return Body(
            sha256,
            size,
            "sse",
            doc=message,
            raw=_head(data, limit),
            events=sum(1 for _ in sse_events(data)),
            truncated=over,
            note=note or ("" if message is not None else "no Message could be reassembled from these events"),
        )
    if over:
        return Body(sha256, size, "text", raw=_head(data, limit), truncated=True, note=cut)
    try:
        return Body(sha256, size, "json", doc=json.loads(data))
    except (ValueError, UnicodeDecodeError):
        return Body(sha256, size, "text", raw=_head(data, limit), note="not JSON")


def read_body(store: BlobStore | None, sha256: str, *, stream: bool, limit: int = BODY_LIMIT) -> Body:
    """The body stored under ``sha256``, or a ``missing`` body saying why it cannot be shown."""
    if not sha256:
        return Body("", 0, "missing", note="the span names no blob for this body")
    if store is None:
        return Body(sha256, 0, "missing", note="no blob store given")
    try:
        data = store.get(sha256)
    except BlobError as exc:
        return Body(sha256, 0, "missing", note=str(exc))
    return body_from_bytes(data, sha256=sha256, stream=stream, limit=limit)
