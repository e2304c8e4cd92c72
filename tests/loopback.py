"""HTTP servers on 127.0.0.1 for the tests and the benchmark: the server class, an OTLP/HTTP trace receiver.

Plain code on the standard library and ``opentelemetry-proto`` only, so that ``bench``
can load this file by its path (``bench/otlp.py``) without the test suite on ``sys.path``.
"""

from __future__ import annotations

import gzip
import socketserver
import sys
import threading
import time
import zlib
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

TRACES_PATH = "/v1/traces"


class LoopbackServer(ThreadingHTTPServer):
    """A threading HTTP server for 127.0.0.1: no reverse DNS lookup on bind, quiet about clients that hang up."""

    daemon_threads = True
    block_on_close = False  # a handler still sleeping (a slow receiver) does not hold up close

    def server_bind(self) -> None:
        # HTTPServer.server_bind does a reverse DNS lookup (socket.getfqdn) that can stall.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up is no news
            super().handle_error(request, client_address)


class OtlpReceiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1 (a context manager; ``endpoint`` is its base URL). Thread-safe.

    It keeps the body of every protobuf ``POST /v1/traces`` (after a ``gzip`` or ``deflate``
    content encoding) and answers it with an empty ``ExportTraceServiceResponse`` after
    sleeping ``delay`` seconds (a slow collector); any other path or content type gets a 404.
    Bodies are parsed only when read (``requests``, ``spans``), so receiving costs little.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self._paths: list[str] = []
        self._bodies: list[bytes] = []
        self._lock = threading.Lock()
        self._server = LoopbackServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def endpoint(self) -> str:
        """The URL for ``OTEL_EXPORTER_OTLP_ENDPOINT`` (the exporter appends ``/v1/traces``)."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def paths(self) -> list[str]:
        """The path of every POST received, accepted or not."""
        with self._lock:
            return list(self._paths)

    @property
    def raw(self) -> list[bytes]:
        """The decoded protobuf body of every accepted export, in arrival order."""
        with self._lock:
            return list(self._bodies)

    @property
    def requests(self) -> list[ExportTraceServiceRequest]:
        """Every accepted export, parsed."""
        return [ExportTraceServiceRequest.FromString(body) for body in self.raw]

    @property
    def spans(self) -> list[Span]:
        """Every span received, in arrival order."""
        return [
            span
            for request in self.requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def _receive(self, path: str, content_type: str, body: bytes) -> bool:
        """Keep an export; False for one that is not OTLP/protobuf traces."""
        with self._lock:
            self._paths.append(path)
            if path != TRACES_PATH or not content_type.startswith("application/x-protobuf"):
                return False
            self._bodies.append(body)
        return True

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _handler(receiver: OtlpReceiver) -> type[BaseHTTPRequestHandler]:
    decoders = {"gzip": gzip.decompress, "deflate": zlib.decompress}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            decode = decoders.get((self.headers.get("content-encoding") or "").lower())
            if decode is not None:
                body = decode(body)
            if not receiver._receive(self.path, self.headers.get("content-type") or "", body):
                self.send_response(404)
                self.send_header("content-length", "0")
                self.end_headers()
                return
            time.sleep(receiver.delay)
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return Handler


def attributes(key_values: Iterable[KeyValue]) -> dict[str, Any]:
    """OTLP protobuf attributes (of a resource, span, event or link) as a dict of plain values, arrays as lists."""
    return {kv.key: _plain(kv.value) for kv in key_values}


def _plain(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_plain(v) for v in value.array_value.values]
    return getattr(value, kind) if kind else None
