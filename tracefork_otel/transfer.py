"""Moving a run between machines: ``.tftape`` export (trace + blobs → file) and import (file → stores)."""

from __future__ import annotations

import os
from pathlib import Path

from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import TapeError
from tracefork_otel.outfile import write_output
from tracefork_otel.replay.session import load_blobs
from tracefork_otel.spanmodel import (
    SPAN_ID_DIGITS,
    TRACE_ID_DIGITS,
    EventRecord,
    SpanKind,
    SpanRecord,
    StatusCode,
    is_hex_id,
)
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.tape import Tape, decode_bundle, encode_bundle
from tracefork_otel.urls import safe_url

MAX_TAPE_FILE_BYTES = 1024 * 1024 * 1024


def write_bundle(tape: Tape, blob_store: BlobStore, path: str | os.PathLike[str]) -> int:
    """Write ``tape`` and its blobs to ``path`` (``-`` for stdout) as `write_output` writes files; return the size."""
    blobs = load_blobs(tape, blob_store)
    data = encode_bundle(tape, blobs)
    write_output(path, data)
    return len(data)


def read_bundle_file(path: Path) -> tuple[Tape, dict[str, bytes]]:
    """Read and fully check a ``.tftape`` file."""
    try:
        size = path.stat().st_size
        if size > MAX_TAPE_FILE_BYTES:
            raise TapeError(f"{path}: {size} bytes is over the {MAX_TAPE_FILE_BYTES} byte limit")
        data = path.read_bytes()
    except OSError as exc:
        raise TapeError(f"cannot read {path}: {exc.strerror or exc}") from exc
    bundle = decode_bundle(data, source=str(path))
    return bundle.tape, dict(bundle.blobs)


def tape_spans(tape: Tape, blob_store_url: str) -> list[SpanRecord]:
    """Spans that describe ``tape`` as the recorder would have (for the local store after import)."""
    root_id = tape.root_span_id or "0" * 15 + "1"
    root = SpanRecord(
        trace_id=tape.trace_id,
        span_id=root_id,
        parent_span_id=None,
        name=f"{semconv.SPAN_INVOKE_AGENT_PREFIX} {tape.run_name}".strip(),
        kind=SpanKind.INTERNAL,
        start_time_unix_nano=tape.start_time_unix_nano,
        end_time_unix_nano=tape.end_time_unix_nano,
        attributes={
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_INVOKE_AGENT,
            semconv.GEN_AI_AGENT_NAME: tape.run_name,
            semconv.TAPE_SCHEMA: tape.schema,
            semconv.TAPE_DIGEST: tape.digest,
            semconv.RUN_EXCHANGES: len(tape.exchanges),
            semconv.RUN_DRAWS: len(tape.draws),
            semconv.RUN_PARTIAL: tape.partial,
            semconv.BLOB_STORE: blob_store_url,
            **({semconv.REDACTED: True} if tape.first_redacted_step() is not None else {}),
            **(tape.entry.attributes() if tape.entry is not None else {}),
            **(tape.outcome.attributes() if tape.outcome is not None else {}),
            **(
                {semconv.FORK_PARENT_TRACE_ID: tape.parent_trace_id, semconv.FORK_STEP: tape.fork_step}
                if tape.parent_trace_id
                else {}
            ),
        },
        events=tuple(
            EventRecord(
                name=semconv.EVENT_DRAW,
                time_unix_nano=tape.start_time_unix_nano,
                attributes={
                    semconv.DRAW_ORDER: d.order,
                    semconv.DRAW_KIND: d.kind,
                    semconv.DRAW_VALUE: d.value,
                    semconv.DRAW_BEFORE_STEP: d.before_step,
                },
            )
            for d in tape.draws
        ),
    )
    spans = [root]
    for i, ex in enumerate(tape.exchanges):
        attrs: dict[str, object] = {
            semconv.STEP: ex.step,
            semconv.REQUEST_SHA256: ex.request_sha256,
            semconv.RESPONSE_SHA256: ex.response_sha256,
            semconv.REQUEST_METHOD: ex.method,
            semconv.REQUEST_PATH: ex.url_path,
            semconv.RESPONSE_STATUS_CODE: ex.status_code,
            semconv.RESPONSE_STREAM: ex.stream,
            semconv.GEN_AI_OPERATION_NAME: semconv.OPERATION_CHAT,
            semconv.GEN_AI_PROVIDER_NAME: semconv.PROVIDER_ANTHROPIC,
        }
        if ex.request_model:
            attrs[semconv.GEN_AI_REQUEST_MODEL] = ex.request_model
        if ex.response_headers:
            attrs[semconv.RESPONSE_HEADERS] = [f"{k}: {v}" for k, v in ex.response_headers]
        if ex.incomplete:
            attrs[semconv.RESPONSE_INCOMPLETE] = True
        if ex.error_type:
            attrs[semconv.ERROR_TYPE] = ex.error_type
        if ex.redacted:
            attrs[semconv.REDACTED] = True
        spans.append(
            SpanRecord(
                trace_id=tape.trace_id,
                span_id=ex.span_id or format(i + 2, "016x"),
                parent_span_id=root_id,
                name=f"{semconv.SPAN_CHAT_PREFIX} {ex.request_model}".strip(),
                kind=SpanKind.CLIENT,
                start_time_unix_nano=ex.start_time_unix_nano,
                end_time_unix_nano=ex.end_time_unix_nano,
                attributes=attrs,  # type: ignore[arg-type]
                status_code=StatusCode.ERROR if ex.error_type else StatusCode.UNSET,
            )
        )
    return spans


def _check_ids(tape: Tape, source: str) -> None:
    """Refuse a tape whose ids are not what a recorder writes: 32 / 16 lowercase hex digits, not all zero."""
    if not is_hex_id(tape.trace_id, TRACE_ID_DIGITS):
        raise TapeError(f"{source}: trace id {tape.trace_id[:40]!r} is not 32 lowercase hex digits (nor all zero)")
    steps = [(f"step {ex.step}", ex.span_id) for ex in tape.exchanges]
    for what, span_id in [("root span", tape.root_span_id), *steps]:
        if span_id and not is_hex_id(span_id, SPAN_ID_DIGITS):
            raise TapeError(f"{source}: {what} span id {span_id[:40]!r} is not 16 lowercase hex digits")


def _steps_of(tape: Tape) -> list[tuple[int, str, str]]:
    return [(ex.step, ex.request_sha256, ex.response_sha256) for ex in tape.exchanges]


def _same_run(existing: list[SpanRecord], tape: Tape) -> bool:
    """Whether the stored spans of ``tape.trace_id`` describe this very run (same exchanges, same digest)."""
    steps = sorted(
        (int(step), str(s.attributes.get(semconv.REQUEST_SHA256)), str(s.attributes.get(semconv.RESPONSE_SHA256)))
        for s in existing
        if isinstance(step := s.attributes.get(semconv.STEP), int)
    )
    digests = {s.attributes.get(semconv.TAPE_DIGEST) for s in existing if s.parent_span_id is None} - {None, ""}
    return steps == sorted(_steps_of(tape)) and digests <= {tape.digest}


def import_bundle(path: Path, blob_store: BlobStore, span_store: SpanStore, *, force: bool = False) -> Tape:
    """Put a ``.tftape`` file's blobs in ``blob_store`` and its run in ``span_store``.

    Everything is checked before anything is written, so a corrupt file changes nothing.
    A run already in the store under the tape's trace id is left alone: importing the
    same run again only adds blobs it lacks; a different run under that id is refused
    unless ``force``, which replaces every stored span of that trace.

    Raises:
        TapeError: the file is not a sound tape, its ids are malformed, or its trace id
            belongs to a different stored run (and not ``force``).
    """
    tape, blobs = read_bundle_file(path)
    _check_ids(tape, str(path))
    existing = span_store.get_trace(tape.trace_id)
    same = bool(existing) and _same_run(existing, tape)
    if existing and not same and not force:
        raise TapeError(
            f"{path}: trace {tape.trace_id} is already in the local store as a different run;"
            " nothing was imported (pass --force to replace it)"
        )
    previous: str | None = None
    for digest in [*tape.blob_digests(), *(d for d in tape.run_blob_digests() if d in blobs)]:
        blob_store.put(blobs[digest], bases=[previous] if previous else [])
        previous = digest
    if not same:
        span_store.write(tape_spans(tape, safe_url(blob_store.url)), replace_traces=force)
    return tape
