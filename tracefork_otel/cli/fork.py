"""``tfotel fork``: what if the model had answered differently at step N?"""

from __future__ import annotations

from pathlib import Path

import click

from tracefork_otel.cli._options import (
    AGENT_HELP,
    base_url_option,
    blobs_option,
    json_option,
    live_client_kwargs,
    source_options,
)
from tracefork_otel.cli._output import EXIT_CHECK_FAILED, Abort, emit_json, printable, status
from tracefork_otel.cli._render import echo
from tracefork_otel.errors import ConfigError
from tracefork_otel.loading import load_target
from tracefork_otel.replay.entry import agent_for
from tracefork_otel.replay.fork import fork_run, response_for_step


@click.command()
@click.argument("trace_id")
@click.option("--step", required=True, type=click.IntRange(0), help="The step to answer differently (0-based).")
@click.option(
    "--response",
    "response_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The response for the step: a Message JSON body (streamed as SSE if the step streamed) or an SSE body.",
)
@click.option("--resample", is_flag=True, help="Sample the step fresh from the live endpoint instead.")
@click.option("--agent", metavar="MODULE:FUNCTION", help=AGENT_HELP)
@base_url_option("Messages API for the live part (default: the SDK's).")
@source_options
@blobs_option
@json_option
def fork(
    trace_id: str,
    step: int,
    response_file: Path | None,
    resample: bool,
    agent: str | None,
    base_url: str | None,
    source: str,
    auth: str | None,
    org_id: str | None,
    blobs: str | None,
    as_json: bool,
) -> None:
    """Fork run TRACE_ID at --step: replay the prefix for $0, answer the step differently, run on live.

    Steps before --step replay from the tape (their requests still verified). The
    step gets --response FILE, or with --resample a fresh sample from the live
    endpoint. Later steps run live against --base-url with ANTHROPIC_API_KEY from the
    environment (never recorded). The fork is recorded as a new trace linked to the
    parent; its trace id is printed. Exit 1 when the prefix did not replay (then the
    run is no fork of the recorded one), 2 on bad input.

    \b
    Example:
      tfotel fork 4bf92f… --step 2 --response better.json --agent mypkg.agent:run
    """
    if (response_file is None) == (not resample):
        raise Abort("give exactly one of --response FILE or --resample")
    kwargs = live_client_kwargs(base_url)  # options first, then the tape, then the agent's code
    # The tape before the agent: a bad trace id is refused before the agent's module is imported (it runs code).
    tape, store = load_target(trace_id, source, authorization=auth, org_id=org_id, blobs=blobs)
    fn = agent_for(agent, tape, store)
    if step >= len(tape.exchanges):
        raise ConfigError(f"--step {step} is out of range: run {tape.trace_id} has steps 0..{len(tape.exchanges) - 1}")
    response = response_for_step(tape, step, response_file.read_bytes()) if response_file is not None else None
    import httpx2

    status(f"forking {printable(tape.trace_id)} at step {step}: replaying {step} steps, then live …")
    result = fork_run(tape, store, fn, step=step, response=response, live=httpx2.HTTPTransport(), client_kwargs=kwargs)
    if as_json:
        emit_json(result.to_json())
        if result.divergence is not None:
            raise SystemExit(EXIT_CHECK_FAILED)
        return
    echo(result.trace_id)
    status(
        f"fork {result.trace_id} of {printable(result.parent_trace_id)} at step {step}:"
        f" {result.replayed} exchanges replayed for $0, {result.recorded} recorded live"
    )
    if result.divergence is not None:
        status(f"  the prefix diverged, so this is no fork of the run: {printable(result.divergence)}")
    if result.agent_error:
        status(f"  the agent raised {printable(result.agent_error)} (the fork's outcome)")
    else:
        status(f"  outcome {printable(repr(result.outcome))}")
    if result.divergence is not None:
        raise SystemExit(EXIT_CHECK_FAILED)
