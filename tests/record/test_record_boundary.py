"""Run boundaries: ``@tracefork_otel.agent`` runs, their entry point and outcome, pre-``instrument()`` clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import record_boundary_agents as agents
from trace_support import sdk_client

import tracefork_otel
from tracefork_otel import semconv
from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.entrypoint import entry_point_of, outcome_of, parse_inputs, redact_argv


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message(f"reply to {request['messages'][-1]['content']}", request=request)


@pytest.fixture
def store(
    tmp_path: Path, serve: Callable[..., MessagesEndpoint], monkeypatch: pytest.MonkeyPatch
) -> Iterator[MemoryBlobStore]:
    endpoint = serve(policy)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", endpoint.base_url)
    blobs = MemoryBlobStore(f"boundary-{tmp_path.name}")
    tracefork_otel.instrument(blob_store=blobs)
    try:
        yield blobs
    finally:
        tracefork_otel.uninstrument()
        tracefork_otel.shutdown()


def runs_of(spans: Any) -> dict[str, Any]:
    """Root ``invoke_agent`` spans by trace id."""
    return {
        format(s.context.trace_id, "032x"): s
        for s in spans.get_finished_spans()
        if s.parent is None and s.name.startswith("invoke_agent")
    }


def test_a_decorated_function_is_one_run_with_its_entry_point_inputs_and_outcome(
    store: MemoryBlobStore, spans: Any, trace_of: Callable[[str], Any]
) -> None:
    assert agents.plain("hi", times=2) == {"answers": ["reply to hi", "reply to hi"]}
    ((trace_id, root),) = runs_of(spans).items()
    assert root.name == "invoke_agent plain"
    assert len(trace_of(trace_id).exchanges) == 2
    entry = entry_point_of(root.attributes)
    assert entry is not None and entry.function == "record_boundary_agents:plain" and not entry.method
    assert parse_inputs(store.get(entry.inputs_sha256)) == (["hi"], {"times": 2})
    outcome = outcome_of(root.attributes)
    assert outcome is not None and outcome.ok
    assert json.loads(store.get(outcome.sha256)) == {"status": "ok", "value": {"answers": ["reply to hi"] * 2}}


def test_an_async_function_and_a_named_run(store: MemoryBlobStore, spans: Any) -> None:
    assert asyncio.run(agents.asynchronous("yo")) == "reply to yo"
    (root,) = runs_of(spans).values()
    assert root.name == "invoke_agent named-desk"
    assert entry_point_of(root.attributes).function == "record_boundary_agents:asynchronous"  # type: ignore[union-attr]


def test_a_decorated_method_leaves_self_out_of_its_inputs(store: MemoryBlobStore, spans: Any) -> None:
    assert agents.Desk().answer("why") == "reply to why"
    (root,) = runs_of(spans).values()
    entry = entry_point_of(root.attributes)
    assert entry is not None and entry.function == "record_boundary_agents:Desk.answer" and entry.method
    assert parse_inputs(store.get(entry.inputs_sha256)) == (["why"], {})


def test_arguments_json_cannot_hold_mark_the_inputs_not_captured(store: MemoryBlobStore, spans: Any) -> None:
    agents.takes_anything({1, 2})
    (root,) = runs_of(spans).values()
    entry = entry_point_of(root.attributes)
    assert entry is not None and not entry.inputs_sha256
    assert "not JSON" in entry.inputs_not_captured and "set" in entry.inputs_not_captured
    assert entry.replayable is not None and entry.replayable.startswith("inputs not captured")


def test_an_exception_is_the_outcome_and_still_raises(store: MemoryBlobStore, spans: Any) -> None:
    with pytest.raises(LookupError):
        agents.failing("q")
    (root,) = runs_of(spans).values()
    outcome = outcome_of(root.attributes)
    assert outcome is not None and not outcome.ok and outcome.error_type == "LookupError"
    assert json.loads(store.get(outcome.sha256)) == {
        "status": "error",
        "type": "LookupError",
        "message": "no answer for q",
    }
    assert root.attributes[semconv.RUN_PARTIAL] is False  # an outcome, not a gap: the run replays (and raises)


def test_a_nested_decorated_call_is_part_of_the_outer_run(store: MemoryBlobStore, spans: Any) -> None:
    assert agents.outer("n") == ["reply to n", "reply to n!"]
    (root,) = runs_of(spans).values()
    assert root.name == "invoke_agent outer" and root.attributes[semconv.RUN_EXCHANGES] == 2


def test_a_client_made_before_instrument_records_from_its_first_call(
    serve: Callable[..., MessagesEndpoint], spans: Any, trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    endpoint = serve(policy)
    early = sdk_client(endpoint.base_url, open_telemetry=False)
    tracefork_otel.instrument(blob_store=MemoryBlobStore(f"early-{tmp_path.name}"))
    try:
        with tracefork_otel.record_run("early") as run:
            early.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    finally:
        tracefork_otel.uninstrument()
    assert len(trace_of(run.trace_id).exchanges) == 1


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["agent.py", "--api-key", "sk-ant-abcdefgh1234", "q"], ["agent.py", "--api-key", "[REDACTED]", "q"]),
        (["agent.py", "--token=abc"], ["agent.py", "--token=[REDACTED]"]),
        (["agent.py", "sk-ant-api03-abcdefghijk"], ["agent.py", "[REDACTED]"]),
        (["agent.py", "https://me:pw@example.test/x"], ["agent.py", "https://[REDACTED]@example.test/x"]),
        (["python", "tests/agents/programs/quickstart_loop.py", "What is 17 * 23?"], None),
    ],
)
def test_secret_looking_command_line_values_are_redacted(argv: list[str], expected: list[str] | None) -> None:
    assert list(redact_argv(argv)) == (expected or argv)
