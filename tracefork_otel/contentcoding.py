"""HTTP content codings (``content-encoding``): their names, undoing them under a size cap, and spotting them.

The recorder keeps the body an HTTP client hands its caller, not the bytes that
crossed the wire: with ``content-encoding: gzip`` (a gateway, proxy or CDN that
compresses) the SDK parses the decompressed JSON or SSE, so that is what is hashed,
stored and replayed. This module undoes the codings the way ``httpx``/``httpx2`` do
(``httpx2/_decoders.py``): the listed codings are undone last-applied first,
``identity`` and codings the client does not decode are skipped, ``deflate`` is
zlib-wrapped or (from servers that misread the RFC) raw, ``zstd`` may hold several
frames, and a truncated body gives what it holds so far.

Every decoder yields pieces of at most ``PIECE_BYTES``, so no single step of a chain
can inflate a small input into a large buffer; `decode` keeps the pieces only while
they are small and otherwise counts the whole output first, keeping nothing, so a
decompression bomb is refused at ``limit`` having held about two pieces.
"""

from __future__ import annotations

import enum
import importlib
import itertools
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Any, Final, cast

import zstandard

from tracefork_otel.errors import ContentDecodingError

brotli: Any
try:
    brotli = importlib.import_module("brotli")  # untyped, and optional
except ImportError:  # pragma: no cover - br is decoded only where a brotli module is installed
    brotli = None

_CODEC_ERRORS: Final[tuple[type[Exception], ...]] = (zlib.error, zstandard.ZstdError) + (
    () if brotli is None else (brotli.error,)
)

CONTENT_ENCODING: Final = "content-encoding"
CONTENT_LENGTH: Final = "content-length"
TRANSFER_ENCODING: Final = "transfer-encoding"
ACCEPT_ENCODING: Final = "accept-encoding"

PIECE_BYTES: Final = 1 << 20
"""The most one decoder yields at once (as ``httpx2``'s ``MAX_DECODE_CHUNK_SIZE``)."""
MAX_CODINGS: Final = 5
"""The most codings one body may list (``httpx2`` refuses more, so the SDK never parsed such a body)."""


class ContentCoding(enum.StrEnum):
    """The content codings ``httpx``/``httpx2`` decode (``br`` and ``zstd`` only with their modules installed)."""

    IDENTITY = "identity"
    GZIP = "gzip"
    DEFLATE = "deflate"
    BR = "br"
    ZSTD = "zstd"


_KNOWN: Final = frozenset(ContentCoding)


def listed_codings(values: Iterable[str]) -> list[str]:
    """The codings named by ``content-encoding`` header values, lowercased, in the order they were applied."""
    return [name for value in values for part in value.split(",") if (name := part.strip().lower())]


def codings_to_undo(listed: Sequence[str], decoded_by_client: Iterable[str]) -> tuple[ContentCoding, ...]:
    """The codings the client undid, in the order it undid them (last applied first).

    Args:
        listed: the body's codings as applied (`listed_codings`).
        decoded_by_client: the codings the client's HTTP library decodes; others reached the caller as they were.

    Raises:
        ContentDecodingError: more than ``MAX_CODINGS`` codings to undo.
    """
    client = frozenset(decoded_by_client)
    undo = [name for name in listed if name in client and name != ContentCoding.IDENTITY]
    unknown = [name for name in undo if name not in _KNOWN]
    if unknown:
        raise ContentDecodingError(f"{unknown[0][:40]!r}: a content coding the client undoes and this recorder cannot")
    if len(undo) > MAX_CODINGS:
        raise ContentDecodingError(f"{len(undo)} content codings, more than the {MAX_CODINGS} a client undoes")
    return tuple(ContentCoding(name) for name in reversed(undo))


def _inflate(pieces: Iterable[bytes], wbits: int) -> Iterator[bytes]:
    decompressor = zlib.decompressobj(wbits)
    for data in pieces:
        out = decompressor.decompress(data, PIECE_BYTES)
        while out:
            yield out
            out = decompressor.decompress(decompressor.unconsumed_tail, PIECE_BYTES)
    if tail := decompressor.flush():
        yield tail


def _gzip(pieces: Iterable[bytes]) -> Iterator[bytes]:
    return _inflate(pieces, zlib.MAX_WBITS | 16)


def _deflate(pieces: Iterable[bytes]) -> Iterator[bytes]:
    source = iter(pieces)
    first = next(source, b"")
    try:
        zlib.decompressobj().decompress(first, 1)
        wbits = zlib.MAX_WBITS
    except zlib.error:
        wbits = -zlib.MAX_WBITS  # raw deflate, as some servers send it and httpx accepts
    return _inflate(itertools.chain([first], source), wbits)


def _brotli(pieces: Iterable[bytes]) -> Iterator[bytes]:
    if brotli is None:
        raise ContentDecodingError("br: no brotli module is installed here")
    decompressor = brotli.Decompressor()
    limit = PIECE_BYTES // 2  # the C backend may allocate nearly twice the limit
    for data in pieces:
        out = decompressor.process(data, output_buffer_limit=limit)
        while out:
            yield out
            out = decompressor.process(b"", output_buffer_limit=limit)


class _PieceReader:
    """``read(size)`` over an iterator of pieces: the source zstandard's ``stream_reader`` pulls from."""

    def __init__(self, pieces: Iterable[bytes]) -> None:
        self._pieces = iter(pieces)
        self._view = memoryview(b"")

    def read(self, size: int = -1) -> bytes:
        while not self._view:
            piece = next(self._pieces, None)
            if piece is None:
                return b""
            self._view = memoryview(piece)
        size = len(self._view) if size < 0 else size
        out, self._view = self._view[:size], self._view[size:]
        return bytes(out)


def _zstd(pieces: Iterable[bytes]) -> Iterator[bytes]:
    reader = zstandard.ZstdDecompressor().stream_reader(cast(IO[bytes], _PieceReader(pieces)), read_across_frames=True)
    while out := reader.read(PIECE_BYTES):
        yield out


_DECODERS: Final[dict[ContentCoding, Callable[[Iterable[bytes]], Iterator[bytes]]]] = {
    ContentCoding.GZIP: _gzip,
    ContentCoding.DEFLATE: _deflate,
    ContentCoding.BR: _brotli,
    ContentCoding.ZSTD: _zstd,
}


def _pieces(body: bytes, codings: Sequence[ContentCoding]) -> Iterator[bytes]:
    pieces: Iterable[bytes] = (body,)
    for coding in codings:
        pieces = _DECODERS[coding](pieces)
    return iter(pieces)


def decode(body: bytes, codings: Sequence[ContentCoding], *, limit: int) -> bytes:
    """``body`` with ``codings`` undone in that order (`codings_to_undo`), if it decodes to at most ``limit`` bytes.

    Memory stays near ``2 * PIECE_BYTES`` plus the result whatever ``body`` claims: past one
    piece, the output is counted to its end keeping nothing, then decoded again.

    Raises:
        ContentDecodingError: the body is corrupt for its coding, a coding cannot be undone
            here (``br`` without a brotli module), or it expands past ``limit``.
    """
    if not codings:
        return body
    names = ", ".join(reversed(codings))
    try:
        size, kept = 0, []
        for piece in _pieces(body, codings):
            size += len(piece)
            if size > limit:
                raise ContentDecodingError(f"{names}: the body expands to more than {limit} bytes")
            if size <= PIECE_BYTES:
                kept.append(piece)
            else:
                kept.clear()
        if size <= PIECE_BYTES:
            return b"".join(kept)
        out = bytearray()
        for piece in _pieces(body, codings):
            out += piece
        return bytes(out)
    except ContentDecodingError:
        raise
    except _CODEC_ERRORS as exc:
        raise ContentDecodingError(f"{names}: {exc}") from exc


_MAGIC: Final = ((b"\x1f\x8b", ContentCoding.GZIP), (b"\x28\xb5\x2f\xfd", ContentCoding.ZSTD))


def sniff_coding(body: bytes) -> ContentCoding | None:
    """The coding ``body`` visibly starts with (gzip and zstd magic, a zlib header), else None.

    Raw deflate and brotli have no signature, so they are not recognised.
    """
    for magic, coding in _MAGIC:
        if body.startswith(magic):
            return coding
    if len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0:
        return ContentCoding.DEFLATE  # a zlib header: CM = 8 and the FCHECK bits (RFC 1950)
    return None
