"""Server-side message threads for the stand-in endpoint: the conversation kept on the server.

The SDK's tool runner (anthropic >= 2.15, beta ``message-threads-2026-08-12``) sends the
whole history once, with ``"thread": {"type": "create"}``, and then only what the server
lacks, with ``"thread": {"type": "continue", "previous_message_id": ID}``; on a continue
the server takes ``system`` and ``tools`` from the thread. `ThreadStore` plays that part
of the server: it turns each request into the full request the model answers, remembers
each reply under its id, and rejects what the real API rejects, with the same error JSON:
an unknown id (``404 thread_not_found``) and an id continued twice
(``400 thread_already_continued``), so the SDK's own recovery (resend the full history
under a new thread) runs as it would against the API.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass
from typing import Any, Final

THREAD_FIELD: Final = "thread"
THREAD_FIELDS_KEPT: Final = ("system", "tools")
"""Fields a continue takes from the thread (the SDK leaves them out of the request)."""


class ThreadRejected(Exception):
    """The request names a thread the server cannot continue."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, Any]:
        """Anthropic's error JSON, with ``error.details.error_code`` as the SDK reads it."""
        kind = "not_found_error" if self.status == 404 else "invalid_request_error"
        return {
            "type": "error",
            "error": {"type": kind, "message": self.message, "details": {"error_code": self.error_code}},
        }


@dataclass
class _Stored:
    request: dict[str, Any]
    """The full request the reply answered, with the reply appended to its messages."""
    continued: bool = False


class ThreadStore:
    """The threads an endpoint has served, by reply id. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, _Stored] = {}
        self._serial = itertools.count(1)

    def resolve(self, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The full request to answer (``thread`` removed) and whether it is threaded.

        Raises:
            ThreadRejected: an unknown ``previous_message_id``, or one continued before.
        """
        thread = request.get(THREAD_FIELD)
        if not isinstance(thread, dict):
            return request, False
        full = {k: v for k, v in request.items() if k != THREAD_FIELD}
        if thread.get("type") != "continue":
            return full, True
        previous = str(thread.get("previous_message_id", ""))
        with self._lock:
            stored = self._by_id.get(previous)
            if stored is None:
                raise ThreadRejected(404, "thread_not_found", f"No thread state for previous_message_id {previous}")
            if stored.continued:
                raise ThreadRejected(400, "thread_already_continued", f"Message {previous} has already been continued")
            stored.continued = True
            history = stored.request
        for field in THREAD_FIELDS_KEPT:
            if field in history:
                full[field] = history[field]
        full["messages"] = [*history["messages"], *(request.get("messages") or [])]
        return full, True

    def remember(self, full_request: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        """Keep the thread up to ``reply``; returns the reply under an id this server never issued before."""
        serial = next(self._serial)
        unique = hashlib.sha256(f"{reply.get('id')}:{serial}".encode()).hexdigest()[:24]
        reply = {**reply, "id": f"msg_{unique}"}
        assistant = {"role": "assistant", "content": reply.get("content") or []}
        stored = {**full_request, "messages": [*full_request.get("messages", []), assistant]}
        with self._lock:
            self._by_id[reply["id"]] = _Stored(stored)
        return reply
