"""The validation worlds' runs: the failed run recorded with its planted faults, and single counterfactual forks.

The average of `sample_success` over seeds estimates ``V(step)``; the harness and the
tests check it against `tracefork_otel.validate.world.true_values`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import anthropic
import httpx2

from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.sampler import ForkSampler
from tracefork_otel.blobstore import BlobStore, MemoryBlobStore
from tracefork_otel.errors import ConfigError
from tracefork_otel.nondet import Nondet
from tracefork_otel.record.capture import capture_run
from tracefork_otel.replay.session import ReplaySession, load_blobs
from tracefork_otel.tape.model import Tape
from tracefork_otel.validate.model import model_transport
from tracefork_otel.validate.world import (
    CLIENT_KWARGS,
    Scenario,
    ScenarioError,
    SeededNondet,
    agent_for,
    live_transport,
    model_for,
    oracle_for,
)


def record_failed_run(
    scenario: Scenario, seed: int, *, forced: Mapping[int, str] | None = None
) -> tuple[Tape, MemoryBlobStore]:
    """Record the scenario's failed run: planted faults forced, decoys in their odd form.

    Args:
        seed: drives the model's wording and the run's draws; the same seed gives the same bytes.
        forced: step → fault name to force instead of `Scenario.forced` (every cause faulty).

    Returns:
        The tape, and the in-memory store holding its blobs.

    Raises:
        ScenarioError: the run does not fail the oracle, or does not have ``n_steps`` exchanges.
    """
    planted = scenario.forced if forced is None else forced
    store = MemoryBlobStore(f"validate-{scenario.name}")
    model = model_for(scenario, random.Random(seed), recording=True, forced=planted)
    transport = model_transport(model)
    agent = agent_for(scenario)

    def body(wrap: Callable[[Any], Any], nondet: Nondet) -> Any:
        client = anthropic.Anthropic(http_client=wrap(httpx2.Client(transport=transport)), **CLIENT_KWARGS)
        with client:
            return agent(client, nondet)

    tape, outcome = capture_run(f"validate:{scenario.name}", store, body, nondet_source=SeededNondet(seed))
    if len(tape.exchanges) != scenario.n_steps:
        raise ScenarioError(scenario.name, f"recorded {len(tape.exchanges)} exchanges, expected {scenario.n_steps}")
    if oracle_for(scenario)(outcome):
        raise ScenarioError(scenario.name, f"the recorded run with faults {dict(planted)} did not fail the oracle")
    return tape, store


def sample_success(scenario: Scenario, tape: Tape, store: BlobStore, step: int, rng_seed: int) -> bool:
    """One counterfactual fork: steps before ``step`` replayed from ``tape``, ``step`` and after sampled live.

    The average over seeds estimates ``V(step)``. ``step == n_steps`` replays the whole tape,
    so its result is the recorded outcome's. Safe to call from several threads at once.

    Raises:
        ConfigError: ``step`` is out of range.
        ReplayDivergence: the agent did not replay the prefix exactly (a world bug, never a sample).
    """
    if not 0 <= step <= len(tape.exchanges):
        raise ConfigError(f"step {step} is out of range: the run has steps 0..{len(tape.exchanges) - 1}")
    session = ReplaySession(
        tape,
        load_blobs(tape, store),
        fork_at=step,
        live=live_transport(scenario, rng_seed),
        live_nondet=SeededNondet(rng_seed),
        client_kwargs=CLIENT_KWARGS,
    )
    result = session.run(agent_for(scenario))
    divergence = session.finish()
    if divergence is not None:
        raise divergence
    if result.error is not None:
        raise result.error
    return oracle_for(scenario)(result.outcome)


def fork_sampler(scenario: Scenario, tape: Tape, store: BlobStore, seed: int, budget: Budget) -> ForkSampler:
    """Blame's sampler over the scenario's recorded run, its live tail from the stand-in model."""
    return ForkSampler(
        tape,
        load_blobs(tape, store),
        agent_for(scenario),
        oracle_for(scenario),
        live=live_transport(scenario, seed + 1_000_003),
        client_kwargs=dict(CLIENT_KWARGS),
        budget=budget,
        seed=seed,
    )
