"""``tfotel replay TRACE_ID`` with nothing else: the recorded entry point is started again.

A function (or an async method) decorated with ``@tracefork_otel.agent`` records its import path
and its arguments; replay imports it again, calls it with them, and serves every client it makes
and every module-level draw from the tape. The outcome it returns is compared with the recorded one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import replay_agents
import replay_decorated
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from replay_support import CliResult

import tracefork_otel
from tracefork_otel import semconv
from tracefork_otel.demo import MessagesEndpoint
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore

NOWHERE = "http://replay-entry.invalid"


@pytest.fixture
def recorded(
    spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Callable[[], Any]], tuple[str, Any]]]:
    """``recorded(call)``: run ``call`` (which calls a decorated agent) under ``instrument()`` against an echo
    endpoint, put the run's spans in the local store, and return its trace id."""
    tracefork_otel.instrument(local_store=False)

    def _record(call: Callable[[], Any]) -> str:
        with MessagesEndpoint(replay_agents.echo_policy) as endpoint:
            monkeypatch.setattr(replay_decorated, "BASE_URL", endpoint.base_url)
            outcome = call()
        monkeypatch.setattr(replay_decorated, "BASE_URL", NOWHERE)  # gone: only the tape can answer now
        assert tracefork_otel.shutdown()
        finished = spans.get_finished_spans()
        (root,) = [s for s in finished if s.attributes and s.attributes.get(semconv.ENTRY_KIND) == "function"]
        trace_id = format(root.context.trace_id, "032x")
        exporter = LocalSpanExporter(SpanStore.default())
        try:
            run = [s for s in finished if s.context and s.context.trace_id == root.context.trace_id]
            assert exporter.export(run) == SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
        return trace_id, outcome

    try:
        yield _record
    finally:
        tracefork_otel.uninstrument()


def test_a_decorated_function_replays_with_no_agent_given(
    recorded: Callable[[Callable[[], Any]], tuple[str, Any]], tfotel: Callable[..., CliResult]
) -> None:
    trace_id, outcome = recorded(lambda: replay_decorated.triage("where is my order?", urgent=True))

    replayed = tfotel("replay", trace_id, "--json")
    assert replayed.code == 0, replayed.out + replayed.err
    doc = json.loads(replayed.out)
    assert doc["bit_exact"] is True and doc["replayed"] == 1 and doc["draws"] == 1
    assert doc["outcome"] == outcome  # the recorded arguments, the recorded draw, the recorded answer
    assert tfotel("verify", trace_id).out == f"ok {trace_id}: 1 steps bit-exact\n"


def test_a_changed_return_value_is_a_changed_outcome(
    recorded: Callable[[Callable[[], Any]], tuple[str, Any]],
    tfotel: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trace_id, _ = recorded(lambda: replay_decorated.triage("refund please"))
    monkeypatch.setattr(replay_decorated, "EXTRA", {"escalated": True})

    verified = tfotel("verify", trace_id)

    assert verified.code == 1
    assert verified.out.startswith(f"DRIFT {trace_id}: the agent returned ")
    assert '"escalated": true' in verified.out and "; the recording returned {" in verified.out


def test_a_decorated_async_method_replays_with_no_agent_given(
    recorded: Callable[[Callable[[], Any]], tuple[str, Any]], tfotel: Callable[..., CliResult]
) -> None:
    trace_id, _ = recorded(lambda: asyncio.run(replay_decorated.Desk().handle("hello desk")))

    replayed = tfotel("replay", trace_id)

    assert replayed.code == 0, replayed.out + replayed.err
    assert f"replay {trace_id}: bit-exact" in replayed.out and "2/2 replayed" in replayed.out


def test_a_run_without_a_replayable_entry_point_says_what_to_give(
    record: Callable[..., Any], local_store: Callable[[Any], None], tfotel: Callable[..., CliResult]
) -> None:
    recording = record(replay_agents.single)  # a record_run block
    local_store(recording)
    line = tfotel("replay", recording.trace_id).only_error_line()
    assert line == (
        f"tfotel: error: run {recording.trace_id} cannot be started again from its trace (the run was recorded"
        " by a record_run block, which records no entry point); give --agent module:function (called as"
        " fn(client, nondet))"
    )


def test_a_trace_that_holds_one_call_of_a_larger_run_says_so(
    spans: InMemorySpanExporter, tfotel: Callable[..., CliResult]
) -> None:
    from opentelemetry import trace
    from trace_support import sdk_client

    from tracefork_otel.replay import rebuild_tape
    from tracefork_otel.spanstore import span_record_from_readable

    tracefork_otel.instrument(local_store=False)
    try:
        with MessagesEndpoint(replay_agents.echo_policy) as endpoint:
            client = sdk_client(endpoint.base_url)
            tracer = trace.get_tracer("my-app")
            with tracer.start_as_current_span("handle request") as first:  # each call in a trace of its own
                replay_agents.ask(client, "call 0")
            with tracer.start_as_current_span("handle request"):
                replay_agents.ask(client, "call 1")
        assert tracefork_otel.shutdown()
    finally:
        tracefork_otel.uninstrument()
    trace_id = format(first.get_span_context().trace_id, "032x")
    run = [s for s in spans.get_finished_spans() if s.context and format(s.context.trace_id, "032x") == trace_id]
    exporter = LocalSpanExporter(SpanStore.default())
    try:
        assert exporter.export(run) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    tape = rebuild_tape(trace_id, [span_record_from_readable(s) for s in run])
    assert tape.fragment and len(tape.exchanges) == 1

    line = tfotel("replay", trace_id, "--agent", "replay_agents:counted").error_line()
    assert line == (
        f"tfotel: error: trace {trace_id} holds 1 call(s) of a larger run, not a whole run, so it cannot be"
        " replayed alone: record the whole run with @tracefork_otel.agent on its entry function, or run it as"
        " `tfotel record -- python agent.py …`"
    )


def test_arguments_json_cannot_hold_make_replay_ask_for_an_agent(
    recorded: Callable[[Callable[[], Any]], tuple[str, Any]], tfotel: Callable[..., CliResult]
) -> None:
    trace_id, _ = recorded(lambda: replay_decorated.tagged({"refund", "urgent"}))

    line = tfotel("replay", trace_id).only_error_line()

    assert line.startswith(
        f"tfotel: error: run {trace_id} cannot be started again from its trace (inputs not captured: arguments"
        " are not JSON ("
    )
    assert line.endswith("); give --agent module:function (called as fn(client, nondet))")
