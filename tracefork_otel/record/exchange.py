"""The recording core for one exchange, free of I/O: ``on_request`` → ``on_response`` → ``on_chunk``* → ``on_close``.

The sync and async transports are thin drivers around this object. On the agent's
thread it only starts the span and keeps references to bytes that are already in
memory; everything that costs (hashing, compression, blob writes, JSON parsing,
ending the span) is one job for the background writer. In strict mode that job runs
inline and its failure raises into the agent.

Why a child span, sometimes: the Anthropic SDK (>= 1.14) and the official GenAI
instrumentation already emit a GenAI CLIENT span per API call, current while the
HTTP request is sent. Emitting our own ``chat {model}`` span too would make users pay
for two GenAI spans per call, and enriching theirs does not work either: one API call
covers several HTTP attempts (retries), each its own step on the tape, and their span
may end before a stream we tee is closed. So when such a span is current we add a
child ``tracefork.exchange`` span that carries only ``tracefork.*`` attributes and the
content references; otherwise we emit the full ``chat {model}`` span ourselves.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind, Status, StatusCode

from tracefork_otel import semconv
from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.blobstore.fsspec_store import MAX_BLOB_BYTES
from tracefork_otel.contentcoding import CONTENT_ENCODING, codings_to_undo, decode, listed_codings
from tracefork_otel.errors import BlobError, ConfigError, ContentDecodingError
from tracefork_otel.record.attributes import request_attributes, response_attributes
from tracefork_otel.record.config import RecordConfig
from tracefork_otel.record.run import RunState, ambient_run, current_run, fallback_run, new_trace_id, trace_id_of
from tracefork_otel.record.writer import Job, get_writer
from tracefork_otel.sdk_errors import passthrough
from tracefork_otel.spanmodel import AttributeValue
from tracefork_otel.tape.model import SCHEMA_VERSION, Exchange
from tracefork_otel.urls import safe_url, scrub_urls

logger = logging.getLogger(__name__)

KEPT_RESPONSE_HEADERS = frozenset({"content-type", "request-id", "retry-after", "retry-after-ms", "x-should-retry"})
"""Response headers replay needs (the SDK reads them for retries and parsing); nothing else is kept.

``content-encoding`` is not kept on purpose: the stored body is the decoded one the SDK parsed."""
KEPT_RESPONSE_HEADER_PREFIXES = ("anthropic-ratelimit-",)


def keep_header(name: str) -> bool:
    """Whether a response header is kept on the tape (an allow-list: secrets never match)."""
    return name in KEPT_RESPONSE_HEADERS or name.startswith(KEPT_RESPONSE_HEADER_PREFIXES)


def _is_foreign_genai_span(span: trace.Span) -> bool:
    if not span.is_recording():
        return False
    name = getattr(span, "name", "") or ""
    attributes = getattr(span, "attributes", None) or {}
    operation = attributes.get(semconv.GEN_AI_OPERATION_NAME)
    return name.startswith(semconv.SDK_SPAN_PREFIX) or operation == semconv.OPERATION_CHAT


class _WarnOnce:
    """Logs each distinct recording failure once per process (``key`` says which failures are the same)."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, message: str, key: str | None = None) -> None:
        key = message if key is None else key
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        logger.warning("tracefork: recording failed, the agent goes on: %s", message)


warn_once = _WarnOnce()


def suppressed() -> bool:
    """Whether instrumentation is suppressed in this context (an exporter's own HTTP calls)."""
    return not is_instrumentation_enabled()


class ExchangeRecorder:
    """Records one request/response exchange of a run."""

    def __init__(
        self,
        config: RecordConfig,
        *,
        method: str,
        scheme: str,
        host: str,
        port: int | None,
        path: str,
        body: bytes,
        run: RunState | None = None,
    ) -> None:
        self._config = config
        self._start_ns = time.time_ns()
        self._body = body
        self._method = method
        self._path = path
        self._chunks: list[bytes] = []
        self._status = 0
        self._headers: tuple[tuple[str, str], ...] = ()
        self._codings: list[str] = []
        self._client_codings: frozenset[str] = frozenset()
        self._stream = False
        self._complete = False
        self._closed = False
        self._error_type = ""

        run = run or current_run()
        parent = trace.get_current_span()
        if run is None:
            run = fallback_run(parent)  # no explicit run: the process's, unless another trace holds the call
        ctx: Any = None
        if run is not None and run.root_span is not None and trace_id_of(parent) != run.trace_id:
            # A bound client used outside the run's context (another thread): parent to the run's root.
            ctx = trace.set_span_in_context(run.root_span)
            parent = run.root_span
        self._full = not _is_foreign_genai_span(parent)
        attrs: dict[str, AttributeValue] = {semconv.REQUEST_METHOD: method, semconv.REQUEST_PATH: path}
        if self._full:
            attrs[semconv.GEN_AI_OPERATION_NAME] = semconv.OPERATION_CHAT
            attrs[semconv.GEN_AI_PROVIDER_NAME] = semconv.PROVIDER_ANTHROPIC
            attrs[semconv.GEN_AI_SYSTEM] = semconv.PROVIDER_ANTHROPIC
            attrs[semconv.SERVER_ADDRESS] = host
            attrs[semconv.SERVER_PORT] = port or (443 if scheme == "https" else 80)
        self._span = config.tracer().start_span(
            semconv.SPAN_CHAT_PREFIX if self._full else semconv.SPAN_EXCHANGE,
            context=ctx,
            kind=SpanKind.CLIENT if self._full else SpanKind.INTERNAL,
            attributes=attrs,
            start_time=self._start_ns,
        )
        if run is None:
            trace_id = trace_id_of(self._span) or new_trace_id()
            run = ambient_run(trace_id, config.blob_store)
        self._run = run
        self.step = run.next_step()
        self._span.set_attribute(semconv.STEP, self.step)

    # --- events from the driver -------------------------------------------------

    def on_response(
        self, status_code: int, headers: list[tuple[str, str]], *, stream: bool, client_codings: frozenset[str]
    ) -> None:
        """The response started: its status and headers (names lowercased).

        Args:
            stream: an SSE response.
            client_codings: the content codings the client undoes before its caller reads the body
                (`contentcoding.ContentCoding` values); the chunks that follow are the raw ones, and the
                recorded body is them with the same codings undone. Empty when the chunks are already decoded.
        """
        self._status = status_code
        self._stream = stream
        self._headers = tuple((k, v) for k, v in headers if keep_header(k))
        self._codings = listed_codings(v for k, v in headers if k == CONTENT_ENCODING)
        self._client_codings = client_codings

    def on_chunk(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    def on_complete(self) -> None:
        """The response body was read to its end."""
        self._complete = True

    def on_close(self, error: BaseException | None = None) -> None:
        """The body was closed (read fully, abandoned, or broken by ``error``). Idempotent."""
        if self._closed:
            return
        self._closed = True
        if error is not None and not isinstance(error, GeneratorExit):
            self._error_type = type(error).__qualname__
        end_ns = time.time_ns()
        if self._config.strict:
            self._finish(end_ns, strict=True)
            return
        size = len(self._body) + sum(len(c) for c in self._chunks)
        get_writer().submit(Job(run=lambda: self._finish(end_ns), drop=lambda why: self._drop(why, end_ns), size=size))

    def on_transport_error(self, error: BaseException) -> None:
        """The inner transport raised before any response (connection refused, timeout)."""
        self._complete = False
        self.on_close(error)

    # --- background work ----------------------------------------------------------

    def _finish(self, end_ns: int, *, strict: bool = False) -> None:
        run, store = self._run, self._config.blob_store
        request, body = self._body, b"".join(self._chunks)
        if self._codings:
            try:
                body = decode(body, codings_to_undo(self._codings, self._client_codings), limit=MAX_BLOB_BYTES)
            except ContentDecodingError as exc:
                # Never store bytes the SDK did not parse as if it had: nothing of this exchange is kept.
                why = f"response body not decoded: {exc}"
                if strict:
                    self._end_span(end_ns, why)
                    raise passthrough(exc) from exc
                self._drop(why, end_ns)
                return
        redacted = False
        if self._config.redact is not None:
            try:
                request, body, redacted = self._redact(request, body)
            except Exception as exc:
                # Never store (or describe) bytes the user asked to redact: nothing of this exchange is kept.
                # The message is the exception's type only: its text could quote the content.
                why = f"redaction failed: {type(exc).__qualname__}"
                if strict:
                    self._end_span(end_ns, why)
                    raise passthrough(ConfigError(f"{why} (the redact hook raised; nothing was recorded)")) from exc
                self._drop(why, end_ns)
                return
        record_error: str | None = None
        try:
            bases = [d for d in (run.previous_request, run.previous_response) if d]
            request_sha = store.put(request, bases=bases)
            response_sha = store.put(body, bases=[run.previous_response] if run.previous_response else [])
        except Exception as exc:
            if strict:
                self._end_span(end_ns, scrub_urls(f"{exc}"))
                error = (
                    exc
                    if isinstance(exc, BlobError)
                    else BlobError(scrub_urls(f"recording failed: {type(exc).__name__}: {exc}"))
                )
                raise passthrough(error) from exc
            record_error = scrub_urls(f"{type(exc).__name__}: {exc}")
            # Each message names its blob; a dead store fails every put the same way: say it once.
            warn_once(record_error, key=f"put {store.url} {type(exc).__qualname__}")
            request_sha, response_sha = sha256_hex(request), sha256_hex(body)
        incomplete = self._stream and not self._complete
        exchange = Exchange(
            step=self.step,
            request_sha256=request_sha,
            response_sha256=response_sha,
            method=self._method,
            url_path=self._path,
            status_code=self._status,
            response_headers=self._headers,
            stream=self._stream,
            incomplete=incomplete,
            span_id=format(self._span.get_span_context().span_id, "016x"),
            start_time_unix_nano=self._start_ns,
            end_time_unix_nano=end_ns,
            error_type=self._error_type,
            redacted=redacted,
        )
        try:
            self._set_attributes(exchange, request, body)
        except Exception:
            logger.debug("could not set exchange attributes", exc_info=True)
        run.add_exchange(exchange, record_error)
        self._end_span(end_ns, record_error)

    def _redact(self, request: bytes, body: bytes) -> tuple[bytes, bytes, bool]:
        """The bodies as the user's redaction hook rewrites them, and whether it changed either."""
        redact = self._config.redact
        assert redact is not None
        new_request, new_body = redact("request", request), redact("response", body)
        if not isinstance(new_request, bytes) or not isinstance(new_body, bytes):
            raise TypeError("the redaction hook must return bytes")
        return new_request, new_body, (new_request, new_body) != (request, body)

    def _set_attributes(self, ex: Exchange, request_body: bytes, body: bytes) -> None:
        span, store = self._span, self._config.blob_store
        attrs: dict[str, AttributeValue] = {
            semconv.REQUEST_SHA256: ex.request_sha256,
            semconv.RESPONSE_SHA256: ex.response_sha256,
            semconv.RESPONSE_STATUS_CODE: ex.status_code,
            semconv.RESPONSE_STREAM: ex.stream,
            semconv.TAPE_SCHEMA: SCHEMA_VERSION,
            semconv.GEN_AI_INPUT_MESSAGES_REF: safe_url(store.uri(ex.request_sha256)),
            semconv.GEN_AI_OUTPUT_MESSAGES_REF: safe_url(store.uri(ex.response_sha256)),
        }
        if ex.response_headers:
            attrs[semconv.RESPONSE_HEADERS] = [f"{k}: {v}" for k, v in ex.response_headers]
        if ex.incomplete:
            attrs[semconv.RESPONSE_INCOMPLETE] = True
        if ex.redacted:
            attrs[semconv.REDACTED] = True
        if self._full:
            capture = self._config.capture_content
            request = request_attributes(request_body, capture_content=capture)
            attrs.update(request)
            if 200 <= ex.status_code < 300:
                attrs.update(response_attributes(body, stream=ex.stream, capture_content=capture))
            model = request.get(semconv.GEN_AI_REQUEST_MODEL)
            if isinstance(model, str):
                span.update_name(f"{semconv.SPAN_CHAT_PREFIX} {model}")
        error_type = ex.error_type or (str(ex.status_code) if ex.status_code >= 400 else "")
        if error_type:
            attrs[semconv.ERROR_TYPE] = error_type
            span.set_status(Status(StatusCode.ERROR, error_type))
        span.set_attributes(attrs)

    def _end_span(self, end_ns: int, record_error: str | None) -> None:
        if record_error:
            self._span.set_attribute(semconv.RECORD_ERROR, record_error)
        self._span.end(end_time=end_ns)

    def _drop(self, why: str, end_ns: int) -> None:
        warn_once(why)
        self._run.add_exchange(
            Exchange(step=self.step, request_sha256="", response_sha256="", status_code=self._status), why
        )
        self._end_span(end_ns, why)
