"""``tfotel``: the command line. Each command is a thin module; errors leave in one place.

Exit codes: 0 success; 1 the check failed (drift, validation below threshold);
2 bad input or usage, with one ``tfotel: error: …`` line on stderr and no traceback.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import click

from tracefork_otel import __version__
from tracefork_otel.cli._output import EXIT_BAD_INPUT, Abort, PrintableFormatter, one_line, printable
from tracefork_otel.errors import TraceforkError

__all__ = ["cli", "main"]


class _Group(click.Group):
    """Loads commands lazily (``_COMMANDS``) and maps our errors to one stderr line and exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = _COMMANDS.get(cmd_name)
        if spec is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = spec.partition(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TraceforkError as exc:
            raise Abort(one_line(exc), EXIT_BAD_INPUT) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="tfotel")
@click.option("-v", "--verbose", count=True, help="More logging on stderr (-vv for debug).")
def cli(verbose: int) -> None:
    """tracefork-otel: a time-travel debugger for AI agents that lives inside OpenTelemetry.

    Record every model call as an OTel span pointing at the exact bytes, then
    replay, fork and blame a run from nothing but its trace id.

    \b
    Start here:
      tfotel demo                      record a bundled agent, offline
      tfotel runs                      list recorded runs
      tfotel show TRACE_ID             a run's timeline
      tfotel replay TRACE_ID --agent M:F   replay it bit-exact, offline
    """
    level = logging.WARNING - 10 * verbose
    handler = logging.StreamHandler()
    handler.setFormatter(PrintableFormatter("tfotel: %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=max(level, logging.DEBUG), handlers=[handler])


_COMMANDS: dict[str, str] = {
    "demo": "tracefork_otel.cli.demo:demo",
    "record": "tracefork_otel.cli.record:record",
    "runs": "tracefork_otel.cli.runs:runs",
    "show": "tracefork_otel.cli.show:show",
    "replay": "tracefork_otel.cli.replay:replay",
    "verify": "tracefork_otel.cli.replay:verify",
    "fork": "tracefork_otel.cli.fork:fork",
    "diff": "tracefork_otel.cli.diff:diff",
    "blame": "tracefork_otel.cli.blame:blame",
    "validate": "tracefork_otel.cli.validate:validate_",
    "export": "tracefork_otel.cli.transfer:export_",
    "import": "tracefork_otel.cli.transfer:import_",
    "report": "tracefork_otel.cli.report:report",
}
"""Each command's module is imported only when the command runs (or --help lists it):
start-up stays short for `tfotel runs`/`show`, which need neither the SDK nor the agents."""


def main() -> None:
    """Console-script entry point: usage errors, like every bad input, are one line and exit 2."""
    try:
        cli.main(prog_name="tfotel", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("tfotel: aborted", err=True)
        raise SystemExit(130) from None
    except Abort as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except click.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx is not None else ""
        # format_message names the option a bad value came from ("Invalid value for '--budget': …").
        text = " ".join(exc.format_message().split())
        click.echo(f"tfotel: error: {printable(text)}{hint}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except click.ClickException as exc:
        click.echo(f"tfotel: error: {one_line(exc)}", err=True)
        raise SystemExit(exc.exit_code) from None
