"""Blame: which step of a failed run caused the failure, measured by counterfactual forks."""

from __future__ import annotations

from tracefork_otel.blame.analyse import CostEstimate, blame_run, estimate_cost, recorded_verdict
from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.export import export_blame
from tracefork_otel.blame.pricing import Price, price_for
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blame.sampler import ForkSampler
from tracefork_otel.blame.strategy import Bisection, BlameOutcome, FixedK, StepScore
from tracefork_otel.errors import BudgetExhausted

__all__ = [
    "Bisection",
    "BlameOutcome",
    "BlameReport",
    "Budget",
    "BudgetExhausted",
    "CostEstimate",
    "FixedK",
    "ForkSampler",
    "Price",
    "StepScore",
    "blame_run",
    "estimate_cost",
    "export_blame",
    "price_for",
    "recorded_verdict",
]
