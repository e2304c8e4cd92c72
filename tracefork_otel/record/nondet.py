"""The recording source of the nondeterminism seam: real values, each one logged as a ``Draw``."""

from __future__ import annotations

import threading
from collections.abc import Callable

from tracefork_otel.nondet import LiveNondet, Nondet
from tracefork_otel.tape.model import Draw, DrawKind


class RecordingNondet:
    """Values from ``source`` (real ones by default), each handed to ``on_draw`` as a ``Draw``. Thread-safe.

    A fork passes the parent run's replayed draws as ``source``, so the fork's own
    tape logs every value its agent saw, replayed or fresh.
    """

    def __init__(
        self,
        on_draw: Callable[[Draw], None],
        steps_started: Callable[[], int] = lambda: 0,
        source: Nondet | None = None,
    ) -> None:
        self._on_draw = on_draw
        self._steps_started = steps_started
        self._source: Nondet = source or LiveNondet()
        self._lock = threading.Lock()
        self._order = 0
        self.draws: list[Draw] = []

    def _draw(self, kind: str, make: Callable[[], str]) -> str:
        with self._lock:
            value = make()
            draw = Draw(order=self._order, kind=kind, value=value, before_step=self._steps_started())
            self._order += 1
            self.draws.append(draw)
        self._on_draw(draw)
        return value

    def now_iso(self) -> str:
        return self._draw(DrawKind.NOW_ISO, self._source.now_iso)

    def new_id(self, prefix: str = "") -> str:
        return self._draw(DrawKind.NEW_ID, lambda: self._source.new_id(prefix))

    def random(self) -> float:
        return float(self._draw(DrawKind.RANDOM, lambda: repr(self._source.random())))

    def capture(self, kind: str, make: Callable[[], str]) -> str:
        """A read the capture caught past the seam (``time.time`` …, see ``nondet_capture``), logged as a draw
        of ``kind``; ``make`` reads the real value (a fork's replayed draws come first)."""
        source_capture = getattr(self._source, "capture", None)
        return self._draw(kind, make if source_capture is None else lambda: source_capture(kind, make))
