"""The live endpoint as a fork sees it: a conversation kept on the server is sent whole where it must be.

An agent on server-side message threads (the SDK's tool runner) sends only a delta and the id of
the message it continues. In a fork that id may be one the live endpoint never issued — a reply
served from the tape (the recording's server issued it, and the recording already continued it),
or a response the user spliced in — so the live endpoint would answer ``404 thread_not_found`` or
``400 thread_already_continued``, and every resampled fork of blame would continue the same
recorded message. `ThreadedLive` keeps the conversation the way the server would
(`tracefork_otel.threads.ThreadHistory`, seeded from the tape and the fork's override) and turns
such a continue into a ``create`` holding the whole history; a continue of a message the live
endpoint itself issued in this fork goes out as it is. Requests without a thread pass untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from tracefork_otel.replay.transport import CannedResponse, buffered
from tracefork_otel.tape.model import Tape
from tracefork_otel.threads import CREATE, THREAD_FIELD, ThreadHistory, continued_id, thread_of
from tracefork_otel.wire import dumps, json_or_none, looks_like_sse, response_message


def threaded_live(
    live: Any, tape: Tape, blobs: Mapping[str, bytes], *, fork_at: int, override: CannedResponse | str
) -> Any:
    """``live`` wrapped in a `ThreadedLive` when the tape's agent kept its conversation on the server, else ``live``."""
    history = ThreadHistory()
    threaded = False
    for ex in tape.exchanges[: fork_at + 1]:
        request = json_or_none(blobs.get(ex.request_sha256, b""))
        if not isinstance(request, dict) or thread_of(request) is None:
            continue
        threaded = True
        full = history.full_request(request)
        if full is None:
            continue
        if ex.step == fork_at:
            if isinstance(override, CannedResponse):
                reply = response_message(override.body, stream=looks_like_sse(override.body))
                if reply is not None:
                    history.remember(full, reply)
            break
        reply = response_message(blobs.get(ex.response_sha256, b""), stream=ex.stream)
        if reply is not None and ex.status_code == 200:
            history.remember(full, reply)
    return ThreadedLive(live, history) if threaded else live


class ThreadedLive:
    """Sends a continue of a message the live endpoint never issued as a whole ``create``; see the module
    docstring. Thread-safe. Reads each threaded response whole (to remember the reply), then hands it on."""

    def __init__(self, inner: Any, history: ThreadHistory) -> None:
        self.inner = inner
        self._history = history
        self._issued: set[str] = set()
        self._lock = threading.Lock()

    def _prepare(self, request: Any) -> tuple[Any, dict[str, Any] | None]:
        doc = json_or_none(request.content)
        if not isinstance(doc, dict) or thread_of(doc) is None:
            return request, None
        full = self._history.full_request(doc)
        previous = continued_id(doc)
        with self._lock:
            issued_here = previous is not None and previous in self._issued
        if full is None or previous is None or issued_here:
            return request, full
        headers = [(k, v) for k, v in request.headers.items() if k.lower() != "content-length"]
        body = dumps({**full, THREAD_FIELD: {"type": CREATE}})
        return type(request)(request.method, request.url, headers=headers, content=body), full

    def _remember(self, full: dict[str, Any], request: Any, response: Any, body: bytes) -> Any:
        stream = response.headers.get("content-type", "").startswith("text/event-stream")
        reply = response_message(body, stream=stream)
        if reply is not None and response.status_code == 200:
            self._history.remember(full, reply)
            with self._lock:
                self._issued.add(str(reply.get("id")))
        return buffered(response, body, request)

    def handle_request(self, request: Any) -> Any:
        request.read()
        sent, full = self._prepare(request)
        response = self.inner.handle_request(sent)
        if full is None:
            return response
        body = response.read()
        response.close()
        return self._remember(full, request, response, body)

    async def handle_async_request(self, request: Any) -> Any:
        await request.aread()
        sent, full = self._prepare(request)
        if not hasattr(self.inner, "handle_async_request"):
            response = self.inner.handle_request(sent)
            body = response.read() if full is not None else b""
        else:
            response = await self.inner.handle_async_request(sent)
            body = await response.aread() if full is not None else b""
        if full is None:
            return response
        if hasattr(response, "aclose"):
            await response.aclose()
        else:
            response.close()
        return self._remember(full, request, response, body)

    def close(self) -> None:
        if hasattr(self.inner, "close"):
            self.inner.close()

    async def aclose(self) -> None:
        if hasattr(self.inner, "aclose"):
            await self.inner.aclose()
