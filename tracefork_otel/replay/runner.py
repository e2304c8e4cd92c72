"""Replaying a run: the agent against its tape, with no network and no API key; the result is a receipt.

The result is data; raising is the caller's choice (``raise_on_divergence``), as in
Temporal's replayer. ``tfotel replay`` and ``tfotel verify`` turn the receipt into exit 0 or 1.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tracefork_otel.agents import call_agent, outcome_json
from tracefork_otel.blobstore import BlobStore, sha256_hex
from tracefork_otel.errors import BlobIntegrityError, ReplayDivergence
from tracefork_otel.replay.player import ReplayNondet, TapePlayer
from tracefork_otel.replay.transport import replay_transport
from tracefork_otel.tape.digest import tape_digest
from tracefork_otel.tape.model import Tape

REPLAY_API_KEY = "tfotel-replay-no-key"
REPLAY_BASE_URL = "http://replay.tfotel.invalid"
"""A host that cannot resolve: even a transport bug could not reach a real endpoint."""


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


def load_blobs(tape: Tape, store: BlobStore) -> dict[str, bytes]:
    """Every blob the tape references, read and hash-checked up front (a tampered blob stops here).

    The hash is checked here too, not only by the store: a store that serves bytes
    unchecked would otherwise let a tampered final response replay as bit-exact (no
    later request depends on it).

    Raises:
        BlobError: a blob is missing or its bytes do not hash to its name.
    """
    blobs: dict[str, bytes] = {}
    for digest in tape.blob_digests():
        data = store.get(digest)
        actual = sha256_hex(data)
        if actual != digest:
            raise BlobIntegrityError(digest, actual, store.url)
        blobs[digest] = data
    return blobs


def find_divergence(exc: BaseException) -> ReplayDivergence | None:
    """The divergence behind ``exc`` (itself, or in its cause/context chain), if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ReplayDivergence):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def sdk_clients(transport: Any) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Sync and async Anthropic client factories whose every request goes to ``transport``."""
    import anthropic
    import httpx2

    def sync_client() -> Any:
        return anthropic.Anthropic(
            api_key=REPLAY_API_KEY, base_url=REPLAY_BASE_URL, http_client=httpx2.Client(transport=transport)
        )

    def async_client() -> Any:
        return anthropic.AsyncAnthropic(
            api_key=REPLAY_API_KEY, base_url=REPLAY_BASE_URL, http_client=httpx2.AsyncClient(transport=transport)
        )

    return sync_client, async_client


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
    blobs = load_blobs(tape, blob_store)
    player = TapePlayer(tape, blobs)
    nondet = ReplayNondet(tape.draws, player.diverge)
    sync_client, async_client = sdk_clients(replay_transport(player))
    outcome: Any = None
    agent_error: str | None = None
    try:
        outcome = call_agent(agent, nondet, sync_client=sync_client, async_client=async_client)
    except Exception as exc:
        found = find_divergence(exc)
        if found is not None:
            player.diverge(found)
        else:
            agent_error = f"{type(exc).__name__}: {exc}"
    divergence = player.finish()
    if divergence is None and nondet.unused():
        divergence = player.diverge(
            ReplayDivergence(
                "TFO104",
                f"the recording has {len(tape.draws)} draws but the agent drew only {nondet.used}",
                step=nondet.used,
            )
        )
    served_steps = sorted(step for step, _ in player.served)
    replay_digest = tape_digest([tape.exchanges[s] for s in served_steps], tape.draws[: nondet.used])
    receipt = ReplayReceipt(
        trace_id=tape.trace_id,
        steps=len(tape.exchanges),
        replayed=len(served_steps),
        bytes_verified=player.bytes_verified,
        draws=nondet.used,
        recorded_digest=tape.digest,
        replay_digest=replay_digest,
        wall_time_s=time.perf_counter() - started,
        outcome=outcome,
        divergence=divergence,
        agent_error=agent_error,
    )
    if raise_on_divergence and divergence is not None:
        raise divergence
    return receipt
