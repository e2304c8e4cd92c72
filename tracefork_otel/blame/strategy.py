"""Blame strategies: how to spend agent runs to find the step whose commitment hurt most.

The family (each a small class with one decision method and ``describe()``, which goes
onto the exported span, in the manner of the OTel SDK's samplers):

``FixedK``
    The baseline: k samples of V(i) at every step. Unbiased and simple, and n·k runs.

``Bisection``
    V(i) is usually monotone along a failed run: resampling from earlier keeps every
    chance the run had, committing to a bad step takes it away. So a drop in V can be
    located by bisection with O(log n) estimates of V: a segment [a, b] whose ends are
    close (V(a) - V(b) < ``min_gap``) holds no drop worth finding; otherwise V at its
    midpoint is placed by Wald's SPRT (few runs when V(m) is clearly at one end) and
    both halves are searched. Every adjacent pair (c, c+1) left with a gap is a
    candidate; candidates are then measured afresh with fixed k (so their scores and
    intervals are not biased by the adaptive search). Steps in cleared segments score
    0, bounded by their segment's interval. Assumption, stated on the report: a rise and
    an equal drop inside one cleared segment would cancel and go unseen.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tracefork_otel.blame.estimate import VEstimate, exact, newcombe
from tracefork_otel.blame.sequential import Sprt
from tracefork_otel.errors import BudgetExhausted


class Sampler(Protocol):
    """Runs forks: ``sample(step, count)`` returns one oracle verdict per run (True = success).

    May return fewer than ``count`` verdicts when its budget allows only some runs, and
    raises ``BudgetExhausted`` (having returned nothing for that call) when it allows none.
    """

    def sample(self, step: int, count: int) -> list[bool]: ...


@dataclass(frozen=True)
class StepScore:
    """One step's blame: harm = V(step) - V(step+1), with its 95% interval."""

    step: int
    score: float
    ci_low: float
    ci_high: float
    samples: int
    method: str
    """``measured`` (both V's estimated at this step) or ``bounded`` (inside a cleared segment)."""
    rank: int = 0


@dataclass
class BlameOutcome:
    """What a strategy found."""

    steps: list[StepScore]
    agent_runs: int
    estimates: dict[int, VEstimate]
    strategy: str
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ranking(self) -> list[int]:
        return [s.step for s in sorted(self.steps, key=lambda s: s.rank)]

    def renumbered(self, steps: Sequence[int], end: int) -> BlameOutcome:
        """This outcome with index ``i`` read as tape step ``steps[i]`` (and ``len(steps)``, the recorded run,
        as ``end``): a strategy searches the model steps only, numbered ``0..m-1``."""

        def step(index: int) -> int:
            return steps[index] if index < len(steps) else end

        return dataclasses.replace(
            self,
            steps=[dataclasses.replace(s, step=step(s.step)) for s in self.steps],
            estimates={step(i): v for i, v in self.estimates.items()},
        )


def rank(scores: list[StepScore]) -> list[StepScore]:
    """Scores with ranks: by score, then lower bound, then earlier step."""
    ordered = sorted(scores, key=lambda s: (-s.score, -s.ci_low, s.step))
    ranks = {s.step: i + 1 for i, s in enumerate(ordered)}
    return [StepScore(s.step, s.score, s.ci_low, s.ci_high, s.samples, s.method, ranks[s.step]) for s in scores]


class _Counter:
    def __init__(self, sampler: Sampler) -> None:
        self._sampler = sampler
        self.runs = 0

    def estimate(self, step: int, count: int, base: VEstimate | None = None) -> VEstimate:
        """``count`` more runs at ``step``; raises ``BudgetExhausted`` rather than return fewer.

        A sampler may return fewer runs than asked when its budget allows only some; the
        strategy must not then decide on the short estimate (one run could clear the whole
        run as blameless), so the rest is asked for, and the sampler's budget says stop.
        """
        estimate = base or VEstimate(step, 0, 0)
        while count > 0:
            results = self._sampler.sample(step, count)
            if not results:
                raise BudgetExhausted("the sampler returned no runs")
            self.runs += len(results)
            estimate = estimate.plus(sum(results), len(results))
            count -= len(results)
        return estimate


def _measured(step: int, upper: VEstimate, lower: VEstimate) -> StepScore:
    lo, hi = newcombe(upper, lower)
    return StepScore(step, upper.mean - lower.mean, lo, hi, upper.n + (0 if lower.exact else lower.n), "measured")


@dataclass(frozen=True)
class FixedK:
    """k runs of V(i) at every step i (the baseline)."""

    k: int = 10

    def describe(self) -> str:
        return f"FixedK(k={self.k})"

    def runs(self, n_steps: int) -> tuple[int, int]:
        """(expected, worst-case) agent runs to blame a run of ``n_steps``: always k per step."""
        return n_steps * self.k, n_steps * self.k

    def run(self, sampler: Sampler, n_steps: int, recorded_success: bool = False) -> BlameOutcome:
        counter = _Counter(sampler)
        est: dict[int, VEstimate] = {n_steps: exact(n_steps, recorded_success)}
        stopped = None
        try:
            for step in range(n_steps - 1, -1, -1):
                est[step] = counter.estimate(step, self.k)
        except BudgetExhausted as exc:
            stopped = str(exc) or "budget"
        scores = [
            _measured(i, est[i], est[i + 1])
            if i in est and i + 1 in est
            else StepScore(i, 0.0, -1.0, 1.0, 0, "unmeasured")
            for i in range(n_steps)
        ]
        return BlameOutcome(rank(scores), counter.runs, est, self.describe(), stopped)


@dataclass(frozen=True)
class Bisection:
    """Adaptive search for drops in V; see the module docstring."""

    anchor_k: int = 10
    final_k: int = 10
    min_gap: float = 0.2
    alpha: float = 0.005
    beta: float = 0.005
    sprt_cap: int = 12
    batch: int = 1
    max_rounds: int = 6

    def runs(self, n_steps: int) -> tuple[int, int]:
        """(expected, worst-case) agent runs to blame a run of ``n_steps``.

        Expected: the anchor, about four SPRT runs per bisection level and the final re-check
        of both sides of the drop; worst: every step placed by a capped SPRT and re-checked.
        """
        levels = max(1, math.ceil(math.log2(max(n_steps, 2))))
        worst = self.anchor_k + self.sprt_cap * n_steps + 2 * self.final_k * n_steps
        return min(self.anchor_k + 4 * levels + 2 * self.final_k, worst), worst

    def describe(self) -> str:
        return (
            f"Bisection(anchor_k={self.anchor_k}, final_k={self.final_k}, min_gap={self.min_gap},"
            f" SPRT alpha={self.alpha} beta={self.beta} cap={self.sprt_cap})"
        )

    def _place(self, counter: _Counter, step: int, high: float, low: float) -> VEstimate:
        test = Sprt(
            p_high=min(max(high, 0.06), 0.98),
            p_low=max(min(low, high - 0.04, 0.9), 0.02),
            alpha=self.alpha,
            beta=self.beta,
            max_samples=self.sprt_cap,
        )
        estimate = VEstimate(step, 0, 0)
        while True:
            estimate = counter.estimate(step, self.batch, estimate)
            if test.decide(estimate.successes, estimate.n) is not None:
                return estimate

    def _bisect(
        self, counter: _Counter, est: dict[int, VEstimate], n_steps: int
    ) -> tuple[list[int], list[tuple[int, int]]]:
        """Candidates (steps c with a gap between V(c) and V(c+1)) and cleared segments, sampling midpoints."""
        candidates: list[int] = []
        cleared: list[tuple[int, int]] = []
        stack = [(0, n_steps)]
        while stack:
            a, b = stack.pop()
            if est[a].mean - est[b].mean < self.min_gap:
                cleared.append((a, b))
            elif b - a == 1:
                candidates.append(a)
            else:
                known = [m for m in range(a + 1, b) if m in est]
                m = known[len(known) // 2] if known else (a + b) // 2
                if m not in est:
                    est[m] = self._place(counter, m, est[a].mean, est[b].mean)
                stack += [(m, b), (a, m)]
        return sorted(candidates), cleared

    def run(self, sampler: Sampler, n_steps: int, recorded_success: bool = False) -> BlameOutcome:
        counter = _Counter(sampler)
        est: dict[int, VEstimate] = {n_steps: exact(n_steps, recorded_success)}
        candidates: list[int] = []
        cleared: list[tuple[int, int]] = [(0, n_steps)]
        stopped = None
        notes = [
            "harm(i) = V(i) - V(i+1); V(i) = P(success | recorded prefix before i kept, step i and after resampled)",
            "steps were selected adaptively (bisection with SPRT placement, then every candidate topped up to"
            f" {self.final_k} runs per V and the search re-checked); the 95% Newcombe intervals are nominal,"
            " computed on all runs at those steps",
            "bounded scores are 0 with their cleared segment's interval, assuming V is monotone within it",
        ]
        try:
            est[0] = counter.estimate(0, self.anchor_k)
            for _ in range(self.max_rounds):
                candidates, cleared = self._bisect(counter, est, n_steps)
                topped_up = False
                for c in candidates:
                    for step in (c, c + 1):
                        short = self.final_k - est[step].n
                        if not est[step].exact and short > 0:
                            est[step] = counter.estimate(step, short, est[step])
                            topped_up = True
                if not topped_up:
                    break
        except BudgetExhausted as exc:
            stopped = str(exc) or "budget"
            notes.append("stopped early by the budget: steps not yet measured are reported with their widest bounds")
        scores: dict[int, StepScore] = {}
        for c in candidates:
            scores[c] = _measured(c, est[c], est[c + 1])
        for a, b in cleared:
            if a in est and b in est:
                lo, hi = newcombe(est[a], est[b])
                for i in range(a, b):
                    scores.setdefault(i, StepScore(i, 0.0, min(0.0, lo), max(0.0, hi), 0, "bounded"))
        for i in range(n_steps):
            scores.setdefault(i, StepScore(i, 0.0, -1.0, 1.0, 0, "unmeasured"))
        return BlameOutcome(
            rank([scores[i] for i in range(n_steps)]), counter.runs, est, self.describe(), stopped, notes
        )


class Strategy(Protocol):
    """A blame strategy: how many forks to run at which steps, and what they add up to."""

    def describe(self) -> str:
        """One line naming the strategy and its parameters (it goes onto the exported span)."""
        ...

    def runs(self, n_steps: int) -> tuple[int, int]:
        """(expected, worst-case) agent runs to blame a run of ``n_steps``, before anything is spent."""
        ...

    def run(self, sampler: Sampler, n_steps: int, recorded_success: bool = False) -> BlameOutcome:
        """Sample ``sampler`` until the steps are ranked or the budget stops it."""
        ...
