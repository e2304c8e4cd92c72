"""Recording compressed responses: the decoded body is stored, the agent's stream is untouched, failures fail open.

The bit-exact round trip through the SDK for every coding is in tests/replay/test_replay_encoding.py;
this file holds what the recorder does on its own, for ``httpx`` and ``httpx2`` alike.
"""

from __future__ import annotations

import gzip
import importlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.contentcoding import CONTENT_ENCODING, ContentCoding
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.demo.compression import Compression
from tracefork_otel.errors import ContentDecodingError
from tracefork_otel.record import exchange as exchange_module
from tracefork_otel.record.transport import recording_transport
from tracefork_otel.wire import MESSAGES_PATH, dumps

MODEL = "claude-sonnet-4-6"
WAIT = 10.0  # generous upper bound for a loopback event; never reached when things work
QUESTION: list[anthropic.types.MessageParam] = [{"role": "user", "content": "Hello"}]
REQUEST = {"model": MODEL, "max_tokens": 50, "messages": QUESTION}
HTTP_MODULES = ["httpx", "httpx2"]


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message("A compressed hello from the stand-in gateway.", request=request)


def raw_answer(mod: Any, body: bytes) -> Callable[[Any], Any]:
    """A mock handler answering ``body`` as gzip-encoded JSON through a stream (so the client decodes it)."""

    class Raw(mod.SyncByteStream):  # type: ignore[misc, name-defined]
        def __iter__(self) -> Iterator[bytes]:
            yield body

    headers = {"content-type": "application/json", CONTENT_ENCODING: ContentCoding.GZIP}
    return lambda request: mod.Response(200, headers=headers, stream=Raw())


@pytest.mark.parametrize("module", HTTP_MODULES)
def test_zstd_through_a_plain_client_is_stored_decoded(
    module: str, serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    mod = importlib.import_module(module)
    endpoint = serve(policy, compression=Compression((ContentCoding.ZSTD,), ignore_accept_encoding=True))
    with record_run("zstd", blob_store=str(tmp_path / "blobs")) as run:
        client = mod.Client(transport=recording_transport(mod.HTTPTransport()))
        response = client.post(endpoint.base_url + MESSAGES_PATH, json=REQUEST)
        client.close()

    assert response.headers[CONTENT_ENCODING] == ContentCoding.ZSTD
    (span,) = trace_of(run.trace_id).exchanges
    stored = FsspecBlobStore(str(tmp_path / "blobs")).get(span.attributes[semconv.RESPONSE_SHA256])
    assert stored == response.content == dumps(policy(endpoint.requests[0].json()))


@pytest.mark.parametrize("module", HTTP_MODULES)
def test_a_body_that_does_not_decode_is_a_recording_error_not_the_agents(
    module: str, trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    mod = importlib.import_module(module)
    with record_run("corrupt", blob_store=str(tmp_path / "blobs")) as run:
        client = mod.Client(transport=recording_transport(mod.MockTransport(raw_answer(mod, b"\x1f\x8bnot gzip"))))
        with pytest.raises(mod.DecodingError):  # the client's own verdict, as without recording
            client.post("http://127.0.0.1:9" + MESSAGES_PATH, json=REQUEST)

    (span,) = trace_of(run.trace_id).exchanges
    assert span.attributes[semconv.RECORD_ERROR].startswith("response body not decoded: gzip: ")
    assert semconv.RESPONSE_SHA256 not in span.attributes  # nothing that is not what the client parsed is kept


BOMB = gzip.compress(b" " * (8 << 20))  # 8 MiB of JSON whitespace in ~8 KiB
SMALL_CAP = 1 << 20


def test_a_decompression_bomb_is_refused_at_the_cap_and_the_agent_still_gets_it(
    trace_of: Callable[[str], Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    monkeypatch.setattr(exchange_module, "MAX_BLOB_BYTES", SMALL_CAP)
    with record_run("bomb", blob_store=str(tmp_path / "blobs")) as run:
        client = httpx2.Client(transport=recording_transport(httpx2.MockTransport(raw_answer(httpx2, BOMB))))
        response = client.post("http://127.0.0.1:9" + MESSAGES_PATH, json=REQUEST)

    assert len(response.content) == 8 << 20
    (span,) = trace_of(run.trace_id).exchanges
    assert span.attributes[semconv.RECORD_ERROR] == (
        f"response body not decoded: gzip: the body expands to more than {SMALL_CAP} bytes"
    )


def test_strict_mode_raises_a_body_the_recorder_cannot_keep_into_the_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx2

    monkeypatch.setattr(exchange_module, "MAX_BLOB_BYTES", SMALL_CAP)
    with record_run("strict", blob_store=str(tmp_path / "blobs"), strict=True):
        client = httpx2.Client(transport=recording_transport(httpx2.MockTransport(raw_answer(httpx2, BOMB))))
        with pytest.raises(ContentDecodingError, match="expands to more than"):
            client.post("http://127.0.0.1:9" + MESSAGES_PATH, json=REQUEST)


def test_a_compressed_stream_still_reaches_the_agent_event_by_event(
    serve: Callable[..., MessagesEndpoint], tmp_path: Path
) -> None:
    hold = threading.Event()
    endpoint = serve(policy, hold_after_first_event=hold, compression=Compression((ContentCoding.GZIP,)))
    saw_start = threading.Event()
    kinds: list[str] = []

    with record_run("stream", blob_store=str(tmp_path / "blobs")) as run:
        client = anthropic.Anthropic(
            base_url=endpoint.base_url,
            api_key="sk-ant-test",
            http_client=run.http_client(trust_env=False),
            open_telemetry=False,
        )

        def agent() -> None:
            with client.messages.create(model=MODEL, max_tokens=50, messages=QUESTION, stream=True) as events:
                for event in events:
                    kinds.append(event.type)
                    saw_start.set()

        thread = threading.Thread(target=agent)
        thread.start()
        try:
            arrived = saw_start.wait(WAIT)
            held = not hold.is_set()
        finally:
            hold.set()
            thread.join(WAIT)
        client.close()

    assert arrived and held, "message_start did not reach the agent before the rest of the gzip stream was sent"
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
