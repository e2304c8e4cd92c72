"""Fixtures of the blame tests: a stochastic refund model on loopback, a recorded failed run, ``tfotel`` runners."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from blame_support import API_KEY, CliResult, FailedRun, RiskyRefundPolicy
from cli_support import clean_env, run_tfotel
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from trace_support import sdk_client

from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.demo import MessagesEndpoint, oracle, run
from tracefork_otel.record import record_run
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore, span_record_from_readable

POLICY_SEED = 20250611
MAX_ATTEMPTS = 20


@pytest.fixture
def policy() -> RiskyRefundPolicy:
    return RiskyRefundPolicy(POLICY_SEED)


@pytest.fixture
def endpoint(policy: RiskyRefundPolicy) -> Iterator[MessagesEndpoint]:
    """The risky model on 127.0.0.1, serving for the whole test (subprocesses included)."""
    with MessagesEndpoint(policy) as served:
        yield served


@pytest.fixture
def failed_run(spans: InMemorySpanExporter, endpoint: MessagesEndpoint) -> FailedRun:
    """Record the demo agent against the risky model until a run fails the oracle.

    The run's spans go into the local span store under the test's ``TFOTEL_HOME`` (as
    ``LocalSpanExporter`` would put them), and its blobs into ``$TFOTEL_HOME/blobs``, so a
    ``tfotel`` subprocess with the same home finds it by trace id.
    """
    attempts = 0
    while True:
        attempts += 1
        with record_run("risky-refund-desk") as recording:
            client = sdk_client(endpoint.base_url, recording, api_key=API_KEY)
            with client:
                outcome = run(client, recording.nondet)
        if not oracle(outcome):
            break
        assert attempts < MAX_ATTEMPTS, f"no failed run in {MAX_ATTEMPTS} attempts"
    trace_id = recording.trace_id
    readable = [s for s in spans.get_finished_spans() if s.context and format(s.context.trace_id, "032x") == trace_id]
    exporter = LocalSpanExporter(SpanStore.default())
    try:
        assert exporter.export(readable) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    store = open_blob_store()
    tape = rebuild_tape(trace_id, [span_record_from_readable(s) for s in readable], store)
    assert len(tape.exchanges) == 3, "lookup, refund, answer"
    return FailedRun(trace_id, tape, store, attempts, SpanStore.default().path.parent)


@pytest.fixture
def tfotel(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run the ``tfotel`` console entry point in-process: ``tfotel("blame", ID, ...) -> CliResult``."""

    def invoke(*args: str) -> CliResult:
        return run_tfotel(monkeypatch, capsys, *args)

    return invoke


@pytest.fixture
def tfotel_subprocess() -> Callable[..., CliResult]:
    """Run ``tfotel`` in a child process (stdin not a terminal): ``tfotel_subprocess(home, *args, env=...)``."""

    def invoke(home: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
        proc = subprocess.run(
            [sys.executable, "-c", "from tracefork_otel.cli import main; main()", *args],
            env=env or clean_env(home),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return invoke
