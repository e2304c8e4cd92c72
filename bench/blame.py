"""Blame cost: agent runs and tokens to rank the decisive step first, adaptive vs fixed k per step.

Three validation scenarios with one planted cause (`tracefork_otel.validate.scenarios`):
``truncated-reply`` (10 steps, cause at 7), ``long-20`` (20, cause at 13) and ``long-50``
(50, cause at 38). For each seed the scenario's failed run is recorded
(``record_failed_run``) and blamed with the real pipeline, as ``tfotel validate`` does
(a `ForkSampler`: the prefix replayed from the tape, the rest sampled live from the
stochastic stand-in model), once with ``Bisection()`` and once with ``FixedK(k=10)``, on
the same tape. Reported per run: agent runs, tokens the forks' live responses reported
(the sampler's `Budget`), whether the top-ranked step is the planted cause, and how
many distinct steps V was estimated at.

These are counts, not timings, so the jobs run two at a time in spawned processes
(no timed measurement runs meanwhile); wall time per job is kept only to size the run.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
import time
from typing import Any, Final

from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.pricing import price_for
from tracefork_otel.blame.strategy import Bisection, FixedK
from tracefork_otel.validate import scenario
from tracefork_otel.validate.runs import fork_sampler, record_failed_run

SCENARIOS: Final = {10: "truncated-reply", 20: "long-20", 50: "long-50"}
K: Final = 10
TARGET_RATIO_20: Final = 1 / 3


def _strategy(name: str) -> Bisection | FixedK:
    return Bisection() if name == "adaptive" else FixedK(k=K)


def job(strategy: str, steps: int, seed: int) -> dict[str, Any]:
    """Record the scenario's failed run for ``seed`` and blame it with ``strategy``; the counts."""
    started = time.monotonic()
    world = scenario(SCENARIOS[steps])
    tape, store = record_failed_run(world, seed)
    budget = Budget(price_for(""))
    sampler = fork_sampler(world, tape, store, seed, budget)
    chosen = _strategy(strategy)
    outcome = chosen.run(sampler, len(tape.exchanges))
    return {
        "strategy": strategy,
        "describe": chosen.describe(),
        "steps": steps,
        "scenario": world.name,
        "seed": seed,
        "causes": sorted(world.causes),
        "agent_runs": outcome.agent_runs,
        "budget_runs": budget.runs,
        "input_tokens": budget.input_tokens,
        "output_tokens": budget.output_tokens,
        "tokens": budget.input_tokens + budget.output_tokens,
        "top_step": outcome.ranking[0],
        "top1_correct": outcome.ranking[0] in world.causes,
        "steps_estimated": len([s for s in outcome.estimates if s < len(tape.exchanges)]),
        "stopped": outcome.stopped,
        "elapsed_s": time.monotonic() - started,
    }


def _star(args: tuple[str, int, int]) -> dict[str, Any]:
    return job(*args)


def plan(seeds: int, fixed_seeds_50: int) -> list[tuple[str, int, int]]:
    """Every (strategy, steps, seed) job, the longest first (so the pool finishes together)."""
    jobs = [("adaptive", n, s) for n in SCENARIOS for s in range(seeds)]
    jobs += [("fixed", n, s) for n in SCENARIOS for s in range(fixed_seeds_50 if n == 50 else seeds)]
    return sorted(jobs, key=lambda j: -(j[1] ** 2 if j[0] == "fixed" else j[1] * 4))


def _mean(values: list[float]) -> float:
    return statistics.fmean(values) if values else float("nan")


def _aggregate(rows: list[dict[str, Any]], steps: int, strategy: str) -> dict[str, Any]:
    if not rows and strategy == "fixed":
        # Not run (quick mode at 50 steps): FixedK spends exactly k runs per step, whatever happens.
        return {
            "seeds": [],
            "runs": float(K * steps),
            "by_construction": True,
            "tokens": float("nan"),
            "input_tokens": float("nan"),
            "output_tokens": float("nan"),
            "top1": float("nan"),
            "runs_min": K * steps,
            "runs_max": K * steps,
            "steps_estimated": float(steps),
            "elapsed_s": float("nan"),
        }
    return {
        "seeds": sorted(r["seed"] for r in rows),
        "runs": _mean([r["agent_runs"] for r in rows]),
        "runs_median": statistics.median([r["agent_runs"] for r in rows]) if rows else float("nan"),
        "runs_min": min((r["agent_runs"] for r in rows), default=0),
        "runs_max": max((r["agent_runs"] for r in rows), default=0),
        "tokens": _mean([r["tokens"] for r in rows]),
        "input_tokens": _mean([r["input_tokens"] for r in rows]),
        "output_tokens": _mean([r["output_tokens"] for r in rows]),
        "top1": _mean([1.0 if r["top1_correct"] else 0.0 for r in rows]),
        "steps_estimated": _mean([r["steps_estimated"] for r in rows]),
        "elapsed_s": _mean([r["elapsed_s"] for r in rows]),
    }


def measure(seeds: int, fixed_seeds_50: int, workers: int | None = None) -> dict[str, Any]:
    """All jobs in a spawn pool; per size the means, and adaptive/fixed ratios; growth from 10 to 50 steps."""
    jobs = plan(seeds, fixed_seeds_50)
    workers = workers or max(1, min(2, os.cpu_count() or 1))
    started = time.monotonic()
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        rows = pool.map(_star, jobs, chunksize=1)
    by_size: dict[str, Any] = {}
    for steps, name in SCENARIOS.items():
        adaptive, fixed = (
            _aggregate([r for r in rows if r["steps"] == steps and r["strategy"] == which], steps, which)
            for which in ("adaptive", "fixed")
        )
        by_size[str(steps)] = {
            "scenario": name,
            "adaptive": adaptive,
            "fixed": fixed,
            "runs_ratio": adaptive["runs"] / fixed["runs"] if fixed["runs"] else float("nan"),
            "tokens_ratio": adaptive["tokens"] / fixed["tokens"] if fixed["tokens"] else float("nan"),
        }
    runs10, runs50 = by_size["10"]["adaptive"]["runs"], by_size["50"]["adaptive"]["runs"]
    med10, med50 = by_size["10"]["adaptive"]["runs_median"], by_size["50"]["adaptive"]["runs_median"]
    ratio20 = by_size["20"]["runs_ratio"]
    return {
        "seeds": seeds,
        "fixed_seeds_50": fixed_seeds_50,
        "k": K,
        "workers": workers,
        "adaptive": Bisection().describe(),
        "fixed": FixedK(k=K).describe(),
        "by_size": by_size,
        "growth": {
            "runs_50_over_10": runs50 / runs10 if runs10 else float("nan"),
            "median_runs_50_over_10": med50 / med10 if med10 else float("nan"),
            "log_ratio": math.log2(50) / math.log2(10),
            "linear_ratio": 50 / 10,
        },
        "target_ratio_20": TARGET_RATIO_20,
        "ratio_20_met": ratio20 <= TARGET_RATIO_20,
        "elapsed_s": time.monotonic() - started,
        "jobs": rows,
    }
