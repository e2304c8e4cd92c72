"""``tfotel blame``: which step of a failed run caused the failure, measured by counterfactual forks."""

from __future__ import annotations

import sys
import threading

import click

from tracefork_otel.agents import load_callable
from tracefork_otel.blame import (
    Bisection,
    BlameReport,
    Budget,
    FixedK,
    blame_run,
    estimate_cost,
    export_blame,
    price_for,
)
from tracefork_otel.blame.analyse import FIXED_K_REFERENCE
from tracefork_otel.blame.perturb import PERTURBATIONS
from tracefork_otel.cli._options import (
    AGENT_HELP,
    base_url_option,
    blobs_option,
    finite,
    json_option,
    live_client_kwargs,
    source_options,
)
from tracefork_otel.cli._output import Abort, emit_json, status
from tracefork_otel.cli._render import echo
from tracefork_otel.loading import load_target
from tracefork_otel.replay.entry import agent_for
from tracefork_otel.replay.session import load_blobs
from tracefork_otel.tape.model import Tape


def _model_of(tape: Tape) -> str:
    return next((ex.request_model for ex in tape.exchanges if ex.request_model), "")


class _Progress:
    """A one-line progress indicator on stderr (a line per 10 runs when not a terminal)."""

    def __init__(self, expected: int) -> None:
        self._expected = expected
        self._runs = 0
        self._lock = threading.Lock()
        self._tty = sys.stderr.isatty()

    def __call__(self, step: int, success: bool) -> None:
        with self._lock:
            self._runs += 1
            line = f"blame: {self._runs} runs (~{self._expected} expected), last fork at step {step}"
            if self._tty:
                click.echo("\r" + line.ljust(72), err=True, nl=False)
            elif self._runs % 10 == 0:
                click.echo(line, err=True)

    def done(self) -> None:
        if self._tty and self._runs:
            click.echo("", err=True)


def report_text(report: BlameReport) -> str:
    lines = [f"blame {report.trace_id}: {report.outcome.strategy}, perturb={report.perturb}"]
    if report.outcome.stopped:
        lines.append(f"  STOPPED EARLY: {report.outcome.stopped}")
    lines.append(f"{'rank':>4} {'step':>4}  {'harm':>6}  {'95% CI':<16} {'runs':>4}  method")
    for s in sorted(report.steps, key=lambda s: s.rank):
        lines.append(
            f"{s.rank:>4} {s.step:>4}  {s.score:+.2f}  [{s.ci_low:+.2f}, {s.ci_high:+.2f}]  {s.samples:>4}  {s.method}"
        )
    lines.append(
        f"agent runs {report.outcome.agent_runs} (fixed k={FIXED_K_REFERENCE} per step: {report.fixed_k_runs});"
        f" tokens {report.input_tokens} in / {report.output_tokens} out; ${report.dollars:.4f}"
    )
    if report.agent_errors:
        lines.append(f"  {report.agent_errors} forks raised in the agent (counted as failures)")
    for note in report.to_json()["notes"]:
        lines.append(f"  note: {note}")
    if report.blame_trace_id:
        lines.append(f"blame trace {report.blame_trace_id} (tfotel show {report.trace_id} shows it beside each step)")
    return "\n".join(lines)


@click.command()
@click.argument("trace_id")
@click.option("--agent", metavar="MODULE:FUNCTION", help=AGENT_HELP)
@click.option("--oracle", required=True, metavar="MODULE:FUNCTION", help="fn(outcome) -> bool, True = success.")
@click.option(
    "--perturb",
    type=click.Choice(sorted(PERTURBATIONS)),
    default="resample",
    show_default=True,
    help="resample: step i sampled fresh from the live endpoint; faults: the recorded response mutated by the"
    " fault library (the tail still runs against --base-url, e.g. a stand-in).",
)
@click.option(
    "--strategy",
    type=click.Choice(["adaptive", "fixed"]),
    default="adaptive",
    show_default=True,
    help="adaptive: bisection with SPRT; fixed: k runs at every step (the baseline).",
)
@click.option(
    "--k", "fixed_k", default=FIXED_K_REFERENCE, show_default=True, type=click.IntRange(1, 1000), help="Runs per step."
)
@click.option(
    "--budget",
    type=click.FloatRange(0, min_open=True),
    callback=finite,
    help="Stop after spending this many US dollars.",
)
@click.option("--max-runs", type=click.IntRange(1), help="Stop after this many agent runs.")
@click.option("--jobs", "-j", default=4, show_default=True, type=click.IntRange(1, 64), help="Forks run at once.")
@click.option("--seed", default=0, show_default=True, help="Seed for fault choices.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before spending.")
@click.option("--no-export", is_flag=True, help="Do not write the blame trace to the trace backend.")
@base_url_option("Messages API for the live forks (default: the SDK's).")
@source_options
@blobs_option
@json_option
def blame(
    trace_id: str,
    agent: str | None,
    oracle: str,
    perturb: str,
    strategy: str,
    fixed_k: int,
    budget: float | None,
    max_runs: int | None,
    jobs: int,
    seed: int,
    yes: bool,
    no_export: bool,
    base_url: str | None,
    source: str,
    auth: str | None,
    org_id: str | None,
    blobs: str | None,
    as_json: bool,
) -> None:
    """Rank the steps of failed run TRACE_ID by how much each one caused the failure.

    For steps 0..n-1, V(i) is the chance of success when the recorded prefix before
    step i is kept and step i and everything after are re-sampled; a step's harm is
    V(i) - V(i+1). Each sample is one agent run (prefix replayed for $0, the rest
    live), so cost matters: the adaptive strategy searches for the drop in V with
    O(log n) estimates instead of k runs at every step. A cost estimate is shown
    before anything is spent; --budget and --max-runs cap the spend.

    The result is written back to the trace backend as a `tracefork.blame` trace (a
    span and events per step), and shown by `tfotel show TRACE_ID`.

    \b
    Example:
      tfotel blame 4bf92f… --agent mypkg.agent:run --oracle mypkg.checks:refund_ok --budget 2
    """
    kwargs = live_client_kwargs(base_url)  # options first, then the tape, then the agent's code
    # The tape before the agent: a bad trace id is refused before the agent's module is imported (it runs code).
    tape, store = load_target(trace_id, source, authorization=auth, org_id=org_id, blobs=blobs)
    fn = agent_for(agent, tape, store)
    judge = load_callable(oracle, what="oracle")
    blob_map = load_blobs(tape, store)
    chosen = FixedK(k=fixed_k) if strategy == "fixed" else Bisection(batch=jobs)
    price = price_for(_model_of(tape))
    estimate = estimate_cost(tape, blob_map, chosen, price)
    note = "" if price.known else f" (model {price.model!r} not in the price table: priced as Sonnet)"
    status(
        f"blame {tape.trace_id}: {len(tape.exchanges)} steps; expected ~{estimate.runs_expected} agent runs"
        f" (worst {estimate.runs_worst}), ~{estimate.input_tokens_per_run + estimate.output_tokens_per_run} tokens"
        f" per run, ~${estimate.dollars(estimate.runs_expected):.2f}"
        f" (worst ${estimate.dollars(estimate.runs_worst):.2f})"
        f"{note}"
    )
    if not yes:
        if not sys.stdin.isatty():
            raise Abort("not a terminal: pass --yes to spend without confirmation")
        click.confirm("run it?", abort=True, err=True)
    import httpx2

    progress = _Progress(estimate.runs_expected)
    caps = Budget(price, max_runs=max_runs, max_dollars=budget)
    report = blame_run(
        tape,
        store,
        fn,
        judge,
        strategy=chosen,
        budget=caps,
        live=httpx2.HTTPTransport(),
        client_kwargs=kwargs,
        perturb=PERTURBATIONS[perturb](tape, blob_map),
        perturb_name=perturb,
        oracle_spec=oracle,
        jobs=jobs,
        seed=seed,
        on_sample=progress,
    )
    progress.done()
    if not no_export:
        from tracefork_otel.otel_setup import ensure_tracing, force_flush

        ensure_tracing()
        report.blame_trace_id = export_blame(report, tape)
        force_flush()
    if as_json:
        emit_json(report.to_json())
    else:
        echo(report_text(report))
