"""``tfotel record``: run an agent function under recording."""

from __future__ import annotations

import os
from typing import Any

import click

from tracefork_otel.agents import call_agent, load_callable, outcome_json
from tracefork_otel.cli._options import blobs_option, json_option
from tracefork_otel.cli._output import Abort, emit_json, status
from tracefork_otel.cli._render import echo
from tracefork_otel.record import record_run

PLACEHOLDER_KEY = "tfotel-no-key"


def anthropic_kwargs(base_url: str | None) -> dict[str, Any]:
    """Client arguments: the key from the environment (never recorded), the base URL if given."""
    key = os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")
    if not key and not base_url:
        raise Abort("ANTHROPIC_API_KEY is not set (or pass --base-url for a local endpoint)")
    kwargs: dict[str, Any] = {"api_key": key or PLACEHOLDER_KEY}
    if base_url:
        kwargs["base_url"] = base_url
    return kwargs


@click.command()
@click.option("--agent", "agent_spec", required=True, metavar="MODULE:FUNCTION", help="The agent, fn(client, nondet).")
@click.option("--base-url", metavar="URL", help="Messages API base URL (default: the SDK's, api.anthropic.com).")
@click.option("--name", metavar="NAME", help="Run name (gen_ai.agent.name). Default: the function's name.")
@blobs_option
@json_option
def record(agent_spec: str, base_url: str | None, name: str | None, blobs: str | None, as_json: bool) -> None:
    """Run an agent under recording and print its trace id.

    The agent is called as fn(client, nondet) with an anthropic.Anthropic client
    (AsyncAnthropic for `async def`) whose transport records every exchange. The API
    key comes from ANTHROPIC_API_KEY and is never recorded.

    \b
    Example:
      tfotel record --agent mypkg.agent:run --name refund-desk
    """
    fn = load_callable(agent_spec)
    kwargs = anthropic_kwargs(base_url)
    import anthropic

    with record_run(name or agent_spec.rpartition(":")[2], blob_store=blobs) as run:
        status(f"recording run {run.trace_id} …")
        outcome = call_agent(
            fn,
            run.nondet,
            sync_client=lambda: anthropic.Anthropic(http_client=run.http_client(), **kwargs),
            async_client=lambda: anthropic.AsyncAnthropic(http_client=run.async_http_client(), **kwargs),
        )
    if as_json:
        emit_json({"trace_id": run.trace_id, "outcome": outcome_json(outcome)})
    else:
        echo(run.trace_id)
