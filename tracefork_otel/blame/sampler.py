"""Counterfactual forks as samples of V(i): replay the prefix for $0, perturb step i, run the tail live.

One sample is one agent run: steps before i served from the tape (their requests
verified, their draws served back), step i perturbed, everything after sent to the
live endpoint, and the outcome judged by the oracle. Perturbations:

``resample``   step i is sent live too: a fresh sample from the model.
``faults``     step i gets the recorded response mutated by a fault from the library
               (offline: the tail then runs against a stand-in endpoint).
``response``   step i gets a response the user gave.

Forks run concurrently (``jobs`` threads). Tokens are counted from the live responses'
``usage`` so the budget is charged what the forks really cost.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracefork_otel.agents import call_agent
from tracefork_otel.blame.budget import Budget
from tracefork_otel.errors import ReplayDivergence, TraceforkError
from tracefork_otel.nondet import LiveNondet
from tracefork_otel.replay.player import ReplayNondet, TapePlayer
from tracefork_otel.replay.runner import find_divergence
from tracefork_otel.replay.transport import LIVE, CannedResponse, replay_transport
from tracefork_otel.tape.model import Tape
from tracefork_otel.wire import message_from_sse

Perturb = Callable[[int, random.Random], "CannedResponse | str"]
"""Given the step and a random source, the override for that step: a response, or ``LIVE``."""


def usage_of(body: bytes, stream: bool) -> tuple[int, int]:
    """(input, output) tokens a Messages response reports (cached input included)."""
    doc: Any
    if stream:
        doc = message_from_sse(body)
    else:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return 0, 0
    usage = doc.get("usage") if isinstance(doc, dict) else None
    if not isinstance(usage, dict):
        return 0, 0
    total_in = sum(
        v
        for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        if isinstance(v := usage.get(k), int)
    )
    out = usage.get("output_tokens")
    return total_in, out if isinstance(out, int) else 0


class _Metered:
    """Wraps the live transport: reads each response whole, charges its usage to the budget."""

    def __init__(self, inner: Any, budget: Budget) -> None:
        self.inner = inner
        self.budget = budget

    def handle_request(self, request: Any) -> Any:
        import httpx2

        response = self.inner.handle_request(request)
        body = response.read()
        response.close()
        stream = response.headers.get("content-type", "").startswith("text/event-stream")
        self.budget.spend(*usage_of(body, stream))
        return httpx2.Response(response.status_code, headers=response.headers, content=body, request=request)

    def close(self) -> None:
        """Leave ``inner`` open: each fork's client closes its transport, but concurrent forks share
        ``inner`` (closing its pool would cut their connections mid-response); its owner closes it."""


class ForkSampler:
    """Samples V(step) by forking ``tape``; see the module docstring. Thread-safe."""

    def __init__(
        self,
        tape: Tape,
        blobs: dict[str, bytes],
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
        self._perturb = perturb or (lambda step, rng: LIVE)
        self._jobs = max(1, jobs)
        self._seed = seed
        self._counter = 0
        self._lock = threading.Lock()
        self._on_sample = on_sample
        self.agent_errors: list[str] = []

    def _one(self, step: int, index: int) -> bool:
        import anthropic
        import httpx2

        rng = random.Random(f"{self._seed}:{step}:{index}")
        player = TapePlayer(self._tape, self._blobs, until_step=step + 1)
        transport = replay_transport(player, overrides={step: self._perturb(step, rng)}, live=self._live)
        nondet = ReplayNondet(self._tape.draws, player.diverge, live_after=LiveNondet(), until_step=step)
        success = False
        try:
            outcome = call_agent(
                self._agent,
                nondet,
                sync_client=lambda: anthropic.Anthropic(
                    http_client=httpx2.Client(transport=transport), **self._client_kwargs
                ),
                async_client=lambda: anthropic.AsyncAnthropic(
                    http_client=httpx2.AsyncClient(transport=transport), **self._client_kwargs
                ),
            )
            success = bool(self._oracle(outcome))
        except Exception as exc:
            if _is_connection_error(exc):
                raise TraceforkError(f"the live endpoint failed during a fork at step {step}: {exc!r}") from exc
            if find_divergence(exc) is None:
                with self._lock:
                    self.agent_errors.append(f"{type(exc).__name__}: {exc}")
        if player.divergence is not None and player.divergence.step < step:
            raise _PrefixDiverged(player.divergence)
        if self._on_sample is not None:
            self._on_sample(step, success)
        return success

    def sample(self, step: int, count: int) -> list[bool]:
        allowed = self._budget.take(count)
        with self._lock:
            first = self._counter
            self._counter += allowed
        indices: Sequence[int] = range(first, first + allowed)
        try:
            if self._jobs == 1 or allowed == 1:
                return [self._one(step, i) for i in indices]
            with ThreadPoolExecutor(max_workers=min(self._jobs, allowed)) as pool:
                return list(pool.map(lambda i: self._one(step, i), indices))
        except _PrefixDiverged as exc:
            raise TraceforkError(
                f"the recorded prefix does not replay (so forks are not counterfactuals of this run): {exc.divergence}"
            ) from exc.divergence


def _is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` is the live endpoint failing (not the agent): such a fork measures nothing."""
    import anthropic

    return isinstance(exc, (anthropic.APIConnectionError, anthropic.InternalServerError))


class _PrefixDiverged(Exception):
    def __init__(self, divergence: ReplayDivergence) -> None:
        super().__init__(str(divergence))
        self.divergence = divergence
