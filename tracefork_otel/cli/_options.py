"""Options shared by several commands, each naming its environment variable."""

from __future__ import annotations

import math
import os
import urllib.parse
from collections.abc import Callable
from typing import Any, TypeVar

import click

from tracefork_otel import environment_variables as env
from tracefork_otel.cli._output import Abort

AGENT_HELP = (
    "The agent to run, fn(client, nondet). Default: the run's recorded entry point (a function decorated"
    " with @tracefork_otel.agent, called again with its recorded arguments)."
)

PLACEHOLDER_KEY = "tfotel-no-key"
"""The API key sent to a ``--base-url`` endpoint when the environment has none (a local stand-in needs none)."""

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document for machines.")(fn)


def blobs_option(fn: F) -> F:
    return click.option(
        "--blobs",
        "blobs",
        envvar=env.TFOTEL_BLOBS,
        metavar="URL",
        help=f"Blob store URL (folder, file://, s3://…). [env var: {env.TFOTEL_BLOBS}; default: $TFOTEL_HOME/blobs]",
    )(fn)


def source_options(fn: F) -> F:
    """``--source``, ``--auth`` and ``--org-id`` for commands that read a trace."""
    fn = click.option(
        "--org-id",
        envvar=env.TFOTEL_SOURCE_ORG_ID,
        metavar="TENANT",
        help=f"X-Scope-OrgID for a multi-tenant Tempo. [env var: {env.TFOTEL_SOURCE_ORG_ID}]",
    )(fn)
    fn = click.option(
        "--auth",
        envvar=env.TFOTEL_SOURCE_AUTHORIZATION,
        metavar="VALUE",
        help=f"Authorization header for the trace backend ('Bearer …'). [env var: {env.TFOTEL_SOURCE_AUTHORIZATION}]",
    )(fn)
    fn = click.option(
        "--source",
        envvar=env.TFOTEL_SOURCE,
        default="local",
        show_default=True,
        metavar="SPEC",
        help=(
            "Where to read the trace: local | tempo:http://host:3200 | jaeger:http://host:16686 | file:PATH"
            f" (OTLP/JSON, collector JSON lines, Tempo or Jaeger bodies). [env var: {env.TFOTEL_SOURCE};"
            f" HTTP timeout in seconds: {env.TFOTEL_SOURCE_TIMEOUT}, default 10]"
        ),
    )(fn)
    return fn


def base_url_option(help_text: str) -> Callable[[F], F]:
    """``--base-url`` for commands that call a live Messages API."""

    def decorate(fn: F) -> F:
        return click.option("--base-url", metavar="URL", help=help_text)(fn)

    return decorate


def live_client_kwargs(base_url: str | None) -> dict[str, Any]:
    """Anthropic client arguments for the live endpoint: the key from the environment (never recorded),
    the base URL if given.

    Raises:
        Abort: a malformed ``--base-url``, or no key in the environment and no ``--base-url``.
    """
    if base_url is not None:
        try:
            parsed = urllib.parse.urlsplit(base_url)
            well_formed = parsed.scheme in {"http", "https"} and bool(parsed.hostname) and parsed.port != 0
        except ValueError:  # a bad port or IPv6 literal
            well_formed = False
        if not well_formed:
            raise Abort(f"--base-url must be an http:// or https:// URL with a host, got {base_url!r}")
    key = os.environ.get("ANTHROPIC_API_KEY") or os.environ.get("ANTHROPIC_AUTH_TOKEN")
    if not key and not base_url:
        raise Abort("ANTHROPIC_API_KEY is not set (or pass --base-url for a local endpoint)")
    kwargs: dict[str, Any] = {"api_key": key or PLACEHOLDER_KEY}
    if base_url:
        kwargs["base_url"] = base_url
    return kwargs


def finite(ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """A click callback refusing ``nan`` and ``inf`` (``FloatRange`` lets both through)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a finite number")
    return value
