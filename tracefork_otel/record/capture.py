"""Capturing a run straight into a tape, with no spans: for fault scenarios and tests.

The same recording transport and run bookkeeping as ``record_run``, but spans go to a
no-op tracer and the tape is assembled from the run's own log once the background
writer has finished. Nothing reaches the user's trace backend or local store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import trace

from tracefork_otel.blobstore import BlobStore
from tracefork_otel.nondet import Nondet
from tracefork_otel.record import config as record_config
from tracefork_otel.record.run import RunState, new_trace_id
from tracefork_otel.record.transport import wrap_client
from tracefork_otel.tape.model import Tape


class _NoSpans(record_config.RecordConfig):
    def tracer(self) -> trace.Tracer:
        return trace.NoOpTracer()


def capture_run(
    name: str,
    blob_store: BlobStore,
    body: Callable[[Callable[[Any], Any], Nondet], Any],
    *,
    nondet_source: Nondet | None = None,
) -> tuple[Tape, Any]:
    """Run ``body(wrap, nondet)`` and return its tape and result.

    ``wrap(http_client)`` makes an ``httpx``/``httpx2`` client record into the run;
    ``nondet`` logs the run's draws. Blobs go to ``blob_store``.
    """
    config = _NoSpans(blob_store=blob_store, strict=True)  # strict: blobs written inline, failures raise
    state = RunState(new_trace_id(), name, blob_store, None, nondet_source, config)
    result = body(lambda client: wrap_client(client, state), state.nondet)
    tape = Tape(
        trace_id=state.trace_id,
        run_name=name,
        exchanges=tuple(sorted(state.exchanges, key=lambda ex: ex.step)),
        draws=tuple(state.nondet.draws),
    ).sealed()
    return tape, result
