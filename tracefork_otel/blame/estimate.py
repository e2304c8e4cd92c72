"""Proportions and their intervals: V(i) estimates, Wilson intervals, Newcombe's interval for a difference.

V(i) is the success probability of the run when the recorded prefix before step i is
kept and step i and everything after are resampled. Each sample is one agent run
judged by the oracle, so V(i) is a Bernoulli mean. Harm(i) = V(i) - V(i+1) is a
difference of two independent proportions; its interval is Newcombe's hybrid score
interval (method 10), built from the two Wilson intervals, which keeps its coverage
at small n and near 0 and 1 where the Wald interval fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when n == 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class VEstimate:
    """An estimate of V(i): successes out of n runs, or exact (V(n), the recorded outcome)."""

    step: int
    successes: int
    n: int
    exact: bool = False

    @property
    def mean(self) -> float:
        return self.successes / self.n if self.n else 0.0

    def interval(self, z: float = Z95) -> tuple[float, float]:
        if self.exact:
            return self.mean, self.mean
        return wilson(self.successes, self.n, z)

    def plus(self, successes: int, n: int) -> VEstimate:
        return VEstimate(self.step, self.successes + successes, self.n + n, self.exact)


def exact(step: int, value: bool) -> VEstimate:
    """A V that is known, not estimated (the recorded outcome at V(n))."""
    return VEstimate(step, int(value), 1, exact=True)


def newcombe(a: VEstimate, b: VEstimate, z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for mean(a) - mean(b), independent samples."""
    pa, pb = a.mean, b.mean
    la, ua = a.interval(z)
    lb, ub = b.interval(z)
    d = pa - pb
    lower = d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    upper = d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return max(-1.0, lower), min(1.0, upper)
