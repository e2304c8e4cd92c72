"""``.tftape`` bundles: a tape and every blob it references, as one self-contained file.

File layout: the 8-byte magic ``b"TFTAPE1\\n"`` then one zstd frame holding a
``tracefork.v1.Bundle`` message. The codec turns objects into bytes and back; it does
not know where the bytes are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import zstandard
from google.protobuf.message import DecodeError

from tracefork_otel._proto.tracefork.v1 import tape_pb2
from tracefork_otel._zstd import decompress_capped
from tracefork_otel.blobstore.base import sha256_hex
from tracefork_otel.errors import FrameTooLarge, TapeError
from tracefork_otel.tape.model import SCHEMA_VERSION, Tape

MAGIC = b"TFTAPE1\n"
BUNDLE_MAGIC = "tracefork.tape"
MAX_BUNDLE_BYTES = 1024 * 1024 * 1024
MAX_TAPE_EXCHANGES = 10_000
"""Most exchanges a tape may hold: each costs ~4 KB once decoded, and a bundle of tiny exchanges
compresses to almost nothing (100,000 of them fit in 160 KB), so bytes alone do not bound memory."""
MAX_TAPE_DRAWS = 100_000
"""Most nondeterminism draws a tape may hold (the same reason)."""
"""Largest decompressed bundle a reader accepts (a bigger one is refused before it is held in memory)."""


@dataclass(frozen=True)
class Bundle:
    """A tape with its blobs, as read from or written to a ``.tftape`` file."""

    tape: Tape
    blobs: Mapping[str, bytes]


def encode_bundle(tape: Tape, blobs: Mapping[str, bytes]) -> bytes:
    """The ``.tftape`` bytes of ``tape`` and the blobs it references.

    Raises:
        TapeError: a blob the tape references is missing from ``blobs``.
    """
    msg = tape_pb2.Bundle(magic=BUNDLE_MAGIC, tape=tape.to_proto())
    for digest in tape.blob_digests():
        data = blobs.get(digest)
        if data is None:
            raise TapeError(f"cannot bundle tape {tape.trace_id}: blob {digest[:16]}… is missing")
        msg.blobs.append(tape_pb2.Blob(sha256=digest, data=data))
    for digest in tape.run_blob_digests():  # the run's inputs and outcome travel when there are
        if digest in blobs:
            msg.blobs.append(tape_pb2.Blob(sha256=digest, data=blobs[digest]))
    return MAGIC + zstandard.ZstdCompressor(level=9, write_checksum=True).compress(msg.SerializeToString())


def decode_bundle(data: bytes, *, source: str = "tape") -> Bundle:
    """Read a ``.tftape`` file's bytes, checking everything a corrupt or foreign file could break.

    Raises:
        TapeError: not a tape, truncated, corrupt, of a newer schema, a blob whose bytes
            do not match its name, or a digest that does not match the content.
    """
    if not data.startswith(MAGIC):
        what = "empty file" if not data else "not a .tftape file (bad magic)"
        raise TapeError(f"{source}: {what}")
    try:
        raw = decompress_capped(zstandard.ZstdDecompressor(), data[len(MAGIC) :], MAX_BUNDLE_BYTES)
    except FrameTooLarge as exc:
        raise TapeError(f"{source}: {exc}, over the limit of {MAX_BUNDLE_BYTES}") from exc
    except zstandard.ZstdError as exc:
        raise TapeError(f"{source}: corrupt or truncated ({exc})") from exc
    msg = tape_pb2.Bundle()
    try:
        msg.ParseFromString(raw)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise TapeError(f"{source}: corrupt tape message ({exc})") from exc
    if msg.magic != BUNDLE_MAGIC:
        raise TapeError(f"{source}: not a tracefork tape bundle")
    if msg.tape.schema > SCHEMA_VERSION:
        raise TapeError(
            f"{source}: tape schema {msg.tape.schema} is newer than this tfotel reads ({SCHEMA_VERSION});"
            " upgrade tracefork-otel"
        )
    if msg.tape.schema < 1:
        raise TapeError(f"{source}: tape has no schema version")
    for what, count, cap in (
        ("exchanges", len(msg.tape.exchanges), MAX_TAPE_EXCHANGES),
        ("draws", len(msg.tape.draws), MAX_TAPE_DRAWS),
    ):
        if count > cap:
            raise TapeError(f"{source}: {count} {what} is over the limit of {cap}; nothing was read")
    tape = Tape.from_proto(msg.tape)
    blobs: dict[str, bytes] = {}
    for blob in msg.blobs:
        actual = sha256_hex(blob.data)
        if actual != blob.sha256:
            raise TapeError(f"{source}: blob {blob.sha256[:16]}… is corrupt (hashes to {actual[:16]}…)")
        blobs[blob.sha256] = blob.data
    missing = [d for d in tape.blob_digests() if d not in blobs]
    if missing:
        raise TapeError(f"{source}: {len(missing)} blob(s) missing, first {missing[0][:16]}…")
    if tape.digest != tape.computed_digest():
        raise TapeError(f"{source}: tape digest does not match its exchanges (tampered or reordered)")
    return Bundle(tape=tape, blobs=blobs)
