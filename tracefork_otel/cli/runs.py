"""``tfotel runs``: the recorded runs in the local store, newest first."""

from __future__ import annotations

import dataclasses

import click

from tracefork_otel.cli._options import json_option
from tracefork_otel.cli._output import emit_json
from tracefork_otel.cli._render import echo, runs_text
from tracefork_otel.spanstore import SpanStore


@click.command()
@click.option("--limit", "-n", default=20, show_default=True, type=click.IntRange(1, 10_000), help="How many runs.")
@json_option
def runs(limit: int, as_json: bool) -> None:
    """List recorded runs (trace ids) in the local store under TFOTEL_HOME, newest first.

    Copy a trace id into `tfotel show`, `tfotel replay` or `tfotel export`.
    """
    found = SpanStore.default().list_runs(limit=limit)
    if as_json:
        emit_json({"runs": [{**dataclasses.asdict(r), "fragment": r.fragment} for r in found]})
    else:
        echo(runs_text(found))
