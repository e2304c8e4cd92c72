"""``tfotel record``: run a command, or an explicit agent function, under recording."""

from __future__ import annotations

from typing import Any

import click

from tracefork_otel import environment_variables as env
from tracefork_otel.agents import call_agent, load_callable, outcome_json
from tracefork_otel.bootstrap import MODE_RECORD, run_command
from tracefork_otel.cli._options import base_url_option, blobs_option, json_option, live_client_kwargs
from tracefork_otel.cli._output import EXIT_CHECK_FAILED, Abort, emit_json, one_line, status
from tracefork_otel.cli._render import echo
from tracefork_otel.record import record_run


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--agent", "agent_spec", metavar="MODULE:FUNCTION", help="An explicit agent, fn(client, nondet).")
@base_url_option("With --agent: Messages API base URL (default: the SDK's).")
@click.option(
    "--name",
    metavar="NAME",
    help="Run name (gen_ai.agent.name). Default: the function's or the script's name. [env var: TFOTEL_RUN_NAME]",
)
@blobs_option
@json_option
@click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- COMMAND…]")
def record(
    agent_spec: str | None,
    base_url: str | None,
    name: str | None,
    blobs: str | None,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Run a command, or an explicit agent, with recording on; print the trace id of each run.

    With `-- COMMAND…`, the command runs as it is (like opentelemetry-instrument): every
    Anthropic client of every Python process it starts records, a script is one run
    (or one per call of a function decorated with @tracefork_otel.agent), and the trace
    ids are printed when it exits, with its exit code. With --agent, the function is
    called as fn(client, nondet) with an anthropic.Anthropic client (AsyncAnthropic for
    `async def`). The API key comes from the environment and is never recorded.

    \b
    Examples:
      tfotel record -- python agent.py "What is 17 * 23?"
      tfotel record --agent mypkg.agent:run --name refund-desk
    """
    if command and agent_spec:
        raise Abort("give either --agent or -- COMMAND, not both")
    if command:
        _record_command(command, name, blobs, as_json)
        return
    if not agent_spec:
        raise Abort("nothing to record: give -- COMMAND… (e.g. -- python agent.py) or --agent module:function")
    fn = load_callable(agent_spec)
    kwargs = live_client_kwargs(base_url)
    import anthropic

    error: Exception | None = None
    outcome: Any = None
    try:
        with record_run(name or agent_spec.rpartition(":")[2], blob_store=blobs) as run:
            status(f"recording run {run.trace_id} …")
            outcome = call_agent(
                fn,
                run.nondet,
                sync_client=lambda: anthropic.Anthropic(http_client=run.http_client(), **kwargs),
                async_client=lambda: anthropic.AsyncAnthropic(http_client=run.async_http_client(), **kwargs),
            )
            run.set_outcome(outcome)
    except Exception as exc:  # the agent's own failure (the endpoint down included): recorded as the run's outcome
        error = exc
    agent_error = None if error is None else f"{type(error).__name__}: {one_line(error)}"
    if as_json:
        emit_json({"trace_id": run.trace_id, "outcome": outcome_json(outcome), "agent_error": agent_error})
    else:
        echo(run.trace_id)
        if agent_error is not None:
            status(f"tfotel record: the agent raised {agent_error} (recorded as the run's outcome)")
    if error is not None:
        raise SystemExit(EXIT_CHECK_FAILED)


def _record_command(command: tuple[str, ...], name: str | None, blobs: str | None, as_json: bool) -> None:
    extra = {env.TFOTEL_RUN_NAME: name} if name else {}
    if blobs:
        extra[env.TFOTEL_BLOBS] = blobs
    result = run_command(command, MODE_RECORD, extra)
    if as_json:
        emit_json({"trace_ids": list(result.trace_ids), "exit_code": result.exit_code})
    else:
        if not result.trace_ids:
            status("tfotel record: the command made no model call, so no run was recorded")
        for trace_id in result.trace_ids:
            echo(trace_id)
    if result.exit_code:
        raise SystemExit(result.exit_code)
