"""Scenario worlds: the recorded failed runs replay bit-exact, and brute-force V(i) finds exactly the planted causes."""

from __future__ import annotations

import functools
import json
import random
from concurrent.futures import ThreadPoolExecutor

import pytest

from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.errors import ConfigError
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.tape.model import Tape
from tracefork_otel.validate import (
    FAULTS,
    SCENARIOS,
    Mode,
    Scenario,
    agent_for,
    oracle_for,
    record_failed_run,
    sample_success,
    scenario,
    true_harm,
    true_values,
)
from tracefork_otel.validate.model import LedgerModel, assistant_turns
from tracefork_otel.validate.world import task_for
from tracefork_otel.wire import message_from_sse

SEED = 7
FORKS = 60


@functools.cache
def recorded(name: str) -> tuple[Tape, MemoryBlobStore]:
    return record_failed_run(scenario(name), SEED)


def test_the_scenario_set_covers_what_blame_must_get_right() -> None:
    names = [s.name for s in SCENARIOS]
    assert 10 <= len(SCENARIOS) <= 14 and len(set(names)) == len(names)
    planted = {name for s in SCENARIOS for name, _ in s.cause_steps.values()}
    assert planted == set(FAULTS), "each fault class is a planted cause somewhere"
    single = [s for s in SCENARIOS if s.mode is Mode.EXACT and 6 <= s.n_steps <= 10]
    positions = {min(s.causes) / (s.n_steps - 2) for s in single}
    assert min(positions) < 0.25 and max(positions) == 1.0 and any(0.3 < p < 0.7 for p in positions)
    assert {20, 50} <= {s.n_steps for s in SCENARIOS if len(s.causes) == 1}
    assert any(s.decoys and any(abs(d - c) == 1 for d in s.decoys for c in s.causes) for s in SCENARIOS)
    assert any(s.echoes and not s.echoes & s.causes for s in SCENARIOS)
    assert any(s.mode is Mode.CONJUNCTION and len(s.causes) == 2 for s in SCENARIOS)
    assert [s.name for s in SCENARIOS if not s.causes] == ["negative-control"]
    with pytest.raises(ConfigError, match="unknown scenario 'nope'; valid scenarios: early-corrupt-argument, "):
        scenario("nope")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_steps": 1}, "n_steps must be >= 2"),
        ({"cause_steps": {7: ("dropped_message", 0.3)}}, "must be operation steps 0..6"),
        ({"cause_steps": {2: ("melt", 0.3)}}, "unknown fault 'melt'"),
        ({"cause_steps": {2: ("dropped_message", 0.0)}}, r"q must be in \(0, 1\]"),
        ({"cause_steps": {2: ("dropped_message", 0.3)}, "decoy_steps": {2}}, "must not overlap"),
        ({"cause_steps": {2: ("dropped_message", 0.3)}, "echo_steps": {1: 2}}, "must follow the cause"),
        ({"mode": Mode.CONJUNCTION, "cause_steps": {2: ("dropped_message", 0.3)}}, "needs 2 cause"),
    ],
)
def test_inconsistent_scenarios_are_refused(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"n_steps": 8, "cause_steps": {1: ("dropped_message", 0.3)}, **kwargs}
    with pytest.raises(ConfigError, match=message):
        Scenario.build("bad", description="", **arguments)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_the_failed_run_fails_and_replays_bit_exact(name: str) -> None:
    s = scenario(name)
    tape, store = recorded(name)
    assert [ex.step for ex in tape.exchanges] == list(range(s.n_steps))
    assert any(ex.stream for ex in tape.exchanges) and not all(ex.stream for ex in tape.exchanges)
    receipt = replay_run(tape, store, agent_for(s))
    assert receipt.bit_exact, receipt.to_json()
    assert receipt.agent_error is None
    assert not oracle_for(s)(receipt.outcome)
    assert len(receipt.outcome["postings"]) + len(receipt.outcome["rejected"]) >= s.n_steps - 1


def test_recording_is_deterministic_per_seed() -> None:
    s = scenario("decoys-near-cause")
    first, _ = record_failed_run(s, 3)
    again, _ = record_failed_run(s, 3)
    other, _ = record_failed_run(s, 4)
    digests = [(ex.request_sha256, ex.response_sha256) for ex in first.exchanges]
    assert digests == [(ex.request_sha256, ex.response_sha256) for ex in again.exchanges]
    assert digests != [(ex.request_sha256, ex.response_sha256) for ex in other.exchanges]


def test_the_model_reads_its_step_from_the_request_not_a_counter() -> None:
    s = scenario("echo-downstream")
    tape, store = recorded(s.name)
    model = LedgerModel(task_for(s), random.Random(0))
    for step in (4, 1, 4, 0):
        request = json.loads(store.get(tape.exchanges[step].request_sha256))
        assert assistant_turns(request) == step
        (call,) = [b for b in model(request)["content"] if b["type"] == "tool_use"]
        assert call["input"]["index"] == step


def test_an_echo_repeats_the_wrong_amount_it_reads() -> None:
    s = scenario("echo-downstream")
    tape, store = recorded(s.name)
    (echo,) = s.echoes
    (source,) = s.causes
    body = store.get(tape.exchanges[source].response_sha256)
    response = message_from_sse(body) if tape.exchanges[source].stream else json.loads(body)
    assert response is not None
    (wrong,) = [b["input"]["amount"] for b in response["content"] if b["type"] == "tool_use"]
    posting = {p["step"]: p for p in replay_run(tape, store, agent_for(s)).outcome["postings"]}
    assert posting[echo]["cents"] == posting[source]["cents"] == round(wrong * 100)
    assert posting[echo]["cents"] != task_for(s).ops[echo].cents


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_forks_agree_with_the_planted_truth_at_a_glance(name: str) -> None:
    s = scenario(name)
    tape, store = recorded(name)
    values = true_values(s)
    after = max(s.causes, default=s.n_steps - 2) + 1
    assert values[after] == 0.0
    assert not any(sample_success(s, tape, store, after, seed) for seed in range(2))
    if s.causes:
        # V(first cause) > 0: some fresh sample of the cause succeeds.
        assert any(sample_success(s, tape, store, min(s.causes), seed) for seed in range(20))
    else:
        assert not any(sample_success(s, tape, store, 0, seed) for seed in range(5))
    assert sample_success(s, tape, store, s.n_steps, 0) is False, "V(n) is the recorded failure"


def test_concurrent_forks_match_sequential_ones() -> None:
    s = scenario("dropped-tool-call")
    tape, store = recorded(s.name)
    seeds = range(12)
    sequential = [sample_success(s, tape, store, 1, seed) for seed in seeds]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda seed: sample_success(s, tape, store, 1, seed), seeds))
    assert concurrent == sequential
    assert any(sequential) and not all(sequential)


@pytest.mark.slow
def test_brute_force_harm_is_one_minus_q_at_the_cause_and_zero_elsewhere() -> None:
    """V(i) from 60 forks per step: harm lands on the cause, never on the decoys or the echo."""
    s = scenario("echo-downstream")
    tape, store = recorded(s.name)
    (cause,) = s.causes
    q = s.cause_steps[cause][1]
    values = [
        sum(sample_success(s, tape, store, step, 10_000 * step + k) for k in range(FORKS)) / FORKS
        for step in range(s.n_steps + 1)
    ]
    harm = [values[i] - values[i + 1] for i in range(s.n_steps)]
    assert values == pytest.approx(true_values(s), abs=0.2)
    assert harm[cause] > (1 - q) - 0.2
    for step in range(s.n_steps):
        if step != cause:
            assert abs(harm[step]) < 0.25, (step, harm)
    for step in s.decoys | s.echoes:
        assert true_harm(s)[step] == 0.0
    assert all(values[i] == 0.0 for i in range(cause + 1, s.n_steps + 1)), "after the cause nothing can fix the run"
