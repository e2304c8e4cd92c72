"""A tape's memory is bounded by counts, not only bytes: 100,000 tiny exchanges fit in ~160 KB.

At f8a9b07 such a bundle was decoded whole (425 MB for a 160 KB file); now the counts
are checked on the message before any exchange becomes a Python object.
"""

from __future__ import annotations

import pytest

from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.errors import TapeError
from tracefork_otel.tape import Exchange, Tape, decode_bundle, encode_bundle, tape_digest
from tracefork_otel.tape.codec import MAX_TAPE_EXCHANGES


def test_a_tape_of_too_many_exchanges_is_refused_before_it_is_decoded() -> None:
    body = b"{}"
    exchanges = tuple(
        Exchange(step=i, request_sha256=sha256_hex(body), response_sha256=sha256_hex(body))
        for i in range(MAX_TAPE_EXCHANGES + 1)
    )
    tape = Tape(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", exchanges=exchanges, digest=tape_digest(exchanges, ()))
    data = encode_bundle(tape, {sha256_hex(body): body})
    assert len(data) < 200_000  # tiny on disk
    with pytest.raises(TapeError, match=f"{MAX_TAPE_EXCHANGES + 1} exchanges is over the limit"):
        decode_bundle(data)


def test_a_tape_at_the_limit_is_read() -> None:
    body = b"{}"
    exchanges = tuple(
        Exchange(step=i, request_sha256=sha256_hex(body), response_sha256=sha256_hex(body)) for i in range(100)
    )
    tape = Tape(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", exchanges=exchanges, digest=tape_digest(exchanges, ()))
    assert len(decode_bundle(encode_bundle(tape, {sha256_hex(body): body})).tape.exchanges) == 100
