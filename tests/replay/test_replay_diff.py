"""``tfotel diff A B``: where two runs part, step by step, and how each ended; and ``fork``'s exit codes."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import replay_agents
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from replay_support import CliResult, Recording, trace_spans

from tracefork_otel.demo import DEMO_MODEL, DEMO_ORDER_ID, MessagesEndpoint, demo_policy, run
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore
from tracefork_otel.wire import dumps, message

Record = Callable[..., Recording]
DEMO = "tracefork_otel.demo.agent:run"
SMALL_REFUND = message(
    tool_use={"name": "issue_refund", "input": {"order_id": DEMO_ORDER_ID, "amount": 12.0}}, model=DEMO_MODEL
)


def _store_trace(spans: InMemorySpanExporter, trace_id: str) -> None:
    exporter = LocalSpanExporter(SpanStore.default())
    try:
        exporter.export(trace_spans(spans, trace_id))
    finally:
        exporter.shutdown()


def test_a_run_against_itself_is_identical(
    record: Record, local_store: Callable[[Recording], None], tfotel: Callable[..., CliResult]
) -> None:
    recording = record(run)
    local_store(recording)
    same = tfotel("diff", recording.trace_id, recording.trace_id)
    assert same.code == 0, same.err
    assert same.out.splitlines()[0] == (
        f"diff {recording.trace_id} {recording.trace_id}: identical: every exchange and the outcome"
    )
    assert [line.split()[2] for line in same.out.splitlines()[1:4]] == ["same"] * 3


def test_a_fork_parts_at_its_step_and_its_outcome_differs(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    spans: InMemorySpanExporter,
    tmp_path: Path,
) -> None:
    recording = record(run)
    local_store(recording)
    response = tmp_path / "small-refund.json"
    response.write_bytes(dumps(SMALL_REFUND))
    with MessagesEndpoint(demo_policy) as endpoint:
        forked = tfotel(
            "fork", recording.trace_id, "--step", "1", "--response", str(response),
            "--agent", DEMO, "--base-url", endpoint.base_url, "--json",
        )  # fmt: skip
    assert forked.code == 0, forked.err
    fork_id = json.loads(forked.out)["trace_id"]
    _store_trace(spans, fork_id)

    result = tfotel("diff", recording.trace_id, fork_id, "--json")

    assert result.code == 1
    doc = json.loads(result.out)
    assert (doc["identical"], doc["parts_at"], doc["b_forks_a_at"]) == (False, 1, 1)
    assert [s["status"] for s in doc["steps"]] == ["same", "response differs", "request differs"]
    assert {"path": "content[0].input.amount", "a": "129.99", "b": "12.0"} in doc["steps"][1]["differences"]
    assert any(d["path"].endswith("<json>.amount") for d in doc["steps"][2]["differences"])
    assert '"refunded": 12.0' in doc["outcome"]["b"]  # the fork records its outcome
    text = tfotel("diff", recording.trace_id, fork_id).out
    assert text.splitlines()[0] == f"diff {recording.trace_id} {fork_id}: they part at step 1 (B forks A at step 1)"


def test_two_runs_of_the_same_agent_part_where_their_draws_reach_a_request(
    record: Record, local_store: Callable[[Recording], None], tfotel: Callable[..., CliResult]
) -> None:
    first, second = (
        record(replay_agents.module_seam, policy=replay_agents.echo_policy),
        record(replay_agents.module_seam, policy=replay_agents.echo_policy),
    )
    local_store(first)
    local_store(second)

    doc = json.loads(tfotel("diff", first.trace_id, second.trace_id, "--json").out)

    assert doc["parts_at"] == 0 and doc["b_forks_a_at"] is None
    (step,) = doc["steps"]
    assert step["status"] == "request differs" and step["differences"][0]["path"].startswith("messages[0].content")


def test_a_fork_whose_prefix_diverges_exits_1_and_says_so(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = record(replay_agents.prompted, policy=replay_agents.echo_policy)
    local_store(recording)
    monkeypatch.setattr(replay_agents, "SYSTEM_DRIFT_AT", 0)
    with MessagesEndpoint(replay_agents.echo_policy) as endpoint:
        result = tfotel(
            "fork", recording.trace_id, "--step", "2", "--resample", "--agent", "replay_agents:prompted",
            "--base-url", endpoint.base_url,
        )  # fmt: skip
    assert result.code == 1
    assert "the prefix diverged, so this is no fork of the run: [TFO101] step 0" in result.err
