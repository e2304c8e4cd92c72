"""``tfotel validate``: blame held to planted causes, thresholds, the committed reference and ``--check``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from blame_support import CliResult

from tracefork_otel.blame import Bisection
from tracefork_otel.validate import SCENARIOS
from tracefork_otel.validate.harness import NEGATIVE_CONTROL_MAX, REFERENCE_PATH, RUNS_RATIO_MAX, TOP1_MIN

SUBSET = ("--scenario", "long-20", "--scenario", "negative-control", "--seeds", "1")


@pytest.fixture
def reference() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(REFERENCE_PATH.read_text())
    return doc


def test_the_committed_reference_passes_and_covers_every_scenario(reference: dict[str, Any]) -> None:
    committed = Path(__file__).parents[2] / "tracefork_otel" / "validate" / "reference.json"
    assert committed.is_file() and committed.resolve() == REFERENCE_PATH.resolve()
    assert reference["passed"] is True and reference["failures"] == []
    assert reference["strategy"] == Bisection().describe(), "the reference was made with today's defaults"
    assert reference["thresholds"] == {
        "top1_min": TOP1_MIN,
        "negative_control_max": NEGATIVE_CONTROL_MAX,
        "runs_ratio_max": round(RUNS_RATIO_MAX, 4),
    }
    assert reference["top1_accuracy"] >= TOP1_MIN
    assert reference["negative_control_max"] <= NEGATIVE_CONTROL_MAX
    assert reference["runs_ratio"] <= RUNS_RATIO_MAX
    assert reference["runs_ratio"] == pytest.approx(reference["agent_runs"] / reference["fixed_k_runs"], abs=1e-4)
    covered = {(s["scenario"], s["seed"]) for s in reference["scenarios"]}
    assert covered == {(s.name, seed) for s in SCENARIOS for seed in (0, 1)}


@pytest.mark.slow
def test_validate_a_subset_passes(tfotel: Callable[..., CliResult]) -> None:
    result = tfotel("validate", *SUBSET, "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["passed"] is True and doc["failures"] == [] and doc["regressions"] is None
    by_name = {s["scenario"]: s for s in doc["scenarios"]}
    assert sorted(by_name) == ["long-20", "negative-control"]
    long20 = by_name["long-20"]
    assert long20["top1_correct"] is True and long20["top_step"] == 13 and long20["n_steps"] == 20
    assert long20["cause_score"] > long20["best_innocent_score"]
    negative = by_name["negative-control"]
    assert negative["top1_correct"] is None and negative["max_score"] <= NEGATIVE_CONTROL_MAX
    assert doc["runs_ratio"] <= RUNS_RATIO_MAX
    assert result.err.splitlines() == [
        f"validate: long-20 seed 0: top step 13, {long20['agent_runs']} runs",
        f"validate: negative-control seed 0: top step {negative['top_step']}, {negative['agent_runs']} runs",
    ]


@pytest.mark.slow
def test_check_against_a_doctored_reference_names_the_regression(
    tfotel: Callable[..., CliResult], reference: dict[str, Any], tmp_path: Path
) -> None:
    doctored = tmp_path / "doctored.json"
    doctored.write_text(json.dumps({**reference, "runs_ratio": 0.01}))
    result = tfotel("validate", *SUBSET, "--check", str(doctored), "--json")
    assert result.code == 1, result.err
    doc = json.loads(result.out)
    assert doc["passed"] is True, "the thresholds hold; only the comparison with the reference fails"
    (regression,) = doc["regressions"]
    assert regression == f"runs ratio rose from 0.01 to {doc['runs_ratio']:.4f}"


def test_check_against_a_reference_that_is_not_json_is_bad_input(
    tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    broken = tmp_path / "reference.json"
    broken.write_text("top1_accuracy: 1.0\n")
    result = tfotel("validate", *SUBSET, "--check", str(broken))
    line = result.error_line()
    assert line.startswith(f"tfotel: error: cannot read reference report {broken}: ")
    # Refused before anything ran: no scenario progress, nothing on stdout.
    assert result.err == line + "\n" and result.out == ""


def test_check_against_a_json_that_is_not_a_report_is_bad_input(
    tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    foreign = tmp_path / "reference.json"
    foreign.write_text(json.dumps(["not", "a", "report"]))
    line = tfotel("validate", *SUBSET, "--check", str(foreign)).error_line()
    assert line == f"tfotel: error: reference report {foreign} is not a JSON object"


@pytest.mark.slow
def test_full_validation_passes_against_reference(tfotel: Callable[..., CliResult]) -> None:
    """The acceptance test: every scenario, both seeds, against the committed reference (~45 s)."""
    result = tfotel("validate", "--check", "--json")
    assert result.code == 0, result.out + result.err
    doc = json.loads(result.out)
    assert doc["passed"] is True and doc["regressions"] == []
    assert doc["top1_accuracy"] >= TOP1_MIN
    assert doc["negative_control_max"] <= NEGATIVE_CONTROL_MAX
    assert doc["runs_ratio"] <= RUNS_RATIO_MAX
    assert len(doc["scenarios"]) == 2 * len(SCENARIOS)
