"""Opt-in capture of the nondeterminism an agent reads past the seam: the clock, uuid4, random, secrets.

With ``instrument(capture_nondeterminism=True)`` (or ``TFOTEL_CAPTURE_NONDET=true``), these module
functions are wrapped: ``time.time``, ``time.time_ns``, ``datetime.datetime.now``/``utcnow`` (the
``datetime`` module's class is swapped for a subclass), ``uuid.uuid4``, ``random.random`` and
``random.getrandbits`` (through which ``randint``, ``choice``, ``shuffle``… draw), and
``secrets.token_bytes``/``token_hex``/``token_urlsafe``. A read made by the agent's own code —
the first calling frame outside the standard library, installed packages and tracefork itself —
goes through the current nondeterminism source: recorded as a draw while recording, served from
the tape on replay. Reads by the SDK, httpx, OpenTelemetry or any installed framework never enter
the tape, nor do reads outside a run.

Limits: a name bound before `enable` (``from time import time``, ``from datetime import datetime``,
``from uuid import uuid4``) keeps the original function; datetimes made through the swapped class
are instances of a subclass of ``datetime.datetime``.
"""

from __future__ import annotations

import datetime as _datetime
import functools
import os
import random as _random
import secrets as _secrets
import sys
import sysconfig
import threading
import time as _time
import uuid as _uuid
from collections.abc import Callable
from typing import Any, Final

from tracefork_otel import nondet

_lock = threading.Lock()
_enabled = False

_PATHS: Final = sysconfig.get_paths()
_STDLIB: Final = os.path.abspath(_PATHS["stdlib"]) + os.sep
_NOT_AGENT: Final = tuple(
    dict.fromkeys(
        os.path.abspath(p) + os.sep
        for p in (_PATHS["purelib"], _PATHS["platlib"], os.path.dirname(os.path.abspath(__file__)))
    )
)
_THIS_FILE: Final = os.path.abspath(__file__)
_PACKAGES: Final = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")


def _from_agent_code() -> bool:
    """Whether the read was made by the agent's own code: walking up from the wrapped function past the
    standard library (``randint`` reads through ``getrandbits``), the first frame decides — installed
    packages (the SDK, httpx, OpenTelemetry, frameworks) and tracefork are not the agent."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if filename == _THIS_FILE:
            frame = frame.f_back
            continue
        if filename.startswith(_NOT_AGENT) or any(part in filename for part in _PACKAGES):
            return False
        if not filename.startswith(_STDLIB) and not frame.f_code.co_filename.startswith("<frozen"):
            return True
        frame = frame.f_back
    return False


def _captured(
    kind: Callable[..., str], original: Callable[..., Any], encode: Callable[[Any], str], decode: Callable[[str], Any]
) -> Callable[..., Any]:
    @functools.wraps(original)
    def read(*args: Any, **kwargs: Any) -> Any:
        if not _from_agent_code():
            return original(*args, **kwargs)
        capture = getattr(nondet.current(), "capture", None)
        if capture is None:  # outside every run and replay: a live value, nothing logged
            return original(*args, **kwargs)
        return decode(capture(kind(*args, **kwargs), lambda: encode(original(*args, **kwargs))))

    setattr(read, "__tracefork_original__", original)  # noqa: B010
    return read


def _fixed(name: str) -> Callable[..., str]:
    return lambda *args, **kwargs: name


def _sized(name: str) -> Callable[..., str]:
    return lambda n=None, *args, **kwargs: f"{name}:{n}"


class _CapturedDatetime(_datetime.datetime):
    """``datetime.datetime`` whose ``now``/``utcnow`` go through the capture."""

    @classmethod
    def now(cls, tz: _datetime.tzinfo | None = None) -> _CapturedDatetime:
        return cls._capture("datetime.now", lambda: _ORIGINAL_DATETIME.now(tz))

    @classmethod
    def utcnow(cls) -> _CapturedDatetime:
        return cls._capture("datetime.utcnow", _ORIGINAL_DATETIME.utcnow)

    @classmethod
    def _capture(cls, kind: str, make: Callable[[], _datetime.datetime]) -> _CapturedDatetime:
        capture = getattr(nondet.current(), "capture", None)
        if capture is None or not _from_agent_code():
            value = make()
        else:
            value = _ORIGINAL_DATETIME.fromisoformat(capture(kind, lambda: make().isoformat()))
        return cls.fromisoformat(value.isoformat())


_ORIGINAL_DATETIME: Final = _datetime.datetime
_RANDOM: Final = _random._inst  # the instance behind random's module functions

_PATCHES: Final[list[tuple[Any, str, Callable[[Any], Any]]]] = [
    (_time, "time", lambda f: _captured(_fixed("time.time"), f, repr, float)),
    (_time, "time_ns", lambda f: _captured(_fixed("time.time_ns"), f, str, int)),
    (_uuid, "uuid4", lambda f: _captured(_fixed("uuid.uuid4"), f, lambda u: u.hex, lambda h: _uuid.UUID(hex=h))),
    (_random, "random", lambda f: _captured(_fixed("random.random"), f, repr, float)),
    (_RANDOM, "random", lambda f: _captured(_fixed("random.random"), f, repr, float)),
    (_RANDOM, "getrandbits", lambda f: _captured(_sized("random.getrandbits"), f, str, int)),
    (_random, "getrandbits", lambda f: _captured(_sized("random.getrandbits"), f, str, int)),
    (_secrets, "token_bytes", lambda f: _captured(_sized("secrets.token_bytes"), f, bytes.hex, bytes.fromhex)),
    (_secrets, "token_hex", lambda f: _captured(_sized("secrets.token_hex"), f, str, str)),
    (_secrets, "token_urlsafe", lambda f: _captured(_sized("secrets.token_urlsafe"), f, str, str)),
]
_saved: list[tuple[Any, str, Any]] = []


def enable() -> None:
    """Wrap the module functions (idempotent); see the module docstring."""
    global _enabled
    with _lock:
        if _enabled:
            return
        for owner, name, wrap in _PATCHES:
            original = getattr(owner, name)
            _saved.append((owner, name, original))
            setattr(owner, name, wrap(original))
        _saved.append((_datetime, "datetime", _ORIGINAL_DATETIME))
        _datetime.datetime = _CapturedDatetime  # type: ignore[misc]
        _enabled = True


def disable() -> None:
    """Put the original functions back."""
    global _enabled
    with _lock:
        while _saved:
            owner, name, original = _saved.pop()
            setattr(owner, name, original)
        _enabled = False


def enabled() -> bool:
    return _enabled


CAPTURED_KINDS: Final = frozenset(
    {
        "time.time",
        "time.time_ns",
        "datetime.now",
        "datetime.utcnow",
        "uuid.uuid4",
        "random.random",
        "random.getrandbits",
        "secrets.token_bytes",
        "secrets.token_hex",
        "secrets.token_urlsafe",
    }
)
"""The draw kinds of reads caught past the seam (a sized read's kind carries its size: ``random.getrandbits:32``)."""


def is_captured(kind: str) -> bool:
    """Whether a draw of ``kind`` was caught past the seam (so replaying it needs the capture on)."""
    return kind.partition(":")[0] in CAPTURED_KINDS
