"""Stand-ins for the trace backends a debug command reads from, served over real HTTP on 127.0.0.1.

``TraceBackend("tempo")`` answers Tempo's query API the way Tempo does: ``GET
/api/v2/traces/{id}`` as ``{"trace": {...}, "status": "COMPLETE"}`` in protobuf's
jsonpb style (base64 ids, enum names), ``GET /api/traces/{id}`` as ``{"batches":
[...]}``, and a plain-text 404 for an unknown trace. ``TraceBackend("jaeger")``
answers Jaeger's API v3: ``GET /api/v3/traces/{id}`` as ``{"result": {...}}`` (hex
ids, int enums) and ``{"error": {"httpCode": 404, ...}}`` for an unknown trace.
Any other path gets Go's ``404 page not found``.

``hang`` makes every answer wait for an event (set on ``stop``), for timeout tests
that never depend on how long anything takes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

from loopback import LoopbackServer

from tracefork_otel.sources import to_otlp_json
from tracefork_otel.spanmodel import SpanRecord

Flavor = Literal["tempo", "jaeger"]


class TraceBackend:
    """A Tempo- or Jaeger-shaped query API on an ephemeral loopback port. Thread-safe."""

    def __init__(
        self, flavor: Flavor, spans: Iterable[SpanRecord] = (), *, partial: bool = False, hang: bool = False
    ) -> None:
        self.flavor = flavor
        self.partial = partial
        self._traces: dict[str, list[SpanRecord]] = {}
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._hang = hang
        self.paths: list[str] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add(spans)

    def add(self, spans: Iterable[SpanRecord]) -> None:
        with self._lock:
            for span in spans:
                self._traces.setdefault(span.trace_id, []).append(span)

    @property
    def url(self) -> str:
        assert self._server is not None, "not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with backend._lock:
                    backend.paths.append(self.path)
                if backend._hang:
                    backend._release.wait(30)
                    self.close_connection = True  # the client gave up long ago: answer nothing
                    return
                status, content_type, body = backend._answer(self.path)
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = LoopbackServer(("127.0.0.1", 0), Handler)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _answer(self, path: str) -> tuple[int, str, bytes]:
        parts = path.split("?")[0].strip("/").split("/")
        route, trace_id = "/".join(parts[:-1]), parts[-1].lower()
        with self._lock:
            spans = list(self._traces.get(trace_id, ()))
        if self.flavor == "tempo" and route in ("api/v2/traces", "api/traces"):
            if not spans:
                return 404, "text/plain; charset=utf-8", b"trace not found\n"
            data = to_otlp_json(spans, id_encoding="base64", enum_style="name")
            if route == "api/traces":
                return 200, "application/json", _json({"batches": data["resourceSpans"]})
            return 200, "application/json", _json({"trace": data, "status": "PARTIAL" if self.partial else "COMPLETE"})
        if self.flavor == "jaeger" and route == "api/v3/traces":
            if not spans:
                return 404, "application/json", _json({"error": {"httpCode": 404, "message": "trace not found"}})
            return 200, "application/json", _json({"result": to_otlp_json(spans)})
        return 404, "text/plain; charset=utf-8", b"404 page not found\n"


def _json(doc: object) -> bytes:
    return json.dumps(doc).encode()
