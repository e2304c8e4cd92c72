"""Blame back into the trace backend, over real OTLP/HTTP, and beside each step in ``tfotel show``.

The test runs an OTLP/HTTP receiver on 127.0.0.1 (protobuf ``ExportTraceServiceRequest``
bodies on ``POST /v1/traces``) and ``tfotel blame`` in a child process pointed at it by
the standard ``OTEL_EXPORTER_OTLP_*`` variables.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from blame_support import AGENT, DECISIVE_STEP, ORACLE, CliResult, FailedRun
from cli_support import clean_env
from loopback import OtlpReceiver, attributes

from tracefork_otel.demo import MessagesEndpoint

pytestmark = pytest.mark.subprocess

STEP_KEYS = ("step", "score", "ci_low", "ci_high", "samples", "rank")


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with OtlpReceiver() as served:
        yield served


@pytest.fixture
def exported(
    failed_run: FailedRun,
    endpoint: MessagesEndpoint,
    receiver: OtlpReceiver,
    tfotel_subprocess: Callable[..., CliResult],
) -> dict[str, Any]:
    """``tfotel blame --json`` in a child process exporting to the receiver (and the local store)."""
    env = clean_env(
        failed_run.home,
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_SERVICE_NAME="tfotel-blame-test",
    )
    args = ["blame", failed_run.trace_id, "--agent", AGENT, "--oracle", ORACLE, "--base-url", endpoint.base_url]
    result = tfotel_subprocess(failed_run.home, *args, "--jobs", "2", "--yes", "--json", env=env)
    assert result.code == 0, result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def test_blame_is_exported_over_otlp_and_shown_beside_each_step(
    failed_run: FailedRun, receiver: OtlpReceiver, exported: dict[str, Any], tfotel: Callable[..., CliResult]
) -> None:
    """One blame (a child process: ~4 s) checked twice: what the collector got, and what ``tfotel show`` says."""
    check_otlp(failed_run, receiver, exported)
    check_show(failed_run, exported, tfotel)


def check_otlp(failed_run: FailedRun, receiver: OtlpReceiver, exported: dict[str, Any]) -> None:
    assert receiver.paths and set(receiver.paths) == {"/v1/traces"}
    blame_id = bytes.fromhex(exported["blame_trace_id"])
    analysed = bytes.fromhex(failed_run.trace_id)
    spans = [s for s in receiver.spans if s.trace_id == blame_id]
    assert len(spans) == 1 + len(failed_run.tape.exchanges), [s.name for s in receiver.spans]

    (root,) = [s for s in spans if not s.parent_span_id]
    assert root.name == "tracefork.blame"
    root_attrs = attributes(root.attributes)
    assert root_attrs["tracefork.blame.trace_id"] == failed_run.trace_id
    assert root_attrs["tracefork.blame.oracle"] == ORACLE
    assert root_attrs["tracefork.blame.perturb"] == "resample"
    assert root_attrs["tracefork.blame.agent_runs"] == exported["agent_runs"]
    assert root_attrs["tracefork.blame.top_step"] == exported["ranking"][0] == DECISIVE_STEP
    assert root_attrs["tracefork.blame.strategy"].startswith("Bisection(")
    # Linked to every exchange span of the analysed run, so a backend can jump from one to the other.
    assert {link.trace_id for link in root.links} == {analysed}
    assert sorted(link.span_id.hex() for link in root.links) == sorted(ex.span_id for ex in failed_run.tape.exchanges)
    assert sorted(attributes(link.attributes)["tracefork.blame.step"] for link in root.links) == [0, 1, 2]

    children = sorted(
        (s for s in spans if s.parent_span_id), key=lambda s: attributes(s.attributes)["tracefork.blame.step"]
    )
    reported = {s["step"]: s for s in exported["steps"]}
    assert [attributes(c.attributes)["tracefork.blame.step"] for c in children] == [0, 1, 2]
    for child in children:
        assert child.parent_span_id == root.span_id
        a = attributes(child.attributes)
        step = reported[a["tracefork.blame.step"]]
        assert a["tracefork.blame.trace_id"] == failed_run.trace_id
        for key in STEP_KEYS:
            assert a[f"tracefork.blame.{key}"] == pytest.approx(step[key], abs=5e-5), key
        events = {e.name: attributes(e.attributes) for e in child.events}
        assert set(events) == {"tracefork.blame.step", "gen_ai.evaluation.result"}
        assert events["tracefork.blame.step"] == {
            f"tracefork.blame.{key}": a[f"tracefork.blame.{key}"] for key in STEP_KEYS
        }
        evaluation = events["gen_ai.evaluation.result"]
        assert evaluation["gen_ai.evaluation.name"] == "tracefork.blame"
        assert evaluation["gen_ai.evaluation.score.value"] == a["tracefork.blame.score"]
        assert evaluation["tracefork.blame.step"] == a["tracefork.blame.step"]
        (link,) = child.links
        assert link.trace_id == analysed
        assert link.span_id.hex() == failed_run.tape.exchanges[a["tracefork.blame.step"]].span_id


def check_show(failed_run: FailedRun, exported: dict[str, Any], tfotel: Callable[..., CliResult]) -> None:
    """The local store (same TFOTEL_HOME as the child) got the blame trace too; ``show`` reads it."""
    reported = {s["step"]: s for s in exported["steps"]}
    text = tfotel("show", failed_run.trace_id)
    assert text.code == 0, text.err
    assert "blame [95% CI]" in text.out
    rows = {int(m[1]): line for line in text.out.splitlines() if (m := re.match(r"^\s+(\d+)  claude", line))}
    assert sorted(rows) == [0, 1, 2], text.out
    for step, line in rows.items():
        s = reported[step]
        cell = f"{s['score']:+.2f} [{s['ci_low']:+.2f}, {s['ci_high']:+.2f}] n={s['samples']}"
        assert cell in line, (cell, line)
        assert line.endswith("<- top") == (step == DECISIVE_STEP), line

    as_json = tfotel("show", failed_run.trace_id, "--json")
    assert as_json.code == 0, as_json.err
    steps = json.loads(as_json.out)["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    for s in steps:
        blame = s["blame"]
        assert blame == pytest.approx(
            {k: reported[s["step"]][k] for k in ("score", "ci_low", "ci_high", "rank", "samples")}, abs=5e-5
        )
    assert [s["step"] for s in steps if s["blame"]["rank"] == 1] == [DECISIVE_STEP]
