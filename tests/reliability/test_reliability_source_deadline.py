"""``TFOTEL_SOURCE_TIMEOUT`` is a deadline for the whole request, not a timeout per read.

A real server on 127.0.0.1 trickles its answer (the status line, or the body) one byte
every 0.2 s for ~20 s, then sends garbage. At f8a9b07 no single read waited longer than
the 1 s timeout, so `tfotel show` waited for all of it and then complained about the
body; now it gives up at the deadline, saying so.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from cli_support import run_tfotel

pytestmark = pytest.mark.slow

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
GAP_S = 0.2
TRICKLED_BYTES = 100


def _serve(listener: socket.socket, trickle_headers: bool, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            body = b"{" * TRICKLED_BYTES
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            slow, fast = (head + body, b"") if trickle_headers else (body, head)
            try:
                conn.recv(65536)
                conn.sendall(fast)
                for i in range(len(slow)):
                    if stop.is_set():
                        return
                    conn.sendall(slow[i : i + 1])
                    time.sleep(GAP_S)
            except OSError:
                continue  # the client gave up


@pytest.fixture(params=[False, True], ids=["trickled-body", "trickled-headers"])
def trickling_tempo(request: pytest.FixtureRequest) -> Iterator[str]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    thread = threading.Thread(target=_serve, args=(listener, request.param, stop), daemon=True)
    thread.start()
    yield f"tempo:http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    listener.close()


def test_show_gives_up_at_the_deadline(
    trickling_tempo: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TFOTEL_SOURCE_TIMEOUT", "1")
    result = run_tfotel(monkeypatch, capsys, "show", TRACE_ID, "--source", trickling_tempo)
    assert result.only_error_line().endswith("timed out waiting for the answer")
