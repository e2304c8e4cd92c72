"""Server-side message threads for the stand-in endpoint: the conversation kept on the server.

`ThreadStore` plays the part of the server that `tracefork_otel.threads.ThreadHistory` does not:
it issues each reply under an id of its own, and rejects what the real API rejects, with the
same error JSON: an unknown id (``404 thread_not_found``) and an id continued twice
(``400 thread_already_continued``), so the SDK's own recovery (resend the full history under a
new thread) runs as it would against the API.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from typing import Any

from tracefork_otel.errors import TraceforkError
from tracefork_otel.threads import ThreadHistory, continued_id, thread_of


class ThreadRejected(TraceforkError):
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


class ThreadStore:
    """The threads an endpoint has served, by reply id. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._history = ThreadHistory()
        self._continued: set[str] = set()
        self._serial = itertools.count(1)

    def resolve(self, request: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The full request to answer (``thread`` removed) and whether it is threaded.

        Raises:
            ThreadRejected: an unknown ``previous_message_id``, or one continued before.
        """
        if thread_of(request) is None:
            return request, False
        previous = continued_id(request)
        if previous is not None:
            with self._lock:
                if not self._history.knows(previous):
                    raise ThreadRejected(404, "thread_not_found", f"No thread state for previous_message_id {previous}")
                if previous in self._continued:
                    raise ThreadRejected(
                        400, "thread_already_continued", f"Message {previous} has already been continued"
                    )
                self._continued.add(previous)
        full = self._history.full_request(request)
        assert full is not None  # known, checked above
        return full, True

    def remember(self, full_request: dict[str, Any], reply: dict[str, Any]) -> dict[str, Any]:
        """Keep the thread up to ``reply``; returns the reply under an id this server never issued before."""
        serial = next(self._serial)
        unique = hashlib.sha256(f"{reply.get('id')}:{serial}".encode()).hexdigest()[:24]
        reply = {**reply, "id": f"msg_{unique}"}
        self._history.remember(full_request, reply)
        return reply
