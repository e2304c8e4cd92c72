"""Recording transports for ``httpx`` and ``httpx2``: thin sync and async drivers of ``ExchangeRecorder``.

The current Anthropic SDK runs on ``httpx2`` (and refuses ``httpx`` objects); older
SDKs and other clients use ``httpx``. The two packages share the transport API, so
the classes are built once per package from one definition (``_build``), the way
VCR.py's httpx stubs take the httpx module as a parameter.

A transport wraps the client's own transport, so retries, proxies, timeouts and
connection pooling behave exactly as without recording. It tees the request body and
the response body as the chunks pass: a streamed (SSE) response reaches the agent
event by event, and is stored when its stream is closed. The chunks teed are the raw
ones (still compressed under ``content-encoding``); the agent gets them unchanged and
its client decodes them, while the recorder undoes the same codings on its copy, on the
background writer (see ``contentcoding``).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

from tracefork_otel import clientseam
from tracefork_otel import environment_variables as env
from tracefork_otel.contentcoding import ContentCoding
from tracefork_otel.record import config as record_config
from tracefork_otel.record.exchange import ExchangeRecorder, suppressed, warn_once
from tracefork_otel.record.run import RunState, current_run

logger = logging.getLogger(__name__)


def _start(request: Any, body: bytes, run: RunState | None) -> ExchangeRecorder | None:
    """Start recording ``request``; None when recording is off here or cannot start (fail-open)."""
    if suppressed():
        return None
    config: record_config.RecordConfig | None = None
    try:
        run = run or current_run()
        config = (run.config if run is not None else None) or record_config.get()
        url = request.url
        return ExchangeRecorder(
            config,
            method=request.method,
            scheme=url.scheme,
            host=url.host,
            port=url.port,
            path=url.path,
            body=body,
            run=run,
        )
    except Exception as exc:
        if config.strict if config is not None else env.parse_bool(env.TFOTEL_STRICT, False):
            raise
        warn_once(f"could not start recording an exchange: {type(exc).__name__}: {exc}")
        return None


def _client_codings(mod: ModuleType) -> frozenset[str]:
    """The content codings ``mod`` (``httpx``/``httpx2``) undoes before the SDK reads a body.

    Read from the library's own table, so the recorded body is the one the SDK parsed also
    where ``br`` or ``zstd`` is not installed (the library then hands those bodies on as they
    came). A library without that table is taken to undo every coding this package knows.
    """
    decoders = getattr(getattr(mod, "_decoders", None), "SUPPORTED_DECODERS", None)
    return frozenset(ContentCoding) if decoders is None else frozenset(decoders)


def _response_started(recorder: ExchangeRecorder, response: Any, client_codings: frozenset[str]) -> None:
    headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw]
    content_type = response.headers.get("content-type", "")
    stream = content_type.startswith("text/event-stream")
    recorder.on_response(response.status_code, headers, stream=stream, client_codings=client_codings)


@functools.cache
def _build(module_name: str) -> tuple[type, type]:
    """The (sync, async) recording transport classes for ``httpx`` or ``httpx2``."""
    mod: ModuleType = importlib.import_module(module_name)
    client_codings = _client_codings(mod)

    class TeeStream(mod.SyncByteStream, mod.AsyncByteStream):  # type: ignore[misc, name-defined]
        """Passes every chunk through unchanged and hands it to the recorder."""

        def __init__(self, inner: Any, recorder: ExchangeRecorder) -> None:
            self._inner = inner
            self._recorder = recorder

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self._inner:
                    self._recorder.on_chunk(chunk)
                    yield chunk
            except BaseException as exc:
                self._recorder.on_close(exc)
                raise
            self._recorder.on_complete()

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self._inner:
                    self._recorder.on_chunk(chunk)
                    yield chunk
            except BaseException as exc:
                self._recorder.on_close(exc)
                raise
            self._recorder.on_complete()

        def close(self) -> None:
            try:
                self._inner.close()
            finally:
                self._recorder.on_close()

        async def aclose(self) -> None:
            try:
                await self._inner.aclose()
            finally:
                self._recorder.on_close()

    def _tee(recorder: ExchangeRecorder, response: Any) -> Any:
        if response.is_stream_consumed:
            # Built with content= (a mock, a cache): the client will never read or close its stream,
            # and ``content`` is already decoded.
            _response_started(recorder, response, frozenset())
            recorder.on_chunk(response.content)
            recorder.on_complete()
            recorder.on_close()
        else:
            _response_started(recorder, response, client_codings)
            response.stream = TeeStream(response.stream, recorder)
        return response

    class RecordingTransport(mod.BaseTransport):  # type: ignore[misc, name-defined]
        """Records every exchange sent through ``inner``; a sync ``httpx``/``httpx2`` transport."""

        def __init__(self, inner: Any, run: RunState | None = None) -> None:
            self.inner = inner
            self._run = run

        def handle_request(self, request: Any) -> Any:
            recorder = _start(request, request.read(), self._run)
            if recorder is None:
                return self.inner.handle_request(request)
            try:
                response = self.inner.handle_request(request)
            except BaseException as exc:
                recorder.on_transport_error(exc)
                raise
            return _tee(recorder, response)

        def close(self) -> None:
            self.inner.close()

    class AsyncRecordingTransport(mod.AsyncBaseTransport):  # type: ignore[misc, name-defined]
        """Records every exchange sent through ``inner``; an async ``httpx``/``httpx2`` transport."""

        def __init__(self, inner: Any, run: RunState | None = None) -> None:
            self.inner = inner
            self._run = run

        async def handle_async_request(self, request: Any) -> Any:
            recorder = _start(request, await request.aread(), self._run)
            if recorder is None:
                return await self.inner.handle_async_request(request)
            try:
                response = await self.inner.handle_async_request(request)
            except BaseException as exc:
                recorder.on_transport_error(exc)
                raise
            return _tee(recorder, response)

        async def aclose(self) -> None:
            await self.inner.aclose()

    return RecordingTransport, AsyncRecordingTransport


def _module_of(obj: Any) -> str:
    name = type(obj).__module__.split(".")[0]
    if name not in {"httpx", "httpx2"}:
        for base in type(obj).__mro__:
            root = base.__module__.split(".")[0]
            if root in {"httpx", "httpx2"}:
                return root
        raise TypeError(f"{type(obj).__qualname__} is not an httpx or httpx2 transport or client")
    return name


def recording_transport(inner: Any, run: RunState | None = None) -> Any:
    """Wrap a sync or async ``httpx``/``httpx2`` transport so it records (inside the client seam, if there is one).

    A transport that serves both (a replay's) gets one that records both ways.
    """
    if clientseam.is_seam(inner):
        inner.inner = recording_transport(inner.inner, run)
        return inner
    module = _module_of(inner)
    sync_cls, async_cls = _build(module)
    dual_cls = _dual(module)
    if isinstance(inner, (sync_cls, async_cls, dual_cls)):
        # Already recording: bind it to this run (a client reused across runs records into the newest).
        wrapped: Any = inner
        if run is None or wrapped._run is run:
            return wrapped
        return recording_transport(wrapped.inner, run)
    mod = importlib.import_module(module)
    is_async, is_sync = isinstance(inner, mod.AsyncBaseTransport), isinstance(inner, mod.BaseTransport)
    if is_async and is_sync:
        return dual_cls(sync_cls(inner, run), async_cls(inner, run))
    return async_cls(inner, run) if is_async else sync_cls(inner, run)


@functools.cache
def _dual(module_name: str) -> type:
    mod: Any = importlib.import_module(module_name)

    class DualRecordingTransport(mod.BaseTransport, mod.AsyncBaseTransport):  # type: ignore[misc]
        """Records both ways around a transport that serves both (a replay's), for sync and async clients."""

        def __init__(self, sync: Any, asynchronous: Any) -> None:
            self._sync = sync
            self._async = asynchronous
            self.inner = sync.inner
            self._run = sync._run

        def handle_request(self, request: Any) -> Any:
            return self._sync.handle_request(request)

        async def handle_async_request(self, request: Any) -> Any:
            return await self._async.handle_async_request(request)

        def close(self) -> None:
            self._sync.close()

        async def aclose(self) -> None:
            await self._async.aclose()

    return DualRecordingTransport


def wrap_client(client: Any, run: RunState | None = None) -> Any:
    """Make an ``httpx``/``httpx2`` client record, keeping its own transports (and proxy mounts)."""
    client._transport = recording_transport(client._transport, run)
    for pattern, transport in list(client._mounts.items()):
        if transport is not None:
            client._mounts[pattern] = recording_transport(transport, run)
    return client


def is_recording(client: Any) -> bool:
    """Whether ``client``'s transport already records."""
    return transport_records(client._transport)


def transport_records(transport: Any) -> bool:
    """Whether ``transport`` records (seen through the client seam)."""
    inner = clientseam.inner_transport(transport)
    sync_cls, async_cls = _build(_module_of(inner))
    return isinstance(inner, (sync_cls, async_cls, _dual(_module_of(inner))))
