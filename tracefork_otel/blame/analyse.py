"""``blame``: from a failed run's tape to a ranked, priced, exportable blame report."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tracefork_otel.agents import verdict
from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.perturb import Perturb
from tracefork_otel.blame.pricing import Price
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blame.sampler import ForkSampler, usage_of
from tracefork_otel.blame.strategy import Strategy
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import ConfigError, NotReplayableError
from tracefork_otel.replay.runner import replay_whole_run
from tracefork_otel.replay.session import load_blobs
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


def estimate_cost(tape: Tape, blobs: Mapping[str, bytes], strategy: Strategy, price: Price) -> CostEstimate:
    """Runs and tokens a blame of ``tape`` is expected to need.

    A fork at model step i pays for the live tail from i on, so a run costs on average the
    tokens of the recorded tail averaged over the model steps (the only ones forked at).
    """
    steps = tape.model_steps()
    n = len(steps)
    usage = [usage_of(blobs[ex.response_sha256], ex.stream) for ex in tape.exchanges]
    tails_in = [sum(u[0] for u in usage[i:]) for i in steps]
    tails_out = [sum(u[1] for u in usage[i:]) for i in steps]
    expected, worst = strategy.runs(n)
    return CostEstimate(
        runs_expected=expected,
        runs_worst=worst,
        input_tokens_per_run=sum(tails_in) // max(n, 1),
        output_tokens_per_run=sum(tails_out) // max(n, 1),
        price=price,
    )


def recorded_verdict(tape: Tape, store: BlobStore, agent: Callable[..., Any], oracle: Callable[[Any], Any]) -> bool:
    """The oracle's verdict on the recorded run, replayed for $0 (it must replay bit-exact).

    Raises:
        NotReplayableError: the run does not replay, so forks would not be counterfactuals of it.
        OracleError: the oracle raised or did not return a bool.
        RunFragmentError: the trace holds only some calls of a larger run.
    """
    receipt = replay_whole_run(tape, store, agent)
    if not receipt.bit_exact:
        raise NotReplayableError(
            f"run {tape.trace_id} does not replay bit-exact, so it cannot be blamed", receipt.divergence
        )
    if receipt.agent_error is not None:
        return False
    return verdict(oracle, receipt.outcome)


class _ModelSteps:
    """The sampler as a strategy sees it: the tape's model steps only, numbered ``0..m-1``.

    ``count_tokens``, model listing, batch and file calls are replayed in every prefix and made
    live in every tail, but never forked at, so never ranked.
    """

    def __init__(self, sampler: ForkSampler, steps: Sequence[int]) -> None:
        self._sampler = sampler
        self._steps = steps

    def sample(self, index: int, count: int) -> list[bool]:
        return self._sampler.sample(self._steps[index], count)


def blame_run(
    tape: Tape,
    store: BlobStore,
    agent: Callable[..., Any],
    oracle: Callable[[Any], Any],
    *,
    strategy: Strategy,
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
        NotReplayableError: the run does not replay, or forks diverge in the prefix.
        LiveEndpointError: the live endpoint failed during a fork.
        OracleError: the oracle raised or did not return a bool.
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
    steps = tape.model_steps()
    outcome = strategy.run(_ModelSteps(sampler, steps), len(steps), recorded_success=False).renumbered(
        steps, len(tape.exchanges)
    )
    return BlameReport(
        trace_id=tape.trace_id,
        outcome=outcome,
        perturb=perturb_name,
        oracle=oracle_spec,
        input_tokens=budget.input_tokens,
        output_tokens=budget.output_tokens,
        dollars=budget.dollars,
        fixed_k_runs=FIXED_K_REFERENCE * len(steps),
        agent_errors=len(sampler.agent_errors),
    )
