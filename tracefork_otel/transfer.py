"""Moving a run between machines: ``.tftape`` export (trace + blobs → file) and import (file → stores)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.errors import ConfigError, TapeError
from tracefork_otel.spanmodel import EventRecord, SpanKind, SpanRecord, StatusCode
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.tape import Tape, decode_bundle, encode_bundle

MAX_TAPE_FILE_BYTES = 1024 * 1024 * 1024


def write_bundle(tape: Tape, blob_store: BlobStore, path: Path) -> int:
    """Write ``tape`` and its blobs to ``path`` atomically; return the file size."""
    blobs = {digest: blob_store.get(digest) for digest in tape.blob_digests()}
    data = encode_bundle(tape, blobs)
    path = path.expanduser()
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ConfigError(f"cannot write {path}: folder {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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


def import_bundle(path: Path, blob_store: BlobStore, span_store: SpanStore) -> Tape:
    """Put a ``.tftape`` file's blobs in ``blob_store`` and its run in ``span_store``.

    Everything is checked before anything is written, so a corrupt file changes nothing.
    """
    tape, blobs = read_bundle_file(path)
    previous: str | None = None
    for digest in tape.blob_digests():
        blob_store.put(blobs[digest], bases=[previous] if previous else [])
        previous = digest
    span_store.write(tape_spans(tape, blob_store.url))
    return tape
