"""Serving a tape to a replayed run, free of I/O: match each request, hand back the recorded response.

Requests are matched per run by the sha256 of their exact bytes against the steps not
served yet, lowest step first. So concurrent calls within a run replay correctly
whatever their order, and a retried request (same bytes, recorded 529 then 200) gets
the recorded answers in their order. A request that matches no remaining step is a
divergence, pinned to the lowest unserved step and the first differing JSON path.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Final

from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.contentcoding import sniff_coding
from tracefork_otel.errors import (
    DivergenceCode,
    ReplayDivergence,
    TapeEncodedError,
    TapePartialError,
    TapeRedactedError,
)
from tracefork_otel.nondet import Nondet
from tracefork_otel.replay.verify import first_difference
from tracefork_otel.tape.model import Draw, DrawKind, Exchange, Tape
from tracefork_otel.wire import api_path

HINT_REQUEST = (
    "The agent's code, prompts, tools or inputs changed since the run was recorded, or it reads "
    "the clock/ids/randomness outside the nondet seam"
)


_PARSED_TYPES: Final = ("application/json", "text/event-stream")
"""Content types whose bodies the SDK parses as text, so never start with a compression signature."""


def check_replayable(tape: Tape, *, allow_partial: bool = False) -> None:
    """Refuse a tape that was redacted at record time (its bytes are not what the agent sent or got), and a
    partial recording unless ``allow_partial`` (its end is a crash, not something the agent did).

    Raises:
        TapeRedactedError: naming the first redacted step.
        TapePartialError: the tape is partial and ``allow_partial`` is not set.
    """
    redacted = tape.first_redacted_step()
    if redacted is not None:
        raise TapeRedactedError(tape.trace_id, redacted)
    if tape.partial and not allow_partial:
        raise TapePartialError(tape.trace_id, len(tape.exchanges))


def check_decoded(tape: Tape, blobs: Mapping[str, bytes]) -> None:
    """Refuse a tape whose JSON or SSE response is still compressed (an older recorder kept the wire bytes).

    Only signatures are recognised (gzip, zstd, a zlib header); raw deflate and brotli have none.

    Raises:
        TapeEncodedError: naming the first such step and its coding.
    """
    for ex in tape.exchanges:
        content_type = next((v for k, v in ex.response_headers if k.lower() == "content-type"), "")
        if not content_type.lower().startswith(_PARSED_TYPES):
            continue
        coding = sniff_coding(blobs.get(ex.response_sha256, b""))
        if coding is not None:
            raise TapeEncodedError(tape.trace_id, ex.step, coding)


class TapePlayer:
    """Matches a replayed run's requests to a tape's exchanges. Thread-safe.

    Args:
        tape: the recorded run.
        blobs: the bytes of every blob the tape references, by digest (already verified).
        until_step: serve steps below this one only; a request after they are all served
            is "live" (forks), also when they are the whole tape (a fork of the last step).
            None: the whole tape, and any further request is a divergence.

        allow_partial: accept a partial recording (see `check_replayable`).

    Raises:
        TapeRedactedError: the tape was redacted at record time (replay, fork and blame all
            come through here).
        TapePartialError: a partial recording, without ``allow_partial``.
        TapeEncodedError: a JSON or SSE response on the tape is still compressed.
    """

    def __init__(
        self, tape: Tape, blobs: Mapping[str, bytes], *, until_step: int | None = None, allow_partial: bool = False
    ) -> None:
        check_replayable(tape, allow_partial=allow_partial)
        check_decoded(tape, blobs)
        self.tape = tape
        self._blobs = blobs
        self._limit = len(tape.exchanges) if until_step is None else min(until_step, len(tape.exchanges))
        self._live_tail = until_step is not None
        self._unserved = set(range(self._limit))
        self._lock = threading.Lock()
        self.divergence: ReplayDivergence | None = None
        self.served: list[tuple[int, str]] = []  # (step, request sha) in serving order
        self.bytes_verified = 0

    @property
    def limit(self) -> int:
        return self._limit

    def response_bytes(self, exchange: Exchange) -> bytes:
        return self._blobs[exchange.response_sha256]

    def diverge(self, error: ReplayDivergence) -> ReplayDivergence:
        """Remember the first divergence (an agent may swallow the exception) and return ``error``."""
        with self._lock:
            if self.divergence is None:
                self.divergence = error
        return error

    def match(self, method: str, path: str, body: bytes) -> Exchange | None:
        """The recorded step this request replays, or None when the tape is used up and the run goes live.

        Raises:
            ReplayDivergence: the request is not the one recorded (or not recorded at all).
        """
        digest = sha256_hex(body)
        with self._lock:
            if self.divergence is not None:
                raise self.divergence
            candidates = [s for s in self._unserved if self.tape.exchanges[s].request_sha256 == digest]
            if candidates:
                step = min(candidates)
                self._unserved.discard(step)
                ex = self.tape.exchanges[step]
                if (ex.method, api_path(ex.url_path)) != (method, api_path(path)):
                    self._unserved.add(step)
                    candidates = []
                else:
                    self.served.append((step, digest))
                    self.bytes_verified += len(body) + len(self._blobs[ex.response_sha256])
                    return ex
            if not self._unserved:
                if self._live_tail:
                    return None
                error = ReplayDivergence(
                    DivergenceCode.EXTRA_REQUEST,
                    f"the agent made a request the recording does not have ({method} {path}, {len(body)} bytes)",
                    step=len(self.tape.exchanges),
                    actual_sha256=digest,
                    hint=HINT_REQUEST,
                )
            else:
                error = self._request_differs(min(self._unserved), method, path, body, digest)
        raise self.diverge(error)

    def _request_differs(self, step: int, method: str, path: str, body: bytes, digest: str) -> ReplayDivergence:
        ex = self.tape.exchanges[step]
        if (ex.method, api_path(ex.url_path)) != (method, api_path(path)):
            return ReplayDivergence(
                DivergenceCode.REQUEST_DIFFERS,
                "request differs",
                step=step,
                field="(request line)",
                expected=f"{ex.method} {ex.url_path}",
                actual=f"{method} {path}",
                hint=HINT_REQUEST,
            )
        diff = first_difference(self._blobs[ex.request_sha256], body)
        assert diff is not None  # the digests differ, so the bytes do
        return ReplayDivergence(
            DivergenceCode.REQUEST_DIFFERS,
            "request differs",
            step=step,
            field=diff.path,
            expected=diff.expected,
            actual=diff.actual,
            expected_sha256=ex.request_sha256,
            actual_sha256=digest,
            hint=HINT_REQUEST,
        )

    def finish(self) -> ReplayDivergence | None:
        """After the agent returned: the first divergence, including recorded requests never made."""
        with self._lock:
            if self.divergence is None and self._unserved:
                step = min(self._unserved)
                self.divergence = ReplayDivergence(
                    DivergenceCode.MISSING_REQUEST,
                    f"the recording has {self._limit} requests but the agent made only"
                    f" {self._limit - len(self._unserved)}; this one was never made",
                    step=step,
                    expected_sha256=self.tape.exchanges[step].request_sha256,
                    hint=HINT_REQUEST,
                )
            return self.divergence


class ReplayNondet:
    """Serves a tape's draws back in order; a draw of the wrong kind or past the end diverges.

    Args:
        draws: the recorded draws.
        on_divergence: records the divergence (the player's ``diverge``).
        live_after: for forks, a source to draw from once the recorded draws taken
            before the fork step are used up; None: every draw must come from the tape.
        until_step: with ``live_after``, replay only draws made before this step.
    """

    def __init__(
        self,
        draws: tuple[Draw, ...],
        on_divergence: Callable[[ReplayDivergence], ReplayDivergence],
        *,
        live_after: Nondet | None = None,
        until_step: int | None = None,
    ) -> None:
        self._draws = [d for d in draws if until_step is None or d.before_step <= until_step]
        self._on_divergence = on_divergence
        self._live = live_after
        self._next = 0
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        return self._next

    def unused(self) -> int:
        return len(self._draws) - self._next

    def _take(self, kind: str, prefix: str | None = None) -> str | None:
        with self._lock:
            if self._next >= len(self._draws):
                if self._live is not None:
                    return None
                raise self._on_divergence(
                    ReplayDivergence(
                        DivergenceCode.DRAW_DIFFERS,
                        f"the agent drew {kind} beyond the {len(self._draws)} values recorded",
                        step=self._next,
                        hint="The agent reads nondeterminism where it did not when recorded",
                    )
                )
            draw = self._draws[self._next]
            if draw.kind != kind or (prefix and not draw.value.startswith(prefix + "_")):
                raise self._on_divergence(
                    ReplayDivergence(
                        DivergenceCode.DRAW_DIFFERS,
                        "draw differs",
                        step=draw.order,
                        field="draw.kind" if draw.kind != kind else "draw.prefix",
                        expected=f"{draw.kind}" if draw.kind != kind else repr(draw.value.split("_")[0]),
                        actual=kind if draw.kind != kind else repr(prefix),
                        hint="The agent reads the clock, ids or randomness in a different order than recorded",
                    )
                )
            self._next += 1
            return draw.value

    def _live_source(self) -> Nondet:
        assert self._live is not None  # _take returns None only when there is a live source
        return self._live

    def now_iso(self) -> str:
        value = self._take(DrawKind.NOW_ISO)
        return value if value is not None else self._live_source().now_iso()

    def new_id(self, prefix: str = "") -> str:
        value = self._take(DrawKind.NEW_ID, prefix)
        return value if value is not None else self._live_source().new_id(prefix)

    def random(self) -> float:
        value = self._take(DrawKind.RANDOM)
        return float(value) if value is not None else self._live_source().random()

    def capture(self, kind: str, make: Callable[[], str]) -> str:
        """A read the capture caught past the seam, served from the tape (``make``: the live read, for a fork's
        tail)."""
        value = self._take(kind)
        if value is not None:
            return value
        live_capture = getattr(self._live_source(), "capture", None)
        return make() if live_capture is None else str(live_capture(kind, make))
