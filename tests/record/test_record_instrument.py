"""``instrument()`` and ``opentelemetry-instrument``: plain Anthropic clients record with no code change."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from opentelemetry import trace
from trace_support import async_sdk_client, sdk_client

import tracefork_otel
from tracefork_otel import semconv
from tracefork_otel.blobstore import FsspecBlobStore, MemoryBlobStore
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.record import AnthropicRecordingInstrumentor
from tracefork_otel.record.transport import is_recording
from tracefork_otel.spanstore import SpanStore

MODEL = "claude-sonnet-4-6"


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message(f"reply to {request['messages'][-1]['content']}", request=request)


def ask(client: anthropic.Anthropic, text: str) -> str:
    reply = client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": text}])
    return reply.content[0].text


@pytest.fixture
def instrumented(tmp_path: Path) -> Iterator[MemoryBlobStore]:
    store = MemoryBlobStore(f"instrumented-{tmp_path.name}")
    tracefork_otel.instrument(blob_store=store)
    try:
        yield store
    finally:
        tracefork_otel.uninstrument()


@pytest.mark.parametrize("sdk_tracing", [False, True], ids=["full-span", "sdk-span"])
def test_clients_made_after_instrument_record_inside_the_users_spans(
    sdk_tracing: bool,
    instrumented: MemoryBlobStore,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
) -> None:
    endpoint = serve(policy)
    client = sdk_client(endpoint.base_url, open_telemetry=None if sdk_tracing else False)
    assert is_recording(client._client)
    tracer = trace.get_tracer("my-app")
    with tracer.start_as_current_span("my-agent") as first:
        assert ask(client, "one") == "reply to one"
        assert ask(client, "two") == "reply to two"
    with tracer.start_as_current_span("my-agent") as second:
        assert ask(client, "three") == "reply to three"
    assert tracefork_otel.shutdown()

    bodies = [r.body for r in endpoint.requests]
    for span, expected_steps, sent in ((first, [0, 1], bodies[:2]), (second, [0], bodies[2:])):
        recorded = trace_of(format(span.get_span_context().trace_id, "032x"))
        exchanges = recorded.exchanges
        assert [s.attributes[semconv.STEP] for s in exchanges] == expected_steps  # numbered per trace
        assert recorded.root.name == "my-agent"
        for exchange, body in zip(exchanges, sent, strict=True):
            assert recorded.ancestors(exchange)[-1] is recorded.root
            assert instrumented.get(exchange.attributes[semconv.REQUEST_SHA256]) == body
            assert instrumented.has(exchange.attributes[semconv.RESPONSE_SHA256])
            assert exchange.name == (semconv.SPAN_EXCHANGE if sdk_tracing else f"chat {MODEL}")


def test_calls_outside_any_span_are_one_run_of_the_process_sealed_by_shutdown(
    instrumented: MemoryBlobStore, serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], spans: Any
) -> None:
    endpoint = serve(policy)
    client = sdk_client(endpoint.base_url, open_telemetry=False)
    ask(client, "a")
    ask(client, "b")
    tracefork_otel.shutdown()
    ask(client, "c")  # after the seal: the next run of the process
    tracefork_otel.shutdown()
    chats = [s for s in spans.get_finished_spans() if semconv.STEP in (s.attributes or {})]
    first, second = {s.context.trace_id for s in chats[:2]}, {s.context.trace_id for s in chats[2:]}
    assert len(first) == 1 and len(second) == 1 and first != second
    recorded = trace_of(format(first.pop(), "032x"))
    assert [s.attributes[semconv.STEP] for s in recorded.exchanges] == [0, 1]
    script = Path(sys.argv[0])
    assert recorded.root.name == f"invoke_agent {script.parent.name if script.name == '__main__.py' else script.name}"
    assert recorded.root.attributes[semconv.ENTRY_KIND] == "process"
    assert list(recorded.root.attributes[semconv.ENTRY_COMMAND]) == list(sys.orig_argv)
    assert recorded.root.attributes[semconv.RUN_EXCHANGES] == 2 and semconv.TAPE_DIGEST in recorded.root.attributes
    assert all(recorded.ancestors(exchange)[-1] is recorded.root for exchange in recorded.exchanges)


def test_uninstrument_stops_wrapping_new_clients(
    serve: Callable[..., MessagesEndpoint], spans: Any, tmp_path: Path
) -> None:
    endpoint = serve(policy)
    tracefork_otel.instrument(blob_store=MemoryBlobStore(tmp_path.name))
    tracefork_otel.instrument()  # idempotent
    before = sdk_client(endpoint.base_url, open_telemetry=False)
    tracefork_otel.uninstrument()
    after = sdk_client(endpoint.base_url, open_telemetry=False)
    async_after = async_sdk_client(endpoint.base_url, open_telemetry=False)
    assert is_recording(before._client)  # clients already made keep recording
    assert not is_recording(after._client)
    assert not is_recording(async_after._client)
    ask(after, "unrecorded")
    tracefork_otel.shutdown()
    assert not any(semconv.STEP in (s.attributes or {}) for s in spans.get_finished_spans())


def test_the_instrumentor_entry_point() -> None:
    found = {ep.name: ep for ep in importlib.metadata.entry_points(group="opentelemetry_instrumentor")}
    assert "tracefork_anthropic" in found
    assert found["tracefork_anthropic"].load() is AnthropicRecordingInstrumentor
    assert "anthropic >= 1.14" in AnthropicRecordingInstrumentor().instrumentation_dependencies()


SCRIPT = textwrap.dedent(
    """
    import json, os, time

    import anthropic
    from opentelemetry import trace
    from tracefork_otel.blobstore import FsspecBlobStore
    from tracefork_otel.demo import MessagesEndpoint, message
    from tracefork_otel.record import config as record_config
    from tracefork_otel.record.transport import is_recording


    class SlowStore:
        \"\"\"Writes land a while after the agent moved on (an object store far away).\"\"\"

        def __init__(self, inner):
            self.inner = inner
            self.url = inner.url

        def put(self, data, *, bases=()):
            time.sleep(0.2)
            return self.inner.put(data, bases=bases)

        def get(self, digest):
            return self.inner.get(digest)

        def has(self, digest):
            return self.inner.has(digest)

        def uri(self, digest):
            return self.inner.uri(digest)


    def ask(client, text):
        client.messages.create(model="claude-sonnet-4-6", max_tokens=16, messages=[{"role": "user", "content": text}])


    tracer = trace.get_tracer("script")
    with MessagesEndpoint(lambda r: message("ok " + r["messages"][-1]["content"], request=r)) as endpoint:
        client = anthropic.Anthropic(base_url=endpoint.base_url, api_key="sk-ant-test")  # no code change
        with tracer.start_as_current_span("script-agent") as plain:
            ask(client, "one")
            ask(client, "two")
        # The last run's blob writes are still queued when the script ends: exit must wait for them.
        slow = SlowStore(FsspecBlobStore(os.path.join(os.environ["TFOTEL_HOME"], "blobs")))
        record_config.set_config(record_config.RecordConfig(blob_store=slow))
        with tracer.start_as_current_span("slow-agent") as late:
            ask(client, "three")
            ask(client, "four")
        ids = [format(s.get_span_context().trace_id, "032x") for s in (plain, late)]
        print(json.dumps({"trace_ids": ids, "recording": is_recording(client._client),
                          "bodies": [r.body.decode() for r in endpoint.requests]}))
    """
)


@pytest.mark.subprocess
def test_opentelemetry_instrument_records_a_plain_script(
    tmp_path: Path, child_env: Callable[..., dict[str, str]]
) -> None:
    launcher = Path(sys.executable).parent / "opentelemetry-instrument"
    fallback = [sys.executable, "-m", "opentelemetry.instrumentation.auto_instrumentation"]
    command = [str(launcher)] if launcher.exists() else fallback
    script = tmp_path / "agent.py"
    script.write_text(SCRIPT)
    home = tmp_path / "home"
    env = child_env(
        home,
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        OTEL_SERVICE_NAME="instrumented-script",
    )
    child = subprocess.run(
        [*command, sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["recording"] is True

    store = SpanStore(home / "spans.sqlite3")
    runs = {run.trace_id: run for run in store.list_runs()}
    blobs = FsspecBlobStore(str(home / "blobs"))
    bodies = iter(body.encode() for body in result["bodies"])
    for trace_id in result["trace_ids"]:
        assert runs[trace_id].exchanges == 2
        spans = store.get_trace(trace_id)
        exchanges = sorted((s for s in spans if semconv.STEP in s.attributes), key=lambda s: s.attributes[semconv.STEP])
        assert [s.attributes[semconv.STEP] for s in exchanges] == [0, 1]
        for span in exchanges:
            assert blobs.get(span.attributes[semconv.REQUEST_SHA256]) == next(bodies)
            assert blobs.has(span.attributes[semconv.RESPONSE_SHA256])
            assert span.resource.get("service.name") == "instrumented-script"
    store.close()


def test_instrument_sends_spans_to_the_tracer_provider_it_is_given(
    tmp_path: Path, serve: Callable[..., MessagesEndpoint]
) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tracefork_otel.record import config as record_config

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = MemoryBlobStore(f"own-provider-{tmp_path.name}")
    endpoint = serve(policy)
    tracefork_otel.instrument(blob_store=store, tracer_provider=provider, local_store=False)
    try:
        with tracefork_otel.record_run("own-provider") as run:
            client = anthropic.Anthropic(base_url=endpoint.base_url, api_key="sk-ant-test", open_telemetry=False)
            assert ask(client, "one") == "reply to one"
        assert tracefork_otel.shutdown()
    finally:
        tracefork_otel.uninstrument()
        record_config.set_config(None)
    spans = [s for s in exporter.get_finished_spans() if format(s.context.trace_id, "032x") == run.trace_id]
    names = sorted(s.name for s in spans)
    assert names == [f"chat {MODEL}", "invoke_agent own-provider"], names
    (chat,) = (s for s in spans if s.name.startswith("chat"))
    assert store.get(str(chat.attributes[semconv.REQUEST_SHA256])) == endpoint.requests[0].body
