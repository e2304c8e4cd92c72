"""A broken blob store never breaks the agent (unless strict): one warning, marked spans, a partial run."""

from __future__ import annotations

import errno
import logging
import subprocess
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anthropic
import pytest
from trace_support import sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import BlobStore, MemoryBlobStore
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.errors import BlobError

MODEL = "claude-sonnet-4-6"
CALLS = 4


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message(f"reply {len(request['messages'])}", request=request)


class FullDiskStore:
    """A blob store that takes ``capacity`` bytes, then fails every put with ENOSPC (no BlobError wrapping)."""

    def __init__(self, name: str, capacity: int) -> None:
        self._inner = MemoryBlobStore(name)
        self._left = capacity
        self._lock = threading.Lock()
        self.failed_puts = 0

    @property
    def url(self) -> str:
        return self._inner.url

    def put(self, data: bytes, *, bases: Sequence[str] = ()) -> str:
        with self._lock:
            if len(data) > self._left:
                self.failed_puts += 1
                raise OSError(errno.ENOSPC, "No space left on device")
            self._left -= len(data)
        return self._inner.put(data, bases=bases)

    def get(self, digest: str) -> bytes:
        return self._inner.get(digest)

    def has(self, digest: str) -> bool:
        return self._inner.has(digest)

    def uri(self, digest: str) -> str:
        return self._inner.uri(digest)


def run_agent(
    endpoint: MessagesEndpoint, store: BlobStore | str, *, strict: bool | None = None, stream: bool = False
) -> tuple[str, list[str]]:
    """``CALLS`` calls in one run; returns the trace id and the texts the agent got."""
    texts = []
    with (
        record_run("fail-open", blob_store=store, strict=strict) as run,
        sdk_client(endpoint.base_url, run, open_telemetry=False, max_retries=0) as client,
    ):
        messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": "hi"}]
        for _ in range(CALLS):
            if stream:
                with client.messages.stream(model=MODEL, max_tokens=32, messages=messages) as events:
                    reply = events.get_final_message()
            else:
                reply = client.messages.create(model=MODEL, max_tokens=32, messages=messages)
            texts.append(reply.content[0].text)
            messages = [*messages, {"role": "assistant", "content": texts[-1]}, {"role": "user", "content": "more"}]
    return run.trace_id, texts


def recording_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith("tracefork_otel") and r.levelno >= logging.WARNING]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_an_unwritable_store_is_logged_once_and_marked(
    stream: bool,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    (tmp_path / "f").write_text("a regular file where the store's folder should be")
    endpoint = serve(policy)
    caplog.set_level(logging.WARNING)
    trace_id, texts = run_agent(endpoint, str(tmp_path / "f" / "blobs"), stream=stream)

    assert texts == ["reply 1", "reply 3", "reply 5", "reply 7"]  # the agent noticed nothing
    warnings = recording_warnings(caplog)
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    assert "recording failed" in warnings[0].getMessage()
    trace = trace_of(trace_id)
    assert len(trace.exchanges) == CALLS
    for span in trace.exchanges:
        assert "BlobError" in span.attributes[semconv.RECORD_ERROR]
        assert span.attributes[semconv.RESPONSE_STATUS_CODE] == 200  # the exchange itself is still described
    assert trace.root.attributes[semconv.RUN_PARTIAL] is True
    assert trace.root.attributes[semconv.RECORD_ERROR]


def test_a_store_that_fills_up_mid_run(
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = serve(policy)
    store = FullDiskStore(f"full-{tmp_path.name}", capacity=1000)  # room for the first exchange or so
    caplog.set_level(logging.WARNING)
    trace_id, texts = run_agent(endpoint, store)

    assert len(texts) == CALLS
    assert store.failed_puts >= 2
    assert len(recording_warnings(caplog)) == 1
    exchanges = trace_of(trace_id).exchanges
    assert semconv.RECORD_ERROR not in exchanges[0].attributes
    assert store.has(exchanges[0].attributes[semconv.REQUEST_SHA256])
    failed = [s for s in exchanges if semconv.RECORD_ERROR in s.attributes]
    assert failed and all("No space left" in s.attributes[semconv.RECORD_ERROR] for s in failed)
    assert trace_of(trace_id).root.attributes[semconv.RUN_PARTIAL] is True


def test_strict_mode_raises_a_streamed_failure_into_the_agent(
    serve: Callable[..., MessagesEndpoint], tmp_path: Path
) -> None:
    (tmp_path / "f").write_text("not a folder")
    endpoint = serve(policy)
    with pytest.raises(BlobError, match="cannot write blob"):
        run_agent(endpoint, str(tmp_path / "f" / "blobs"), strict=True, stream=True)
    assert len(endpoint.requests) == 1


def test_strict_mode_raises_a_plain_call_failure_into_the_agent_unwrapped(
    serve: Callable[..., MessagesEndpoint], tmp_path: Path
) -> None:
    """The JSON body is read inside the SDK's ``send``: the BlobError still reaches the agent as itself, unretried."""
    (tmp_path / "f").write_text("not a folder")
    endpoint = serve(policy)
    with pytest.raises(BlobError) as caught:
        run_agent(endpoint, str(tmp_path / "f" / "blobs"), strict=True)
    assert not isinstance(caught.value, anthropic.APIConnectionError)
    assert len(endpoint.requests) == 1  # no retries of a request that was answered
    store = FullDiskStore(f"strict-{tmp_path.name}", capacity=0)
    with pytest.raises(BlobError) as caught:
        run_agent(endpoint, store, strict=True)
    assert isinstance(caught.value.__cause__, OSError)
    assert len(endpoint.requests) == 2


def test_strict_mode_from_the_environment(
    serve: Callable[..., MessagesEndpoint], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "f").write_text("not a folder")
    monkeypatch.setenv("TFOTEL_STRICT", "true")
    endpoint = serve(policy)
    with pytest.raises(BlobError):
        run_agent(endpoint, str(tmp_path / "f" / "blobs"), stream=True)


@pytest.mark.subprocess
def test_the_demo_completes_when_its_home_cannot_be_created(
    tmp_path: Path,
    child_env: Callable[..., dict[str, str]],
    tfotel: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    (tmp_path / "f").write_text("a regular file")
    result = tfotel("demo", env=child_env(tmp_path / "f" / "home"))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "recorded demo run" in result.stdout
    assert "tfotel: warning: the run was recorded but cannot be read back" in result.stderr
