"""``blame``: from a failed run's tape to a ranked, priced, exportable blame report."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.pricing import Price
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blame.sampler import ForkSampler, Perturb, usage_of
from tracefork_otel.blame.strategy import Bisection, FixedK
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import ConfigError, TraceforkError
from tracefork_otel.replay.runner import load_blobs, replay_run
from tracefork_otel.tape.model import Tape

FIXED_K_REFERENCE = 10


@dataclass(frozen=True)
class CostEstimate:
    """What a blame is expected to spend, before anything is spent."""

    runs_expected: int
    runs_worst: int
    input_tokens_per_run: int
    output_tokens_per_run: int
    price: Price

    def dollars(self, runs: int) -> float:
        return runs * self.price.cost(self.input_tokens_per_run, self.output_tokens_per_run)


def estimate_cost(tape: Tape, blobs: dict[str, bytes], strategy: Bisection | FixedK, price: Price) -> CostEstimate:
    """Runs and tokens a blame of ``tape`` is expected to need.

    A fork at step i pays for the live tail from i on, so a run costs on average the
    tokens of the recorded tail averaged over i.
    """
    n = len(tape.exchanges)
    usage = [usage_of(blobs[ex.response_sha256], ex.stream) for ex in tape.exchanges]
    tails_in = [sum(u[0] for u in usage[i:]) for i in range(n)]
    tails_out = [sum(u[1] for u in usage[i:]) for i in range(n)]
    if isinstance(strategy, FixedK):
        expected = worst = n * strategy.k
    else:
        levels = max(1, math.ceil(math.log2(max(n, 2))))
        expected = strategy.anchor_k + 4 * levels + 2 * strategy.final_k
        worst = strategy.anchor_k + strategy.sprt_cap * n + 2 * strategy.final_k * n
    return CostEstimate(
        runs_expected=min(expected, worst),
        runs_worst=worst,
        input_tokens_per_run=sum(tails_in) // max(n, 1),
        output_tokens_per_run=sum(tails_out) // max(n, 1),
        price=price,
    )


def recorded_verdict(tape: Tape, store: BlobStore, agent: Callable[..., Any], oracle: Callable[[Any], Any]) -> bool:
    """The oracle's verdict on the recorded run, replayed for $0 (it must replay bit-exact).

    Raises:
        TraceforkError: the run does not replay, so forks would not be counterfactuals of it.
    """
    receipt = replay_run(tape, store, agent)
    if not receipt.bit_exact:
        raise TraceforkError(
            f"run {tape.trace_id} does not replay bit-exact, so it cannot be blamed: {receipt.divergence}"
        )
    if receipt.agent_error is not None:
        return False
    return bool(oracle(receipt.outcome))


def blame_run(
    tape: Tape,
    store: BlobStore,
    agent: Callable[..., Any],
    oracle: Callable[[Any], Any],
    *,
    strategy: Bisection | FixedK,
    budget: Budget,
    live: Any,
    client_kwargs: dict[str, Any],
    perturb: Perturb | None,
    perturb_name: str,
    oracle_spec: str,
    jobs: int = 1,
    seed: int = 0,
    on_sample: Callable[[int, bool], None] | None = None,
) -> BlameReport:
    """Measure each step's harm to the recorded (failed) run; see ``tracefork_otel.blame.strategy``.

    Raises:
        ConfigError: the recorded run succeeds by the oracle (nothing to blame).
        TraceforkError: the run does not replay, or forks diverge in the prefix.
    """
    if recorded_verdict(tape, store, agent, oracle):
        raise ConfigError(f"run {tape.trace_id} succeeds according to the oracle {oracle_spec}: nothing to blame")
    blobs = load_blobs(tape, store)
    sampler = ForkSampler(
        tape,
        blobs,
        agent,
        oracle,
        live=live,
        client_kwargs=client_kwargs,
        budget=budget,
        perturb=perturb,
        jobs=jobs,
        seed=seed,
        on_sample=on_sample,
    )
    outcome = strategy.run(sampler, len(tape.exchanges), recorded_success=False)
    return BlameReport(
        trace_id=tape.trace_id,
        outcome=outcome,
        perturb=perturb_name,
        oracle=oracle_spec,
        input_tokens=budget.input_tokens,
        output_tokens=budget.output_tokens,
        dollars=budget.dollars,
        fixed_k_runs=FIXED_K_REFERENCE * len(tape.exchanges),
        agent_errors=len(sampler.agent_errors),
    )
