"""Bit-exact means the run also ends the same way, and a partial recording is said to be partial.

A replay whose agent raises an exception the recording did not have (or returns where the
recording raised) is a changed outcome: ``replay`` and ``verify`` exit 1, also for a golden
``.tftape``. A run a crash cut off is refused with exit 2 (it is not drift); ``--allow-partial``
replays the steps it completed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import replay_agents
from replay_support import CliResult, Recording

from tracefork_otel import semconv
from tracefork_otel.demo import run
from tracefork_otel.errors import TapePartialError
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.replay.runner import replay_run

Record = Callable[..., Recording]
AGENT = "replay_agents:raising_after"
DEMO = "tracefork_otel.demo.agent:run"


def test_an_agent_that_now_raises_after_its_last_request_fails_replay_and_verify(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    recording = record(replay_agents.raising_after, policy=replay_agents.echo_policy)
    local_store(recording)
    golden = tmp_path / "golden.tftape"
    assert tfotel("export", recording.trace_id, "-o", str(golden)).code == 0
    assert tfotel("verify", str(golden), "--agent", AGENT).code == 0

    monkeypatch.setattr(replay_agents, "RAISE_AFTER", True)
    replayed = tfotel("replay", recording.trace_id, "--agent", AGENT)
    assert replayed.code == 1, replayed.out
    assert f"replay {recording.trace_id}: OUTCOME CHANGED" in replayed.out
    assert "2/2 replayed" in replayed.out  # every request matched: only the ending differs
    assert (
        "  outcome    the agent raised AgentFailed: the agent gave up after its last request;"
        " the recording did not raise" in replayed.out
    )
    for target in (recording.trace_id, str(golden)):
        verified = tfotel("verify", target, "--agent", AGENT)
        assert verified.code == 1
        assert verified.out.startswith(f"DRIFT {recording.trace_id}: the agent raised AgentFailed")
    doc = json.loads(tfotel("verify", str(golden), "--agent", AGENT, "--json").out)
    assert doc["bit_exact"] is False and doc["divergence"] is None
    assert doc["recorded_error_type"] is None and doc["outcome_difference"].startswith("the agent raised")


def test_a_recorded_exception_replays_bit_exact_and_its_absence_is_a_change(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(replay_agents, "RAISE_AFTER", True)
    recording = record(replay_agents.raising_after, policy=replay_agents.echo_policy, raises=replay_agents.AgentFailed)
    root = next(s for s in recording.spans if s.attributes.get(semconv.OUTCOME_STATUS))
    assert root.attributes[semconv.OUTCOME_ERROR_TYPE] == "AgentFailed"
    assert recording.tape.recorded_error_type == "AgentFailed"
    local_store(recording)

    same = tfotel("replay", recording.trace_id, "--agent", AGENT)
    assert same.code == 0, same.out
    assert "agent raised AgentFailed: the agent gave up after its last request (as the recording did)" in same.out

    monkeypatch.setattr(replay_agents, "RAISE_AFTER", False)
    changed = tfotel("verify", recording.trace_id, "--agent", AGENT)
    assert changed.code == 1
    assert changed.out == f"DRIFT {recording.trace_id}: the recording raised AgentFailed; the replayed agent returned\n"


def test_the_recorded_outcome_travels_in_an_exported_tape(
    record: Record, local_store: Callable[[Recording], None], tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    from tracefork_otel.transfer import read_bundle_file

    recording = record(replay_agents.raising_after, policy=replay_agents.echo_policy)
    local_store(recording)
    path = tmp_path / "run.tftape"
    assert tfotel("export", recording.trace_id, "-o", str(path)).code == 0
    tape, _ = read_bundle_file(path)
    assert tape.outcome is not None and (tape.outcome.status, tape.outcome.error_type) == ("ok", "")


def _cut_after(recording: Recording, steps: int) -> Recording:
    """The recording as a SIGKILL after ``steps`` steps leaves it: no root span (it never ended), no later steps."""
    kept = [
        s
        for s in recording.readable
        if s.parent is not None and int(s.attributes.get(semconv.STEP, 0)) < steps  # type: ignore[arg-type]
    ]
    return dataclasses.replace(recording, readable=kept)


def test_a_partial_recording_is_refused_as_partial_and_its_prefix_replays_when_asked(
    record: Record, local_store: Callable[[Recording], None], tfotel: Callable[..., CliResult]
) -> None:
    recording = record(run)
    assert len(recording.tape.exchanges) == 3 and recording.tape.draws  # the demo draws a refund id and a time
    cut = _cut_after(recording, 2)
    local_store(cut)

    for command in ("replay", "verify", "fork", "blame"):
        extra = {
            "fork": ["--step", "0", "--resample", "--base-url", "http://127.0.0.1:9"],
            "blame": ["--oracle", "tracefork_otel.demo.agent:oracle", "--yes", "--base-url", "http://127.0.0.1:9"],
        }.get(command, [])
        line = tfotel(command, recording.trace_id, "--agent", DEMO, *extra).only_error_line()
        assert line == (
            f"tfotel: error: run {recording.trace_id} is a partial recording (it stopped after 2 steps: a crash or a"
            " kill, not drift); replay its completed prefix with --allow-partial"
        )

    prefix = tfotel("replay", recording.trace_id, "--agent", DEMO, "--allow-partial")
    assert prefix.code == 0, prefix.out
    assert f"replay {recording.trace_id}: bit-exact (the completed prefix of a partial recording)" in prefix.out
    assert "2/2 replayed" in prefix.out
    doc = json.loads(tfotel("verify", recording.trace_id, "--agent", DEMO, "--allow-partial", "--json").out)
    assert (doc["bit_exact"], doc["partial"], doc["replayed"], doc["divergence"]) == (True, True, 2, None)


def test_a_partial_prefix_that_drifts_is_still_drift(record: Record, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = record(replay_agents.prompted, policy=replay_agents.echo_policy)
    kept = [s for s in recording.spans if s.parent_span_id is not None and int(s.attributes.get(semconv.STEP, 0)) < 2]
    tape = rebuild_tape(recording.trace_id, kept, recording.store())
    assert tape.partial
    with pytest.raises(TapePartialError):
        replay_run(tape, recording.store(), replay_agents.prompted)
    monkeypatch.setattr(replay_agents, "SYSTEM_DRIFT_AT", 1)
    receipt = replay_run(tape, recording.store(), replay_agents.prompted, allow_partial=True)
    assert not receipt.bit_exact
    assert receipt.divergence is not None and (receipt.divergence.code, receipt.divergence.step) == ("TFO101", 1)
