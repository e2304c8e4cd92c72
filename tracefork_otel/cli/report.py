"""``tfotel report TRACE_ID -o run.html``: a run as one self-contained HTML page."""

from __future__ import annotations

import click

from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.cli._options import blobs_option, json_option, source_options
from tracefork_otel.cli._output import Abort, emit_json, status
from tracefork_otel.cli._render import echo
from tracefork_otel.loading import load_spans, open_trace_source
from tracefork_otel.outfile import STDOUT
from tracefork_otel.report import build_report, write_report
from tracefork_otel.spanstore import SpanStore


@click.command()
@click.argument("trace_id")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The HTML file to write ('-' for stdout). A file is replaced atomically keeping its mode;"
    " a device, FIFO or link to one is written through.",
)
@source_options
@blobs_option
@json_option
def report(
    trace_id: str,
    output: str | None,
    source: str,
    auth: str | None,
    org_id: str | None,
    blobs: str | None,
    as_json: bool,
) -> None:
    """Write run TRACE_ID as one self-contained HTML file to open in any browser.

    The page shows the timeline (one clickable row per model exchange: tokens,
    latency, tools), the selected exchange's request and response (SSE streams
    reassembled into the final Message, raw events alongside), the newest blame of
    the run with its 95% intervals, and the fork tree. Blame and forks come from the
    local span store (--source local). The file loads nothing from the network; it
    holds the message content of the run, and no credentials (the blobs hold none).

    With --json (and no -o) the document the page is built from is printed instead:
    the run, each step with its request and response bodies, the blame and the forks.

    \b
    Examples:
      tfotel report 4bf92f3577b34da6a3ce929d0e0e4736 -o run.html
      tfotel report 4bf92f3577b34da6a3ce929d0e0e4736 --json
      tfotel report 4bf92f3577b34da6a3ce929d0e0e4736 --source tempo:http://localhost:3200 -o run.html
    """
    if (output is None) != as_json:
        raise Abort("give -o/--output FILE for the page, or --json for its document (not both)")
    trace_id, spans = load_spans(trace_id, open_trace_source(source, authorization=auth, org_id=org_id))
    span_store = SpanStore.default() if source == "local" else None
    built = build_report(trace_id, spans, open_blob_store(blobs), span_store=span_store, source=source)
    if output is None:
        emit_json(built.to_json())
        return
    size = write_report(built, output)
    missing = sum(1 for v in built.steps for body in (v.request, v.response) if body.kind == "missing")
    if missing:
        status(f"tfotel: warning: {missing} bodies are not in the blob store; the page says which")
    extras = [f"{len(built.steps)} steps"]
    if built.blame is not None:
        extras.append("blame")
    if built.forks is not None:
        extras.append(f"{len(built.forks.walk()) - 1} related runs")
    summary = f"wrote {output} ({size / 1024:.0f} KiB: run {trace_id}, {', '.join(extras)})"
    if output == STDOUT:
        status(summary)  # stdout holds the page
    else:
        echo(summary)
