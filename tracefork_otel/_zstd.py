"""Decompressing a zstd frame under a size cap, without letting a bomb cost memory.

A frame that declares its size is checked against the cap before anything is
decompressed (zstd then holds it to that size). A frame that does not is decompressed
twice: once to count its size, keeping nothing (a 64 KiB frame expanding to gigabytes
is refused having held one 128 KiB window), then for real into a buffer of exactly
that size. Only the first frame is read, as ``ZstdDecompressor.decompress`` does.
"""

from __future__ import annotations

import zstandard

from tracefork_otel.errors import FrameTooLarge

_COUNT_CHUNK = 128 * 1024


def decompress_capped(decompressor: zstandard.ZstdDecompressor, frame: bytes, limit: int) -> bytes:
    """The first frame of ``frame``, decompressed, if it is at most ``limit`` bytes.

    Raises:
        FrameTooLarge: the frame declares more than ``limit`` bytes (``size`` is the claim) or
            expands past it (``size`` is the limit).
        zstandard.ZstdError: not a zstd frame, truncated, or corrupt.
    """
    params = zstandard.get_frame_parameters(frame)
    if params.content_size != zstandard.CONTENTSIZE_UNKNOWN:
        if params.content_size > limit:
            raise FrameTooLarge(params.content_size, declared=True)
        return decompressor.decompress(frame)
    size = 0
    for chunk in decompressor.read_to_iter(frame, write_size=_COUNT_CHUNK):
        size += len(chunk)
        if size > limit:
            raise FrameTooLarge(limit, declared=False)
    return decompressor.decompress(frame, max_output_size=max(size, 1))
