"""Blame strategies against a simulated world whose V(i) is known in closed form.

`BernoulliWorld` (see ``blame_support``) is a pure-Python `Sampler`: each cause step's
fresh sample is faulty with probability q; the run fails if any cause is faulty (OR),
only if all are (AND, a conjunction), or always (the negative control). Every case runs
200+ seeded trials, so the rates below are measured, not anecdotes.
"""

from __future__ import annotations

import functools
import math
import random
import statistics
from dataclasses import dataclass

import pytest
from blame_support import BernoulliWorld, Mode, naive_flip_rate

from tracefork_otel.blame import Bisection, BlameOutcome, BlameReport, Budget, BudgetExhausted, FixedK, price_for
from tracefork_otel.blame.strategy import Sampler

TRIALS = 200
Q = 0.3
"""As in ``tfotel validate``: a fresh sample at a cause is faulty 30% of the time (V before it is 0.7)."""
SIZES = (10, 20, 50)
POSITIONS = ("early", "middle", "late")


def cause_at(n: int, position: str) -> int:
    return {"early": 1, "middle": n // 2, "late": n - 2}[position]


@dataclass(frozen=True)
class Trials:
    top1: float
    mean_runs: float
    max_runs: int
    mean_cause_score: float
    mean_innocent_score: float


@functools.cache
def bisection_trials(n: int, position: str) -> Trials:
    cause = cause_at(n, position)
    top, runs, cause_scores, innocent = 0, [], [], []
    for trial in range(TRIALS):
        world = BernoulliWorld(n, {cause: Q}, seed=f"grid:{n}:{position}:{trial}")
        outcome = Bisection().run(world, n)
        assert outcome.agent_runs == world.runs and outcome.stopped is None
        top += outcome.ranking[0] == cause
        runs.append(outcome.agent_runs)
        scores = {s.step: s.score for s in outcome.steps}
        cause_scores.append(scores.pop(cause))
        innocent.append(statistics.mean(abs(v) for v in scores.values()))
    return Trials(
        top / TRIALS, statistics.mean(runs), max(runs), statistics.mean(cause_scores), statistics.mean(innocent)
    )


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("position", POSITIONS)
def test_bisection_ranks_the_cause_first(n: int, position: str) -> None:
    result = bisection_trials(n, position)
    assert result.top1 >= 0.95, result
    # The cause's score is an estimate of its true harm, 1 - Q.
    assert result.mean_cause_score == pytest.approx(1 - Q, abs=0.05), result
    assert result.mean_innocent_score <= 0.02, result


def test_bisection_spends_a_third_of_fixed_k_at_20_steps() -> None:
    fixed_runs = FixedK(k=10).run(BernoulliWorld(20, {10: Q}), 20).agent_runs
    assert fixed_runs == 200
    for position in POSITIONS:
        assert bisection_trials(20, position).mean_runs <= fixed_runs / 3


def mean_runs_uniform(n: int) -> float:
    """Mean agent runs over trials with the cause at a uniformly random step."""
    runs = []
    for trial in range(TRIALS):
        cause = random.Random(f"where:{n}:{trial}").randrange(n)
        world = BernoulliWorld(n, {cause: Q}, seed=f"growth:{n}:{trial}")
        runs.append(Bisection().run(world, n).agent_runs)
    return statistics.mean(runs)


def test_bisection_runs_grow_like_log_n() -> None:
    """Runs grow no faster than log n (fixed k grows like n).

    Measured (200 trials, cause anywhere): 42 runs at n=10, 49 at 20, 61 at 50, 72 at 100,
    84 at 200: +7 to +12 runs per doubling of n. Bisection has a constant part (10 anchor
    runs, 2 x 10 to measure the drop) plus SPRT placements, about one per level, so
    runs(n) / runs(10) stays below log(n) / log(10) (1.70 at n=50, 2.30 at n=200: what runs
    proportional to log n would give); measured 1.45 and 1.98. A linear strategy would
    multiply them by n / 10. A late cause costs most (47 -> 76 runs from n=10 to 50, ratio
    1.59): the path to it passes more midpoints on the high side of V.
    """
    sizes = (10, 20, 50, 100, 200)
    runs = {n: mean_runs_uniform(n) for n in sizes}
    for n in sizes[1:]:
        assert runs[n] > runs[10]
        assert runs[n] / runs[10] < math.log(n) / math.log(10), runs
    assert runs[200] < 0.05 * 200 * 10, runs  # fixed k=10 would take 2000
    # The per-position grid agrees for the case the issue names: n = 50 against n = 10.
    for position in POSITIONS:
        ratio = bisection_trials(50, position).mean_runs / bisection_trials(10, position).mean_runs
        assert ratio < math.log(50) / math.log(10), (position, ratio)


@pytest.mark.parametrize(("n", "causes"), [(8, (2, 5)), (20, (3, 15))])
def test_a_conjunction_ranks_one_of_its_causes_first(n: int, causes: tuple[int, int]) -> None:
    first, second = causes
    top = 0
    for trial in range(TRIALS):
        world = BernoulliWorld(n, {first: Q, second: Q}, mode=Mode.AND, seed=f"and:{n}:{trial}")
        assert world.true_harm(first) == pytest.approx(Q * Q * (1 / Q - 1))  # (1 - q^2) - (1 - q)
        assert world.true_harm(second) == pytest.approx(1 - Q)
        top += Bisection().run(world, n).ranking[0] in causes
    assert top / TRIALS >= 0.95


def test_a_conjunction_of_unlikely_and_likely_faults_still_finds_a_cause_most_of_the_time() -> None:
    """The validate scenario's conjunction (q = 0.3 and 0.6): V is 0.82, then 0.4, then 0.

    Both harms are ~0.4 and the plateau between the causes sits at V = 0.4, where ten
    runs per V are noisy (sd of a difference ~0.22), so an innocent step's noise can beat
    a cause. Measured over 3 x 600 trials: Bisection 0.87-0.89, FixedK(k=10) 0.90-0.92.
    This is the limit of final_k = 10, shared by both strategies; it is documented here,
    not hidden: the >= 0.95 claim above is for conjunctions whose plateau is not that noisy.
    """
    n, first, second, trials = 8, 2, 5, 3 * TRIALS
    hits = {"bisection": 0, "fixed": 0}
    for trial in range(trials):
        for name, strategy in (("bisection", Bisection()), ("fixed", FixedK(k=10))):
            world = BernoulliWorld(n, {first: 0.3, second: 0.6}, mode=Mode.AND, seed=f"and-q:{name}:{trial}")
            hits[name] += strategy.run(world, n).ranking[0] in (first, second)
    assert hits["bisection"] / trials >= 0.84, hits
    assert hits["fixed"] / trials >= 0.84, hits


@pytest.mark.parametrize("n", [8, 20, 50])
def test_negative_control_scores_nothing(n: int) -> None:
    worst = 0.0
    for trial in range(TRIALS):
        world = BernoulliWorld(n, {}, mode=Mode.IMPOSSIBLE, decoys=frozenset({2, 5}), seed=f"neg:{n}:{trial}")
        outcome = Bisection().run(world, n)
        worst = max(worst, *(s.score for s in outcome.steps))
        # V(0) = 0 = V(n): nothing to search, so the anchor is all it spends.
        assert outcome.agent_runs == 10
        assert all(s.ci_low <= 0 <= s.ci_high for s in outcome.steps)
    assert worst <= 0.05


def test_decoys_and_steps_around_the_cause_score_about_zero() -> None:
    """Decoys next to the cause, an echo downstream of it, innocent steps on both sides."""
    n, cause = 20, 10
    decoys, echoes = frozenset({8, 9, 11, 12}), {15: cause}
    per_step: dict[int, list[float]] = {i: [] for i in range(n)}
    top = 0
    for trial in range(TRIALS):
        world = BernoulliWorld(n, {cause: Q}, decoys=decoys, echoes=echoes, seed=f"decoys:{trial}")
        outcome = Bisection().run(world, n)
        top += outcome.ranking[0] == cause
        for s in outcome.steps:
            per_step[s.step].append(s.score)
    assert top / TRIALS >= 0.95
    means = {i: statistics.mean(v) for i, v in per_step.items()}
    assert means[cause] == pytest.approx(1 - Q, abs=0.05)
    for step in (*range(cause), *range(cause + 1, n)):  # upstream, decoys, downstream, the echo
        assert abs(means[step]) <= 0.03, (step, means[step])


def test_the_naive_flip_rate_blames_every_upstream_step_and_harm_does_not() -> None:
    """Why harm is V(i) - V(i+1): resampling any step upstream of the cause also resamples the cause.

    The naive score (resample step i with the tail live, count successes) is V(i): 0.7 at
    the cause and at every innocent step before it, so it cannot tell them apart. Harm
    subtracts V(i+1), which is just as high upstream of the cause, and scores them 0.
    """
    n, cause, k = 10, 6, 10
    naive: dict[int, list[float]] = {i: [] for i in range(n)}
    harm: dict[int, list[float]] = {i: [] for i in range(n)}
    naive_top = harm_top = 0
    for trial in range(TRIALS):
        flip = naive_flip_rate(BernoulliWorld(n, {cause: Q}, seed=f"naive:{trial}"), k)
        outcome = FixedK(k=k).run(BernoulliWorld(n, {cause: Q}, seed=f"harm:{trial}"), n)
        ranked = sorted(flip, key=lambda i: (-flip[i], i))
        naive_top += ranked[0] == cause
        harm_top += outcome.ranking[0] == cause
        for i in range(n):
            naive[i].append(flip[i])
        for s in outcome.steps:
            harm[s.step].append(s.score)
    naive_mean = {i: statistics.mean(v) for i, v in naive.items()}
    harm_mean = {i: statistics.mean(v) for i, v in harm.items()}
    for upstream in range(cause):
        assert naive_mean[upstream] == pytest.approx(naive_mean[cause], abs=0.04)
        assert naive_mean[upstream] == pytest.approx(1 - Q, abs=0.04)
        assert abs(harm_mean[upstream]) <= 0.05
    assert harm_mean[cause] == pytest.approx(1 - Q, abs=0.04)
    # The naive score ties the cause with six innocent steps: it picks the cause about 1 time in 7.
    assert naive_top / TRIALS <= 0.4
    assert harm_top / TRIALS >= 0.95


@pytest.mark.parametrize("position", POSITIONS)
def test_fixed_k_ranks_the_cause_first(position: str) -> None:
    n = 10
    cause = cause_at(n, position)
    top = 0
    for trial in range(TRIALS):
        outcome = FixedK(k=10).run(BernoulliWorld(n, {cause: Q}, seed=f"fixed:{position}:{trial}"), n)
        assert outcome.agent_runs == 100
        assert all(s.method == "measured" for s in outcome.steps)
        assert [s.samples for s in outcome.steps] == [20] * (n - 1) + [10]  # V(n) is the recorded outcome
        top += outcome.ranking[0] == cause
    assert top / TRIALS >= 0.95


class BudgetedWorld:
    """A `BernoulliWorld` behind a real `Budget`, as `ForkSampler` uses it: take, then sample."""

    def __init__(self, world: BernoulliWorld, budget: Budget) -> None:
        self.world = world
        self.budget = budget

    def sample(self, step: int, count: int) -> list[bool]:
        return self.world.sample(step, self.budget.take(count))


@pytest.mark.parametrize("strategy", [Bisection(), Bisection(batch=4), FixedK(k=10)], ids=lambda s: s.describe())
@pytest.mark.parametrize("cap", [1, 5, 10, 11, 17, 25, 40])
def test_budget_exhausted_mid_search_yields_a_report(strategy: Bisection | FixedK, cap: int) -> None:
    n, cause = 20, 13
    world = BernoulliWorld(n, {cause: Q}, seed=f"cap:{cap}")
    sampler: Sampler = BudgetedWorld(world, Budget(price_for("claude-haiku-4-5"), max_runs=cap))
    outcome = strategy.run(sampler, n)
    assert outcome.agent_runs == world.runs == cap
    assert outcome.stopped == f"--max-runs {cap} reached"
    assert sorted(s.step for s in outcome.steps) == list(range(n))
    assert sorted(s.rank for s in outcome.steps) == list(range(1, n + 1))
    assert all(-1 <= s.ci_low <= s.score <= s.ci_high <= 1 for s in outcome.steps)
    report = BlameReport("0" * 32, outcome, "resample", "tests:oracle").to_json()
    assert report["stopped"] == outcome.stopped and report["agent_runs"] == cap


def test_budget_exhausted_from_the_sampler_itself_is_caught() -> None:
    def broke(step: int, count: int) -> list[bool]:
        raise BudgetExhausted()

    class Broke:
        sample = staticmethod(broke)

    for strategy in (Bisection(), FixedK()):
        outcome: BlameOutcome = strategy.run(Broke(), 6)
        assert outcome.stopped == "budget" and outcome.agent_runs == 0
        assert [s.method for s in outcome.steps] == ["unmeasured"] * 6


def test_an_unexhausted_budget_changes_nothing() -> None:
    n, cause = 20, 13
    free = Bisection().run(BernoulliWorld(n, {cause: Q}, seed="same"), n)
    world = BernoulliWorld(n, {cause: Q}, seed="same")
    capped = Bisection().run(BudgetedWorld(world, Budget(price_for(""), max_runs=10_000)), n)
    assert capped.stopped is None
    assert capped.steps == free.steps and capped.agent_runs == free.agent_runs
