"""The nondeterminism seam: clock, ids and random numbers an agent must read through.

An agent that reads ``datetime.now()`` or ``uuid4()`` directly cannot be replayed
bit-exact: its next request would differ. Read them through a ``Nondet`` instead
(passed to the agent as ``nondet``, or the module functions ``now_iso``, ``new_id``,
``random``, which use the current run's source). While recording, each draw takes a
real value and is logged (kind, value, order); on replay the same values come back
in the same order.

This module is the seam itself: the protocol, the live source and the current-source
functions. Recording (``record/nondet.py``) and replay (``replay/player.py``) each
provide a source; the draw kinds live with ``Draw`` in the tape model.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import random as _random
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Protocol, runtime_checkable


@runtime_checkable
class Nondet(Protocol):
    """A source of the values an agent may not compute deterministically."""

    def now_iso(self) -> str:
        """The current UTC time, ISO 8601 with microseconds."""
        ...

    def new_id(self, prefix: str = "") -> str:
        """A fresh unique id, ``{prefix}_{32 hex}`` (or just the hex with no prefix)."""
        ...

    def random(self) -> float:
        """A float in [0, 1)."""
        ...


def _real_now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


def _real_new_id(prefix: str) -> str:
    token = uuid.uuid4().hex
    return f"{prefix}_{token}" if prefix else token


class LiveNondet:
    """Real values, nothing logged: what an agent gets outside any run."""

    def now_iso(self) -> str:
        return _real_now_iso()

    def new_id(self, prefix: str = "") -> str:
        return _real_new_id(prefix)

    def random(self) -> float:
        return _random.random()


_current: contextvars.ContextVar[Nondet | None] = contextvars.ContextVar("tracefork_nondet", default=None)
_live = LiveNondet()
_served: list[Nondet] = []
_served_lock = threading.Lock()


def _no_fallback() -> Nondet | None:
    return None


_fallback: Callable[[], Nondet | None] = _no_fallback


def set_fallback(provider: Callable[[], Nondet | None]) -> None:
    """Where a draw made outside every run and replay goes: the process's run, once ``instrument()`` enables it."""
    global _fallback
    _fallback = provider


def current() -> Nondet:
    """The current run's source; else the one run or replay serving the process (from a thread that did not
    inherit its context, as a framework's worker thread); else the process's run; else live values."""
    source = _current.get()
    if source is not None:
        return source
    served = _served
    if len(served) == 1:
        return served[0]
    if not served and (fallback := _fallback()) is not None:
        return fallback
    return _live


@contextlib.contextmanager
def serving(source: Nondet) -> Iterator[None]:
    """Make ``source`` current in this context and, while it is the only one served, in every thread.

    A recording run serves its recording source, a replay its tape's draws. Threads that did not
    inherit the context (a framework's worker pool) draw from it only while no other run or replay
    is served in the process: with several at once, such a thread cannot be told apart and draws
    live values (which a replay then reports as drift, at the field that changed).
    """
    token = _current.set(source)
    with _served_lock:
        added = not any(s is source for s in _served)
        if added:
            _served.append(source)
    try:
        yield
    finally:
        if added:
            with _served_lock:
                _served.remove(source)
        _current.reset(token)


def now_iso() -> str:
    """``current().now_iso()``."""
    return current().now_iso()


def new_id(prefix: str = "") -> str:
    """``current().new_id(prefix)``."""
    return current().new_id(prefix)


def random() -> float:
    """``current().random()``."""
    return current().random()
