"""Compressed responses (a gateway sending ``content-encoding``): the tape holds the decoded bytes, replayed bit-exact.

The stand-in endpoint compresses for real on 127.0.0.1 and the real SDK decodes, so each test
sees what a run behind a compressing proxy sees. The demo agent makes three calls: two JSON
answers and one SSE stream, compressed event by event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from replay_support import CliResult, Recording, ServedLog

from tracefork_otel import semconv
from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.contentcoding import CONTENT_ENCODING, ContentCoding, brotli
from tracefork_otel.demo import demo_policy, run, run_async
from tracefork_otel.demo.compression import RAW_DEFLATE, Compression
from tracefork_otel.errors import TapeEncodedError
from tracefork_otel.record import exchange as exchange_module
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.wire import dumps, sse_body

Record = Callable[..., Recording]
DEMO_AGENT = "tracefork_otel.demo.agent:run"

needs_brotli = pytest.mark.skipif(brotli is None, reason="no brotli module: neither httpx2 nor the endpoint does br")
CODINGS = [
    pytest.param((ContentCoding.GZIP,), id="gzip"),
    pytest.param((ContentCoding.DEFLATE,), id="deflate"),
    pytest.param((RAW_DEFLATE,), id="raw-deflate"),
    pytest.param((ContentCoding.BR,), id="br", marks=needs_brotli),
    pytest.param((ContentCoding.ZSTD,), id="zstd"),
    pytest.param((ContentCoding.GZIP, ContentCoding.BR), id="gzip-then-br", marks=needs_brotli),
]


def sent_before_compression(request_json: dict[str, Any]) -> bytes:
    """The body the endpoint serialised for a request, before it compressed it."""
    reply = demo_policy(request_json)
    return sse_body(reply) if request_json.get("stream") is True else dumps(reply)


def check_recorded_decoded(recording: Recording, compression: Compression) -> None:
    """Every response was sent compressed, and its blob is the decoded body whose sha256 is on the span."""
    tape, store = recording.tape, recording.store()
    assert [ex.stream for ex in tape.exchanges] == [False, False, True]
    assert all(compression.applies(request.headers) for request in recording.requests)
    spans = {s.attributes[semconv.STEP]: s for s in recording.spans if semconv.RESPONSE_SHA256 in s.attributes}
    for ex, request in zip(tape.exchanges, recording.requests, strict=True):
        body = store.get(ex.response_sha256)
        assert body == sent_before_compression(request.json())
        assert spans[ex.step].attributes[semconv.RESPONSE_SHA256] == ex.response_sha256 == sha256_hex(body)
        assert semconv.RECORD_ERROR not in spans[ex.step].attributes
        assert CONTENT_ENCODING not in dict(ex.response_headers)


@pytest.mark.parametrize("codings", CODINGS)
@pytest.mark.parametrize(
    ("agent", "accept"), [(run, False), (run_async, True)], ids=["sync-gateway-ignores-accept", "async-honours-accept"]
)
def test_a_compressed_run_is_recorded_decoded_and_replays_bit_exact(
    record: Record,
    served: ServedLog,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    codings: tuple[str, ...],
    agent: Callable[..., Any],
    accept: bool,
) -> None:
    compression = Compression(codings, ignore_accept_encoding=not accept)
    recording = record(agent, compression=compression)
    check_recorded_decoded(recording, compression)
    assert recording.outcome["refunded"] == 129.99  # the agent parsed every compressed answer

    receipt = replay_run(recording.tape, recording.store(), agent)

    assert receipt.divergence is None and receipt.agent_error is None, receipt.agent_error
    assert receipt.bit_exact is True and receipt.replayed == receipt.steps == 3
    assert receipt.outcome == recording.outcome
    store = recording.store()
    assert [item.body for item in served.items] == [store.get(ex.response_sha256) for ex in recording.tape.exchanges]
    assert all(CONTENT_ENCODING not in item.headers for item in served.items)

    local_store(recording)
    shown = tfotel("show", recording.trace_id)
    assert shown.code == 0, shown.err
    assert "tool_use" in shown.out and "end_turn" in shown.out  # show parsed the decoded Message bodies
    replayed = tfotel("replay", recording.trace_id, "--agent", DEMO_AGENT)
    assert replayed.code == 0, replayed.err
    assert f"replay {recording.trace_id}: bit-exact" in replayed.out


def test_a_tape_holding_compressed_bytes_is_refused_with_one_line(
    record: Record,
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The recorder as it was: the bytes off the wire are stored, content-encoding is dropped.
    with monkeypatch.context() as old_recorder:
        old_recorder.setattr(exchange_module, "decode", lambda body, codings, *, limit: body, raising=False)
        recording = record(run, compression=Compression((ContentCoding.GZIP,)))
    assert recording.store().get(recording.tape.exchanges[0].response_sha256).startswith(b"\x1f\x8b")
    calls: list[object] = []

    with pytest.raises(TapeEncodedError) as caught:
        replay_run(recording.tape, recording.store(), lambda client, nondet: calls.append(client))
    assert (caught.value.step, caught.value.coding) == (0, "gzip")
    assert calls == []

    local_store(recording)
    result = tfotel("replay", recording.trace_id, "--agent", DEMO_AGENT)
    assert result.code == 2
    assert result.error_line() == f"tfotel: error: {caught.value}"
    assert "step 0: the recorded response is gzip-compressed bytes" in result.err
