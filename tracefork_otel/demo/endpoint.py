"""An in-process stand-in for Anthropic's Messages API, served over real HTTP on loopback.

`MessagesEndpoint` runs a `ThreadingHTTPServer` on ``127.0.0.1`` (an ephemeral port) in a
background thread and speaks the Messages API wire format, so the real ``anthropic`` SDK
talks to it unchanged::

    with MessagesEndpoint(policy) as endpoint:
        client = anthropic.Anthropic(base_url=endpoint.base_url, api_key="sk-test")
        client.messages.create(model=..., max_tokens=..., messages=[...])

A *policy* plays the model: it gets the parsed request JSON and returns a Message as a
dict (see `message`). A request with ``"stream": true`` gets the same Message as the SSE
event sequence the real API sends (`stream_events`), in HTTP/1.1 chunks flushed one event
at a time. Every body is serialised with sorted keys and no whitespace, so one policy
output is always the same bytes (before any ``compression``, which stands for a gateway
that compresses: a whole JSON body, or an SSE stream flushed event by event). A request
with a ``thread`` field (the SDK's server-side message threads) is answered from the full
conversation the server keeps (`ThreadStore`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit

from tracefork_otel.contentcoding import CONTENT_ENCODING
from tracefork_otel.demo.compression import BodyCompressor, Compression
from tracefork_otel.demo.threads import ThreadRejected, ThreadStore
from tracefork_otel.errors import ConfigError
from tracefork_otel.wire import (
    DEFAULT_MODEL,
    dumps,
    encode_event,
    error_body,
    estimate_tokens,
    stream_events,
)

logger = logging.getLogger(__name__)

Policy = Callable[[dict[str, Any]], dict[str, Any]]
"""Plays the model: parsed request JSON in, an Anthropic Message (as a dict) out."""

_RETRYABLE: Final = frozenset({408, 409, 429})
_HOLD_POLL_SECONDS: Final = 0.05

MESSAGES_PATH: Final = "/v1/messages"
COUNT_TOKENS_PATH: Final = "/v1/messages/count_tokens"
MODELS_PATH: Final = "/v1/models"


def _phrase(status: int) -> str:
    if status == 529:
        return "Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request as the endpoint received it."""

    path: str
    """The request target, query string included."""
    headers: dict[str, str]
    """Header names lowercased."""
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class MessagesEndpoint:
    """A Messages API server on ``127.0.0.1`` for the real SDK to talk to.

    Thread-safe: handlers run on daemon threads and `requests` may be read at any time.

    Args:
        policy: Answers each ``POST /v1/messages``; called on handler threads, possibly
            concurrently. If it raises, the client gets a 500 ``api_error``.
        chunk_delay: Seconds slept between SSE events.
        hold_after_first_event: When given, a streamed response flushes ``message_start``
            and then waits for this event before writing the rest.
        statuses: Forced HTTP statuses, consumed one per request before normal service,
            each answered with Anthropic's error JSON (529 → ``overloaded_error``).
        compression: When given, every response body is compressed so (see `Compression`).

    Raises:
        ConfigError: On a negative ``chunk_delay`` or a forced status outside 400-599.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        chunk_delay: float = 0.0,
        hold_after_first_event: threading.Event | None = None,
        statuses: Iterable[int] | None = None,
        compression: Compression | None = None,
    ) -> None:
        if chunk_delay < 0:
            raise ConfigError(f"chunk_delay must be >= 0, got {chunk_delay}")
        self.policy = policy
        self.chunk_delay = chunk_delay
        self.hold_after_first_event = hold_after_first_event
        self.compression = compression
        self._lock = threading.Lock()
        self._statuses: deque[int] = deque()
        self._requests: list[ReceivedRequest] = []
        self._request_ids = itertools.count(1)
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.threads = ThreadStore()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.force_statuses(*(statuses or ()))

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``, for ``anthropic.Anthropic(base_url=...)``."""
        if self._server is None:
            raise RuntimeError("MessagesEndpoint is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def force_statuses(self, *statuses: int) -> None:
        """Queue more forced HTTP statuses for the next requests."""
        for status in statuses:
            if not 400 <= status <= 599:
                raise ConfigError(f"forced status must be an HTTP error (400-599), got {status}")
        with self._lock:
            self._statuses.extend(statuses)

    def start(self) -> Self:
        """Bind an ephemeral loopback port and serve on a background thread."""
        if self._server is not None:
            raise RuntimeError("MessagesEndpoint is already started")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="messages-endpoint",
            daemon=True,
        )
        self._thread.start()
        logger.debug("messages endpoint serving at %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections (held streams end early) and join the thread."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # Called from handler threads.

    def _receive(self, request: ReceivedRequest) -> tuple[str, int | None]:
        with self._lock:
            self._requests.append(request)
            forced = self._statuses.popleft() if self._statuses else None
            return f"req_{next(self._request_ids):06d}", forced

    def _track(self, conn: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _hold(self) -> bool:
        """Wait for ``hold_after_first_event``; False if the endpoint stops first."""
        hold = self.hold_after_first_event
        while hold is not None and not hold.wait(_HOLD_POLL_SECONDS):
            if self._stopping.is_set():
                return False
        return True


def _model_list() -> dict[str, Any]:
    """``GET /v1/models``: the one model the stand-in plays."""
    model = {"type": "model", "id": DEFAULT_MODEL, "display_name": DEFAULT_MODEL, "created_at": "2025-01-01T00:00:00Z"}
    return {"data": [model], "has_more": False, "first_id": DEFAULT_MODEL, "last_id": DEFAULT_MODEL}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 resets connections when many clients start at once

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], endpoint: MessagesEndpoint
    ) -> None:
        self.endpoint = endpoint
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host with socket.getfqdn, a reverse DNS
        # lookup that can stall for seconds on a badly configured resolver.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("client %s dropped the connection", client_address)
        else:
            logger.exception("messages endpoint failed serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tracefork-demo"
    sys_version = ""

    @property
    def _endpoint(self) -> MessagesEndpoint:
        server = self.server
        assert isinstance(server, _Server)
        return server.endpoint

    def setup(self) -> None:
        super().setup()
        self._endpoint._track(self.connection, open_=True)

    def finish(self) -> None:
        self._endpoint._track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: no line per request on stderr."""

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer malformed HTTP with Anthropic's error JSON rather than an HTML page."""
        self.close_connection = True
        self._send_json(code, error_body(code, message or _phrase(code)), "req_000000")

    def do_POST(self) -> None:
        self._serve()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def _serve(self) -> None:
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        endpoint = self._endpoint
        request_id, forced = endpoint._receive(ReceivedRequest(self.path, headers, body))
        path = urlsplit(self.path).path
        if forced is not None:
            self._send_json(forced, error_body(forced, _phrase(forced)), request_id)
            return
        if path == MODELS_PATH and self.command == "GET":
            self._send_json(200, _model_list(), request_id)
            return
        if path not in (MESSAGES_PATH, COUNT_TOKENS_PATH):
            self._send_json(404, error_body(404, f"Not found: {path}"), request_id)
            return
        if self.command != "POST":
            self._send_json(405, error_body(405, f"Method {self.command} not allowed"), request_id)
            return
        try:
            request = json.loads(body)
        except ValueError as exc:
            self._send_json(400, error_body(400, f"Request body is not valid JSON: {exc}"), request_id)
            return
        if not isinstance(request, dict):
            self._send_json(400, error_body(400, "Request body must be a JSON object"), request_id)
            return
        if path == COUNT_TOKENS_PATH:
            self._send_json(200, {"input_tokens": estimate_tokens(request)}, request_id)
            return
        try:
            request, threaded = endpoint.threads.resolve(request)
        except ThreadRejected as rejected:
            self._send_json(rejected.status, rejected.body(), request_id)
            return
        try:
            reply = endpoint.policy(request)
        except Exception as exc:
            logger.exception("messages endpoint policy failed")
            self._send_json(500, error_body(500, f"Policy failed: {exc!r}"), request_id)
            return
        if threaded:
            reply = endpoint.threads.remember(request, reply)
        if request.get("stream") is True:
            self._send_stream(reply, request_id)
        else:
            self._send_json(200, reply, request_id)

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _compressor(self) -> BodyCompressor | None:
        """The compressor of this response, its ``content-encoding`` header sent; call after ``send_response``."""
        compression = self._endpoint.compression
        if compression is None or not compression.applies({k.lower(): v for k, v in self.headers.items()}):
            return None
        self.send_header(CONTENT_ENCODING, compression.header)
        return BodyCompressor(compression.codings)

    def _send_json(self, status: int, obj: object, request_id: str) -> None:
        data = dumps(obj)
        self.send_response(status, _phrase(status))
        self.send_header("content-type", "application/json")
        compressor = self._compressor()
        if compressor is not None:
            data = compressor.finish(data)
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", request_id)
        if status >= 400:
            retry = status in _RETRYABLE or status >= 500
            self.send_header("x-should-retry", "true" if retry else "false")
            if retry:
                self.send_header("retry-after", "0")
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _send_stream(self, reply: Mapping[str, Any], request_id: str) -> None:
        endpoint = self._endpoint
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.send_header("request-id", request_id)
        compressor = self._compressor()
        self.end_headers()
        for index, (name, data) in enumerate(stream_events(reply)):
            if index and endpoint.chunk_delay:
                time.sleep(endpoint.chunk_delay)
            event = encode_event(name, data)
            self._write_chunk(event if compressor is None else compressor.push(event))  # a flush is never empty
            if index == 0 and not endpoint._hold():
                self.close_connection = True  # stopped while held: end without the final chunk
                return
        if compressor is not None and (end := compressor.finish()):
            self._write_chunk(end)
        self._write_chunk(b"")

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
