"""Counterfactual forks as samples of V(i): replay the prefix for $0, perturb step i, run the tail live.

One sample is one agent run (a `ReplaySession` forked at i): steps before i served from
the tape (their requests verified, their draws served back), step i perturbed (see
`tracefork_otel.blame.perturb`), everything after sent to the live endpoint, and the
outcome judged by the oracle.

Forks run concurrently (``jobs`` threads). Tokens are counted from the live responses'
``usage`` so the budget is charged what the forks really cost.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracefork_otel.agents import verdict
from tracefork_otel.blame.budget import Budget
from tracefork_otel.blame.perturb import Perturb, resample
from tracefork_otel.errors import LiveEndpointError, NotReplayableError
from tracefork_otel.replay.session import ReplaySession
from tracefork_otel.replay.transport import buffered
from tracefork_otel.tape.model import Tape
from tracefork_otel.wire import input_tokens, response_message


def usage_of(body: bytes, stream: bool) -> tuple[int, int]:
    """(input, output) tokens a Messages response reports (cached input included, as on spans)."""
    doc = response_message(body, stream=stream)
    usage = doc.get("usage") if doc is not None else None
    if not isinstance(usage, dict):
        return 0, 0
    out = usage.get("output_tokens")
    return input_tokens(usage) or 0, out if isinstance(out, int) else 0


class _Metered:
    """Wraps the live transport: reads each response whole, charges its usage to the budget."""

    def __init__(self, inner: Any, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def handle_request(self, request: Any) -> Any:
        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        stream = response.headers.get("content-type", "").startswith("text/event-stream")
        self.budget.spend(*usage_of(body, stream))
        return buffered(response, body, request)

    def close(self) -> None:
        """Leave ``inner`` open: each fork's client closes its transport, but concurrent forks share
        ``inner`` (closing its pool would cut their connections mid-response); its owner closes it."""


class ForkSampler:
    """Samples V(step) by forking ``tape``; see the module docstring. Thread-safe."""

    def __init__(
        self,
        tape: Tape,
        blobs: Mapping[str, bytes],
        agent: Callable[..., Any],
        oracle: Callable[[Any], Any],
        *,
        live: Any,
        client_kwargs: dict[str, Any],
        budget: Budget,
        perturb: Perturb | None = None,
        jobs: int = 1,
        seed: int = 0,
        on_sample: Callable[[int, bool], None] | None = None,
    ) -> None:
        self._tape = tape
        self._blobs = blobs
        self._agent = agent
        self._oracle = oracle
        self._live = _Metered(live, budget)
        self._client_kwargs = client_kwargs
        self._budget = budget
        self._perturb = perturb or resample
        self._jobs = max(1, jobs)
        self._seed = seed
        self._counter = 0
        self._lock = threading.Lock()
        self._on_sample = on_sample
        self.agent_errors: list[str] = []

    def _one(self, step: int, index: int) -> bool:
        rng = random.Random(f"{self._seed}:{step}:{index}")
        session = ReplaySession(
            self._tape,
            self._blobs,
            fork_at=step,
            override=self._perturb(step, rng),
            live=self._live,
            client_kwargs=self._client_kwargs,
        )
        result = session.run(self._agent)
        if result.divergence is not None and result.divergence.step < step:
            raise NotReplayableError(
                "the recorded prefix does not replay (so forks are not counterfactuals of this run)",
                result.divergence,
            )
        error = result.error
        success = error is None and verdict(self._oracle, result.outcome)
        if error is not None:
            if _is_connection_error(error):
                raise LiveEndpointError(step, error) from error
            with self._lock:
                self.agent_errors.append(f"{type(error).__name__}: {error}")
        if self._on_sample is not None:
            self._on_sample(step, success)
        return success

    def sample(self, step: int, count: int) -> list[bool]:
        allowed = self._budget.take(count)
        with self._lock:
            first = self._counter
            self._counter += allowed
        indices: Sequence[int] = range(first, first + allowed)
        if self._jobs == 1 or allowed == 1:
            return [self._one(step, i) for i in indices]
        with ThreadPoolExecutor(max_workers=min(self._jobs, allowed)) as pool:
            return list(pool.map(lambda i: self._one(step, i), indices))


def _is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the live endpoint failing (not the agent): such a fork measures nothing."""
    import anthropic

    return isinstance(exc, (anthropic.APIConnectionError, anthropic.InternalServerError))
