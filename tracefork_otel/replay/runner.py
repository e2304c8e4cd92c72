"""Replaying a run: the agent against its tape, with no network and no API key; the result is a receipt.

The result is data; raising is the caller's choice (``raise_on_divergence``), as in
Temporal's replayer. ``tfotel replay`` and ``tfotel verify`` turn the receipt into exit 0 or 1.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from tracefork_otel.agents import outcome_json
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import DivergenceCode, ReplayDivergence, RunFragmentError
from tracefork_otel.replay.session import ReplaySession, SessionResult, load_blobs
from tracefork_otel.tape.digest import tape_digest
from tracefork_otel.tape.model import ANY_EXCEPTION, Tape

NOT_RECORDED: Final = object()
"""The recorded run's value is unknown: not recorded, or not JSON (a ``repr`` cannot be compared)."""


def _recorded_value(tape: Tape, blobs: Mapping[str, bytes]) -> Any:
    data = blobs.get(tape.outcome.sha256) if tape.outcome is not None and tape.outcome.ok else None
    try:
        document = json.loads(data) if data is not None else None
    except ValueError:
        return NOT_RECORDED
    return document["value"] if isinstance(document, dict) and "value" in document else NOT_RECORDED


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ReplayReceipt:
    """What a replay proved."""

    trace_id: str
    steps: int
    replayed: int
    bytes_verified: int
    draws: int
    recorded_digest: str
    replay_digest: str
    wall_time_s: float
    outcome: Any
    divergence: ReplayDivergence | None
    agent_error: str | None
    agent_error_type: str | None = None
    """The qualified type name of the exception the replayed agent raised (not a divergence)."""
    recorded_error_type: str | None = None
    """The exception the recorded run raised, or None (it returned, or its outcome was not recorded)."""
    partial: bool = False
    """The tape is a partial recording (``--allow-partial``): only its completed prefix was replayed."""
    recorded_value: Any = NOT_RECORDED
    """The value the recorded run returned, when it was recorded as JSON (else `NOT_RECORDED`)."""

    @property
    def outcome_difference(self) -> str | None:
        """How the replay ended differently from the recording (an exception one had and the other not), or None.

        A partial recording has no outcome, so nothing differs there.
        """
        recorded, replayed = self.recorded_error_type, self.agent_error_type
        if self.partial:
            return None
        if recorded is None and replayed is None:
            if self.recorded_value is NOT_RECORDED or outcome_json(self.outcome) == self.recorded_value:
                return None
            return (
                f"the agent returned {_short(outcome_json(self.outcome))}; the recording returned"
                f" {_short(self.recorded_value)}"
            )
        if recorded == replayed or (recorded == ANY_EXCEPTION and replayed is not None):
            return None
        if recorded is None:
            return f"the agent raised {self.agent_error}; the recording did not raise"
        if replayed is None:
            return f"the recording raised {recorded}; the replayed agent returned"
        return f"the agent raised {self.agent_error}; the recording raised {recorded}"

    @property
    def bit_exact(self) -> bool:
        """Every request, response and draw as recorded, and the run ended the same way: it raised the same
        exception, or returned (the same value, where the recording kept it as JSON)."""
        return (
            self.divergence is None and self.replay_digest == self.recorded_digest and self.outcome_difference is None
        )

    def to_json(self) -> dict[str, Any]:
        d = self.divergence
        return {
            "trace_id": self.trace_id,
            "bit_exact": self.bit_exact,
            "steps": self.steps,
            "replayed": self.replayed,
            "bytes_verified": self.bytes_verified,
            "draws": self.draws,
            "recorded_digest": self.recorded_digest,
            "replay_digest": self.replay_digest,
            "wall_time_s": round(self.wall_time_s, 4),
            "outcome": outcome_json(self.outcome),
            "agent_error": self.agent_error,
            "recorded_error_type": self.recorded_error_type,
            "outcome_difference": self.outcome_difference,
            "partial": self.partial,
            "divergence": None if d is None else d.to_json(),
        }


def replay_run(
    tape: Tape,
    blob_store: BlobStore,
    agent: Callable[..., Any],
    *,
    raise_on_divergence: bool = False,
    allow_partial: bool = False,
) -> ReplayReceipt:
    """Run ``agent`` against ``tape``: every request verified, every response and draw served from it.

    Args:
        allow_partial: replay the completed prefix of a partial recording (see `ReplaySession`).

    Raises:
        TapePartialError: the tape is a partial recording and ``allow_partial`` is not set.
        BlobError: a blob is missing or corrupt (before the agent starts).
        ReplayDivergence: with ``raise_on_divergence``, the first divergence.
    """
    started = time.perf_counter()
    blobs = load_blobs(tape, blob_store)
    session = ReplaySession(tape, blobs, allow_partial=allow_partial)
    result = session.run(agent)
    receipt = receipt_of(tape, blobs, result, time.perf_counter() - started)
    if raise_on_divergence and result.divergence is not None:
        raise result.divergence
    return receipt


def receipt_of(tape: Tape, blobs: Mapping[str, bytes], result: SessionResult, wall_time_s: float) -> ReplayReceipt:
    """The receipt of a replay of ``tape`` that did ``result`` (in this process, or in a replayed command's)."""
    return ReplayReceipt(
        trace_id=tape.trace_id,
        steps=len(tape.exchanges),
        replayed=len(result.served_steps),
        bytes_verified=result.bytes_verified,
        draws=result.draws_used,
        recorded_digest=tape.digest,
        replay_digest=tape_digest([tape.exchanges[s] for s in result.served_steps], tape.draws[: result.draws_used]),
        wall_time_s=wall_time_s,
        outcome=result.outcome,
        divergence=result.divergence,
        agent_error=result.agent_error,
        agent_error_type=result.error_type,
        recorded_error_type=tape.recorded_error_type,
        partial=tape.partial,
        recorded_value=_recorded_value(tape, blobs),
    )


def replay_whole_run(
    tape: Tape, blob_store: BlobStore, agent: Callable[..., Any], *, allow_partial: bool = False
) -> ReplayReceipt:
    """`replay_run`, for callers that need a whole run (``tfotel replay``/``verify``, blame's recorded verdict).

    Raises:
        RunFragmentError: the trace holds only some calls of a larger run and the agent went on past them
            (said as what it is, with how to record the whole run, instead of a TFO102 drift).
    """
    receipt = replay_run(tape, blob_store, agent, allow_partial=allow_partial)
    d = receipt.divergence
    if tape.fragment and d is not None and d.code is DivergenceCode.EXTRA_REQUEST and d.step == receipt.steps:
        raise RunFragmentError(tape.trace_id, receipt.steps)
    return receipt
