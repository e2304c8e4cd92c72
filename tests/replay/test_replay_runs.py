"""Replaying recorded runs: bit-exact when nothing changed, and pinned to the first step and JSON path when it did."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anthropic
import pytest
import replay_agents
from replay_support import CliResult, Recording, ServedLog

from tracefork_otel import semconv
from tracefork_otel.blobstore import BlobStore, sha256_hex
from tracefork_otel.demo import agent as demo_agent
from tracefork_otel.demo import run, run_async
from tracefork_otel.errors import BlobIntegrityError, ReplayDivergence
from tracefork_otel.replay.runner import ReplayReceipt, replay_run
from tracefork_otel.replay.transport import FAST_RETRY_MS

Record = Callable[..., Recording]


def assert_bit_exact(receipt: ReplayReceipt, recording: Recording, served: ServedLog) -> None:
    """The whole proof: no divergence, every step replayed, same digest, every response byte-identical."""
    tape = recording.tape
    assert receipt.divergence is None, str(receipt.divergence)
    assert receipt.agent_error is None
    assert receipt.bit_exact is True
    assert receipt.replayed == receipt.steps == len(tape.exchanges)
    root = next(s for s in recording.spans if semconv.TAPE_DIGEST in s.attributes)
    assert receipt.replay_digest == receipt.recorded_digest == tape.digest == root.attributes[semconv.TAPE_DIGEST]
    assert receipt.outcome == recording.outcome
    store = recording.store()
    assert receipt.bytes_verified == sum(
        len(store.get(ex.request_sha256)) + len(store.get(ex.response_sha256)) for ex in tape.exchanges
    )
    # Match each served response to its step as the player does (request bytes, lowest step first).
    assert len(served.items) == len(tape.exchanges)
    unserved = {ex.step for ex in tape.exchanges}
    for item in served.items:
        step = min(s for s in unserved if tape.exchanges[s].request_sha256 == sha256_hex(item.request))
        unserved.discard(step)
        ex = tape.exchanges[step]
        assert item.status_code == ex.status_code
        assert item.body == store.get(ex.response_sha256)
    assert not unserved


@pytest.mark.parametrize("agent", [run, run_async], ids=["sync", "async"])
def test_demo_run_replays_bit_exact(record: Record, served: ServedLog, agent: Callable[..., Any]) -> None:
    recording = record(agent)
    assert [ex.stream for ex in recording.tape.exchanges] == [False, False, True]
    assert len(recording.tape.draws) == 2  # the refund id and its timestamp

    receipt = replay_run(recording.tape, recording.store(), agent)

    assert_bit_exact(receipt, recording, served)
    assert receipt.draws == 2


@pytest.mark.parametrize("agent", [replay_agents.streaming, replay_agents.streaming_async], ids=["sync", "async"])
def test_streaming_agent_replays_bit_exact(record: Record, served: ServedLog, agent: Callable[..., Any]) -> None:
    recording = record(agent, policy=replay_agents.echo_policy)
    assert [ex.stream for ex in recording.tape.exchanges] == [True, True]
    assert recording.outcome["events"][0] == "message_start"
    assert recording.outcome["events"][-1] == "message_stop"
    assert len(recording.outcome["pieces"]) > 1  # the text really arrived in several deltas

    receipt = replay_run(recording.tape, recording.store(), agent)

    assert_bit_exact(receipt, recording, served)
    assert all(item.headers["content-type"].startswith("text/event-stream") for item in served.items)


def test_one_byte_change_in_a_tool_result_pins_step_1_and_the_path(
    record: Record, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = record(run)
    orders = {key: dict(value) for key, value in demo_agent.ORDERS.items()}
    orders["A-1001"]["amount"] = 129.98  # the lookup tool now answers one digit differently
    monkeypatch.setattr(demo_agent, "ORDERS", orders)

    receipt = replay_run(recording.tape, recording.store(), run)

    assert receipt.bit_exact is False
    d = receipt.divergence
    assert d is not None
    assert (d.code, d.step) == ("TFO101", 1)
    assert d.field == "messages[2].content[0].content<json>.amount"
    assert (d.expected, d.actual) == ("129.99", "129.98")
    assert d.expected_sha256 == recording.tape.exchanges[1].request_sha256
    assert receipt.replayed == 1


def test_one_character_system_prompt_change_only_at_step_2(record: Record, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = record(replay_agents.prompted, policy=replay_agents.echo_policy)
    monkeypatch.setattr(replay_agents, "SYSTEM_DRIFT_AT", 2)

    receipt = replay_run(recording.tape, recording.store(), replay_agents.prompted)

    d = receipt.divergence
    assert receipt.bit_exact is False and d is not None
    assert (d.code, d.step, d.field) == ("TFO101", 2, "system")
    assert (d.expected, d.actual) == ("'Be brief.'", "'Be brieF.'")
    assert receipt.replayed == 2


def test_drift_through_the_cli(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = record(replay_agents.prompted, policy=replay_agents.echo_policy)
    local_store(recording)
    agent = "replay_agents:prompted"

    ok = tfotel("replay", recording.trace_id, "--agent", agent)
    assert ok.code == 0, ok.err
    assert f"replay {recording.trace_id}: bit-exact" in ok.out
    assert tfotel("verify", recording.trace_id, "--agent", agent).code == 0

    monkeypatch.setattr(replay_agents, "SYSTEM_DRIFT_AT", 1)
    drifted = tfotel("replay", recording.trace_id, "--agent", agent)
    assert drifted.code == 1
    assert f"replay {recording.trace_id}: DIVERGED at step 1" in drifted.out
    assert "    field     system\n" in drifted.out
    assert "    recorded  'Be brief.'\n    replayed  'Be brieF.'\n" in drifted.out

    verdict = tfotel("verify", recording.trace_id, "--agent", agent, "--json")
    assert verdict.code == 1
    doc = json.loads(verdict.out)
    assert doc["bit_exact"] is False
    assert doc["replayed"] == 1 and doc["steps"] == 3
    divergence = doc["divergence"]
    assert {k: divergence[k] for k in ("code", "step", "field", "expected", "actual")} == {
        "code": "TFO101",
        "step": 1,
        "field": "system",
        "expected": "'Be brief.'",
        "actual": "'Be brieF.'",
    }
    assert divergence["expected_sha256"] == recording.tape.exchanges[1].request_sha256


# --- tampered blobs ------------------------------------------------------------------


def _flip_frame_byte(recording: Recording, digest: str) -> None:
    path = recording.blob_path(digest)
    data = bytearray(path.read_bytes())
    n_bases = data[5]
    frame_start = 6 + 32 * n_bases  # after b"TFB1" | depth | n_bases | base digests
    data[frame_start] ^= 0xFF  # the zstd frame's magic number
    path.write_bytes(bytes(data))


def _other_valid_blob(recording: Recording, digest: str) -> None:
    other = next(d for d in recording.tape.blob_digests() if d != digest)
    recording.blob_path(digest).write_bytes(recording.blob_path(other).read_bytes())


@pytest.mark.parametrize("tamper", [_flip_frame_byte, _other_valid_blob], ids=["flipped-byte", "other-blob"])
@pytest.mark.parametrize("which", ["final-response", "first-request"])
def test_a_tampered_blob_is_caught_before_the_agent_runs(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    tamper: Callable[[Recording, str], None],
    which: str,
) -> None:
    recording = record(run)
    local_store(recording)
    exchanges = recording.tape.exchanges
    digest = exchanges[-1].response_sha256 if which == "final-response" else exchanges[0].request_sha256
    tamper(recording, digest)
    calls: list[object] = []

    with pytest.raises(BlobIntegrityError) as caught:
        replay_run(recording.tape, recording.store(), lambda client, nondet: calls.append(client))
    assert caught.value.digest == digest
    assert calls == []

    result = tfotel("replay", recording.trace_id, "--agent", "tracefork_otel.demo.agent:run")
    line = result.error_line()
    assert f"blob {digest[:16]}… in {recording.blob_root} is corrupt" in line


class _UncheckedStore:
    """A store that trusts its disk: returns whatever it holds (here: a tampered final response) unchecked."""

    def __init__(self, inner: BlobStore, tampered: dict[str, bytes]) -> None:
        self._inner = inner
        self._tampered = tampered
        self.url = inner.url

    def get(self, digest: str) -> bytes:
        return self._tampered.get(digest) or self._inner.get(digest)

    def has(self, digest: str) -> bool:
        return self._inner.has(digest)

    def put(self, data: bytes, *, bases: Any = ()) -> str:
        return self._inner.put(data, bases=bases)

    def uri(self, digest: str) -> str:
        return self._inner.uri(digest)


def test_a_tampered_final_response_never_replays_as_bit_exact(record: Record) -> None:
    # The final response is read by nothing that comes after it, so no request check can catch it.
    recording = record(run)
    final = recording.tape.exchanges[-1].response_sha256
    original = recording.store().get(final)
    tampered = original.replace(b"Refunded", b"Refusing", 1)
    assert tampered != original
    store = _UncheckedStore(recording.store(), {final: tampered})

    try:
        receipt = replay_run(recording.tape, store, run)
    except BlobIntegrityError as exc:
        assert exc.digest == final
    else:
        pytest.fail(f"a tampered final response replayed (bit_exact={receipt.bit_exact}, outcome={receipt.outcome})")


# --- nondeterminism: the negative controls -----------------------------------------------


def test_an_agent_reading_the_clock_directly_must_fail_verification(
    record: Record, local_store: Callable[[Recording], None], tfotel: Callable[..., CliResult]
) -> None:
    recording = record(replay_agents.clock_in_request, policy=replay_agents.echo_policy)
    assert recording.tape.draws == ()  # nothing went through the seam, so nothing can be served back

    receipt = replay_run(recording.tape, recording.store(), replay_agents.clock_in_request)

    d = receipt.divergence
    assert receipt.bit_exact is False and d is not None
    assert (d.code, d.step, d.field) == ("TFO101", 0, "messages[0].content")
    assert d.expected.startswith("'ticket ") and d.actual.startswith("'ticket ") and d.expected != d.actual

    local_store(recording)
    verdict = tfotel("verify", recording.trace_id, "--agent", "replay_agents:clock_in_request")
    assert verdict.code == 1
    assert verdict.out.startswith(
        f"DRIFT {recording.trace_id}: [TFO101] step 0: request differs at messages[0].content"
    )


@pytest.mark.parametrize(
    ("plan", "field", "summary"),
    [
        (("random", "new_id"), "draw.kind", "draw differs"),
        (("now_iso", "new_id", "random"), "", "the agent drew random beyond the 2 values recorded"),
        (("now_iso",), "", "the recording has 2 draws but the agent drew only 1"),
    ],
    ids=["other-kind", "more-draws", "fewer-draws"],
)
def test_draws_that_differ_from_the_recording_diverge(
    record: Record, monkeypatch: pytest.MonkeyPatch, plan: tuple[str, ...], field: str, summary: str
) -> None:
    recording = record(replay_agents.drawing, policy=replay_agents.echo_policy)
    assert [d.kind for d in recording.tape.draws] == ["now_iso", "new_id"]
    monkeypatch.setattr(replay_agents, "DRAW_PLAN", plan)

    receipt = replay_run(recording.tape, recording.store(), replay_agents.drawing)

    d = receipt.divergence
    assert receipt.bit_exact is False and d is not None
    assert (d.code, d.field, d.summary) == ("TFO104", field, summary)
    if field == "draw.kind":
        assert (d.step, d.expected, d.actual) == (0, "now_iso", "random")


def test_the_same_draws_replay_bit_exact(record: Record, served: ServedLog) -> None:
    recording = record(replay_agents.drawing, policy=replay_agents.echo_policy)
    receipt = replay_run(recording.tape, recording.store(), replay_agents.drawing)
    assert_bit_exact(receipt, recording, served)
    assert receipt.outcome["drawn"] == recording.outcome["drawn"]


# --- retries, threads, extra and missing requests ---------------------------------------


def test_a_retried_529_replays_through_the_sdk_retry_without_its_backoff(record: Record, served: ServedLog) -> None:
    recording = record(replay_agents.single, policy=replay_agents.echo_policy, statuses=[529])
    first, second = recording.tape.exchanges
    assert (first.status_code, second.status_code) == (529, 200)
    assert first.request_sha256 == second.request_sha256
    assert first.header("retry-after") == "0"
    assert len(recording.requests) == 2

    receipt = replay_run(recording.tape, recording.store(), replay_agents.single)

    assert_bit_exact(receipt, recording, served)
    overloaded, ok = served.items
    assert overloaded.status_code == 529
    assert overloaded.headers["retry-after-ms"] == FAST_RETRY_MS
    assert "retry-after" not in overloaded.headers
    assert json.loads(overloaded.body)["error"]["type"] == "overloaded_error"
    assert ok.status_code == 200


def test_two_threads_sharing_one_client_replay_in_any_order(
    record: Record, served: ServedLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = record(replay_agents.parallel, policy=replay_agents.echo_policy)
    assert recording.outcome == ["echo: alpha", "echo: beta"]
    for order in ["ab", "ba", None, None, None]:
        monkeypatch.setattr(replay_agents, "ORDER", order)
        served.items.clear()
        receipt = replay_run(recording.tape, recording.store(), replay_agents.parallel)
        assert_bit_exact(receipt, recording, served)
        if order is not None:
            first = order[0]
            assert json.loads(served.items[0].request)["messages"][0]["content"] == {"a": "alpha", "b": "beta"}[first]


def test_an_unrecorded_extra_request_is_tfo102(record: Record, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = record(replay_agents.counted, policy=replay_agents.echo_policy)
    monkeypatch.setattr(replay_agents, "CALLS", 3)

    receipt = replay_run(recording.tape, recording.store(), replay_agents.counted)

    d = receipt.divergence
    assert receipt.bit_exact is False and d is not None
    assert (d.code, d.step) == ("TFO102", 2)
    assert receipt.replayed == 2


def test_a_recorded_request_never_made_is_tfo103(record: Record, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = record(replay_agents.counted, policy=replay_agents.echo_policy)
    monkeypatch.setattr(replay_agents, "CALLS", 1)

    receipt = replay_run(recording.tape, recording.store(), replay_agents.counted)

    d = receipt.divergence
    assert receipt.bit_exact is False and d is not None
    assert (d.code, d.step) == ("TFO103", 1)
    assert d.expected_sha256 == recording.tape.exchanges[1].request_sha256
    assert receipt.replayed == 1
    assert receipt.agent_error is None  # the agent finished happily; the tape says it stopped early


@pytest.mark.parametrize("agent", [replay_agents.catching, replay_agents.catching_async], ids=["sync", "async"])
def test_the_sdk_hands_the_divergence_to_the_agent_unwrapped(
    record: Record, monkeypatch: pytest.MonkeyPatch, agent: Callable[..., Any]
) -> None:
    recording = record(agent, policy=replay_agents.echo_policy)
    monkeypatch.setattr(replay_agents, "PROMPT", "hellO")
    monkeypatch.setattr(replay_agents, "CAUGHT", [])

    receipt = replay_run(recording.tape, recording.store(), agent)

    (caught,) = replay_agents.CAUGHT
    assert isinstance(caught, ReplayDivergence)
    assert not isinstance(caught, anthropic.APIConnectionError)
    assert (caught.code, caught.step, caught.field) == ("TFO101", 0, "messages[0].content")
    assert receipt.divergence is not None and receipt.divergence.code == "TFO101"
    assert receipt.agent_error is None
