"""Runs on server-side message threads (the SDK's tool runner): replayed, and self-contained in the report."""

from __future__ import annotations

from collections.abc import Callable

import replay_agents
from replay_support import Recording

from tracefork_otel.replay import replay_run
from tracefork_otel.report import build_report
from tracefork_otel.report.model import THREAD_NOTE


def test_a_tool_runner_run_replays_and_its_report_shows_each_continue_whole(record: Callable[..., Recording]) -> None:
    recording = record(replay_agents.tool_runner, policy=replay_agents.multiply_policy)
    assert recording.outcome == "The answer is 391."
    sent = [r.json() for r in recording.requests]
    assert [s["thread"]["type"] for s in sent] == ["create", "continue"]
    assert [m["role"] for m in sent[1]["messages"]] == ["user"]  # only the tool result went over the wire
    assert replay_run(recording.tape, recording.store(), replay_agents.tool_runner).bit_exact

    report = build_report(recording.trace_id, recording.spans, recording.store())

    first, second = (view.request for view in report.steps)
    assert first.note == "" and first.doc == sent[0]
    assert second.note == THREAD_NOTE
    assert [m["role"] for m in second.doc["messages"]] == ["user", "assistant", "user"]
    assert second.doc["tools"] == sent[0]["tools"] and second.doc["thread"] == sent[1]["thread"]
