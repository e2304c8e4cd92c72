"""Model prices, for cost estimates and the dollar budget of ``tfotel blame``.

US dollars per million tokens (input, output), as published by Anthropic for the
models' standard tier; cached-token discounts are not modelled, so estimates err high.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

PRICES_PER_MTOK: Final[dict[str, tuple[float, float]]] = {
    "claude-opus-4": (15.0, 75.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4-8": (5.0, 25.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4-6": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-5-haiku": (0.8, 4.0),
}
DEFAULT_PRICE: Final = (3.0, 15.0)
"""Used for a model missing from the table (said so in the estimate)."""


@dataclass(frozen=True)
class Price:
    model: str
    input_per_mtok: float
    output_per_mtok: float
    known: bool

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


def price_for(model: str) -> Price:
    """The price of ``model``; dated ids (``claude-haiku-4-5-20251001``) match their family."""
    candidates = [name for name in PRICES_PER_MTOK if model == name or model.startswith(name + "-")]
    if candidates:
        best = max(candidates, key=len)
        return Price(model, *PRICES_PER_MTOK[best], known=True)
    return Price(model, *DEFAULT_PRICE, known=False)
