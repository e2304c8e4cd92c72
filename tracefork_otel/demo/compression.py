"""Compressing the stand-in endpoint's responses, as a gateway, proxy or CDN in front of the API would.

`Compression` names the codings to apply (in order, as ``content-encoding: gzip, br``
lists them) and whether the client's ``accept-encoding`` is honoured. `BodyCompressor`
compresses one body, either whole or piece by piece with a flush after each piece, so a
compressed SSE stream still delivers every event as it is written.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import zstandard

from tracefork_otel.contentcoding import ACCEPT_ENCODING, ContentCoding, brotli, listed_codings
from tracefork_otel.errors import ConfigError

RAW_DEFLATE: Final = "deflate-raw"
"""A server-side variant: sent as ``content-encoding: deflate`` but without the zlib wrapper, as some servers do."""


class _Codec(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...  # everything so far, decodable on arrival
    def finish(self) -> bytes: ...


class _Zlib:
    def __init__(self, wbits: int) -> None:
        self._c = zlib.compressobj(wbits=wbits)

    def compress(self, data: bytes) -> bytes:
        return self._c.compress(data)

    def flush(self) -> bytes:
        return self._c.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._c.flush(zlib.Z_FINISH)


class _Brotli:
    def __init__(self) -> None:
        self._c = brotli.Compressor()

    def compress(self, data: bytes) -> bytes:
        return bytes(self._c.process(data))

    def flush(self) -> bytes:
        return bytes(self._c.flush())

    def finish(self) -> bytes:
        return bytes(self._c.finish())


class _Zstd:
    def __init__(self) -> None:
        self._c = zstandard.ZstdCompressor().compressobj()

    def compress(self, data: bytes) -> bytes:
        return self._c.compress(data)

    def flush(self) -> bytes:
        return self._c.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK)

    def finish(self) -> bytes:
        return self._c.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH)


def _codec(coding: str) -> _Codec:
    if coding == ContentCoding.GZIP:
        return _Zlib(zlib.MAX_WBITS | 16)
    if coding == ContentCoding.DEFLATE:
        return _Zlib(zlib.MAX_WBITS)
    if coding == RAW_DEFLATE:
        return _Zlib(-zlib.MAX_WBITS)
    if coding == ContentCoding.BR:
        return _Brotli()
    return _Zstd()


_CODINGS: Final = frozenset({*ContentCoding, RAW_DEFLATE}) - {ContentCoding.IDENTITY}


@dataclass(frozen=True)
class Compression:
    """How the endpoint compresses its responses.

    Raises:
        ConfigError: no codings, an unknown one, or ``br`` without a brotli module.
    """

    codings: tuple[str, ...]
    """Applied in this order (``gzip``, ``deflate``, ``deflate-raw``, ``br``, ``zstd``)."""
    ignore_accept_encoding: bool = False
    """Compress whatever the client accepts (a misbehaving gateway); by default a client that does
    not accept every coding gets the plain body."""

    def __post_init__(self) -> None:
        unknown = [c for c in self.codings if c not in _CODINGS]
        if not self.codings or unknown:
            raise ConfigError(f"compression codings must be some of {sorted(_CODINGS)}, got {list(self.codings)}")
        if ContentCoding.BR in self.codings and brotli is None:
            raise ConfigError("br compression needs the brotli module")

    @property
    def header(self) -> str:
        """The ``content-encoding`` value sent."""
        return ", ".join(ContentCoding.DEFLATE if c == RAW_DEFLATE else c for c in self.codings)

    def applies(self, request_headers: Mapping[str, str]) -> bool:
        """Whether a request with these headers (names lowercased) gets a compressed answer."""
        if self.ignore_accept_encoding:
            return True
        accepted = {name.split(";")[0].strip() for name in listed_codings([request_headers.get(ACCEPT_ENCODING, "")])}
        return all(ContentCoding.DEFLATE in accepted if c == RAW_DEFLATE else c in accepted for c in self.codings)


class BodyCompressor:
    """Compresses one body with a chain of codings; each `push` returns bytes decodable on arrival."""

    def __init__(self, codings: Sequence[str]) -> None:
        self._codecs = [_codec(c) for c in codings]

    def push(self, data: bytes) -> bytes:
        """Compress ``data`` and flush every coding, so a client can decode all of it now."""
        for codec in self._codecs:
            data = codec.compress(data) + codec.flush()
        return data

    def finish(self, data: bytes = b"") -> bytes:
        """The rest of the body, ``data``, and its end (trailers, checksums): a whole body is ``finish(body)``."""
        for codec in self._codecs:
            data = codec.compress(data) + codec.finish()
        return data
