"""Forking a run: the prefix replays for $0, step N is answered differently, the rest runs live as a new trace."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx2
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from replay_support import API_KEY, CliResult, Recording, ServedLog, trace_spans

from tracefork_otel import semconv
from tracefork_otel.blobstore import open_blob_store, sha256_hex
from tracefork_otel.demo import DEMO_MODEL, DEMO_ORDER_ID, MessagesEndpoint, demo_policy, run
from tracefork_otel.replay.fork import ForkResult, fork_run, response_for_step
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.sources import to_otlp_json
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore, span_record_from_readable
from tracefork_otel.tape import Tape
from tracefork_otel.wire import dumps, message

Record = Callable[..., Recording]

SMALL_REFUND = message(
    tool_use={"name": "issue_refund", "input": {"order_id": DEMO_ORDER_ID, "amount": 12.0}}, model=DEMO_MODEL
)
"""Step 1 answered differently: refund 12.0 instead of the 129.99 the order cost."""


def _fork(recording: Recording, endpoint: MessagesEndpoint, step: int, body: bytes | None) -> ForkResult:
    response = None if body is None else response_for_step(recording.tape, step, body)
    return fork_run(
        recording.tape,
        recording.store(),
        run,
        step=step,
        response=response,
        live=httpx2.HTTPTransport(),
        client_kwargs={"api_key": API_KEY, "base_url": endpoint.base_url},
    )


def _fork_tape(spans: InMemorySpanExporter, trace_id: str) -> tuple[Tape, list[SpanRecord]]:
    records = [span_record_from_readable(s) for s in trace_spans(spans, trace_id)]
    return rebuild_tape(trace_id, records, open_blob_store()), records


def test_fork_at_step_1_replays_the_prefix_splices_the_response_and_runs_on_live(
    record: Record, spans: InMemorySpanExporter
) -> None:
    recording = record(run)
    parent = recording.tape

    with MessagesEndpoint(demo_policy) as endpoint:
        result = _fork(recording, endpoint, 1, dumps(SMALL_REFUND))
        live = endpoint.requests

    assert result.divergence is None and result.agent_error is None
    assert (result.parent_trace_id, result.step, result.replayed, result.recorded) == (parent.trace_id, 1, 1, 2)
    assert result.trace_id != parent.trace_id
    # Only the step after the fork went to the endpoint, carrying the spliced refund's result.
    assert len(live) == 1
    tool_result = json.loads(live[0].json()["messages"][-1]["content"][0]["content"])
    assert (tool_result["amount"], tool_result["status"]) == (12.0, "issued")
    assert result.outcome["refunded"] == 12.0
    assert result.outcome["final_text"].startswith("Refunded 12.0 USD for order A-1001")
    assert result.outcome["refund_id"] != recording.outcome["refund_id"]  # drawn fresh after the fork

    fork_tape, records = _fork_tape(spans, result.trace_id)
    root = next(s for s in records if s.parent_span_id is None)
    assert root.attributes[semconv.FORK_PARENT_TRACE_ID] == parent.trace_id
    assert root.attributes[semconv.FORK_STEP] == 1
    assert root.attributes[semconv.FORK_REPLAYED] == 1
    assert root.attributes[semconv.FORK_RECORDED] == 2
    assert [(link.trace_id, link.span_id) for link in root.links] == [(parent.trace_id, parent.root_span_id)]
    assert (fork_tape.parent_trace_id, fork_tape.fork_step) == (parent.trace_id, 1)
    # The fork's tape is complete: the replayed prefix, the spliced step, the live tail.
    assert fork_tape.exchanges[0].request_sha256 == parent.exchanges[0].request_sha256
    assert fork_tape.exchanges[0].response_sha256 == parent.exchanges[0].response_sha256
    assert fork_tape.exchanges[1].request_sha256 == parent.exchanges[1].request_sha256
    assert fork_tape.exchanges[1].response_sha256 == sha256_hex(dumps(SMALL_REFUND))
    assert len(fork_tape.exchanges) == 3

    again = replay_run(fork_tape, open_blob_store(), run)
    assert again.bit_exact, str(again.divergence)
    assert again.replayed == again.steps == 3
    assert again.outcome == result.outcome


def test_resample_sends_the_fork_step_live(record: Record, spans: InMemorySpanExporter) -> None:
    recording = record(run)

    with MessagesEndpoint(demo_policy) as endpoint:
        result = _fork(recording, endpoint, 1, None)
        live = endpoint.requests

    assert (result.replayed, result.recorded) == (1, 2)
    assert len(live) == 2
    assert sha256_hex(live[0].body) == recording.tape.exchanges[1].request_sha256  # the verified step-1 request
    assert result.outcome["refunded"] == 129.99
    fork_tape, _ = _fork_tape(spans, result.trace_id)
    assert replay_run(fork_tape, open_blob_store(), run).bit_exact


@pytest.mark.parametrize("step", [0, 1, 2])
def test_every_step_can_be_resampled_the_last_one_included(
    step: int, record: Record, spans: InMemorySpanExporter
) -> None:
    recording = record(run)
    last = len(recording.tape.exchanges) - 1
    assert last == 2

    with MessagesEndpoint(demo_policy) as endpoint:
        result = _fork(recording, endpoint, step, None)
        live = endpoint.requests

    assert result.divergence is None and result.agent_error is None
    assert (result.replayed, result.recorded) == (step, last + 1 - step)
    assert len(live) == last + 1 - step
    assert sha256_hex(live[0].body) == recording.tape.exchanges[step].request_sha256  # the verified fork step
    assert result.outcome["refunded"] == 129.99


def test_a_fork_of_the_last_step_runs_on_live_past_the_end_of_the_tape(
    record: Record, spans: InMemorySpanExporter
) -> None:
    recording = record(run)
    last = len(recording.tape.exchanges) - 1

    with MessagesEndpoint(demo_policy) as endpoint:
        result = _fork(recording, endpoint, last, dumps(SMALL_REFUND))  # a tool call where the answer was
        live = endpoint.requests

    assert result.divergence is None, result.divergence  # was a false TFO102 at step 3: "no live tail"
    assert result.replayed == last and result.recorded == 1 + len(live)
    assert live, "the agent went on past the recorded end, live"


def test_a_json_message_for_a_streamed_step_is_served_as_sse(
    record: Record, spans: InMemorySpanExporter, served: ServedLog
) -> None:
    recording = record(run)
    assert recording.tape.exchanges[2].stream

    with MessagesEndpoint(demo_policy) as endpoint:
        result = _fork(recording, endpoint, 2, dumps(message("Custom final words.", model=DEMO_MODEL)))
        assert endpoint.requests == []

    assert result.agent_error is None and result.divergence is None
    assert (result.replayed, result.recorded) == (2, 1)
    assert result.outcome["final_text"] == "Custom final words."
    assert result.outcome["refund_id"] == recording.outcome["refund_id"]  # the prefix's draws were replayed
    final = served.items[-1]
    assert final.headers["content-type"].startswith("text/event-stream")
    assert final.body.startswith(b"event: message_start\n")
    fork_tape, _ = _fork_tape(spans, result.trace_id)
    assert fork_tape.exchanges[2].stream is True
    assert replay_run(fork_tape, open_blob_store(), run).bit_exact


def test_a_response_that_is_neither_json_nor_sse_is_refused(record: Record) -> None:
    recording = record(run)
    with pytest.raises(ValueError, match="the response for step 1 is neither JSON nor SSE"):
        response_for_step(recording.tape, 1, b"refund 12 please")
    with pytest.raises(ValueError, match="must be a JSON object"):
        response_for_step(recording.tape, 1, b"[1, 2]")


# --- the command ---------------------------------------------------------------------------


@pytest.fixture
def forkable(record: Record, local_store: Callable[[Recording], None], tmp_path: Path) -> tuple[Recording, Path]:
    recording = record(run)
    local_store(recording)
    response = tmp_path / "small-refund.json"
    response.write_bytes(dumps(SMALL_REFUND))
    return recording, response


def _all_bytes_under(folder: Path) -> list[tuple[Path, bytes]]:
    return [(path, path.read_bytes()) for path in sorted(folder.rglob("*")) if path.is_file()]


def test_tfotel_fork_records_a_linked_run_and_never_stores_the_api_key(
    forkable: tuple[Recording, Path],
    tfotel: Callable[..., CliResult],
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording, response = forkable
    secret = "sk-ant-fork-" + "a1b2c3d4e5f6" * 4
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)

    with MessagesEndpoint(demo_policy) as endpoint:
        result = tfotel(
            "fork", recording.trace_id, "--step", "1", "--response", str(response),
            "--agent", "tracefork_otel.demo.agent:run", "--base-url", endpoint.base_url, "--json",
        )  # fmt: skip
        live = endpoint.requests

    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert (doc["parent_trace_id"], doc["step"], doc["replayed"], doc["recorded"]) == (recording.trace_id, 1, 1, 2)
    assert doc["outcome"]["refunded"] == 12.0
    assert len(live) == 1 and secret in " ".join(live[0].headers.values())  # the key was really sent…

    fork_spans = trace_spans(spans, doc["trace_id"])
    exporter = LocalSpanExporter(SpanStore.default())
    exporter.export(fork_spans)  # as the local store would have kept them
    exporter.shutdown()
    everything = [*recording.readable, *fork_spans]
    exported = json.dumps(to_otlp_json(span_record_from_readable(s) for s in everything))
    assert secret not in exported  # …and is in no span
    home = Path(SpanStore.default().path).parent
    store = open_blob_store()
    stored = _all_bytes_under(home)
    assert any(path.name == "spans.sqlite3" for path, _ in stored)
    for path, data in stored:
        assert secret.encode() not in data, path
        if len(path.name) == 64 and path.parent.name == path.name[:2]:
            assert secret.encode() not in store.get(path.name), path  # blobs are compressed: check them decoded


@pytest.mark.parametrize(
    ("args", "message_"),
    [
        (["--step", "99", "--response", "{response}"], "--step 99 is out of range: run {trace_id} has steps 0..2"),
        (
            ["--step", "1", "--response", "{response}", "--resample"],
            "give exactly one of --response FILE or --resample",
        ),
        (["--step", "1"], "give exactly one of --response FILE or --resample"),
    ],
    ids=["step-out-of-range", "response-and-resample", "neither"],
)
def test_tfotel_fork_bad_usage_is_one_line_and_exit_2(
    forkable: tuple[Recording, Path], tfotel: Callable[..., CliResult], args: list[str], message_: str
) -> None:
    recording, response = forkable
    given = [a.format(response=response) for a in args]
    result = tfotel(
        "fork",
        recording.trace_id,
        *given,
        "--agent",
        "tracefork_otel.demo.agent:run",
        "--base-url",
        "http://127.0.0.1:9",
    )
    assert result.only_error_line() == "tfotel: error: " + message_.format(trace_id=recording.trace_id)
    assert result.out == ""


def test_tfotel_fork_with_an_unreadable_response_file_is_exit_2(
    forkable: tuple[Recording, Path], tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    recording, _ = forkable
    bad = tmp_path / "bad.json"
    bad.write_text("refund twelve")
    result = tfotel(
        "fork", recording.trace_id, "--step", "1", "--response", str(bad),
        "--agent", "tracefork_otel.demo.agent:run", "--base-url", "http://127.0.0.1:9",
    )  # fmt: skip
    assert result.only_error_line().startswith("tfotel: error: the response for step 1 is neither JSON nor SSE")
