"""The Anthropic client seam: every SDK client, whenever and by whomever it was made, reaches tracefork.

Agents build their clients themselves: at import (``client = anthropic.Anthropic()``), inside
a framework (LangGraph's ``ChatAnthropic``, pydantic-ai's model), before or after
``instrument()``. `install` patches the SDK's two base clients once, so that each client's
HTTP client gets a `SeamTransport` around its own transport when the client is built and,
for a client built before, on its first request. The seam transport does one of two things
per request:

- pass it to the client's transport, which records when recording is on (`set_recorder`:
  ``instrument()`` registers the recording transport here; this module imports no recorder);
- or, while a replay serves (`serving`), hand it to the replay's transport instead: no
  network, no key, whatever base URL or client the agent holds.

A replay session is found per context first (a fork running on its own thread), else the
one session of the process when exactly one serves: frameworks run tools and model calls on
worker threads that do not inherit the caller's context.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Final

from tracefork_otel.errors import DivergenceCode, ReplayDivergence
from tracefork_otel.sdk_errors import passthrough

logger = logging.getLogger(__name__)

_ORIGINAL: Final = "__tracefork_seam_original__"
_ATTACHED: Final = "_tracefork_seam_generation"

Wrap = Callable[[Any], Any]
"""``wrap(transport) -> transport``: what recording puts around a client's transport."""

_recorder: Wrap | None = None


def _never(transport: Any) -> bool:
    return False


_is_recording: Callable[[Any], bool] = _never
_generation = itertools.count(1)
_current_generation = next(_generation)
_lock = threading.Lock()

_serving: contextvars.ContextVar[Any] = contextvars.ContextVar("tracefork_serving", default=None)
_sessions: list[Any] = []


def set_recorder(wrap: Wrap | None, is_recording: Callable[[Any], bool] | None = None) -> None:
    """Record every client from its next request on (``wrap``), or stop wrapping new ones (None).

    Clients already recording keep recording.
    """
    global _recorder, _is_recording, _current_generation
    with _lock:
        _recorder = wrap
        if is_recording is not None:
            _is_recording = is_recording
        _current_generation = next(_generation)


@functools.cache
def _seam_class(module_name: str) -> type:
    mod: Any = importlib.import_module(module_name)

    class SeamTransport(mod.BaseTransport, mod.AsyncBaseTransport):  # type: ignore[misc]
        """Passes each request to ``inner``, or to the serving replay's transport while one serves."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def handle_request(self, request: Any) -> Any:
            served = serving_transport()
            return (served or self.inner).handle_request(request)

        async def handle_async_request(self, request: Any) -> Any:
            served = serving_transport()
            return await (served or self.inner).handle_async_request(request)

        def close(self) -> None:
            self.inner.close()

        async def aclose(self) -> None:
            await self.inner.aclose()

    return SeamTransport


def _http_module(obj: Any) -> str | None:
    for base in type(obj).__mro__:
        root = base.__module__.split(".")[0]
        if root in {"httpx", "httpx2"}:
            return root
    return None


def is_seam(transport: Any) -> bool:
    module = _http_module(transport)
    return module is not None and isinstance(transport, _seam_class(module))


def inner_transport(transport: Any) -> Any:
    """The transport behind the seam (``transport`` itself when it is not a seam)."""
    return transport.inner if is_seam(transport) else transport


def _attach_transport(transport: Any) -> Any:
    if transport is None:
        return None
    module = _http_module(transport)
    if module is None:
        return transport
    seam = transport if is_seam(transport) else _seam_class(module)(transport)
    if _recorder is not None and not _is_recording(seam.inner):
        seam.inner = _recorder(seam.inner)
    return seam


def attach(http_client: Any) -> None:
    """Put the seam around an ``httpx``/``httpx2`` client's transports (once; recording if it is on)."""
    http_client._transport = _attach_transport(http_client._transport)
    for pattern, transport in list(http_client._mounts.items()):
        http_client._mounts[pattern] = _attach_transport(transport)


def _attach_once(client: Any) -> None:
    if client.__dict__.get(_ATTACHED) == _current_generation:
        return
    try:
        attach(client._client)
    except Exception:  # never break the agent's call over the seam
        logger.warning("tracefork: could not reach this Anthropic client", exc_info=True)
    client.__dict__[_ATTACHED] = _current_generation


def _patch(cls: type, *, is_async: bool) -> None:
    if _ORIGINAL in cls.__dict__:
        return
    init: Callable[..., None] = cls.__init__  # type: ignore[misc]
    request: Callable[..., Any] = cls.request  # type: ignore[attr-defined]

    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        _attach_once(self)

    if is_async:

        @functools.wraps(request)
        async def arequest(self: Any, *args: Any, **kwargs: Any) -> Any:
            _attach_once(self)
            return await request(self, *args, **kwargs)

        cls.request = arequest  # type: ignore[attr-defined]
    else:

        @functools.wraps(request)
        def srequest(self: Any, *args: Any, **kwargs: Any) -> Any:
            _attach_once(self)
            return request(self, *args, **kwargs)

        cls.request = srequest  # type: ignore[attr-defined]
    setattr(cls, _ORIGINAL, (init, request))
    cls.__init__ = __init__  # type: ignore[misc]


def install() -> None:
    """Patch the SDK's base clients (idempotent): every client, made before or after, reaches the seam."""
    from anthropic._base_client import AsyncAPIClient, SyncAPIClient

    with _lock:
        _patch(SyncAPIClient, is_async=False)
        _patch(AsyncAPIClient, is_async=True)


# --- serving a replay ----------------------------------------------------------------------


def serving_transport() -> Any:
    """The transport of the replay serving this context, or None when nothing serves (record or pass through).

    Raises:
        ReplayDivergence: several replays serve at once and this context belongs to none of them.
    """
    served = _serving.get()
    if served is not None or not _sessions:
        return served
    with _lock:
        if len(_sessions) == 1:
            return _sessions[0]
    raise passthrough(
        ReplayDivergence(
            DivergenceCode.UNOWNED_REQUEST,
            "a request from a thread that belongs to none of the replays running at once",
            step=0,
            hint="Run forks one at a time (--parallel 1) for an agent that calls the model from its own threads",
        )
    )


def serving() -> bool:
    """Whether a replay serves this context (then run boundaries record nothing)."""
    return _serving.get() is not None or bool(_sessions)


@contextlib.contextmanager
def serve(transport: Any) -> Iterator[None]:
    """Serve every Anthropic client's requests in this context (and, when alone, the process's) from ``transport``."""
    install()
    token = _serving.set(transport)
    with _lock:
        _sessions.append(transport)
    try:
        yield
    finally:
        with _lock:
            _sessions.remove(transport)
        _serving.reset(token)
