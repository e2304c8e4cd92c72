"""Wald's sequential probability ratio test, for placing V(m) at one end of a segment.

During the search, the question at a midpoint m of a segment [a, b] is whether V(m)
is still as high as V(a) (the drop is later) or already as low as V(b) (the drop is
earlier). Wald's SPRT answers it with the fewest samples on average while keeping its
error rates (alpha, beta) under optional stopping, which recomputing a fixed-k
interval after every sample does not. When V(m) sits between the two ends (several
drops), the test stops undecided at its sample cap and the search treats both halves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    HIGH = "high"
    LOW = "low"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class Sprt:
    """SPRT of H_high: p = p_high against H_low: p = p_low, with a sample cap."""

    p_high: float
    p_low: float
    alpha: float = 0.01
    beta: float = 0.01
    max_samples: int = 20

    def __post_init__(self) -> None:
        if not 0 < self.p_low < self.p_high < 1:
            raise ValueError(f"need 0 < p_low < p_high < 1, got {self.p_low}, {self.p_high}")

    def decide(self, successes: int, n: int) -> Decision | None:
        """HIGH or LOW once a boundary is crossed; UNDECIDED at the cap; None to keep sampling."""
        llr = successes * math.log(self.p_high / self.p_low) + (n - successes) * math.log(
            (1 - self.p_high) / (1 - self.p_low)
        )
        if llr >= math.log((1 - self.beta) / self.alpha):
            return Decision.HIGH
        if llr <= math.log(self.beta / (1 - self.alpha)):
            return Decision.LOW
        if n >= self.max_samples:
            return Decision.UNDECIDED
        return None

    def describe(self) -> str:
        return (
            f"SPRT(p_high={self.p_high:.2f}, p_low={self.p_low:.2f}, alpha={self.alpha}, beta={self.beta},"
            f" cap={self.max_samples})"
        )
