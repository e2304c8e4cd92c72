"""Scenario worlds for ``tfotel validate``: a ledger agent, a stochastic model, and an oracle, with planted causes.

A `Scenario` fixes a ledger task of ``n_steps`` model calls (tape steps ``0..n_steps-1``;
see `tracefork_otel.validate.ledger`). It also fixes where the stand-in model goes
wrong, and how often:

* ``cause_steps``: step → ``(fault name, q)``. A fresh sample there is faulty with
  probability ``q``, and a faulty sample makes the outcome fail through that fault's
  mechanism.
* ``decoys``: steps whose samples change the transcript (odd wording, an extra text
  block, the amount as a string) but never the outcome.
* ``echo_steps``: echo step → source step. The echo repeats the amount the transcript
  shows at the source, so a faulty source is repeated downstream. Resampling the echo
  alone cannot fix the run.
* ``mode``: ``exact`` (one cause; the oracle wants the exact closing balances),
  ``conjunction`` (two causes; the audit tolerates one bad posting, so the run fails
  only when both are faulty), or ``impossible`` (the negative control: the user
  demands a closing balance the operations cannot reach, so every run fails and no
  step has any harm).

Every other step varies its wording on each sample and never changes the outcome.
`tracefork_otel.validate.runs` records the failed run (every cause forced faulty,
decoys in their odd form) and estimates ``V(i)`` by forks: the prefix before ``i`` is
replayed, and ``i`` and everything after come fresh from `live_transport`.
`true_values` gives the exact ``V(i)`` that a correct estimator should converge to.
"""

from __future__ import annotations

import datetime
import enum
import functools
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

import anthropic
import httpx2

from tracefork_otel.errors import ConfigError, TraceforkError
from tracefork_otel.loop import drive
from tracefork_otel.nondet import Nondet
from tracefork_otel.validate.faults import fault
from tracefork_otel.validate.ledger import ACCOUNTS, LedgerClerk, Op, Task, deviations
from tracefork_otel.validate.model import LedgerModel, model_transport

__all__ = [
    "BASE_URL",
    "CLIENT_KWARGS",
    "Mode",
    "Scenario",
    "ScenarioError",
    "SeededNondet",
    "agent_for",
    "live_transport",
    "model_for",
    "oracle_for",
    "task_for",
    "true_harm",
    "true_values",
]

BASE_URL: Final = "http://validate.invalid"
"""The stand-in model's base URL: a host that cannot resolve, so nothing can leave the process."""
API_KEY: Final = "tfotel-validate-no-key"
CLIENT_KWARGS: Final[Mapping[str, Any]] = MappingProxyType({"api_key": API_KEY, "base_url": BASE_URL, "max_retries": 0})
"""The agent's client arguments: the stand-in's URL, and no retries (nothing here fails transiently)."""

Agent = Callable[[anthropic.Anthropic, Nondet], dict[str, Any]]
Oracle = Callable[[object], bool]


class Mode(enum.StrEnum):
    """How the outcome depends on the causes."""

    EXACT = "exact"
    CONJUNCTION = "conjunction"
    IMPOSSIBLE = "impossible"


_CAUSE_COUNT: Final = {Mode.EXACT: 1, Mode.CONJUNCTION: 2, Mode.IMPOSSIBLE: 0}


class ScenarioError(TraceforkError):
    """A scenario did not behave as planted (the recorded run did not fail, or has the wrong length)."""

    def __init__(self, scenario: str, message: str) -> None:
        super().__init__(f"scenario {scenario!r}: {message}")
        self.scenario = scenario


@dataclass(frozen=True)
class Scenario:
    """A ledger world with planted, known causes. See the module docstring.

    ``causes``, ``decoys`` and ``echoes`` are the ground truth the harness grades blame
    against. ``causes`` must equal ``cause_steps``' keys, and ``echoes`` must equal
    ``echo_steps``' keys.

    Raises:
        ConfigError: inconsistent or out-of-range parameters, or an unknown fault name.
    """

    name: str
    n_steps: int
    causes: frozenset[int]
    decoys: frozenset[int]
    echoes: frozenset[int]
    description: str
    cause_steps: Mapping[int, tuple[str, float]] = field(default_factory=dict, hash=False)
    echo_steps: Mapping[int, int] = field(default_factory=dict, hash=False)
    mode: Mode = Mode.EXACT
    decoy_rate: float = 0.5

    def __post_init__(self) -> None:
        def bad(why: str) -> ConfigError:
            return ConfigError(f"scenario {self.name!r}: {why}")

        if self.n_steps < 2:
            raise bad(f"n_steps must be >= 2 (operations plus the closing report), got {self.n_steps}")
        if self.mode not in _CAUSE_COUNT:
            raise bad(f"mode must be one of {', '.join(m.value for m in Mode)}, got {self.mode!r}")
        if self.causes != frozenset(self.cause_steps) or self.echoes != frozenset(self.echo_steps):
            raise bad("causes/echoes must be the keys of cause_steps/echo_steps")
        if len(self.causes) != _CAUSE_COUNT[self.mode]:
            raise bad(f"mode {self.mode.value} needs {_CAUSE_COUNT[self.mode]} cause(s), got {sorted(self.causes)}")
        operations = range(self.n_steps - 1)
        for what, steps in (("cause", self.causes), ("decoy", self.decoys), ("echo", self.echoes)):
            if not steps <= frozenset(operations):
                raise bad(f"{what} steps {sorted(steps)} must be operation steps 0..{self.n_steps - 2}")
        if self.decoys & (self.causes | self.echoes) or self.causes & self.echoes:
            raise bad("cause, decoy and echo steps must not overlap")
        for echo, source in self.echo_steps.items():
            if source not in self.causes or not source < echo:
                raise bad(f"echo step {echo} must follow the cause it repeats (got source {source})")
        for fault_name, q in self.cause_steps.values():
            fault(fault_name)
            if not 0 < q <= 1:
                raise bad(f"q must be in (0, 1], got {q}")
        if not 0 <= self.decoy_rate <= 1:
            raise bad(f"decoy_rate must be in [0, 1], got {self.decoy_rate}")

    @classmethod
    def build(
        cls,
        name: str,
        n_steps: int,
        description: str,
        *,
        cause_steps: Mapping[int, tuple[str, float]] | None = None,
        decoy_steps: frozenset[int] | set[int] = frozenset(),
        echo_steps: Mapping[int, int] | None = None,
        mode: Mode = Mode.EXACT,
        decoy_rate: float = 0.5,
    ) -> Scenario:
        """A scenario whose ground-truth sets are derived from its parameters."""
        causes, echoes = dict(cause_steps or {}), dict(echo_steps or {})
        return cls(
            name=name,
            n_steps=n_steps,
            causes=frozenset(causes),
            decoys=frozenset(decoy_steps),
            echoes=frozenset(echoes),
            description=description,
            cause_steps=causes,
            echo_steps=echoes,
            mode=mode,
            decoy_rate=decoy_rate,
        )

    @property
    def forced(self) -> Mapping[int, str]:
        """The faults forced when recording the failed run: every cause, with its planted fault."""
        return {step: name for step, (name, _) in self.cause_steps.items()}


@functools.cache
def task_for(scenario: Scenario) -> Task:
    """The scenario's ledger task. Deterministic: a function of its name and length."""
    rng = random.Random(f"ledger-task:{scenario.name}:{scenario.n_steps}")
    ops: list[Op] = []
    for index in range(scenario.n_steps - 1):
        source = scenario.echo_steps.get(index)
        if source is not None:
            src = ops[source]
            # Another account, same direction: a repeated wrong amount can never cancel out.
            account = rng.choice([a for a in ACCOUNTS if a != src.account])
            ops.append(Op(index, src.tool, account, src.cents, same_as=source))
        else:
            cents = 100 * rng.randint(5, 95) + rng.choice((0, 25, 50))
            ops.append(Op(index, rng.choice(("credit", "debit")), rng.choice(ACCOUNTS), cents))
    task = Task(tuple(ops))
    if scenario.mode is Mode.IMPOSSIBLE:
        account = ACCOUNTS[0]
        task = Task(task.ops, target=(account, task.expected_balances()[account] + 12_345))
    return task


def agent_for(scenario: Scenario) -> Agent:
    """The scenario's agent: ``fn(client, nondet)`` running the ledger clerk; returns its outcome."""
    task, n_steps = task_for(scenario), scenario.n_steps

    def ledger_agent(client: anthropic.Anthropic, nondet: Nondet) -> dict[str, Any]:
        return drive(client, LedgerClerk(task, n_steps, nondet))

    ledger_agent.__qualname__ = ledger_agent.__name__ = f"ledger_agent[{scenario.name}]"
    return ledger_agent


def oracle_for(scenario: Scenario) -> Oracle:
    """The scenario's oracle: True when the agent's outcome is a success."""
    task = task_for(scenario)
    expected = task.expected_balances()

    def oracle(outcome: object) -> bool:
        if not isinstance(outcome, Mapping):
            return False
        if scenario.mode is Mode.CONJUNCTION:
            return deviations(task, outcome) <= 1  # the audit tolerates one bad posting
        balances = outcome.get("balances")
        if task.target is not None and (
            not isinstance(balances, Mapping) or balances.get(task.target[0]) != task.target[1]
        ):
            return False
        return balances == expected

    return oracle


def model_for(scenario: Scenario, rng: random.Random, *, recording: bool, forced: Mapping[int, str]) -> LedgerModel:
    return LedgerModel(
        task_for(scenario),
        rng,
        cause_steps=scenario.cause_steps,
        decoys=scenario.decoys,
        decoy_rate=scenario.decoy_rate,
        forced=forced if recording else None,
        show_decoys=recording,
    )


def live_transport(scenario: Scenario, seed: int) -> httpx2.MockTransport:
    """The stochastic stand-in model: fresh draws per request from ``random.Random(seed)``. Thread-safe."""
    return model_transport(model_for(scenario, random.Random(seed), recording=False, forced={}))


class SeededNondet:
    """Reproducible ids, clock and random numbers for validation runs. Thread-safe."""

    _EPOCH: Final = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"nondet:{seed}")
        self._lock = threading.Lock()
        self._ticks = 0

    def now_iso(self) -> str:
        with self._lock:
            self._ticks += 1
            return (self._EPOCH + datetime.timedelta(seconds=self._ticks)).isoformat()

    def new_id(self, prefix: str = "") -> str:
        with self._lock:
            token = f"{self._rng.getrandbits(128):032x}"
        return f"{prefix}_{token}" if prefix else token

    def random(self) -> float:
        with self._lock:
            return self._rng.random()


def true_values(scenario: Scenario) -> tuple[float, ...]:
    """The exact ``V(i)`` for ``i = 0..n_steps`` around the failed run `record_failed_run` records.

    ``V(n_steps)`` is the recorded run itself (0). Decoys, echoes and innocent steps
    never move the outcome, so ``V`` only changes at the causes.
    """
    n = scenario.n_steps
    if scenario.mode is Mode.IMPOSSIBLE:
        return (0.0,) * (n + 1)
    planted = sorted(scenario.cause_steps.items())
    if scenario.mode is Mode.EXACT:
        ((cause, (_, q)),) = planted
        return tuple(1 - q if i <= cause else 0.0 for i in range(n + 1))
    (first, (_, q1)), (second, (_, q2)) = planted
    return tuple(1 - q1 * q2 if i <= first else 1 - q2 if i <= second else 0.0 for i in range(n + 1))


def true_harm(scenario: Scenario) -> tuple[float, ...]:
    """The exact ``harm(i) = V(i) - V(i+1)`` for ``i = 0..n_steps-1``."""
    values = true_values(scenario)
    return tuple(values[i] - values[i + 1] for i in range(scenario.n_steps))
