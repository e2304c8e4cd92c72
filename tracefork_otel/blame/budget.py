"""The caps on what blame may spend: agent runs and dollars. Thread-safe."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from tracefork_otel.blame.pricing import Price
from tracefork_otel.errors import BudgetExhausted


@dataclass
class Budget:
    """Counts runs and tokens; refuses runs past ``max_runs`` or once ``max_dollars`` is spent."""

    price: Price
    max_runs: int | None = None
    max_dollars: float | None = None
    runs: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def dollars(self) -> float:
        return self.price.cost(self.input_tokens, self.output_tokens)

    def take(self, count: int) -> int:
        """How many of ``count`` runs may start now (at least 1), or raise ``BudgetExhausted``."""
        with self._lock:
            if self.max_dollars is not None and self.dollars >= self.max_dollars:
                raise BudgetExhausted(f"budget of ${self.max_dollars:g} spent (${self.dollars:.6f})")
            allowed = count if self.max_runs is None else min(count, self.max_runs - self.runs)
            if allowed <= 0:
                raise BudgetExhausted(f"--max-runs {self.max_runs} reached")
            self.runs += allowed
            return allowed

    def spend(self, input_tokens: int, output_tokens: int) -> None:
        with self._lock:
            self.input_tokens += input_tokens
            self.output_tokens += output_tokens
