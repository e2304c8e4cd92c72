"""Replaying a run: the agent against its tape, with no network and no API key; the result is a receipt.

The result is data; raising is the caller's choice (``raise_on_divergence``), as in
Temporal's replayer. ``tfotel replay`` and ``tfotel verify`` turn the receipt into exit 0 or 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracefork_otel.agents import outcome_json
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import ReplayDivergence
from tracefork_otel.replay.session import ReplaySession, load_blobs
from tracefork_otel.tape.digest import tape_digest
from tracefork_otel.tape.model import Tape


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

    @property
    def bit_exact(self) -> bool:
        return self.divergence is None and self.replay_digest == self.recorded_digest

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
            "divergence": None
            if d is None
            else {
                "code": d.code,
                "step": d.step,
                "field": d.field,
                "expected": d.expected,
                "actual": d.actual,
                "expected_sha256": d.expected_sha256,
                "actual_sha256": d.actual_sha256,
                "message": str(d),
            },
        }


def replay_run(
    tape: Tape,
    blob_store: BlobStore,
    agent: Callable[..., Any],
    *,
    raise_on_divergence: bool = False,
) -> ReplayReceipt:
    """Run ``agent`` against ``tape``: every request verified, every response and draw served from it.

    Raises:
        BlobError: a blob is missing or corrupt (before the agent starts).
        ReplayDivergence: with ``raise_on_divergence``, the first divergence.
    """
    started = time.perf_counter()
    session = ReplaySession(tape, load_blobs(tape, blob_store))
    result = session.run(agent)
    replay_digest = tape_digest([tape.exchanges[s] for s in result.served_steps], tape.draws[: result.draws_used])
    receipt = ReplayReceipt(
        trace_id=tape.trace_id,
        steps=len(tape.exchanges),
        replayed=len(result.served_steps),
        bytes_verified=result.bytes_verified,
        draws=result.draws_used,
        recorded_digest=tape.digest,
        replay_digest=replay_digest,
        wall_time_s=time.perf_counter() - started,
        outcome=result.outcome,
        divergence=result.divergence,
        agent_error=result.agent_error,
    )
    if raise_on_divergence and result.divergence is not None:
        raise result.divergence
    return receipt
