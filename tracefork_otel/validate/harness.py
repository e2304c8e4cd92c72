"""``tfotel validate``: the blame instrument held to ground truth, offline, in seconds.

Each scenario plants faults with known causes in a stochastic stand-in model, records
the failed run, and runs the real blame pipeline on it (replayed prefixes, live forks
against the stand-in, the adaptive strategy). The report says, per scenario, whether
the top-ranked step is a true cause, the cause's score against the best innocent
step's, and the agent runs spent next to what fixed k=10 per step would take; overall,
top-1 accuracy, the negative control's largest score, and the run ratio.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

from tracefork_otel.blame.analyse import FIXED_K_REFERENCE
from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.pricing import price_for
from tracefork_otel.blame.strategy import Bisection
from tracefork_otel.errors import ConfigError
from tracefork_otel.validate.runs import fork_sampler, record_failed_run
from tracefork_otel.validate.world import Scenario

TOP1_MIN: Final = 0.95
NEGATIVE_CONTROL_MAX: Final = 0.05
RUNS_RATIO_MAX: Final = 1 / 3
REFERENCE_PATH: Final = Path(__file__).with_name("reference.json")


@dataclass(frozen=True)
class ScenarioResult:
    scenario: str
    seed: int
    n_steps: int
    causes: list[int]
    top_step: int
    top1_correct: bool | None
    """None for the negative control (no cause to find)."""
    cause_score: float | None
    best_innocent_score: float
    max_score: float
    agent_runs: int
    fixed_k_runs: int
    ranking: list[int]


@dataclass(frozen=True)
class ValidationReport:
    results: list[ScenarioResult]
    strategy: str

    @property
    def top1_accuracy(self) -> float:
        judged = [r.top1_correct for r in self.results if r.top1_correct is not None]
        return sum(judged) / len(judged) if judged else 0.0

    @property
    def negative_control_max(self) -> float:
        scores = [r.max_score for r in self.results if r.top1_correct is None]
        return max(scores, default=0.0)

    @property
    def agent_runs(self) -> int:
        return sum(r.agent_runs for r in self.results)

    @property
    def fixed_k_runs(self) -> int:
        return sum(r.fixed_k_runs for r in self.results)

    @property
    def runs_ratio(self) -> float:
        return self.agent_runs / self.fixed_k_runs if self.fixed_k_runs else 0.0

    def failures(self) -> list[str]:
        """Why the instrument fails its own thresholds (empty when it passes)."""
        problems = []
        if self.top1_accuracy < TOP1_MIN:
            problems.append(f"top-1 accuracy {self.top1_accuracy:.3f} < {TOP1_MIN}")
        if self.negative_control_max > NEGATIVE_CONTROL_MAX:
            problems.append(f"negative control scored {self.negative_control_max:.3f} > {NEGATIVE_CONTROL_MAX}")
        if self.runs_ratio > RUNS_RATIO_MAX:
            problems.append(f"adaptive used {self.runs_ratio:.3f} of fixed-k's runs > {RUNS_RATIO_MAX:.3f}")
        return problems

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "top1_accuracy": round(self.top1_accuracy, 4),
            "negative_control_max": round(self.negative_control_max, 4),
            "agent_runs": self.agent_runs,
            "fixed_k_runs": self.fixed_k_runs,
            "runs_ratio": round(self.runs_ratio, 4),
            "thresholds": {
                "top1_min": TOP1_MIN,
                "negative_control_max": NEGATIVE_CONTROL_MAX,
                "runs_ratio_max": round(RUNS_RATIO_MAX, 4),
            },
            "passed": not self.failures(),
            "failures": self.failures(),
            "scenarios": [asdict(r) for r in self.results],
        }


def run_scenario(scenario: Scenario, seed: int, strategy: Bisection) -> ScenarioResult:
    """Record the scenario's failed run and blame it; compare with the planted causes."""
    tape, store = record_failed_run(scenario, seed)
    sampler = fork_sampler(scenario, tape, store, seed, Budget(price_for("")))
    outcome = strategy.run(sampler, len(tape.exchanges))
    by_step = {s.step: s for s in outcome.steps}
    top = outcome.ranking[0]
    causes = sorted(scenario.causes)
    innocent = [s.score for s in outcome.steps if s.step not in scenario.causes]
    return ScenarioResult(
        scenario=scenario.name,
        seed=seed,
        n_steps=len(tape.exchanges),
        causes=causes,
        top_step=top,
        top1_correct=(top in scenario.causes) if causes else None,
        cause_score=max(by_step[c].score for c in causes) if causes else None,
        best_innocent_score=max(innocent, default=0.0),
        max_score=max(s.score for s in outcome.steps),
        agent_runs=outcome.agent_runs,
        fixed_k_runs=FIXED_K_REFERENCE * len(tape.exchanges),
        ranking=outcome.ranking[:3],
    )


def validate(
    scenarios: Sequence[Scenario],
    seeds: Sequence[int],
    *,
    strategy: Bisection | None = None,
    on_result: Callable[[ScenarioResult], None] | None = None,
) -> ValidationReport:
    """Run every scenario with every seed."""
    chosen = strategy or Bisection()
    results = []
    for scenario in scenarios:
        for seed in seeds:
            result = run_scenario(scenario, seed, chosen)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return ValidationReport(results, chosen.describe())


def check_against(report: ValidationReport, reference: dict[str, Any]) -> list[str]:
    """Regressions of ``report`` against a reference report (empty when none)."""
    problems = report.failures()
    try:
        if report.top1_accuracy < float(reference["top1_accuracy"]) - 1e-9:
            problems.append(f"top-1 accuracy fell from {reference['top1_accuracy']} to {report.top1_accuracy:.4f}")
        if report.runs_ratio > float(reference["runs_ratio"]) * 1.25:
            problems.append(f"runs ratio rose from {reference['runs_ratio']} to {report.runs_ratio:.4f}")
        before = {(s["scenario"], s["seed"]): s for s in reference["scenarios"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the reference report is not a tfotel validate report: {exc}") from exc
    for r in report.results:
        old = before.get((r.scenario, r.seed))
        if old is not None and old.get("top1_correct") is True and r.top1_correct is False:
            problems.append(f"{r.scenario} (seed {r.seed}): top-1 was step {old['top_step']}, now {r.top_step}")
    return problems


def load_reference(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read reference report {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"reference report {path} is not a JSON object")
    return data
