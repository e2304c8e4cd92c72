"""Two runs side by side: where they part, step by step, and how each ended (``tfotel diff A B``).

The runs are compared by their tapes, with no agent run: step ``i`` of A against step ``i`` of B,
the request first (a different request is where the agents did something different: every
differing JSON path is listed), then the response (the same request, another answer: a fork's
override, or the model sampling differently). The first step that is not the same is where the
runs part; a fork of A at step N parts from A at N. The outcomes come from the recordings.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tracefork_otel.entrypoint import outcome_summary
from tracefork_otel.replay.verify import Difference, differences
from tracefork_otel.tape.model import Exchange, Tape


class StepStatus(enum.StrEnum):
    """How one step of A compares with the same step of B."""

    SAME = "same"
    REQUEST_DIFFERS = "request differs"
    RESPONSE_DIFFERS = "response differs"
    ONLY_IN_A = "only in A"
    ONLY_IN_B = "only in B"


@dataclass(frozen=True)
class StepDiff:
    """One step of the comparison: its status, and the JSON paths that differ (request or response)."""

    step: int
    status: StepStatus
    differences: tuple[Difference, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "status": self.status.value,
            "differences": [{"path": d.path, "a": d.expected, "b": d.actual} for d in self.differences],
        }


@dataclass(frozen=True)
class RunDiff:
    """What `diff_runs` found."""

    a: str
    b: str
    steps: tuple[StepDiff, ...]
    outcome_a: str
    outcome_b: str
    b_forks_a_at: int | None
    """B is a fork of A at this step (its recording says so), else None."""

    @property
    def parts_at(self) -> int | None:
        """The first step that is not the same in both, or None when the exchanges are identical."""
        return next((s.step for s in self.steps if s.status is not StepStatus.SAME), None)

    @property
    def identical(self) -> bool:
        return self.parts_at is None and self.outcome_a == self.outcome_b

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "identical": self.identical,
            "parts_at": self.parts_at,
            "b_forks_a_at": self.b_forks_a_at,
            "outcome": {"a": self.outcome_a, "b": self.outcome_b},
            "steps": [s.to_json() for s in self.steps],
        }


def diff_runs(a: Tape, blobs_a: Mapping[str, bytes], b: Tape, blobs_b: Mapping[str, bytes]) -> RunDiff:
    """Compare run ``a`` with run ``b``; see the module docstring. ``blobs_*`` hold each tape's blobs."""
    steps = []
    for i in range(max(len(a.exchanges), len(b.exchanges))):
        if i >= len(b.exchanges):
            steps.append(StepDiff(i, StepStatus.ONLY_IN_A))
        elif i >= len(a.exchanges):
            steps.append(StepDiff(i, StepStatus.ONLY_IN_B))
        else:
            steps.append(_step(i, a.exchanges[i], blobs_a, b.exchanges[i], blobs_b))
    return RunDiff(
        a=a.trace_id,
        b=b.trace_id,
        steps=tuple(steps),
        outcome_a=_outcome(a, blobs_a),
        outcome_b=_outcome(b, blobs_b),
        b_forks_a_at=b.fork_step if b.parent_trace_id == a.trace_id else None,
    )


def _step(i: int, ea: Exchange, blobs_a: Mapping[str, bytes], eb: Exchange, blobs_b: Mapping[str, bytes]) -> StepDiff:
    if ea.request_sha256 != eb.request_sha256:
        found = differences(blobs_a[ea.request_sha256], blobs_b[eb.request_sha256])
        return StepDiff(i, StepStatus.REQUEST_DIFFERS, tuple(found))
    if ea.response_sha256 != eb.response_sha256 or ea.status_code != eb.status_code:
        found = differences(blobs_a[ea.response_sha256], blobs_b[eb.response_sha256])
        return StepDiff(i, StepStatus.RESPONSE_DIFFERS, tuple(found))
    return StepDiff(i, StepStatus.SAME)


def _outcome(tape: Tape, blobs: Mapping[str, bytes]) -> str:
    outcome = tape.outcome
    if outcome is None:
        return "not recorded"
    data = blobs.get(outcome.sha256)
    if data is not None:
        try:
            return outcome_summary(json.loads(data))
        except ValueError:
            pass
    return "ok" if outcome.ok else f"raised {outcome.error_type or 'an exception'}"
