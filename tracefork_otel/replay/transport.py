"""The replay transport: answers the agent's requests from a tape, never from the network.

Serving needs no real I/O, so one class is both the sync and the async transport (as
httpx's ``MockTransport`` is); it is built per HTTP package (``httpx2`` for the current
Anthropic SDK, ``httpx`` for older ones) from one definition.

Divergences are raised as an error that is also an ``anthropic.AnthropicError`` when
the SDK is installed: the SDK re-raises its own errors unwrapped and does not retry
them, so the agent (and the user) see the divergence itself, not "connection error"
after a round of retry sleeps.

For forks, ``overrides`` replace a step's answer: a ``CannedResponse`` (the user's
alternative) or ``LIVE`` (a fresh sample from ``live``), and requests past the tape's
served prefix go to ``live``.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from tracefork_otel.contentcoding import CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING
from tracefork_otel.errors import DivergenceCode, ReplayDivergence
from tracefork_otel.replay.player import TapePlayer
from tracefork_otel.sdk_errors import passthrough
from tracefork_otel.tape.model import Exchange

LIVE: Final = "live"
"""Override marker: send this step to the live endpoint."""

_RETRYABLE = frozenset({408, 409, 429}) | frozenset(range(500, 600))
FAST_RETRY_MS = "0.001"
"""``retry-after-ms`` served on a replayed retryable error, so the SDK's retry happens at once."""
_FRAMING: Final = frozenset({CONTENT_ENCODING, CONTENT_LENGTH, TRANSFER_ENCODING})
"""Headers about the recorded transfer, never served: the tape holds the decoded body, served whole.
(The recorder does not keep them; a tape from elsewhere might.)"""


def buffered(response: Any, body: bytes, request: Any) -> Any:
    """``response`` to ``request`` again, its body already read whole (decoded): the framing headers dropped,
    as replay serves."""
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in _FRAMING]
    return type(response)(response.status_code, headers=headers, content=body, request=request)


@dataclass(frozen=True)
class CannedResponse:
    """A response to serve verbatim."""

    status_code: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    broken: bool = False
    """Raise a read error after the body, as the recorded connection did."""

    @classmethod
    def recorded(cls, exchange: Exchange, body: bytes) -> CannedResponse:
        """The recorded response of ``exchange`` with its decoded ``body``, ready to serve to the SDK."""
        headers = tuple((k, v) for k, v in exchange.response_headers if k.lower() not in _FRAMING)
        if exchange.status_code in _RETRYABLE:
            # The SDK would sleep for its backoff before retrying; the replay does not wait.
            headers = tuple((k, v) for k, v in headers if k not in {"retry-after", "retry-after-ms"})
            headers += (("retry-after-ms", FAST_RETRY_MS),)
        return cls(exchange.status_code, headers, body, broken=bool(exchange.incomplete and exchange.error_type))


@functools.cache
def _build(module_name: str) -> type:
    mod: Any = importlib.import_module(module_name)

    class BodyStream(mod.SyncByteStream, mod.AsyncByteStream):  # type: ignore[misc]
        def __init__(self, body: bytes, broken: bool) -> None:
            self._body = body
            self._broken = broken

        def __iter__(self) -> Iterator[bytes]:
            if self._body:
                yield self._body
            if self._broken:
                raise mod.ReadError("replayed: the recorded connection broke here")

        async def __aiter__(self) -> AsyncIterator[bytes]:
            if self._body:
                yield self._body
            if self._broken:
                raise mod.ReadError("replayed: the recorded connection broke here")

    class ReplayTransport(mod.BaseTransport, mod.AsyncBaseTransport):  # type: ignore[misc]
        """Serves a tape (sync and async); see the module docstring."""

        def __init__(
            self,
            player: TapePlayer,
            *,
            overrides: Mapping[int, CannedResponse | str] | None = None,
            live: Any = None,
        ) -> None:
            self.player = player
            self.overrides = dict(overrides or {})
            self.live = live

        def _answer(self, request: Any, body: bytes) -> Any:
            """A response, or None to go live."""
            try:
                ex = self.player.match(request.method, request.url.path, body)
            except ReplayDivergence as exc:
                raise passthrough(exc) from None
            if ex is None:
                return None
            override = self.overrides.get(ex.step)
            if override == LIVE:
                return None
            if isinstance(override, CannedResponse):
                canned = override
            else:
                if ex.status_code == 0:
                    raise mod.ConnectError(f"replayed: step {ex.step} failed to connect when recorded")
                canned = CannedResponse.recorded(ex, self.player.response_bytes(ex))
            return mod.Response(
                canned.status_code,
                headers=list(canned.headers),
                stream=BodyStream(canned.body, canned.broken),
                request=request,
            )

        def _no_live(self, request: Any) -> Any:
            raise passthrough(
                ReplayDivergence(
                    DivergenceCode.EXTRA_REQUEST,
                    "a request past the replayed tape with no live endpoint to send it to",
                    step=self.player.limit,
                )
            )

        def handle_request(self, request: Any) -> Any:
            response = self._answer(request, request.read())
            if response is not None:
                return response
            if self.live is None:
                return self._no_live(request)
            return self.live.handle_request(request)

        async def handle_async_request(self, request: Any) -> Any:
            response = self._answer(request, await request.aread())
            if response is not None:
                return response
            if self.live is None:
                return self._no_live(request)
            if hasattr(self.live, "handle_async_request"):
                return await self.live.handle_async_request(request)
            return self.live.handle_request(request)

        def close(self) -> None:
            if self.live is not None and hasattr(self.live, "close"):
                self.live.close()

        async def aclose(self) -> None:
            if self.live is not None and hasattr(self.live, "aclose"):
                await self.live.aclose()

    return ReplayTransport


def replay_transport(
    player: TapePlayer,
    *,
    overrides: Mapping[int, CannedResponse | str] | None = None,
    live: Any = None,
    module: str = "httpx2",
) -> Any:
    """A transport for ``module`` (``httpx2`` or ``httpx``) serving ``player``'s tape."""
    return _build(module)(player, overrides=overrides, live=live)
