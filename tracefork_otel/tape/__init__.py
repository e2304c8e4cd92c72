"""The tape: a recorded run's exchanges and draws, its digest, and the ``.tftape`` codec."""

from __future__ import annotations

from tracefork_otel.tape.codec import Bundle, decode_bundle, encode_bundle
from tracefork_otel.tape.digest import tape_digest
from tracefork_otel.tape.model import SCHEMA_VERSION, Draw, DrawKind, Exchange, Tape

__all__ = [
    "SCHEMA_VERSION",
    "Bundle",
    "Draw",
    "DrawKind",
    "Exchange",
    "Tape",
    "decode_bundle",
    "encode_bundle",
    "tape_digest",
]
