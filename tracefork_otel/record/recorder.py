"""The public way to record a run: ``with record_run("name") as run: ...``."""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.trace import Link, SpanKind, Status, StatusCode

from tracefork_otel import environment_variables as env
from tracefork_otel import nondet as nondet_module
from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore, sha256_hex
from tracefork_otel.entrypoint import EntryKind, EntryPoint, Outcome, OutcomeStatus, outcome_document
from tracefork_otel.nondet import Nondet
from tracefork_otel.record import config as record_config
from tracefork_otel.record.config import Redactor
from tracefork_otel.record.exchange import warn_once
from tracefork_otel.record.run import (
    RunState,
    new_trace_id,
    reset_current_run,
    set_current_run,
    trace_id_of,
)
from tracefork_otel.record.transport import recording_transport, wrap_client
from tracefork_otel.record.writer import Job, get_writer
from tracefork_otel.spanmodel import AttributeValue
from tracefork_otel.tape.digest import tape_digest
from tracefork_otel.tape.model import SCHEMA_VERSION
from tracefork_otel.urls import safe_url
from tracefork_otel.wire import dumps

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 30.0


if TYPE_CHECKING:
    import httpx2


def _http_module() -> Any:
    """``httpx2`` when the installed Anthropic SDK uses it, else ``httpx``."""
    try:
        return importlib.import_module("httpx2")
    except ImportError:
        return importlib.import_module("httpx")


class Run:
    """A run being recorded: its id, its nondeterminism source, and clients that record into it."""

    def __init__(self, state: RunState) -> None:
        self._state = state

    @property
    def trace_id(self) -> str:
        """The run id: the trace id, 32 lowercase hex digits."""
        return self._state.trace_id

    @property
    def name(self) -> str:
        return self._state.name

    @property
    def nondet(self) -> Nondet:
        """Clock, ids and random numbers, logged as the run's draws."""
        return self._state.nondet

    @property
    def exchanges(self) -> int:
        """How many exchanges were recorded so far (finished in the background)."""
        return len(self._state.exchanges)

    @property
    def started_exchanges(self) -> int:
        """How many exchanges the run has started (steps assigned), written or not."""
        return self._state.steps_started

    def http_client(self, **kwargs: Any) -> httpx2.Client:
        """A sync HTTP client for ``anthropic.Anthropic(http_client=...)`` that records into this run.

        It is the SDK's own default client (timeouts, limits, proxies from the
        environment) with its transport wrapped; ``kwargs`` go to that client. (Typed for the
        current SDK, on ``httpx2``; under an older SDK on ``httpx`` it is an ``httpx.Client``.)
        """
        try:
            import anthropic

            client = anthropic.DefaultHttpxClient(**kwargs)
        except (ImportError, AttributeError):
            client = _http_module().Client(**kwargs)
        wrapped: httpx2.Client = wrap_client(client, self._state)
        return wrapped

    def async_http_client(self, **kwargs: Any) -> httpx2.AsyncClient:
        """The async twin of ``http_client``, for ``anthropic.AsyncAnthropic``."""
        try:
            import anthropic

            client = anthropic.DefaultAsyncHttpxClient(**kwargs)
        except (ImportError, AttributeError):
            client = _http_module().AsyncClient(**kwargs)
        wrapped: httpx2.AsyncClient = wrap_client(client, self._state)
        return wrapped

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Add attributes to the run's root span (before the block exits)."""
        if self._state.root_span is not None:
            self._state.root_span.set_attributes(attributes)

    def wrap(self, client: Any) -> Any:
        """Make an existing ``httpx``/``httpx2`` client record into this run (returns it)."""
        return wrap_client(client, self._state)

    def recording_transport(self, inner: Any) -> Any:
        """A transport, sync and async, that records into this run what it passes to ``inner`` (a transport
        serving both, as a replay's does)."""
        return recording_transport(inner, self._state)

    def set_outcome(self, value: Any = None, *, error: BaseException | None = None) -> None:
        """Record ``value`` (or the agent's ``error``) as the run's outcome (``@tracefork_otel.agent`` passes the
        return value; a fork, the forked agent's).

        An exception leaving the block is recorded as the outcome instead.
        """
        self._state.outcome = outcome_document(value, error)


@contextlib.contextmanager
def record_run(
    name: str,
    *,
    blob_store: BlobStore | str | None = None,
    conversation_id: str | None = None,
    strict: bool | None = None,
    capture_content: bool | None = None,
    attributes: Mapping[str, AttributeValue] | None = None,
    links: list[Link] | None = None,
    nondet_source: Nondet | None = None,
    redact: Redactor | None = None,
    entry: EntryPoint | None = None,
    inputs: bytes | None = None,
) -> Iterator[Run]:
    """Record one agent run as one trace, rooted at an ``invoke_agent {name}`` span.

    Everything recorded is flushed when the block exits, also by an exception, which is
    recorded as the run's outcome (the run stays replayable: a replay must raise it too):
    blobs written, spans in the local store. Spans bound for an
    OTLP collector are handed to its batch processor and exported in the background
    (the agent never waits on a slow or dead collector); ``shutdown()`` waits for them.

    Args:
        name: the agent's name (``gen_ai.agent.name``).
        blob_store: a store or URL; default ``$TFOTEL_BLOBS`` or ``$TFOTEL_HOME/blobs``.
        conversation_id: ``gen_ai.conversation.id``; default the run id.
        strict: raise recording failures into the agent instead of logging them.
        capture_content: put message content on spans (off by default: hashes only).
        attributes: extra attributes for the root span.
        links: span links for the root span (forks link to their parent trace).
        nondet_source: where drawn values come from (default: real values); they are logged either way.
        redact: ``fn(kind, body) -> body``, applied to each request (``"request"``) and response
            (``"response"``) body on the background writer before it is hashed, stored or read for
            span attributes. Exchanges it changed carry ``tracefork.redacted``; such a run can be
            inspected (``tfotel show``, ``tfotel export``) but is refused by replay, fork and blame.
        entry: how to start the run again (``@tracefork_otel.agent`` gives it); default: a block.
        inputs: the blob ``entry.inputs_sha256`` names, stored with the run.

    Raises:
        ConfigError: ``redact`` is not callable (before the run starts).
    """
    from tracefork_otel.otel_setup import ensure_tracing, flush_local

    base = record_config.get()
    ensure_tracing(provider=base.tracer_provider)
    config = record_config.resolve(
        blob_store if blob_store is not None else base.blob_store,
        strict if strict is not None else base.strict,
        capture_content if capture_content is not None else base.capture_content,
        redact if redact is not None else base.redact,
        base.tracer_provider,
    )
    tracer = config.tracer()
    root = tracer.start_span(
        f"{semconv.SPAN_INVOKE_AGENT_PREFIX} {name}",
        kind=SpanKind.INTERNAL,
        attributes={
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
            semconv.GEN_AI_PROVIDER_NAME: semconv.PROVIDER_ANTHROPIC,
            semconv.GEN_AI_AGENT_NAME: name,
            semconv.BLOB_STORE: safe_url(config.blob_store.url),
            semconv.TAPE_SCHEMA: SCHEMA_VERSION,
            **(attributes or {}),
        },
        links=links,
    )
    trace_id = trace_id_of(root) or new_trace_id()
    root.set_attribute(semconv.GEN_AI_CONVERSATION_ID, conversation_id or trace_id)
    root.set_attributes((entry or EntryPoint(EntryKind.BLOCK)).attributes())
    state = RunState(trace_id, name, config.blob_store, root, nondet_source, config)
    if inputs is not None:
        state.blobs.append(inputs)
    run_token = set_current_run(state)
    failed: BaseException | None = None
    try:
        with (
            nondet_module.serving(state.nondet),
            trace.use_span(root, end_on_exit=False, record_exception=False, set_status_on_exception=False),
        ):
            yield Run(state)
    except BaseException as exc:
        failed = exc
        raise
    finally:
        reset_current_run(run_token)
        finish_run(state, failed)
        flush_local()


def _store_blobs(state: RunState, failed: BaseException | None) -> dict[str, AttributeValue]:
    """Queue the run's own blobs (inputs, outcome) on the writer; the outcome's attributes."""
    document = outcome_document(error=failed) if failed is not None else state.outcome
    outcome = Outcome(OutcomeStatus.ERROR, error_type=type(failed).__qualname__) if failed is not None else None
    blobs = list(state.blobs)
    if document is not None:
        data = dumps(document)
        blobs.append(data)
        status = OutcomeStatus(document["status"])
        error_type = str(document.get("type", "")) if status is OutcomeStatus.ERROR else ""
        outcome = Outcome(status, sha256_hex(data), error_type)
    store = state.blob_store

    def put() -> None:
        for data in blobs:
            try:
                store.put(data)
            except Exception as exc:  # the run's exchanges are what matter; say once and go on
                warn_once(f"could not store a run blob: {type(exc).__name__}: {exc}", key=f"run-blob {store.url}")

    get_writer().submit(Job(run=put, drop=lambda why: warn_once(why), size=sum(map(len, blobs))))
    return (outcome or Outcome(OutcomeStatus.OK)).attributes()


def finish_run(state: RunState, failed: BaseException | None) -> None:
    """Store the run's inputs and outcome, wait for its exchanges to be written, then seal and end the root span."""
    root = state.root_span
    assert root is not None
    outcome_attributes = _store_blobs(state, failed)
    flushed = get_writer().flush(FLUSH_TIMEOUT_S)
    exchanges = sorted(state.exchanges, key=lambda ex: ex.step)
    # An exception leaving the block is the run's outcome, not a gap in the recording: partial means bytes missing.
    partial = not flushed or bool(state.record_errors)
    attrs: dict[str, AttributeValue] = {
        semconv.TAPE_DIGEST: tape_digest(exchanges, state.nondet.draws),
        semconv.RUN_EXCHANGES: len(exchanges),
        semconv.RUN_DRAWS: len(state.nondet.draws),
        semconv.RUN_PARTIAL: partial,
        **outcome_attributes,
    }
    if any(ex.redacted for ex in exchanges):
        attrs[semconv.REDACTED] = True
    if state.record_errors:
        attrs[semconv.RECORD_ERROR] = state.record_errors[0]
    if not flushed:
        attrs[semconv.RECORD_ERROR] = "the blob store did not finish writing in time"
    root.set_attributes(attrs)
    if failed is not None:
        root.set_attribute(semconv.ERROR_TYPE, type(failed).__qualname__)
        root.set_status(Status(StatusCode.ERROR, f"{type(failed).__qualname__}: {failed}"))
    root.end()
    note_run(state.trace_id)


def note_run(trace_id: str) -> None:
    """Append a sealed run's trace id to ``$TFOTEL_RUNS_FILE`` (how ``tfotel record --`` learns them)."""
    path = os.environ.get(env.TFOTEL_RUNS_FILE)
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as out:
            out.write(trace_id + "\n")
    except OSError:
        logger.debug("could not note run %s in %s", trace_id, path)


def shutdown(timeout_s: float = FLUSH_TIMEOUT_S) -> bool:
    """Seal the process's run (if one is open), then flush everything recorded so far: blob writes, then the
    span exporters."""
    from tracefork_otel.otel_setup import force_flush
    from tracefork_otel.record.boundary import seal_process_run

    seal_process_run()
    written = get_writer().flush(timeout_s)
    return force_flush(int(timeout_s * 1000)) and written
