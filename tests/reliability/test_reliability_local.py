"""What tracefork serves stays on loopback, and what it fetches never carries credentials anywhere else.

``MessagesEndpoint`` (behind ``tfotel demo``) listens on 127.0.0.1 only. A trace backend
that redirects is not followed: a stand-in Tempo/Jaeger on 127.0.0.1 answers 30x to a
second server on another port, which must see no request and so no ``Authorization``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from reliability_support import one_error_line, turn_policy

from tracefork_otel.cli import cli
from tracefork_otel.demo import MessagesEndpoint

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SECRET = "Bearer tok-never-leaves-127.0.0.1"


def _non_loopback_address() -> str | None:
    """An address of this host that is not loopback, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: routing only, UDP connect sends nothing
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_the_messages_endpoint_listens_on_loopback_only() -> None:
    with MessagesEndpoint(turn_policy) as endpoint:
        server = endpoint._server
        assert server is not None
        host, port = server.socket.getsockname()[:2]
        assert host == "127.0.0.1"
        assert server.socket.family == socket.AF_INET
        assert endpoint.base_url == f"http://127.0.0.1:{port}"
        other = _non_loopback_address()
        if other is not None:  # the same port on this host's other address: nobody answers
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass


class Recorder:
    """What one stand-in server received: (method, path, Authorization) per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str | None]] = []


def _server(answer: Any) -> tuple[ThreadingHTTPServer, Recorder]:
    seen = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.requests.append((self.command, self.path, self.headers.get("Authorization")))
            status, headers, body = answer(self)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, seen


@pytest.fixture
def redirecting_backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, Recorder, Recorder]]:
    """A backend on 127.0.0.1 answering every path with a redirect to a second server on another port."""
    status = request.param
    elsewhere, other = _server(lambda handler: (200, {"content-type": "application/json"}, b'{"batches": []}'))
    target = f"http://127.0.0.1:{elsewhere.server_address[1]}"
    backend, first = _server(lambda handler: (status, {"location": f"{target}{handler.path}"}, b""))
    try:
        yield f"http://127.0.0.1:{backend.server_address[1]}", first, other
    finally:
        for server in (backend, elsewhere):
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("redirecting_backend", [302, 307, 308], indirect=True)
@pytest.mark.parametrize("kind", ["tempo", "jaeger"])
@pytest.mark.parametrize("command", ["show", "export"])
def test_a_redirecting_backend_is_not_followed(
    kind: str, command: str, redirecting_backend: tuple[str, Recorder, Recorder], tmp_path: Any
) -> None:
    url, first, other = redirecting_backend
    args = [command, TRACE_ID, "--source", f"{kind}:{url}", "--auth", SECRET]
    if command == "export":
        args += ["-o", str(tmp_path / "run.tftape")]
    result = CliRunner().invoke(cli, args, env={"TFOTEL_HOME": str(tmp_path / "home")})

    assert result.exit_code == 2, result.output
    line = one_error_line(result.stderr)
    assert "redirects are not followed" in line
    assert "tok-never-leaves" not in line
    assert first.requests and all(auth == SECRET for _, _, auth in first.requests)  # it did ask the backend
    assert other.requests == []  # and nothing, credentials or not, went to where it pointed
    assert not (tmp_path / "run.tftape").exists()
