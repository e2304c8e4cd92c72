"""Terminal rendering of timelines and run lists."""

from __future__ import annotations

import datetime

import click

from tracefork_otel.cli._output import printable, printable_lines
from tracefork_otel.spanstore import RunSummary
from tracefork_otel.timeline import Timeline


def _when(unix_nano: int) -> str:
    if not unix_nano:
        return "-"
    return datetime.datetime.fromtimestamp(unix_nano / 1e9, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _tokens(value: int | None) -> str:
    return "-" if value is None else str(value)


def timeline_text(tl: Timeline) -> str:
    """The run header and one line per step."""
    state = "partial" if tl.partial else "complete"
    lines = [
        f"run {printable(tl.trace_id)}  {printable(tl.name) or '(unnamed)'}  {_when(tl.start_time_unix_nano)} UTC"
        f"  {tl.duration_ms:.0f} ms  {len(tl.steps)} steps  {tl.draws} draws  {state}",
    ]
    if tl.digest:
        lines.append(f"digest {tl.digest}")
    if tl.entry is not None:
        lines.append(f"entry  {tl.entry.describe()}")
    if tl.outcome_text:
        lines.append(f"outcome {tl.outcome_text}")
    has_blame = bool(tl.blame)
    header = (
        f"{'step':>4}  {'model':<22} {'status':>6} {'kind':<6} {'in':>6} {'out':>5} {'ms':>8}  {'finish':<10} tools"
    )
    if has_blame:
        header += "   blame [95% CI]"
    lines.append(header)
    for s in tl.steps:
        kind = "sse" + ("!" if s.incomplete else "") if s.stream else "json"
        # A call that is not a model step (count_tokens, models…) is shown by its endpoint: it is never blamed.
        what, finish = printable(s.model if s.is_model_step else s.endpoint)[:22], printable(s.finish_reason)[:10]
        line = (
            f"{s.step:>4}  {what:<22} {s.status_code or '-':>6} {kind:<6} {_tokens(s.input_tokens):>6}"
            f" {_tokens(s.output_tokens):>5} {s.latency_ms:>8.1f}  {finish:<10} {printable(','.join(s.tool_calls))}"
        )
        if s.error:
            line += f"  error={printable(s.error)}"
        cell = tl.blame.get(s.step)
        if cell is not None:
            marker = "  <- top" if cell.rank == 1 else ""
            line += f"   {cell.score:+.2f} [{cell.ci_low:+.2f}, {cell.ci_high:+.2f}] n={cell.samples}{marker}"
        lines.append(line)
    return "\n".join(lines)


FRAGMENT_HINT = (
    "traces marked 'part of a run' hold calls of a larger run, which cannot be replayed alone: record the whole"
    " run with @tracefork_otel.agent on its entry function, or run it as `tfotel record -- python agent.py …`"
)


def runs_text(runs: list[RunSummary]) -> str:
    if not runs:
        return "no runs recorded yet (try: tfotel demo)"
    lines = [f"{'trace id':<32}  {'started (UTC)':<19}  {'steps':>5}  {'tokens in/out':>13}  {'ms':>7}  name"]
    for r in runs:
        flags = (" partial" if r.partial else "") + (f" errors={r.errors}" if r.errors else "")
        if r.outcome == "error":
            flags += f" raised {printable(r.error_type)}" if r.error_type else " failed"
        if r.fragment:
            flags += " part of a run"
        name = printable(r.name) or "(no root span)"  # killed mid-run, or still recording
        lines.append(
            f"{printable(r.trace_id)}  {_when(r.start_time_unix_nano):<19}  {r.exchanges:>5}  "
            f"{f'{r.input_tokens}/{r.output_tokens}':>13}  {r.duration_ns / 1e6:>7.0f}  {name}{flags}"
        )
    if any(r.fragment for r in runs):
        lines.append(FRAGMENT_HINT)
    return "\n".join(lines)


def echo(text: str) -> None:
    """Text for people on stdout. Its lines are ours; any control character in it is escaped
    (fields that could hold a line break are escaped with `printable` where they are laid out)."""
    click.echo(printable_lines(text))
