"""Interleaved timing: arms alternate within a round (ABBA order), samples are summarised by median and IQR."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def now_ns() -> int:
    return time.perf_counter_ns()


def order(arms: Sequence[T], round_index: int) -> list[T]:
    """The arms in the order round ``round_index`` runs them: forwards on even rounds, backwards on odd."""
    return list(arms) if round_index % 2 == 0 else list(reversed(arms))


def interleave(
    arms: dict[str, Callable[[], dict[str, float]]], rounds: int, warmup: int = 2
) -> dict[str, list[dict[str, float]]]:
    """Run every arm once per round, ``warmup`` rounds discarded; returns each arm's samples in round order.

    A full collection runs before each sample so one arm's garbage is not collected on the other's time.
    """
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    for index in range(warmup + rounds):
        for name in order(list(arms), index):
            gc.collect()
            sample = arms[name]()
            if index >= warmup:
                samples[name].append(sample)
    return samples


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, quartiles and extremes of ``values``."""
    ordered = sorted(values)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


def field(samples: Sequence[dict[str, float]], key: str) -> list[float]:
    return [sample[key] for sample in samples]
