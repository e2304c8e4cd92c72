"""``tfotel export`` and ``tfotel import``: a run as one self-contained ``.tftape`` file."""

from __future__ import annotations

from pathlib import Path

import click

from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.cli._options import blobs_option, json_option, source_options
from tracefork_otel.cli._output import emit_json, status
from tracefork_otel.cli._render import echo
from tracefork_otel.loading import load_run, open_trace_source
from tracefork_otel.outfile import STDOUT
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.transfer import import_bundle, write_bundle


@click.command("export")
@click.argument("trace_id")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="The .tftape file to write ('-' for stdout); replaced atomically, keeping its mode.",
)
@source_options
@blobs_option
@json_option
def export_(
    trace_id: str, output: str, source: str, auth: str | None, org_id: str | None, blobs: str | None, as_json: bool
) -> None:
    """Write run TRACE_ID, with every blob it references, to one .tftape file.

    The file is a protobuf tape plus its blobs (zstd), enough to replay the run on
    another machine after `tfotel import`. Works from any source: a trace in Tempo
    or Jaeger exports as well as a local one.
    """
    run = load_run(trace_id, open_trace_source(source, authorization=auth, org_id=org_id), blobs)
    size = write_bundle(run.tape, run.blob_store, output)
    summary = f"wrote {output} ({size} bytes, {len(run.tape.exchanges)} steps, digest {run.tape.digest[:16]}…)"
    if output == STDOUT:
        status(summary)  # stdout holds the tape
    elif as_json:
        emit_json({"trace_id": run.trace_id, "path": output, "bytes": size, "steps": len(run.tape.exchanges)})
    else:
        echo(summary)


@click.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a different run stored under the same trace id.")
@blobs_option
@json_option
def import_(path: Path, force: bool, blobs: str | None, as_json: bool) -> None:
    """Load a .tftape file into the local stores, so its trace id works with every command.

    The file is checked completely (format, schema, ids, every blob's hash, the tape
    digest) before anything is written. Importing a run that is already stored is a
    no-op; a different run under the same trace id is refused unless --force.
    """
    tape = import_bundle(path, open_blob_store(blobs), SpanStore.default(), force=force)
    if as_json:
        emit_json({"trace_id": tape.trace_id, "steps": len(tape.exchanges), "digest": tape.digest})
    else:
        echo(tape.trace_id)
