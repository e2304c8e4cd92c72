"""From a trace id to what the debug commands work on: spans, the tape, the blob store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tracefork_otel.blobstore import BlobStore, MemoryBlobStore, open_blob_store
from tracefork_otel.errors import ConfigError
from tracefork_otel.replay.player import check_replayable
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.sources import TraceSource, normalize_trace_id, open_source
from tracefork_otel.sources.local import LocalSource
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.tape import Tape


def open_trace_source(
    spec: str = "local", *, authorization: str | None = None, org_id: str | None = None
) -> TraceSource:
    """The source a ``--source`` spec names (``local`` is the store under ``TFOTEL_HOME``)."""
    return open_source(spec or "local", authorization=authorization, org_id=org_id, local_factory=LocalSource)


@dataclass(frozen=True)
class LoadedRun:
    """A recorded run, fetched and checked."""

    trace_id: str
    spans: list[SpanRecord]
    tape: Tape
    blob_store: BlobStore


SHORT_ID_DIGITS: Final = 4
"""The fewest hex digits a short trace id may have."""


def resolve_trace_id(trace_id: str, source: TraceSource) -> str:
    """``trace_id`` as 32 lowercase hex digits: a full id as it is, a unique prefix (4 to 31 hex digits, not 16,
    which is a 64-bit id) looked up in the local store, as git takes a short hash.

    Raises:
        ConfigError: malformed, ambiguous, or a short id for a source that cannot look one up.
        TraceNotFoundError: no stored trace id starts with the prefix.
    """
    value = trace_id.strip()
    if SHORT_ID_DIGITS <= len(value) < 32 and len(value) != 16 and _HEX.issuperset(value.lower()):
        if not isinstance(source, LocalSource):
            raise ConfigError(
                f"a short trace id ({value!r}) is looked up in the local store only: give all 32 hex digits"
                f" for {source.name}"
            )
        return source.resolve(value)
    return normalize_trace_id(value)


_HEX: Final = frozenset("0123456789abcdef")


def load_spans(trace_id: str, source: TraceSource) -> tuple[str, list[SpanRecord]]:
    """The normalised trace id (a unique prefix resolved) and the trace's spans."""
    trace_id = resolve_trace_id(trace_id, source)
    return trace_id, source.get(trace_id)


def load_run(trace_id: str, source: TraceSource, blobs: str | BlobStore | None = None) -> LoadedRun:
    """Fetch a trace and rebuild its tape, checking that every blob is in the store.

    Raises:
        ConfigError: a malformed trace id.
        TraceNotFoundError / SourceError: the source could not give the trace.
        RebuildError: the spans and blobs do not make a complete tape.
    """
    trace_id, spans = load_spans(trace_id, source)
    store = blobs if isinstance(blobs, BlobStore) else open_blob_store(blobs)
    tape = rebuild_tape(trace_id, spans, store)
    return LoadedRun(trace_id=trace_id, spans=spans, tape=tape, blob_store=store)


def is_tape_path(target: str) -> bool:
    """Whether a command's TRACE_ID argument names a ``.tftape`` file instead."""
    return target.endswith(".tftape") or (len(target) != 32 and Path(target).is_file())


def load_target(
    target: str,
    source: str = "local",
    *,
    authorization: str | None = None,
    org_id: str | None = None,
    blobs: str | BlobStore | None = None,
    allow_partial: bool = False,
) -> tuple[Tape, BlobStore]:
    """The tape and blob store a debug command works on: a ``.tftape`` file (self-contained), or a trace id
    fetched from the ``--source`` spec ``source`` (opened only then) with its blobs from ``blobs``.

    Raises:
        ConfigError / TraceNotFoundError / SourceError / RebuildError: see `load_run`.
        TapeError: a corrupt or foreign ``.tftape`` file.
        TapeRedactedError: the tape was redacted at record time (every caller replays it;
            refused before any progress is printed).
        TapePartialError: a partial recording, without ``allow_partial``.
    """
    if is_tape_path(target):
        from tracefork_otel.transfer import read_bundle_file

        tape, bundle_blobs = read_bundle_file(Path(target))
        store: BlobStore = MemoryBlobStore(Path(target).name)
        for data in bundle_blobs.values():
            store.put(data)
    else:
        run = load_run(target, open_trace_source(source, authorization=authorization, org_id=org_id), blobs)
        tape, store = run.tape, run.blob_store
    check_replayable(tape, allow_partial=allow_partial)
    return tape, store
