"""Helpers of the blame tests (plain code; fixtures are in ``conftest.py``).

`BernoulliWorld` is a pure-Python `Sampler`: a failed run of ``n`` steps where each cause
step's fresh sample is faulty with probability q, so V(i) is known in closed form.
`RiskyRefundPolicy` is a stochastic stand-in model for the demo refund agent.
"""

from __future__ import annotations

import enum
import math
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli_support import CliResult as CliResult  # re-exported for this folder's tests

from tracefork_otel.blobstore import BlobStore
from tracefork_otel.demo import ReceivedRequest, demo_policy
from tracefork_otel.errors import BudgetExhausted
from tracefork_otel.tape import Tape
from tracefork_otel.wire import message

API_KEY = "sk-test"
AGENT = "tracefork_otel.demo.agent:run"
ORACLE = "tracefork_otel.demo.agent:oracle"
ESTIMATE_LINE = re.compile(
    r"^blame (?P<id>[0-9a-f]{32}): 3 steps; expected ~(?P<expected>\d+) agent runs \(worst (?P<worst>\d+)\),"
    r" ~\d+ tokens per run, ~\$\d+\.\d\d \(worst \$\d+\.\d\d\)$"
)
"""The cost estimate ``tfotel blame`` prints on stderr before it spends anything (for a 3-step run)."""
PROGRESS_LINE = re.compile(r"^blame: (?P<runs>\d+) runs \(~\d+ expected\), last fork at step \d$")


class Mode(enum.Enum):
    OR = "or"
    """The run fails if any cause's sample is faulty."""
    AND = "and"
    """A conjunction: the run fails only if every cause's sample is faulty."""
    IMPOSSIBLE = "impossible"
    """The negative control: every run fails whatever is sampled."""


@dataclass
class BernoulliWorld:
    """A failed run of ``n`` steps with planted causes; `sample` forks it (a `Sampler`).

    The recorded run has every cause faulty (so it failed). A fork at step i keeps the
    recorded prefix (causes before i stay faulty) and draws every cause from i on afresh.
    Decoys draw a transcript change that never matters; an echo repeats its source
    cause's value (so it is faulty whenever the source is). Not thread-safe; the
    strategies call it from one thread.
    """

    n: int
    causes: Mapping[int, float]
    mode: Mode = Mode.OR
    decoys: frozenset[int] = frozenset()
    echoes: Mapping[int, int] = field(default_factory=dict)
    seed: int | str = 0
    max_runs: int | None = None
    calls: list[tuple[int, int]] = field(default_factory=list)
    runs: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def sample(self, step: int, count: int) -> list[bool]:
        if self.max_runs is not None:
            if self.runs >= self.max_runs:
                raise BudgetExhausted(f"--max-runs {self.max_runs} reached")
            count = min(count, self.max_runs - self.runs)
        assert 0 <= step < self.n and count >= 1
        self.calls.append((step, count))
        self.runs += count
        return [self._one(step) for _ in range(count)]

    def _one(self, step: int) -> bool:
        faulty = {c: True if c < step else self.rng.random() < q for c, q in self.causes.items()}
        for d in self.decoys:
            if d >= step:
                self.rng.random()  # the transcript changes; the outcome does not
        for echo, source in self.echoes.items():
            faulty.setdefault(echo, faulty[source])
        return self.judge(faulty)

    def judge(self, faulty: Mapping[int, bool]) -> bool:
        values = [faulty[c] for c in self.causes]
        if self.mode is Mode.IMPOSSIBLE:
            return False
        if self.mode is Mode.AND:
            return not all(values)
        return not any(values)

    def true_v(self, step: int) -> float:
        """V(step) in closed form (V(n) = 0: the recorded run failed)."""
        if self.mode is Mode.IMPOSSIBLE or step >= self.n:
            return 0.0
        fresh = [q for c, q in self.causes.items() if c >= step]
        if self.mode is Mode.AND:
            return 1.0 - math.prod(fresh)  # causes kept from the prefix are faulty for sure
        return 0.0 if len(fresh) < len(self.causes) else math.prod(1 - q for q in fresh)

    def true_harm(self, step: int) -> float:
        return self.true_v(step) - self.true_v(step + 1)


def naive_flip_rate(world: BernoulliWorld, k: int) -> dict[int, float]:
    """The naive score: resample step i with the tail live, k times; the fraction that succeed.

    (This is an estimate of V(i) itself: it credits every step upstream of a cause.)
    """
    return {i: sum(world.sample(i, k)) / k for i in range(world.n)}


ASIDES = (
    "Let me check that order for you.",
    "One moment while I pull up the order.",
    "Looking that up now.",
    "Sure, checking the order book.",
)
SIGN_OFFS = ("Have a nice day!", "Thanks for your patience.", "Anything else I can help with?")


class RiskyRefundPolicy:
    """`demo_policy` as a stochastic model: the refund amount goes wrong (x10) with probability ``p_wrong``.

    Innocent steps vary their wording: the lookup reply gets a random harmless text
    block, the closing answer a random sign-off. Seeded and thread-safe (a lock around
    the random sources), so concurrent forks may call it. The k-th refund request is
    wrong iff the k-th draw of its own seeded sequence is: forks that run at once only
    swap their draws, so the successes in each batch of forks, and hence the blame, do
    not depend on thread timing.
    """

    def __init__(self, seed: int, p_wrong: float = 0.4) -> None:
        self._refund_rng = random.Random(f"refund:{seed}")
        self._wording_rng = random.Random(f"wording:{seed}")
        self._lock = threading.Lock()
        self.p_wrong = p_wrong
        self.refunds = 0
        self.wrong_refunds = 0

    def _wording(self, choices: tuple[str, ...]) -> str:
        with self._lock:
            return self._wording_rng.choice(choices)

    def _goes_wrong(self) -> bool:
        with self._lock:
            wrong = self._refund_rng.random() < self.p_wrong
            self.refunds += 1
            self.wrong_refunds += wrong
            return wrong

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        reply = demo_policy(request)
        content = reply["content"]
        uses = [b for b in content if b["type"] == "tool_use"]
        text = "".join(b["text"] for b in content if b["type"] == "text") or None
        if uses and uses[0]["name"] == "lookup_order":
            return message(self._wording(ASIDES), tool_use=uses, request=request)
        if uses and uses[0]["name"] == "issue_refund":
            refund = dict(uses[0]["input"])
            if self._goes_wrong() and isinstance(refund.get("amount"), int | float):
                refund["amount"] = round(refund["amount"] * 10, 2)
            return message(tool_use={"name": "issue_refund", "input": refund}, request=request)
        sign_off = self._wording(SIGN_OFFS)
        return message(f"{text} {sign_off}" if text else sign_off, request=request)


DECISIVE_STEP = 1
"""The tape step where the demo agent's model picks the refund amount (0 lookup, 1 refund, 2 answer)."""


@dataclass(frozen=True)
class FailedRun:
    """A demo-agent run that failed the demo oracle, recorded against the risky model."""

    trace_id: str
    tape: Tape
    store: BlobStore
    attempts: int
    home: Path


def final_answers(requests: list[ReceivedRequest]) -> int:
    """Agent runs behind ``requests``: every fork ends with exactly one step-2 request (five messages)."""
    return sum(len(r.json().get("messages", [])) == 5 for r in requests)


def forks_at(requests: list[ReceivedRequest]) -> dict[int, int]:
    """Forks per step: a fork at step s sends steps s..2 live, so its first request has 2s + 1 messages."""
    sizes = [len(r.json().get("messages", [])) for r in requests]
    sent = {step: sizes.count(2 * step + 1) for step in range(3)}
    return {0: sent[0], 1: sent[1] - sent[0], 2: sent[2] - sent[1]}
