"""``tfotel validate``: does blame find planted causes? Offline, against ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import click

from tracefork_otel.cli._options import json_option
from tracefork_otel.cli._output import EXIT_CHECK_FAILED, emit_json, status
from tracefork_otel.cli._render import echo
from tracefork_otel.outfile import write_output
from tracefork_otel.validate.harness import (
    REFERENCE_PATH,
    ScenarioResult,
    ValidationReport,
    check_against,
    load_reference,
    validate,
)
from tracefork_otel.validate.scenarios import SCENARIOS, scenario


def _row(r: ScenarioResult) -> str:
    verdict = {True: "yes", False: "NO", None: "-"}[r.top1_correct]
    cause = "-" if r.cause_score is None else f"{r.cause_score:+.2f}"
    causes = ",".join(map(str, r.causes)) or "none"
    return (
        f"{r.scenario:<24} {r.seed:>4} {r.n_steps:>5} {causes:>7} {r.top_step:>4} {verdict:>6}"
        f" {cause:>7} {r.best_innocent_score:>+9.2f} {r.agent_runs:>5} {r.fixed_k_runs:>7}"
    )


def report_text(report: ValidationReport) -> str:
    lines = [
        f"{'scenario':<24} {'seed':>4} {'steps':>5} {'causes':>7} {'top':>4} {'top-1':>6} {'cause':>7}"
        f" {'innocent':>9} {'runs':>5} {'fixed-k':>7}"
    ]
    lines += [_row(r) for r in report.results]
    lines.append("")
    lines.append(
        f"top-1 accuracy {report.top1_accuracy:.3f} (>= 0.95)   negative control max score"
        f" {report.negative_control_max:.3f} (<= 0.05)   agent runs {report.agent_runs} vs fixed k=10"
        f" {report.fixed_k_runs}: {report.runs_ratio:.3f} (<= 0.333)"
    )
    lines.append("strategy: " + report.strategy)
    failures = report.failures()
    lines.append("PASSED" if not failures else "FAILED: " + "; ".join(failures))
    return "\n".join(lines)


@click.command("validate")
@click.option("--seeds", default=2, show_default=True, type=click.IntRange(1, 100), help="Seeds per scenario.")
@click.option("--scenario", "names", multiple=True, metavar="NAME", help="Only these scenarios (repeatable).")
@click.option(
    "--check",
    "check",
    is_flag=False,
    flag_value=str(REFERENCE_PATH),
    default=None,
    metavar="[REFERENCE]",
    help="Compare with a reference report (default: the one shipped) and exit 1 on regression.",
)
@click.option("--write-reference", type=click.Path(dir_okay=False, path_type=Path), help="Save this report as JSON.")
@click.option("--list", "list_only", is_flag=True, help="List the scenarios and exit.")
@json_option
def validate_(
    seeds: int, names: tuple[str, ...], check: str | None, write_reference: Path | None, list_only: bool, as_json: bool
) -> None:
    """Hold blame to ground truth: planted faults with known causes, offline, in seconds.

    Each scenario plants faults (corrupted tool argument, misleading text, wrong
    instruction, dropped message, truncated reply) in a stochastic stand-in model,
    records the failed run, and blames it with the real pipeline. Passing means top-1
    accuracy >= 0.95, the negative control scoring <= 0.05, and the adaptive strategy
    using at most a third of the runs fixed k=10 per step would take.

    Exit 0 when it passes (and, with --check, nothing regressed); 1 otherwise.
    """
    chosen = [scenario(n) for n in names] if names else list(SCENARIOS)
    if list_only:
        for s in chosen:
            echo(f"{s.name:<24} {s.n_steps:>3} steps  causes {sorted(s.causes) or 'none'}  {s.description}")
        return

    def progress(r: ScenarioResult) -> None:
        status(f"validate: {r.scenario} seed {r.seed}: top step {r.top_step}, {r.agent_runs} runs")

    reference = load_reference(Path(check)) if check is not None else None  # bad input fails before the runs
    report = validate(chosen, list(range(seeds)), on_result=progress)
    problems = report.failures()
    if reference is not None:
        problems = check_against(report, reference)
    if write_reference is not None:
        write_output(write_reference, (json.dumps(report.to_json(), indent=2) + "\n").encode())
    if as_json:
        emit_json({**report.to_json(), "regressions": problems if check is not None else None})
    else:
        echo(report_text(report))
        if check is not None:
            echo("no regressions against " + check if not problems else "REGRESSIONS: " + "; ".join(problems))
    if problems:
        raise SystemExit(EXIT_CHECK_FAILED)
