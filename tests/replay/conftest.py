"""Fixtures of the replay tests: record a run in-process, spy on what replay serves, run ``tfotel``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from cli_support import run_tfotel
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from replay_support import API_KEY, CliResult, Recording, Served, ServedLog, trace_spans
from trace_support import async_sdk_client, sdk_client

from tracefork_otel.agents import call_agent
from tracefork_otel.blobstore import FsspecBlobStore, open_blob_store
from tracefork_otel.demo import MessagesEndpoint, demo_policy
from tracefork_otel.demo.compression import Compression
from tracefork_otel.record import record_run
from tracefork_otel.replay import session as session_module
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore, span_record_from_readable


@pytest.fixture
def record(spans: InMemorySpanExporter, tmp_path: Path) -> Callable[..., Recording]:
    """Record ``agent`` (sync or async) against a fresh ``MessagesEndpoint`` and rebuild its tape from the spans."""

    def _record(
        agent: Callable[..., Any],
        *,
        policy: Callable[[dict[str, Any]], dict[str, Any]] = demo_policy,
        statuses: Iterable[int] | None = None,
        compression: Compression | None = None,
        name: str = "replay-test",
        raises: type[Exception] | None = None,
    ) -> Recording:
        """``raises``: the agent is expected to raise this (recorded as the run's outcome); the outcome is None."""
        outcome: Any = None
        with MessagesEndpoint(policy, statuses=statuses, compression=compression) as endpoint:
            try:
                with record_run(name) as run:
                    outcome = call_agent(
                        agent,
                        run.nondet,
                        sync_client=lambda: sdk_client(endpoint.base_url, run, api_key=API_KEY),
                        async_client=lambda: async_sdk_client(endpoint.base_url, run, api_key=API_KEY),
                    )
            except Exception as exc:
                if raises is None or not isinstance(exc, raises):
                    raise
        readable = trace_spans(spans, run.trace_id)
        records = [span_record_from_readable(s) for s in readable]
        store = open_blob_store()
        assert isinstance(store, FsspecBlobStore)
        tape = rebuild_tape(run.trace_id, records, store)
        return Recording(
            trace_id=run.trace_id,
            outcome=outcome,
            readable=readable,
            spans=records,
            tape=tape,
            requests=endpoint.requests,
            blob_root=Path(store.url),
        )

    return _record


@pytest.fixture
def local_store() -> Callable[[Recording], None]:
    """Put a recording's spans in the local span store under ``TFOTEL_HOME``, as ``LocalSpanExporter`` does."""

    def _store(recording: Recording) -> None:
        exporter = LocalSpanExporter(SpanStore.default())
        try:
            assert exporter.export(recording.readable) == SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()

    return _store


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> ServedLog:
    """Every response replay and fork transports serve, captured as the SDK receives it."""
    log = ServedLog()
    real = session_module.replay_transport

    def spy(*args: Any, **kwargs: Any) -> Any:
        transport = real(*args, **kwargs)
        sync_handle, async_handle = transport.handle_request, transport.handle_async_request

        def keep(request: Any, response: Any, body: bytes) -> Any:
            log.items.append(Served(request.content, response.status_code, dict(response.headers), body))
            response.stream = httpx2.ByteStream(body)
            return response

        def handle(request: Any) -> Any:
            response = sync_handle(request)
            return keep(request, response, b"".join(response.stream))

        async def ahandle(request: Any) -> Any:
            response = await async_handle(request)
            return keep(request, response, b"".join([chunk async for chunk in response.stream]))

        transport.handle_request = handle
        transport.handle_async_request = ahandle
        return transport

    monkeypatch.setattr(session_module, "replay_transport", spy)
    return log


@pytest.fixture
def tfotel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[..., CliResult]]:
    """Run the ``tfotel`` console entry point in-process: ``tfotel("replay", ID, ...) -> CliResult``."""

    def invoke(*args: str) -> CliResult:
        return run_tfotel(monkeypatch, capsys, *args)

    yield invoke
