"""The tape as protobuf and the ``.tftape`` bundle: exact round trips, and every kind of damage refused."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from tracefork_otel._proto.tracefork.v1 import tape_pb2
from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.entrypoint import EntryKind, EntryPoint, Outcome, OutcomeStatus
from tracefork_otel.errors import TapeError
from tracefork_otel.tape import SCHEMA_VERSION, Draw, Exchange, Tape, decode_bundle, encode_bundle
from tracefork_otel.tape import codec as codec_module
from tracefork_otel.tape.codec import BUNDLE_MAGIC, MAGIC

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def sample() -> tuple[Tape, dict[str, bytes]]:
    """A sealed three-step tape (a 529 retry, a stream) with draws, and its blobs."""
    bodies = [b'{"messages":[1]}', b'{"type":"error"}', b'{"messages":[1]}', b'{"id":"msg_1"}', b"{2}", b"event: x\n\n"]
    blobs = {sha256_hex(body): body for body in bodies}
    d = [sha256_hex(body) for body in bodies]
    exchanges = (
        Exchange(
            step=0,
            request_sha256=d[0],
            response_sha256=d[1],
            status_code=529,
            response_headers=(("retry-after", "0"), ("x-should-retry", "true")),
            span_id="00f067aa0ba902b7",
            start_time_unix_nano=1_700_000_000_000_000_000,
            end_time_unix_nano=1_700_000_000_100_000_000,
            request_model="claude-sonnet-4-6",
            error_type="529",
        ),
        Exchange(step=1, request_sha256=d[2], response_sha256=d[3], span_id="00f067aa0ba902b8"),
        Exchange(
            step=2,
            request_sha256=d[4],
            response_sha256=d[5],
            stream=True,
            incomplete=True,
            response_headers=(("content-type", "text/event-stream"),),
        ),
    )
    draws = (Draw(0, "now_iso", "2025-01-02T03:04:05+00:00"), Draw(1, "new_id", "rf_1"), Draw(2, "random", "0.25"))
    tape = Tape(
        trace_id=TRACE_ID,
        exchanges=exchanges,
        draws=draws,
        run_name="refund-desk",
        root_span_id="a3ce929d0e0e4736",
        start_time_unix_nano=1_699_999_999_000_000_000,
        end_time_unix_nano=1_700_000_001_000_000_000,
        partial=True,
        parent_trace_id="0af7651916cd43dd8448eb211c80319c",
        fork_step=1,
    ).sealed()
    return tape, blobs


def raw_bundle(msg: tape_pb2.Bundle) -> bytes:
    """A ``.tftape`` file around any Bundle message (to build the damaged ones the encoder refuses to)."""
    return MAGIC + zstandard.ZstdCompressor().compress(msg.SerializeToString())


def bundle_message(tape: Tape, blobs: Mapping[str, bytes], magic: str = BUNDLE_MAGIC) -> tape_pb2.Bundle:
    msg = tape_pb2.Bundle(magic=magic, tape=tape.to_proto())
    for digest, data in blobs.items():
        msg.blobs.append(tape_pb2.Blob(sha256=digest, data=data))
    return msg


# --- round trips ----------------------------------------------------------------------


def test_proto_round_trip_keeps_every_field() -> None:
    tape, _ = sample()
    wire = tape.to_proto().SerializeToString()
    back = Tape.from_proto(tape_pb2.Tape.FromString(wire))
    assert back == tape
    assert back.exchanges[0].header("retry-after") == "0"
    assert back.exchanges[1].header("retry-after") is None
    for field in dataclasses.fields(Tape):
        if field.compare and field.name not in {"exchanges", "draws"}:
            assert getattr(back, field.name) == getattr(tape, field.name), field.name


text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)


def every_field(cls: type, **special: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Instances of a tape dataclass with every compared field drawn, so a new field is round-tripped too."""
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for field in dataclasses.fields(cls):
        if field.name in special:
            kwargs[field.name] = special[field.name]
        elif not field.compare:
            continue
        elif field.type == "str":
            kwargs[field.name] = text
        elif field.type == "bool":
            kwargs[field.name] = st.booleans()
        elif field.type == "int":
            kwargs[field.name] = u64 if field.name.endswith("_unix_nano") else u32
        else:
            raise AssertionError(f"no strategy for {cls.__name__}.{field.name}: {field.type}")
    return st.builds(cls, **kwargs)


tape_strategy = every_field(
    Tape,
    exchanges=st.lists(
        every_field(Exchange, response_headers=st.lists(st.tuples(text, text), max_size=3).map(tuple)), max_size=4
    ).map(tuple),
    draws=st.lists(every_field(Draw), max_size=4).map(tuple),
    outcome=st.none() | every_field(Outcome, status=st.sampled_from(OutcomeStatus)),
    entry=st.none()
    | every_field(EntryPoint, kind=st.sampled_from(EntryKind), command=st.lists(text, max_size=3).map(tuple)),
)


@settings(max_examples=150, deadline=None)
@given(tape_strategy)
def test_any_tape_survives_the_proto(tape: Tape) -> None:
    assert Tape.from_proto(tape_pb2.Tape.FromString(tape.to_proto().SerializeToString())) == tape


def test_bundle_round_trip() -> None:
    tape, blobs = sample()
    data = encode_bundle(tape, {**blobs, sha256_hex(b"unrelated"): b"unrelated"})
    assert data.startswith(MAGIC)
    bundle = decode_bundle(data)
    assert bundle.tape == tape
    assert dict(bundle.blobs) == blobs  # exactly the blobs the tape references
    assert bundle.tape.digest == tape.computed_digest()


def test_encoding_a_tape_without_its_blobs_is_refused() -> None:
    tape, blobs = sample()
    del blobs[tape.exchanges[1].response_sha256]
    with pytest.raises(TapeError, match="missing"):
        encode_bundle(tape, blobs)


# --- damage ---------------------------------------------------------------------------


def test_an_empty_file() -> None:
    with pytest.raises(TapeError, match="empty"):
        decode_bundle(b"", source="f.tftape")


def test_bad_magic() -> None:
    tape, blobs = sample()
    data = encode_bundle(tape, blobs)
    with pytest.raises(TapeError, match="bad magic"):
        decode_bundle(b"TFTAPE2\n" + data[len(MAGIC) :])
    with pytest.raises(TapeError, match="bad magic"):
        decode_bundle(b"PK\x03\x04 a zip file")


def test_every_truncation_is_refused() -> None:
    tape, blobs = sample()
    data = encode_bundle(tape, blobs)
    for size in range(len(data)):
        with pytest.raises(TapeError):
            decode_bundle(data[:size])


def test_corrupt_zstd() -> None:
    with pytest.raises(TapeError, match="corrupt"):
        decode_bundle(MAGIC + b"\x28\xb5\x2f\xfd garbage that is not a frame")
    with pytest.raises(TapeError):
        decode_bundle(MAGIC + b"not zstd at all")


def test_no_flipped_bit_decodes_to_another_tape() -> None:
    """Fields outside the digest (names, headers, timings) are covered by the frame's checksum."""
    tape, blobs = sample()
    data = encode_bundle(tape, blobs)
    for index, bit in itertools.product(range(len(data)), (0x01, 0x80)):
        damaged = bytearray(data)
        damaged[index] ^= bit
        try:
            bundle = decode_bundle(bytes(damaged))
        except TapeError:
            continue
        assert (bundle.tape, dict(bundle.blobs)) == (tape, blobs), f"bit {bit:#x} of byte {index}"


def test_garbage_inside_a_valid_frame() -> None:
    with pytest.raises(TapeError, match="corrupt tape message"):
        decode_bundle(MAGIC + zstandard.ZstdCompressor().compress(b"\xff\xff\xff\xff\xff"))


def test_wrong_inner_magic() -> None:
    tape, blobs = sample()
    with pytest.raises(TapeError, match="not a tracefork tape bundle"):
        decode_bundle(raw_bundle(bundle_message(tape, blobs, magic="something.else")))
    with pytest.raises(TapeError, match="not a tracefork tape bundle"):
        decode_bundle(MAGIC + zstandard.ZstdCompressor().compress(b""))  # an empty message


def test_a_newer_schema_is_refused() -> None:
    tape, blobs = sample()
    newer = dataclasses.replace(tape, schema=SCHEMA_VERSION + 1)
    with pytest.raises(TapeError, match="newer") as caught:
        decode_bundle(encode_bundle(newer, blobs))
    assert "upgrade" in str(caught.value)
    with pytest.raises(TapeError, match="schema"):
        decode_bundle(encode_bundle(dataclasses.replace(tape, schema=0), blobs))


def test_a_blob_whose_bytes_do_not_match_its_name() -> None:
    tape, blobs = sample()
    digest = tape.exchanges[1].response_sha256
    blobs[digest] = blobs[digest] + b" "
    with pytest.raises(TapeError, match=f"blob {digest[:16]}… is corrupt"):
        decode_bundle(raw_bundle(bundle_message(tape, blobs)))


def test_a_missing_blob() -> None:
    tape, blobs = sample()
    del blobs[tape.exchanges[2].request_sha256]
    with pytest.raises(TapeError, match="missing"):
        decode_bundle(raw_bundle(bundle_message(tape, blobs)))


def test_reordered_exchanges_do_not_match_the_digest() -> None:
    tape, blobs = sample()
    first, second = tape.exchanges[0], tape.exchanges[1]
    swapped = (dataclasses.replace(second, step=0), dataclasses.replace(first, step=1), tape.exchanges[2])
    tampered = dataclasses.replace(tape, exchanges=swapped)  # the digest of the original order
    with pytest.raises(TapeError, match="digest"):
        decode_bundle(encode_bundle(tampered, blobs))
    dropped = dataclasses.replace(tape, exchanges=tape.exchanges[:2])
    with pytest.raises(TapeError, match="digest"):
        decode_bundle(encode_bundle(dropped, blobs))


def test_an_oversized_claim_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    tape, blobs = sample()
    data = encode_bundle(tape, blobs)
    monkeypatch.setattr(codec_module, "MAX_BUNDLE_BYTES", 64)
    with pytest.raises(TapeError, match=r"limit|corrupt"):
        decode_bundle(data)
