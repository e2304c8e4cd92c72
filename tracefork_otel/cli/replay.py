"""``tfotel replay`` and ``tfotel verify``: a recorded run, replayed bit-exact from its trace id."""

from __future__ import annotations

import click

from tracefork_otel.cli._options import AGENT_HELP, blobs_option, json_option, source_options
from tracefork_otel.cli._output import EXIT_CHECK_FAILED, Abort, emit_json, printable, status
from tracefork_otel.cli._render import echo
from tracefork_otel.entrypoint import EntryKind
from tracefork_otel.loading import load_target
from tracefork_otel.replay.entry import agent_for
from tracefork_otel.replay.process import replay_process
from tracefork_otel.replay.runner import ReplayReceipt, replay_whole_run
from tracefork_otel.replay.session import load_blobs


def receipt_text(r: ReplayReceipt) -> str:
    lines = []
    trace_id = printable(r.trace_id)
    prefix = " (the completed prefix of a partial recording)" if r.partial else ""
    if r.bit_exact:
        lines.append(f"replay {trace_id}: bit-exact{prefix}")
    elif r.divergence is None and r.outcome_difference is not None:
        lines.append(f"replay {trace_id}: OUTCOME CHANGED{prefix}")
    else:
        where = f" at step {r.divergence.step}" if r.divergence is not None else ""
        lines.append(f"replay {trace_id}: DIVERGED{where}{prefix}")
    lines.append(
        f"  steps      {r.replayed}/{r.steps} replayed, {r.bytes_verified:,} bytes verified, {r.draws} draws served"
    )
    same = "matches the recording" if r.replay_digest == r.recorded_digest else f"recorded {r.recorded_digest[:16]}…"
    lines.append(f"  digest     {r.replay_digest[:16]}… ({same})")
    lines.append(f"  wall time  {r.wall_time_s:.3f} s (no network, no API key)")
    if r.outcome_difference is not None:
        lines.append(f"  outcome    {printable(r.outcome_difference)}")
    elif r.agent_error:
        lines.append(f"  agent raised {printable(r.agent_error)} (as the recording did)")
    d = r.divergence
    if d is not None:
        lines.append(f"  {printable(d)}")
        if d.field:
            lines.append(f"    field     {printable(d.field)}")
            lines.append(f"    recorded  {printable(d.expected)}")
            lines.append(f"    replayed  {printable(d.actual)}")
    else:
        lines.append(f"  outcome    {printable(repr(r.outcome))}")
    return "\n".join(lines)


def _run(
    trace_id: str,
    agent: str | None,
    source: str,
    auth: str | None,
    org_id: str | None,
    blobs: str | None,
    allow_partial: bool,
    command: tuple[str, ...],
) -> ReplayReceipt:
    if command and agent:
        raise Abort("give either --agent or -- COMMAND, not both")
    # The tape first: a bad trace id is refused before the agent's module is imported (which runs its code).
    tape, store = load_target(
        trace_id, source, authorization=auth, org_id=org_id, blobs=blobs, allow_partial=allow_partial
    )
    if command or (not agent and tape.entry is not None and tape.entry.kind is EntryKind.PROCESS):
        status(f"replaying {tape.trace_id}: {len(tape.exchanges)} steps, {len(tape.draws)} draws, in a child process …")
        return replay_process(tape, load_blobs(tape, store), command or None, allow_partial=allow_partial)
    fn = agent_for(agent, tape, store)
    status(f"replaying {tape.trace_id}: {len(tape.exchanges)} steps, {len(tape.draws)} draws …")
    return replay_whole_run(tape, store, fn, allow_partial=allow_partial)


_AGENT = click.option("--agent", metavar="MODULE:FUNCTION", help=AGENT_HELP)
_COMMAND = click.argument("command", nargs=-1, type=click.UNPROCESSED, metavar="[-- COMMAND…]")
_ALLOW_PARTIAL = click.option(
    "--allow-partial",
    is_flag=True,
    help="Replay the completed prefix of a partial recording (a crashed or killed run); without it such a"
    " run is refused with exit 2.",
)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("trace_id")
@_AGENT
@_ALLOW_PARTIAL
@source_options
@blobs_option
@json_option
@_COMMAND
def replay(
    trace_id: str,
    agent: str | None,
    allow_partial: bool,
    source: str,
    auth: str | None,
    org_id: str | None,
    blobs: str | None,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """Replay run TRACE_ID bit-exact: no network, no API key.

    The run is rebuilt from its trace (local store, Tempo, Jaeger or an OTLP file)
    and the blob store. Every request the agent makes is checked against the
    recorded bytes and every response is served from the tape; the first drift is
    pinned to a step and a JSON field. TRACE_ID may also be a .tftape file.

    Without --agent the recorded entry point starts again: a function decorated with
    @tracefork_otel.agent is called with its recorded arguments; a whole process (recorded
    with `tfotel record -- …` or opentelemetry-instrument) runs its command again in a child
    process (or `-- COMMAND…` instead), every Anthropic client in it served from the tape.

    Bit-exact means every request, response and draw as recorded, and the run ending
    the same way: an exception the recording did not have (or the other way round) is
    a changed outcome. A partial recording (the run crashed or was killed) is refused
    unless --allow-partial, which replays the steps it completed.

    Exit 0 when bit-exact, 1 on drift or a changed outcome, 2 on bad input.

    \b
    Examples:
      tfotel replay 4bf92f3577b34da6a3ce929d0e0e4736
      tfotel replay 4bf92f3577b34da6a3ce929d0e0e4736 --agent mypkg.agent:run
      tfotel replay 4bf92f… --agent mypkg.agent:run --source tempo:http://localhost:3200
      tfotel replay run.tftape --agent mypkg.agent:run
    """
    receipt = _run(trace_id, agent, source, auth, org_id, blobs, allow_partial, command)
    if as_json:
        emit_json(receipt.to_json())
    else:
        echo(receipt_text(receipt))
    if not receipt.bit_exact:
        raise SystemExit(EXIT_CHECK_FAILED)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("trace_id")
@_AGENT
@_ALLOW_PARTIAL
@source_options
@blobs_option
@json_option
@_COMMAND
def verify(
    trace_id: str,
    agent: str | None,
    allow_partial: bool,
    source: str,
    auth: str | None,
    org_id: str | None,
    blobs: str | None,
    as_json: bool,
    command: tuple[str, ...],
) -> None:
    """CI gate: exit 1 if the agent no longer replays run TRACE_ID bit-exact.

    Same check as `tfotel replay`, with one line of output (or --json). Commit a
    golden .tftape next to your tests and run `tfotel verify golden.tftape --agent …`.
    """
    receipt = _run(trace_id, agent, source, auth, org_id, blobs, allow_partial, command)
    if as_json:
        emit_json(receipt.to_json())
    elif receipt.bit_exact:
        echo(f"ok {printable(receipt.trace_id)}: {receipt.replayed} steps bit-exact")
    else:
        echo(f"DRIFT {printable(receipt.trace_id)}: {printable(receipt.divergence or receipt.outcome_difference)}")
    if not receipt.bit_exact:
        raise SystemExit(EXIT_CHECK_FAILED)
