"""Opt-in capture of what the agent's own code reads past the seam: the clock, uuid4, random, secrets.

Recorded as draws while recording, served from the tape on replay; the SDK's, httpx's and
OpenTelemetry's own reads (request ids, retries' jitter, span ids, timeouts) never enter the tape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import replay_agents
from replay_support import Recording

from tracefork_otel import nondet_capture
from tracefork_otel.replay import replay_run

Record = Callable[..., Recording]


@pytest.fixture
def capture() -> Iterator[None]:
    nondet_capture.enable()
    try:
        yield
    finally:
        nondet_capture.disable()


def test_reads_past_the_seam_are_recorded_and_replayed(capture: None, record: Record) -> None:
    recording = record(replay_agents.reads_past_the_seam, policy=replay_agents.echo_policy)
    kinds = [d.kind for d in recording.tape.draws]
    # Exactly the agent's reads, in order (randint and choice draw bits until they land in range); not one
    # read of the SDK's, httpx's or OpenTelemetry's.
    assert re.fullmatch(
        r"time\.time time\.time_ns datetime\.now uuid\.uuid4 (random\.getrandbits:3 ){2,}"
        r"random\.random secrets\.token_hex:4",
        " ".join(kinds),
    ), kinds
    nondet_capture.disable()  # replay turns it back on by itself: the tape says reads were captured

    receipt = replay_run(recording.tape, recording.store(), replay_agents.reads_past_the_seam)

    assert receipt.bit_exact, receipt.divergence
    assert receipt.outcome == recording.outcome and receipt.draws == len(kinds)


def test_without_the_capture_a_clock_read_drifts_at_the_field_it_changed(record: Record) -> None:
    recording = record(replay_agents.reads_past_the_seam, policy=replay_agents.echo_policy)
    assert recording.tape.draws == ()

    receipt = replay_run(recording.tape, recording.store(), replay_agents.reads_past_the_seam)

    assert not receipt.bit_exact
    assert receipt.divergence is not None and receipt.divergence.code == "TFO101"
    assert receipt.divergence.field.startswith("messages[0].content")


def test_reads_outside_a_run_are_live_and_unlogged(capture: None) -> None:
    import time
    import uuid

    original_time = time.time.__tracefork_original__  # type: ignore[attr-defined]
    assert abs(time.time() - original_time()) < 5  # the real clock, passed through
    assert len({uuid.uuid4() for _ in range(3)}) == 3  # fresh ids, none served


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_instrument_turns_the_capture_on_when_asked(how: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracefork_otel

    if how == "environment":
        monkeypatch.setenv("TFOTEL_CAPTURE_NONDET", "true")
    try:
        tracefork_otel.instrument(local_store=False, **({"capture_nondeterminism": True} if how == "argument" else {}))
        assert nondet_capture.enabled()
    finally:
        tracefork_otel.uninstrument()
        nondet_capture.disable()
    assert not nondet_capture.enabled()
