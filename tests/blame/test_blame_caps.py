"""``tfotel blame`` spends only what it is allowed: --max-runs, --budget, and no spending without --yes."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from blame_support import AGENT, ESTIMATE_LINE, ORACLE, CliResult, FailedRun, final_answers

from tracefork_otel.demo import MessagesEndpoint


def blame_args(failed_run: FailedRun, endpoint: MessagesEndpoint, *extra: str) -> list[str]:
    return [
        "blame",
        failed_run.trace_id,
        "--agent",
        AGENT,
        "--oracle",
        ORACLE,
        "--base-url",
        endpoint.base_url,
        "--jobs",
        "2",
        "--no-export",
        *extra,
    ]


@pytest.mark.parametrize("as_json", [True, False])
def test_max_runs_stops_after_exactly_that_many_runs(
    failed_run: FailedRun, endpoint: MessagesEndpoint, tfotel: Callable[..., CliResult], as_json: bool
) -> None:
    before = len(endpoint.requests)
    result = tfotel(*blame_args(failed_run, endpoint, "--max-runs", "5", "--yes", *(["--json"] if as_json else [])))
    assert result.code == 0, result.err
    sent = endpoint.requests[before:]
    # Five forks at step 0, each sending its three steps live: the cap cut the ten anchor runs to five.
    assert final_answers(sent) == 5 and len(sent) == 15
    assert ESTIMATE_LINE.match(result.err.splitlines()[0])
    if as_json:
        doc = json.loads(result.out)
        assert doc["agent_runs"] == 5
        assert doc["stopped"] == "--max-runs 5 reached"
        assert doc["blame_trace_id"] is None
    else:
        assert "  STOPPED EARLY: --max-runs 5 reached\n" in result.out
        assert "\nagent runs 5 (fixed k=10 per step: 30);" in result.out
        assert "note: stopped early by the budget" in result.out


@pytest.mark.parametrize("as_json", [True, False])
def test_a_dollar_budget_stops_early(
    failed_run: FailedRun, endpoint: MessagesEndpoint, tfotel: Callable[..., CliResult], as_json: bool
) -> None:
    before = len(endpoint.requests)
    output = ["--json"] if as_json else []
    result = tfotel(*blame_args(failed_run, endpoint, "--budget", "0.000001", "--yes", *output))
    assert result.code == 0, result.err
    # Nothing is spent before the first batch, so the anchor's ten runs start; then the budget is gone.
    assert final_answers(endpoint.requests[before:]) == 10
    if as_json:
        doc = json.loads(result.out)
        assert doc["agent_runs"] == 10
        assert doc["stopped"] is not None and doc["stopped"].startswith("budget of $")
        assert doc["cost_usd"] > 0.000001
    else:
        assert "  STOPPED EARLY: budget of $" in result.out
        assert "\nagent runs 10 (fixed k=10 per step: 30);" in result.out


@pytest.mark.subprocess
def test_without_yes_and_no_terminal_nothing_is_spent(
    failed_run: FailedRun, endpoint: MessagesEndpoint, tfotel_subprocess: Callable[..., CliResult]
) -> None:
    before = len(endpoint.requests)
    result = tfotel_subprocess(failed_run.home, *blame_args(failed_run, endpoint))
    assert result.error_line() == "tfotel: error: not a terminal: pass --yes to spend without confirmation"
    assert result.out == ""
    # The estimate is the only other thing said, and it is said first.
    lines = result.err.splitlines()
    assert len(lines) == 2 and ESTIMATE_LINE.match(lines[0]), lines
    assert len(endpoint.requests) == before, "no fork may reach the model before the user agreed"


# --- what the oracle and the budget must be -----------------------------------------------------

STRING_VERDICT = "no"


def says_no(outcome: object) -> str:
    """An oracle returning a string: ``bool("no")`` would read as success."""
    return STRING_VERDICT


def breaks(outcome: object) -> bool:
    raise KeyError("refunded")


@pytest.mark.parametrize(
    ("oracle", "message"),
    [
        ("test_blame_caps:says_no", "the oracle returned 'no' (str); it must return True (success) or False"),
        ("test_blame_caps:breaks", "the oracle raised KeyError: 'refunded'"),
    ],
    ids=["returns-a-string", "raises"],
)
def test_an_oracle_whose_verdict_cannot_be_read_stops_blame_with_one_line(
    failed_run: FailedRun, endpoint: MessagesEndpoint, tfotel: Callable[..., CliResult], oracle: str, message: str
) -> None:
    args = blame_args(failed_run, endpoint, "--yes")
    args[args.index(ORACLE)] = oracle
    before = len(endpoint.requests)
    result = tfotel(*args)
    assert result.error_line() == f"tfotel: error: {message}"
    assert endpoint.requests[before:] == []  # judged on the recorded run, before any fork is spent


@pytest.mark.parametrize("budget", ["nan", "inf", "-inf"])
def test_a_budget_must_be_a_finite_number(
    failed_run: FailedRun, endpoint: MessagesEndpoint, tfotel: Callable[..., CliResult], budget: str
) -> None:
    result = tfotel(*blame_args(failed_run, endpoint, "--budget", budget, "--yes"))
    assert result.only_error_line().startswith(f"tfotel: error: Invalid value for '--budget': {budget} is not ")
