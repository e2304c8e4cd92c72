"""Bad ``.tftape`` input never crashes the decoder: it ends in ``TapeError`` or in the recorded content.

tests/tape already refuses every truncation and every single flipped bit of one bundle;
here hypothesis throws random bytes, multi-byte damage, valid zstd around random and
around structured-but-wrong protobuf, and decompression bombs at the decoder.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
import zstandard
from cli_support import clean_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import rle_bomb, run_child

from tracefork_otel._proto.tracefork.v1 import tape_pb2
from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.errors import TapeError
from tracefork_otel.tape import Bundle, Draw, Exchange, Tape, decode_bundle, encode_bundle
from tracefork_otel.tape import codec as codec_module
from tracefork_otel.tape.codec import BUNDLE_MAGIC, MAGIC

_BASE = settings(deadline=None, database=None, suppress_health_check=list(HealthCheck))


def fuzz(examples: int) -> settings:
    return settings(_BASE, max_examples=examples)


EXAMPLES = {
    "random bytes": 8000,
    "random bytes after the magic": 4000,
    "damaged valid bundle": 3000,
    "zstd around random bytes": 2000,
    "zstd around random Bundle messages": 600,
}
"""Cases per fuzz test below (docs/guarantees.md quotes the total)."""


def _sample() -> tuple[Tape, dict[str, bytes]]:
    bodies = [b'{"model":"m","messages":[{"role":"user","content":"hi"}]}', b'{"id":"msg_1","content":[]}']
    bodies += [b'{"model":"m","messages":[1,2,3]}', b"event: message_start\ndata: {}\n\n"]
    d = [sha256_hex(b) for b in bodies]
    tape = Tape(
        trace_id="4bf92f3577b34da6a3ce929d0e0e4736",
        exchanges=(
            Exchange(0, d[0], d[1], response_headers=(("request-id", "req_1"),), span_id="00f067aa0ba902b7"),
            Exchange(1, d[2], d[3], stream=True, status_code=200),
        ),
        draws=(Draw(0, "new_id", "rf_1"), Draw(1, "now_iso", "2025-01-02T03:04:05+00:00", before_step=1)),
        run_name="refund-desk",
    ).sealed()
    return tape, {sha256_hex(b): b for b in bodies}


TAPE, BLOBS = _sample()
VALID = encode_bundle(TAPE, BLOBS)


def check(data: bytes) -> Bundle | None:
    """Decode ``data``: a ``TapeError``, or a bundle whose replayable content is exactly the recorded one."""
    try:
        bundle = decode_bundle(data, source="fuzz.tftape")
    except TapeError as exc:
        assert str(exc).startswith("fuzz.tftape: ") and "\n" not in str(exc)
        return None
    # What replay serves (every blob, every digest-covered field) must be the recording's; a checksum-less
    # frame could still alter display-only fields, which the digest does not cover by design.
    assert bundle.tape.computed_digest() == bundle.tape.digest
    assert all(sha256_hex(data) == digest for digest, data in bundle.blobs.items())
    return bundle


@pytest.mark.slow
@fuzz(EXAMPLES["random bytes"])
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    check(data)


@pytest.mark.slow
@fuzz(EXAMPLES["random bytes after the magic"])
@given(st.binary(max_size=2048) | st.builds(lambda tail: b"\x28\xb5\x2f\xfd" + tail, st.binary(max_size=512)))
def test_random_bytes_after_the_magic(data: bytes) -> None:
    assert check(MAGIC + data) is None


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    """The valid bundle after 1-6 edits: bit flips, byte overwrites, cuts, insertions, deletions."""
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and data:
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


@pytest.mark.slow
@fuzz(EXAMPLES["damaged valid bundle"])
@given(damaged())
def test_damaged_valid_bundle(data: bytes) -> None:
    bundle = check(data)
    if bundle is not None:
        assert bundle.tape.digest == TAPE.digest
        assert dict(bundle.blobs) == BLOBS


@pytest.mark.slow
@fuzz(EXAMPLES["zstd around random bytes"])
@given(st.binary(max_size=1024), st.booleans())
def test_valid_zstd_around_random_bytes(payload: bytes, checksum: bool) -> None:
    check(MAGIC + zstandard.ZstdCompressor(write_checksum=checksum).compress(payload))


_HEX = st.text("0123456789abcdef", min_size=0, max_size=64)


@st.composite
def bundle_messages(draw: st.DrawFn) -> bytes:
    """A Bundle message that parses but may lie: wrong magic, schema, digests, blobs, steps, huge numbers."""
    blobs = draw(st.lists(st.binary(max_size=64), max_size=4))
    names = [sha256_hex(b) for b in blobs]
    digest = st.sampled_from(names) | _HEX if names else _HEX
    msg = tape_pb2.Bundle(magic=draw(st.sampled_from([BUNDLE_MAGIC, "", "tracefork.tape2"])))
    msg.tape.schema = draw(st.sampled_from([0, 1, 1, 1, 2, 2**32 - 1]))
    msg.tape.trace_id = draw(_HEX)
    msg.tape.digest = draw(_HEX)
    msg.tape.partial = draw(st.booleans())
    for step in draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), max_size=5)):
        msg.tape.exchanges.append(
            tape_pb2.Exchange(
                step=step,
                request_sha256=draw(digest),
                response_sha256=draw(digest),
                status_code=draw(st.integers(0, 2**32 - 1)),
                stream=draw(st.booleans()),
                response_headers=[tape_pb2.Header(name=draw(st.text(max_size=8)), value=draw(st.text(max_size=8)))],
                start_time_unix_nano=draw(st.integers(0, 2**64 - 1)),
                redacted=draw(st.booleans()),
            )
        )
    for order in draw(st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 3), max_size=3)):
        msg.tape.draws.append(
            tape_pb2.Draw(order=order, kind=draw(st.text(max_size=8)), value=draw(st.text(max_size=8)))
        )
    for name, data in zip(names, blobs, strict=True):
        msg.blobs.append(tape_pb2.Blob(sha256=draw(st.just(name) | _HEX), data=data))
    if draw(st.booleans()):  # now and then, a message whose digest is right: deeper checks run
        tape = Tape.from_proto(msg.tape)
        msg.tape.digest = tape.computed_digest()
    return msg.SerializeToString()


@pytest.mark.slow
@fuzz(EXAMPLES["zstd around random Bundle messages"])
@given(bundle_messages())
def test_valid_zstd_around_random_bundle_messages(payload: bytes) -> None:
    check(MAGIC + zstandard.ZstdCompressor().compress(payload))


# --- decompression bombs ------------------------------------------------------------


@pytest.mark.parametrize("claim", [None, 4 << 30], ids=["size-unknown", "size-claimed"])
def test_a_decompression_bomb_is_refused_within_the_cap(claim: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 128 KiB file that expands to 4 GiB: refused, having held at most the cap (lowered here to 32 MiB)."""
    cap = 32 << 20
    monkeypatch.setattr(codec_module, "MAX_BUNDLE_BYTES", cap)
    bomb = MAGIC + rle_bomb(4 << 30, claim=claim)
    assert len(bomb) < 160 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(TapeError, match=r"over the limit|corrupt or truncated"):
            decode_bundle(bomb, source="bomb.tftape")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= cap + (1 << 20), f"the decoder held {peak >> 20} MiB for a {cap >> 20} MiB cap"
    if claim is not None:
        assert peak < 1 << 20  # a claimed size over the cap is refused before anything is decompressed


def test_a_bomb_under_the_cap_but_not_a_bundle_is_still_refused() -> None:
    """A real frame of 64 MiB of zeros (under the 1 GiB cap): decoded, then refused as not a bundle."""
    with pytest.raises(TapeError, match=r"not a tracefork tape bundle|corrupt tape message"):
        decode_bundle(MAGIC + rle_bomb(64 << 20), source="zeros.tftape")


@pytest.mark.subprocess
def test_a_bomb_at_the_real_cap_costs_no_memory(tmp_path: Path) -> None:
    """``tfotel import``'s reader in a fresh process: a 64 KiB file expanding to 2 GiB (cap 1 GiB).

    Bug fixed: a frame without a declared size was decompressed into a buffer as large as
    the cap, so refusing this file took 1.1 GiB of memory; its size is now counted first,
    keeping nothing.
    """
    path = tmp_path / "bomb.tftape"
    path.write_bytes(MAGIC + rle_bomb(2 << 30))
    result, _ = run_child("bomb-rss", str(path), env=clean_env(tmp_path / "home"))
    assert "over the limit" in result["error"]
    grown_mib = (result["after_kib"] - result["before_kib"]) / 1024
    assert grown_mib < 32, f"refusing a 64 KiB bomb raised peak memory by {grown_mib:.0f} MiB"
