"""``tfotel show TRACE_ID``: a run's timeline."""

from __future__ import annotations

import dataclasses

import click

from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.cli._options import blobs_option, json_option, source_options
from tracefork_otel.cli._output import emit_json
from tracefork_otel.cli._render import echo, timeline_text
from tracefork_otel.loading import load_spans, open_trace_source
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.timeline import blame_cells, build_timeline


@click.command()
@click.argument("trace_id")
@source_options
@blobs_option
@json_option
def show(trace_id: str, source: str, auth: str | None, org_id: str | None, blobs: str | None, as_json: bool) -> None:
    """Print the timeline of run TRACE_ID: one line per model exchange.

    Each line shows the model, HTTP status, JSON or SSE, tokens, latency, finish
    reason and the tools the model called (read from the blob store), and, when the
    run was analysed with `tfotel blame`, each step's blame score and interval.

    \b
    Examples:
      tfotel show 4bf92f3577b34da6a3ce929d0e0e4736
      tfotel show 4bf92f3577b34da6a3ce929d0e0e4736 --source tempo:http://localhost:3200
    """
    trace_id, spans = load_spans(trace_id, open_trace_source(source, authorization=auth, org_id=org_id))
    timeline = build_timeline(trace_id, spans, open_blob_store(blobs))
    if source == "local":
        store = SpanStore.default()
        blame_id = store.latest_blame(trace_id)
        if blame_id is not None:
            timeline = dataclasses.replace(timeline, blame=blame_cells(store.get_trace(blame_id)))
    if as_json:
        emit_json(timeline.to_json())
    else:
        echo(timeline_text(timeline))
