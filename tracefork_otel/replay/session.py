"""The replay session: one agent run against a tape, up to a step, with an override there, then live.

Replay, fork, blame and validate are each a few lines over this. A session owns the
triple that serves a tape — the ``TapePlayer`` (requests matched and verified), the
replay transport (responses served, the fork step overridden, the tail sent live) and
the ``ReplayNondet`` (draws served back in order) — and the two things every caller
used to write for itself: how the agent is started with clients over that transport
(`ReplaySession.run`, `ReplaySession.clients`), and how a run that raised is sorted
into "it diverged" or "the agent raised".

A session with ``fork_at=None`` replays the whole tape: any request past it, any draw
past the recorded ones, and any recorded request or draw never made is a divergence.
With ``fork_at=N`` the steps before N replay, step N's request is verified and then
answered by ``override`` (a `CannedResponse`, or ``LIVE`` for a fresh sample from
``live``), and every later request goes to ``live``; draws made before step N are served
back, later ones come from ``live_nondet``. An agent that keeps its conversation on the server
(message threads) has a continue of a message the live endpoint never issued sent as a whole
``create`` (see `tracefork_otel.replay.live`).

With ``allow_partial`` a partial recording (a crash or a kill cut it off; its draws were
on the root span that never ended) replays its completed prefix: draws come from the
tape while it has them, then live, and the agent's first request past the last recorded
step ends the replay there — that request is where the recording stopped, not drift.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from tracefork_otel import nondet as nondet_seam
from tracefork_otel.agents import call_agent
from tracefork_otel.blobstore import BlobStore, sha256_hex
from tracefork_otel.errors import BlobIntegrityError, BlobNotFoundError, DivergenceCode, ReplayDivergence
from tracefork_otel.nondet import LiveNondet, Nondet
from tracefork_otel.replay.live import threaded_live
from tracefork_otel.replay.player import ReplayNondet, TapePlayer
from tracefork_otel.replay.transport import LIVE, CannedResponse, replay_transport
from tracefork_otel.tape.model import Tape

REPLAY_API_KEY: Final = "tfotel-replay-no-key"
REPLAY_BASE_URL: Final = "http://replay.tfotel.invalid"
"""A host that cannot resolve: even a transport bug could not reach a real endpoint."""


def load_blobs(tape: Tape, store: BlobStore) -> dict[str, bytes]:
    """Every blob the tape references, read and hash-checked up front (a tampered blob stops here).

    The hash is checked here too, not only by the store: a store that serves bytes
    unchecked would otherwise let a tampered final response replay as bit-exact (no
    later request depends on it).

    The run's own blobs (`Tape.run_blob_digests`) are included when the store has them.

    Raises:
        BlobError: an exchange's blob is missing, or a blob's bytes do not hash to its name.
    """
    blobs: dict[str, bytes] = {}
    optional = tape.run_blob_digests()
    for digest in [*tape.blob_digests(), *optional]:
        try:
            data = store.get(digest)
        except BlobNotFoundError:
            if digest in optional:
                continue  # the run's inputs or outcome: used when there, never required
            raise
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


def _same(client: Any) -> Any:
    return client


@dataclass(frozen=True)
class SessionResult:
    """What one agent run against the tape did."""

    outcome: Any
    """What the agent returned (None when it raised)."""
    error: BaseException | None
    """The agent's own exception, when it raised one that is not a divergence (in this process)."""
    divergence: ReplayDivergence | None
    """The first divergence (also when the agent swallowed it); for a whole-tape replay, also a recorded
    request or draw never made."""
    served_steps: tuple[int, ...]
    """The tape steps served, in step order (the fork step included when its request was made)."""
    bytes_verified: int
    draws_used: int
    error_type: str | None = None
    """The qualified type name of the agent's exception (as the recorded outcome names it)."""
    agent_error: str | None = None
    """``Type: message`` of the agent's exception, for receipts and reports."""


class ReplaySession:
    """One run of an agent against ``tape``; see the module docstring. Use a session once.

    Args:
        tape: the recorded run (its blobs already loaded into ``blobs``, see `load_blobs`).
        blobs: the bytes of every blob the tape references, by digest.
        fork_at: the step to answer differently; None replays the whole tape.
        override: with ``fork_at``, the answer for that step: a `CannedResponse`, or ``LIVE``.
        live: with ``fork_at``, the transport that answers ``LIVE`` steps and the tail.
        live_nondet: with ``fork_at``, where draws after the fork step come from (default: real values).
        client_kwargs: arguments of the Anthropic clients the agent is given (``api_key``,
            ``base_url``, ``max_retries``); default: a placeholder key and a host that cannot resolve.
        allow_partial: replay a partial recording's completed prefix (see the module docstring).

    Raises:
        TapeRedactedError: the tape was redacted at record time.
        TapePartialError: a partial recording, without ``allow_partial``.
    """

    def __init__(
        self,
        tape: Tape,
        blobs: Mapping[str, bytes],
        *,
        fork_at: int | None = None,
        override: CannedResponse | str = LIVE,
        live: Any = None,
        live_nondet: Nondet | None = None,
        client_kwargs: Mapping[str, Any] | None = None,
        allow_partial: bool = False,
    ) -> None:
        self.tape = tape
        self.fork_at = fork_at
        self._cut = allow_partial and tape.partial
        self.player = TapePlayer(
            tape, blobs, until_step=None if fork_at is None else fork_at + 1, allow_partial=allow_partial
        )
        if fork_at is not None and live is not None:
            live = threaded_live(live, tape, blobs, fork_at=fork_at, override=override)
        self.transport = replay_transport(
            self.player, overrides={} if fork_at is None else {fork_at: override}, live=live
        )
        self.nondet = ReplayNondet(
            tape.draws,
            self.player.diverge,
            live_after=(live_nondet or LiveNondet()) if fork_at is not None or self._cut else None,
            until_step=fork_at,
        )
        self._client_kwargs = (
            dict(client_kwargs)
            if client_kwargs is not None
            else {"api_key": REPLAY_API_KEY, "base_url": REPLAY_BASE_URL}
        )

    def clients(self, served: Any = None) -> tuple[Callable[[], Any], Callable[[], Any]]:
        """Factories of the sync and async Anthropic clients whose every request goes to ``served``
        (default: this session's transport)."""
        import anthropic
        import httpx2

        transport = self.transport if served is None else served

        def sync_client() -> Any:
            return anthropic.Anthropic(http_client=httpx2.Client(transport=transport), **self._client_kwargs)

        def async_client() -> Any:
            return anthropic.AsyncAnthropic(http_client=httpx2.AsyncClient(transport=transport), **self._client_kwargs)

        return sync_client, async_client

    @contextlib.contextmanager
    def serving(self, *, nondet: Nondet | None = None, wrap_transport: Callable[[Any], Any] = _same) -> Iterator[Any]:
        """While inside, every Anthropic client of the process (the agent's own, a framework's, a
        module-level one made long before) is answered by this session, and the module-level seam
        (``tracefork_otel.now_iso()`` …) draws from ``nondet`` (default: the session's draws): from this
        context, and from any thread while this is the only replay running. ``wrap_transport`` wraps the
        session's transport first (a fork records its run through it). Yields the transport served."""
        from tracefork_otel import clientseam, nondet_capture

        if any(nondet_capture.is_captured(d.kind) for d in self.tape.draws):
            nondet_capture.enable()  # the recording caught reads past the seam: the replay must serve them
        served = wrap_transport(self.transport)
        with nondet_seam.serving(nondet or self.nondet), clientseam.serve(served):
            yield served

    def run(
        self,
        agent: Callable[..., Any],
        *,
        nondet: Nondet | None = None,
        wrap_transport: Callable[[Any], Any] = _same,
    ) -> SessionResult:
        """Start ``agent`` with a client over this session and ``nondet`` (default: the session's draws),
        everything served as `serving` says.

        Never raises for what the agent does: its exception, or the divergence it hit, is in the result.
        """
        draws = nondet or self.nondet
        outcome: Any = None
        error: BaseException | None = None
        try:
            with self.serving(nondet=draws, wrap_transport=wrap_transport) as served:
                sync_client, async_client = self.clients(served)
                outcome = call_agent(agent, draws, sync_client=sync_client, async_client=async_client)
        except Exception as exc:
            error = exc
        return self.result(outcome, error)

    def result(self, outcome: Any, error: BaseException | None) -> SessionResult:
        """The result of the agent's run: ``outcome``, or ``error`` sorted into "it diverged" (the divergence
        in its cause chain) or "the agent raised"."""
        if error is not None and (found := find_divergence(error)) is not None:
            self.player.diverge(found)
            error = None
        return SessionResult(
            outcome=outcome,
            error=error,
            divergence=self.finish() if self.fork_at is None else self.player.divergence,
            served_steps=tuple(sorted(step for step, _ in self.player.served)),
            bytes_verified=self.player.bytes_verified,
            draws_used=self.nondet.used,
            error_type=None if error is None else type(error).__qualname__,
            agent_error=None if error is None else f"{type(error).__name__}: {error}",
        )

    def finish(self) -> ReplayDivergence | None:
        """After the agent returned: the first divergence, including recorded requests never made (up to
        the fork step) and, for a whole-tape replay, recorded draws never taken."""
        divergence = self.player.finish()
        if self._cut and divergence is not None and self._is_the_cut(divergence):
            return None
        if divergence is None and self.fork_at is None and not self._cut and self.nondet.unused():
            divergence = self.player.diverge(
                ReplayDivergence(
                    DivergenceCode.DRAW_DIFFERS,
                    f"the recording has {len(self.tape.draws)} draws but the agent drew only {self.nondet.used}",
                    step=self.nondet.used,
                )
            )
        return divergence

    def _is_the_cut(self, divergence: ReplayDivergence) -> bool:
        """Whether ``divergence`` is the agent going on past where a partial recording stopped."""
        return divergence.code is DivergenceCode.EXTRA_REQUEST and divergence.step == len(self.tape.exchanges)
