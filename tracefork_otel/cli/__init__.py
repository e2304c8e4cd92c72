"""``tfotel``: the command line. Each command is a thin module; errors leave in one place.

Exit codes: 0 success; 1 the check failed (drift, validation below threshold);
2 bad input or usage, with one ``tfotel: error: …`` line on stderr and no traceback.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from tracefork_otel import __version__
from tracefork_otel.cli._output import EXIT_BAD_INPUT, Abort, one_line
from tracefork_otel.errors import TraceforkError


class _Group(click.Group):
    """Maps our errors to one stderr line and exit 2."""

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
    logging.basicConfig(level=max(level, logging.DEBUG), format="tfotel: %(levelname)s %(name)s: %(message)s")


def _register() -> None:
    from tracefork_otel.cli.blame import blame
    from tracefork_otel.cli.demo import demo
    from tracefork_otel.cli.fork import fork
    from tracefork_otel.cli.record import record
    from tracefork_otel.cli.replay import replay, verify
    from tracefork_otel.cli.report import report
    from tracefork_otel.cli.runs import runs
    from tracefork_otel.cli.show import show
    from tracefork_otel.cli.transfer import export_, import_
    from tracefork_otel.cli.validate import validate_

    for command in (demo, record, runs, show, replay, verify, fork, blame, validate_, export_, import_, report):
        cli.add_command(command)


_register()


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
        click.echo(f"tfotel: error: {one_line(exc)}{hint}", err=True)
        raise SystemExit(EXIT_BAD_INPUT) from None
    except click.ClickException as exc:
        click.echo(f"tfotel: error: {one_line(exc)}", err=True)
        raise SystemExit(exc.exit_code) from None
