"""Validating blame against planted faults: a fault library and scenario worlds with known causes.

`faults` turns a model reply into a wrong one through one mechanism per class.
`world` builds a scenario: a ledger agent, a stochastic stand-in model and an oracle;
`runs` records its failed run and makes single counterfactual forks. `scenarios` lists the built-in set.
Everything runs in-process, with no network.
"""

from __future__ import annotations

from tracefork_otel.validate.faults import FAULTS, Fault, FaultNotApplicable, fault
from tracefork_otel.validate.runs import record_failed_run, sample_success
from tracefork_otel.validate.scenarios import SCENARIOS, scenario
from tracefork_otel.validate.world import (
    Mode,
    Scenario,
    ScenarioError,
    agent_for,
    live_transport,
    oracle_for,
    true_harm,
    true_values,
)

__all__ = [
    "FAULTS",
    "SCENARIOS",
    "Fault",
    "FaultNotApplicable",
    "Mode",
    "Scenario",
    "ScenarioError",
    "agent_for",
    "fault",
    "live_transport",
    "oracle_for",
    "record_failed_run",
    "sample_success",
    "scenario",
    "true_harm",
    "true_values",
]
