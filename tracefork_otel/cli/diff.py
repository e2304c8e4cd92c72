"""``tfotel diff A B``: where two runs part, step by step, and how each ended."""

from __future__ import annotations

import click

from tracefork_otel.cli._options import blobs_option, json_option, source_options
from tracefork_otel.cli._output import EXIT_CHECK_FAILED, emit_json, printable
from tracefork_otel.cli._render import echo
from tracefork_otel.loading import load_target
from tracefork_otel.replay.diff import RunDiff, diff_runs
from tracefork_otel.replay.session import load_blobs

_PATHS_SHOWN = 3


def diff_text(d: RunDiff) -> str:
    fork = f" (B forks A at step {d.b_forks_a_at})" if d.b_forks_a_at is not None else ""
    if d.identical:
        head = "identical: every exchange and the outcome"
    elif d.parts_at is None:
        head = "the same exchanges, different outcomes"
    else:
        head = f"they part at step {d.parts_at}"
    lines = [f"diff {printable(d.a)} {printable(d.b)}: {head}{fork}"]
    for s in d.steps:
        line = f"  step {s.step:<3} {s.status.value}"
        if s.differences:
            shown = "; ".join(
                f"{printable(x.path)}: {printable(x.expected)} \u2192 {printable(x.actual)}"
                for x in s.differences[:_PATHS_SHOWN]
            )
            more = f" (+{len(s.differences) - _PATHS_SHOWN} more)" if len(s.differences) > _PATHS_SHOWN else ""
            line += f"  {shown}{more}"
        lines.append(line)
    lines.append(f"  outcome  A {printable(d.outcome_a)}")
    lines.append(f"           B {printable(d.outcome_b)}")
    return "\n".join(lines)


@click.command()
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@source_options
@blobs_option
@json_option
def diff(a: str, b: str, source: str, auth: str | None, org_id: str | None, blobs: str | None, as_json: bool) -> None:
    """Compare run A with run B: the first step where they part, then every step, then the outcomes.

    A step is `same`, `request differs` (the agents did something different: every differing JSON
    path is listed), `response differs` (the same request got another answer: a fork's override, or
    the model sampling differently), or only in one run. A and B are trace ids (or .tftape files):
    two runs of the same agent, or a run and one of its forks. Nothing is replayed.

    Exit 0 when the runs are identical, 1 when they differ, 2 on bad input.

    \b
    Examples:
      tfotel diff 4bf92f… 9fab87…
      tfotel diff 4bf92f… 9fab87… --json
    """
    loaded = [
        load_target(target, source, authorization=auth, org_id=org_id, blobs=blobs, allow_partial=True)
        for target in (a, b)
    ]
    (tape_a, store_a), (tape_b, store_b) = loaded
    result = diff_runs(tape_a, load_blobs(tape_a, store_a), tape_b, load_blobs(tape_b, store_b))
    if as_json:
        emit_json(result.to_json())
    else:
        echo(diff_text(result))
    if not result.identical:
        raise SystemExit(EXIT_CHECK_FAILED)
