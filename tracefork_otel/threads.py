"""Server-side message threads, as the Messages API defines them: a conversation kept on the server.

The SDK's tool runner (anthropic >= 2.15, beta ``message-threads-2026-08-12``) sends the whole
history once, with ``"thread": {"type": "create"}``, and then only what the server lacks, with
``"thread": {"type": "continue", "previous_message_id": ID}``; on a continue the server takes
``system`` and ``tools`` from the thread. `ThreadHistory` keeps what a server keeps: each reply's
full request (the reply appended), by reply id, so a continue can be turned back into the whole
request it stands for. The demo's stand-in server answers threads with it; a fork uses it to
send the live endpoint a whole ``create`` where the agent continues a message the live endpoint
never issued (one from the tape, or a reply the user spliced in).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final

THREAD_FIELD: Final = "thread"
THREAD_FIELDS_KEPT: Final = ("system", "tools")
"""Fields a continue takes from the thread (the SDK leaves them out of the request)."""
CREATE: Final = "create"
CONTINUE: Final = "continue"


def thread_of(request: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request's ``thread`` object, or None for an ordinary request."""
    thread = request.get(THREAD_FIELD)
    return thread if isinstance(thread, dict) else None


def continued_id(request: Mapping[str, Any]) -> str | None:
    """The message a threaded request continues, or None (a create, or not threaded)."""
    thread = thread_of(request)
    if thread is None or thread.get("type") != CONTINUE:
        return None
    return str(thread.get("previous_message_id", ""))


class ThreadHistory:
    """Full requests by reply id, as a thread-keeping server remembers them. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, dict[str, Any]] = {}

    def knows(self, message_id: str) -> bool:
        with self._lock:
            return message_id in self._by_id

    def full_request(self, request: Mapping[str, Any]) -> dict[str, Any] | None:
        """The whole request ``request`` stands for, ``thread`` removed: a continue with its history and the
        thread's ``system``/``tools`` put back. None when it continues a message this history does not know."""
        full = {k: v for k, v in request.items() if k != THREAD_FIELD}
        previous = continued_id(request)
        if previous is None:
            return full
        with self._lock:
            history = self._by_id.get(previous)
        if history is None:
            return None
        for field in THREAD_FIELDS_KEPT:
            if field in history:
                full[field] = history[field]
        full["messages"] = [*history["messages"], *(request.get("messages") or [])]
        return full

    def remember(self, full_request: Mapping[str, Any], reply: Mapping[str, Any]) -> None:
        """Keep the thread up to ``reply`` (a Message with an ``id``), the answer to ``full_request``."""
        message_id = reply.get("id")
        if not isinstance(message_id, str):
            return
        assistant = {"role": "assistant", "content": reply.get("content") or []}
        stored = {**full_request, "messages": [*full_request.get("messages", []), assistant]}
        with self._lock:
            self._by_id[message_id] = stored
