"""Blame end to end: a failed run of the demo agent against a stochastic model, ``--perturb resample``.

The risky model (``blame_support.RiskyRefundPolicy``) picks a refund amount ten times too
large 40% of the time at step 1, and varies its wording at steps 0 and 2. So
V(0) = V(1) = 0.6 and V(2) = V(3) = 0: step 1 is decisive, steps 0 and 2 are innocent.
Forks replay the prefix from the tape and send the rest to the model over loopback HTTP.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from blame_support import (
    AGENT,
    API_KEY,
    DECISIVE_STEP,
    ESTIMATE_LINE,
    ORACLE,
    PROGRESS_LINE,
    CliResult,
    FailedRun,
    RiskyRefundPolicy,
    final_answers,
    forks_at,
)

from tracefork_otel.blame import Bisection, Budget, blame_run, estimate_cost, price_for, recorded_verdict
from tracefork_otel.demo import DEMO_MODEL, MessagesEndpoint, oracle, run
from tracefork_otel.replay.session import load_blobs


def test_the_recorded_run_fails_and_replays_bit_exact(failed_run: FailedRun, policy: RiskyRefundPolicy) -> None:
    assert policy.wrong_refunds == 1 and policy.refunds == failed_run.attempts
    assert recorded_verdict(failed_run.tape, failed_run.store, run, oracle) is False


@pytest.mark.slow
def test_blame_run_ranks_the_decisive_step_first(
    failed_run: FailedRun, endpoint: MessagesEndpoint, policy: RiskyRefundPolicy
) -> None:
    before = len(endpoint.requests)
    report = blame_run(
        failed_run.tape,
        failed_run.store,
        run,
        oracle,
        strategy=Bisection(batch=2),
        budget=Budget(price_for(DEMO_MODEL)),
        live=httpx2.HTTPTransport(),
        # No retries and a finite timeout: a fork that loses its connection must fail the test, not hang it
        # (concurrent forks once closed the shared live transport under each other).
        client_kwargs={"api_key": API_KEY, "base_url": endpoint.base_url, "max_retries": 0, "timeout": 60.0},
        perturb=None,
        perturb_name="resample",
        oracle_spec=ORACLE,
        jobs=2,
    )
    sent = endpoint.requests[before:]
    assert report.ranking[0] == DECISIVE_STEP
    assert report.top_step == DECISIVE_STEP
    assert report.outcome.stopped is None and report.agent_errors == 0
    scores = {s.step: s for s in report.steps}
    decisive = scores[DECISIVE_STEP]
    assert decisive.method == "measured" and decisive.rank == 1
    assert decisive.ci_low > 0 and decisive.score >= 0.3, decisive  # true harm 0.6
    for innocent in (0, 2):  # true harm 0: any score is noise, and the interval says so
        assert scores[innocent].ci_low <= 0 <= scores[innocent].ci_high, scores[innocent]
        assert scores[innocent].score < decisive.score
    # Every agent run the report counts is a real fork that reached the model; the prefix cost nothing.
    assert report.outcome.agent_runs == final_answers(sent)
    assert {s: e.n for s, e in report.outcome.estimates.items() if not e.exact} == {
        s: n for s, n in forks_at(sent).items() if n
    }
    assert report.outcome.estimates[3].exact and report.outcome.estimates[3].mean == 0.0
    assert report.outcome.agent_runs <= 10 * 3  # fixed k=10 per step would spend 30
    assert report.input_tokens > 0 and report.output_tokens > 0 and report.dollars > 0
    # The forks were resampled: the model was asked for refunds again, and got some wrong again.
    assert policy.refunds > failed_run.attempts and policy.wrong_refunds > 1


def test_the_cost_estimate_is_made_before_spending(failed_run: FailedRun) -> None:
    blobs = load_blobs(failed_run.tape, failed_run.store)
    estimate = estimate_cost(failed_run.tape, blobs, Bisection(batch=2), price_for(DEMO_MODEL))
    assert estimate.price.known
    assert estimate.runs_expected == 10 + 4 * 2 + 2 * 10 and estimate.runs_worst == 10 + 12 * 3 + 2 * 10 * 3
    assert estimate.input_tokens_per_run > 0 and estimate.output_tokens_per_run > 0
    assert 0 < estimate.dollars(estimate.runs_expected) < estimate.dollars(estimate.runs_worst)


@pytest.mark.subprocess
def test_tfotel_blame_ranks_the_decisive_step_first(
    failed_run: FailedRun, endpoint: MessagesEndpoint, tfotel_subprocess: Callable[..., CliResult]
) -> None:
    before = len(endpoint.requests)
    result = tfotel_subprocess(
        failed_run.home,
        "blame",
        failed_run.trace_id,
        "--agent",
        AGENT,
        "--oracle",
        ORACLE,
        "--perturb",
        "resample",
        "--base-url",
        endpoint.base_url,
        "--jobs",
        "2",
        "--yes",
        "--json",
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert {"trace_id", "steps", "ranking", "agent_runs", "blame_trace_id"} <= doc.keys()
    assert doc["trace_id"] == failed_run.trace_id
    assert [s["step"] for s in doc["steps"]] == [0, 1, 2]
    for s in doc["steps"]:
        assert {"step", "score", "ci_low", "ci_high", "samples"} <= s.keys()
        assert -1 <= s["ci_low"] <= s["score"] <= s["ci_high"] <= 1
    assert sorted(doc["ranking"]) == [0, 1, 2]
    assert doc["ranking"][0] == DECISIVE_STEP
    assert doc["steps"][DECISIVE_STEP]["ci_low"] > 0
    assert doc["agent_runs"] == final_answers(endpoint.requests[before:])
    assert doc["stopped"] is None and doc["perturb"] == "resample" and doc["oracle"] == ORACLE
    assert re.fullmatch(r"[0-9a-f]{32}", doc["blame_trace_id"]) and doc["blame_trace_id"] != failed_run.trace_id
    # People read stderr: the estimate first, before any fork; then progress every ten runs.
    lines = result.err.splitlines()
    estimate = ESTIMATE_LINE.match(lines[0])
    assert estimate is not None, lines
    assert estimate["id"] == failed_run.trace_id
    progress = [m for line in lines[1:] if (m := PROGRESS_LINE.match(line))]
    assert [int(m["runs"]) for m in progress] == list(range(10, doc["agent_runs"] + 1, 10))
    assert len(progress) == len(lines) - 1, lines


@pytest.mark.parametrize("as_json", [False, True])
def test_tfotel_show_is_empty_of_blame_before_any(
    failed_run: FailedRun, tfotel: Callable[..., CliResult], as_json: bool, tmp_path: Path
) -> None:
    result = tfotel("show", failed_run.trace_id, *(["--json"] if as_json else []))
    assert result.code == 0, result.err
    if as_json:
        assert all("blame" not in step for step in json.loads(result.out)["steps"])
    else:
        assert "blame [95% CI]" not in result.out and "<- top" not in result.out
