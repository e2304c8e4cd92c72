"""The blame report: what was measured, what it cost, and the ranking, as data and JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tracefork_otel.blame.strategy import BlameOutcome, StepScore


@dataclass
class BlameReport:
    """A finished blame analysis of one failed run."""

    trace_id: str
    outcome: BlameOutcome
    perturb: str
    oracle: str
    input_tokens: int = 0
    output_tokens: int = 0
    dollars: float = 0.0
    fixed_k_runs: int = 0
    """What fixed k=10 per step would have spent on this run, for comparison."""
    agent_errors: int = 0
    blame_trace_id: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def steps(self) -> list[StepScore]:
        return self.outcome.steps

    @property
    def ranking(self) -> list[int]:
        return self.outcome.ranking

    @property
    def top_step(self) -> int | None:
        ranked = self.ranking
        return ranked[0] if ranked else None

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "steps": [
                {
                    "step": s.step,
                    "score": round(s.score, 4),
                    "ci_low": round(s.ci_low, 4),
                    "ci_high": round(s.ci_high, 4),
                    "samples": s.samples,
                    "method": s.method,
                    "rank": s.rank,
                }
                for s in self.steps
            ],
            "ranking": self.ranking,
            "agent_runs": self.outcome.agent_runs,
            "blame_trace_id": self.blame_trace_id,
            "fixed_k_runs": self.fixed_k_runs,
            "tokens": {"input": self.input_tokens, "output": self.output_tokens},
            "cost_usd": round(self.dollars, 6),
            "strategy": self.outcome.strategy,
            "perturb": self.perturb,
            "oracle": self.oracle,
            "stopped": self.outcome.stopped,
            "agent_errors": self.agent_errors,
            "notes": self.outcome.notes + self.notes,
        }
