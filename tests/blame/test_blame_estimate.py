"""The statistics under blame: Wilson intervals, Newcombe's interval for a difference, Wald's SPRT.

Reference values are computed here from the textbook definitions (the Wilson interval as
the roots of the score test's quadratic), and checked against the published table of
Newcombe (1998), "Interval estimation for the difference between independent
proportions", Statistics in Medicine 17:873-890, Table II, method 10.
"""

from __future__ import annotations

import math
import random

import pytest

from tracefork_otel.blame.estimate import Z95, VEstimate, exact, newcombe, wilson
from tracefork_otel.blame.sequential import Decision, Sprt


def score_test_roots(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson interval from its definition: the p with (p_hat - p)^2 = z^2 p (1 - p) / n.

    Expanded, (1 + z^2/n) p^2 - (2 p_hat + z^2/n) p + p_hat^2 = 0; the interval is its two roots.
    """
    p_hat = successes / n
    a = 1 + z * z / n
    b = -(2 * p_hat + z * z / n)
    c = p_hat * p_hat
    disc = math.sqrt(b * b - 4 * a * c)
    return (-b - disc) / (2 * a), (-b + disc) / (2 * a)


@pytest.mark.parametrize("successes", range(11))
def test_wilson_is_the_score_test_inversion(successes: int) -> None:
    low, high = wilson(successes, 10)
    ref_low, ref_high = score_test_roots(successes, 10)
    assert low == pytest.approx(max(0.0, ref_low), abs=1e-12)
    assert high == pytest.approx(min(1.0, ref_high), abs=1e-12)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (0, 10, 0.0, 0.2775),
        (1, 10, 0.0179, 0.4042),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (0, 20, 0.0, 0.1611),
        (48, 80, 0.4905, 0.7004),
    ],
)
def test_wilson_against_published_values(successes: int, n: int, low: float, high: float) -> None:
    got = wilson(successes, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_without_data_is_the_whole_unit_interval() -> None:
    assert wilson(0, 0) == (0.0, 1.0)
    assert VEstimate(3, 0, 0).interval() == (0.0, 1.0)


def test_an_exact_value_has_a_point_interval() -> None:
    assert exact(5, False).interval() == (0.0, 0.0)
    assert exact(5, True).interval() == (1.0, 1.0)


@pytest.mark.parametrize(
    ("a", "n", "b", "m", "low", "high"),
    [
        (56, 70, 48, 80, 0.0524, 0.3339),
        (9, 10, 3, 10, 0.1705, 0.8090),
        (6, 7, 2, 7, 0.0582, 0.8062),
        (5, 56, 0, 29, -0.0381, 0.1926),
        (0, 10, 0, 20, -0.1611, 0.2775),
        (0, 10, 0, 10, -0.2775, 0.2775),
        (10, 10, 0, 20, 0.6791, 1.0),
        (10, 10, 0, 10, 0.6075, 1.0),
    ],
)
def test_newcombe_against_the_published_table(a: int, n: int, b: int, m: int, low: float, high: float) -> None:
    got = newcombe(VEstimate(0, a, n), VEstimate(1, b, m))
    assert got == pytest.approx((low, high), abs=5e-5)


def test_newcombe_against_an_exact_end_uses_only_the_estimated_side() -> None:
    # V(n) is the recorded outcome, known exactly: the interval is V(n-1)'s Wilson interval, shifted.
    low, high = newcombe(VEstimate(4, 7, 10), exact(5, False))
    assert (low, high) == pytest.approx(wilson(7, 10), abs=1e-12)


def test_newcombe_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = random.Random(20240611)
    p1, p2, n, draws = 0.7, 0.2, 10, 2000
    covered = 0
    for _ in range(draws):
        a = VEstimate(0, sum(rng.random() < p1 for _ in range(n)), n)
        b = VEstimate(1, sum(rng.random() < p2 for _ in range(n)), n)
        low, high = newcombe(a, b)
        covered += low <= p1 - p2 <= high
    assert covered / draws >= 0.93


def run_sprt(test: Sprt, p: float, rng: random.Random) -> tuple[Decision, int]:
    successes = n = 0
    while True:
        n += 1
        successes += rng.random() < p
        decision = test.decide(successes, n)
        if decision is not None:
            return decision, n


@pytest.mark.parametrize(("alpha", "beta"), [(0.05, 0.05), (0.01, 0.01), (0.005, 0.005)])
def test_sprt_decides_correctly_within_its_error_rates(alpha: float, beta: float) -> None:
    rng = random.Random(f"sprt:{alpha}:{beta}")
    test = Sprt(p_high=0.7, p_low=0.2, alpha=alpha, beta=beta, max_samples=200)
    trials = 2000
    high = [run_sprt(test, 0.7, rng) for _ in range(trials)]
    low = [run_sprt(test, 0.2, rng) for _ in range(trials)]
    # Wald's bounds: P(LOW | p_high) <= beta / (1 - alpha), P(HIGH | p_low) <= alpha / (1 - beta).
    # With 2000 trials the binomial noise on a rate of 0.05 is ~0.005; allow three sigma.
    wrong_high = sum(d is Decision.LOW for d, _ in high) / trials
    wrong_low = sum(d is Decision.HIGH for d, _ in low) / trials
    slack = 3 * math.sqrt(max(alpha, beta) / trials)
    assert wrong_high <= beta / (1 - alpha) + slack
    assert wrong_low <= alpha / (1 - beta) + slack
    assert wrong_high + wrong_low <= alpha + beta + 2 * slack
    assert all(d is not Decision.UNDECIDED for d, _ in high + low), "a 200-sample cap is never reached here"
    # Sequential: on average far fewer samples than a fixed-n test with the same error rates.
    mean_n = sum(n for _, n in high + low) / (2 * trials)
    assert mean_n < 15


def test_sprt_respects_its_cap() -> None:
    rng = random.Random(3)
    test = Sprt(p_high=0.7, p_low=0.2, alpha=0.005, beta=0.005, max_samples=12)
    # Halfway between the hypotheses, evidence drifts nowhere: the cap is reached often.
    outcomes = [run_sprt(test, 0.45, rng) for _ in range(500)]
    assert max(n for _, n in outcomes) == 12
    assert all(n == 12 for d, n in outcomes if d is Decision.UNDECIDED)
    assert sum(d is Decision.UNDECIDED for d, _ in outcomes) > 100
    assert test.decide(6, 12) is Decision.UNDECIDED
    assert test.decide(6, 11) is None


def test_sprt_boundaries_are_walds() -> None:
    test = Sprt(p_high=0.6, p_low=0.1, alpha=0.01, beta=0.01, max_samples=50)
    step_up = math.log(0.6 / 0.1)
    upper = math.log(0.99 / 0.01)
    needed = math.ceil(upper / step_up)  # all successes: the fewest samples to accept HIGH
    assert test.decide(needed - 1, needed - 1) is None
    assert test.decide(needed, needed) is Decision.HIGH
    step_down = math.log(0.4 / 0.9)
    lower = math.log(0.01 / 0.99)
    needed = math.ceil(lower / step_down)
    assert test.decide(0, needed - 1) is None
    assert test.decide(0, needed) is Decision.LOW
    assert "alpha=0.01" in test.describe() and "cap=50" in test.describe()


@pytest.mark.parametrize(("p_high", "p_low"), [(0.2, 0.7), (0.5, 0.5), (1.0, 0.2), (0.7, 0.0)])
def test_sprt_rejects_hypotheses_out_of_order(p_high: float, p_low: float) -> None:
    with pytest.raises(ValueError, match="need 0 < p_low < p_high < 1"):
        Sprt(p_high=p_high, p_low=p_low)
