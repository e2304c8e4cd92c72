"""``tfotel demo``: the whole record path, offline, in one command."""

from __future__ import annotations

import os

import click

from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.cli._options import finite, json_option
from tracefork_otel.cli._output import emit_json, one_line, status
from tracefork_otel.cli._render import echo, timeline_text
from tracefork_otel.demo.session import DEMO_AGENT_SPEC, run_demo
from tracefork_otel.errors import TraceforkError
from tracefork_otel.otel_setup import exporter_names
from tracefork_otel.sources.local import LocalSource
from tracefork_otel.timeline import Timeline, build_timeline


@click.command()
@click.option(
    "--chunk-delay",
    default=0.0,
    type=click.FloatRange(0, 5),
    callback=finite,
    help="Seconds between SSE events of the stand-in.",
)
@json_option
def demo(chunk_delay: float, as_json: bool) -> None:
    """Record a bundled tool-using agent against an in-process Messages API stand-in.

    Fully offline: the stand-in speaks the real wire format (JSON and SSE) on
    127.0.0.1 and the real Anthropic SDK talks to it. The run is recorded like a
    production one: spans to the local store under TFOTEL_HOME (and to OTLP when
    OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER is set), request and response
    bytes to the blob store. Prints the trace id and where everything went.
    """
    result = run_demo(chunk_delay=chunk_delay)
    source = LocalSource()
    timeline: Timeline | None = None
    try:
        timeline = build_timeline(result.trace_id, source.get(result.trace_id), open_blob_store(result.blob_store))
    except TraceforkError as exc:  # recording is fail-open: the run happened even if TFOTEL_HOME cannot keep it
        status(f"tfotel: warning: the run was recorded but cannot be read back: {one_line(exc)}")
    exporters = exporter_names()
    otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if as_json:
        emit_json(
            {
                "trace_id": result.trace_id,
                "outcome": result.outcome,
                "exchanges": result.exchanges,
                "span_store": source.name,
                "blob_store": result.blob_store,
                "otlp_endpoint": otlp,
                "timeline": timeline.to_json() if timeline is not None else None,
            }
        )
        return
    echo(f"recorded demo run {result.trace_id}")
    echo(f"  outcome     {result.outcome}")
    echo(f"  spans       {source.name}" + (f" and OTLP -> {otlp}" if otlp else ""))
    if exporters and not otlp:
        echo(f"  exporters   {', '.join(exporters)}")
    echo(f"  blobs       {result.blob_store}")
    if timeline is not None:
        echo("")
        echo(timeline_text(timeline))
    echo("")
    echo("next:")
    echo(f"  tfotel show {result.trace_id}")
    echo(f"  tfotel replay {result.trace_id} --agent {DEMO_AGENT_SPEC}")
    echo(f"  tfotel export {result.trace_id} -o run.tftape")
