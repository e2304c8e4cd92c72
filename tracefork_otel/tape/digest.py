"""The tape digest: a hash chain over a run's exchanges and draws.

Each link hashes the previous link with one record's canonical text, so changing,
dropping or reordering any exchange or draw changes the digest. The recorder
computes the same chain as the run goes and puts it on the root span
(``tracefork.tape.digest``); a rebuilt tape must reproduce it.

Covered per exchange: step, request and response sha256, status code, stream and
incomplete flags. Per draw: order, kind, value. Timing and span ids are not covered
(they are not part of what replay serves).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Protocol

_SEED = b"tracefork.tape.v1"


class _ExchangeLike(Protocol):
    @property
    def step(self) -> int: ...
    @property
    def request_sha256(self) -> str: ...
    @property
    def response_sha256(self) -> str: ...
    @property
    def status_code(self) -> int: ...
    @property
    def stream(self) -> bool: ...
    @property
    def incomplete(self) -> bool: ...


class _DrawLike(Protocol):
    @property
    def order(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def value(self) -> str: ...


def exchange_link(ex: _ExchangeLike) -> bytes:
    """The canonical text of one exchange in the chain."""
    return (
        f"x|{ex.step}|{ex.request_sha256}|{ex.response_sha256}|{ex.status_code}|{int(ex.stream)}|{int(ex.incomplete)}"
    ).encode()


def draw_link(draw: _DrawLike) -> bytes:
    """The canonical text of one draw in the chain."""
    return f"d|{draw.order}|{len(draw.kind)}:{draw.kind}|{draw.value}".encode()


def chain(links: Iterable[bytes]) -> str:
    """Fold ``links`` into one hex digest."""
    state = hashlib.sha256(_SEED).digest()
    for link in links:
        state = hashlib.sha256(state + link).digest()
    return state.hex()


def tape_digest(exchanges: Iterable[_ExchangeLike], draws: Iterable[_DrawLike]) -> str:
    """The digest of a run: its exchanges in step order, then its draws in order."""
    ordered = sorted(exchanges, key=lambda ex: ex.step)
    links = [exchange_link(ex) for ex in ordered]
    links += [draw_link(d) for d in sorted(draws, key=lambda d: d.order)]
    return chain(links)
