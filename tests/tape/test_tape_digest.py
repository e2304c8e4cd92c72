"""The tape digest: every covered field moves it, the rest does not."""

from __future__ import annotations

import dataclasses

import pytest

from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.tape import Draw, Exchange, Tape, tape_digest

A, B, C, D = (sha256_hex(x) for x in (b"a", b"b", b"c", b"d"))
EXCHANGES = (
    Exchange(step=0, request_sha256=A, response_sha256=B),
    Exchange(step=1, request_sha256=C, response_sha256=D, stream=True),
)
DRAWS = (Draw(0, "random", "0.5"), Draw(1, "new_id", "rf_1"))
BASE = tape_digest(EXCHANGES, DRAWS)

COVERED_EXCHANGE_CHANGES = {
    "step": 7,
    "request_sha256": sha256_hex(b"other request"),
    "response_sha256": sha256_hex(b"other response"),
    "status_code": 529,
    "stream": True,  # booleans are flipped
    "incomplete": True,
}
UNCOVERED_EXCHANGE_CHANGES = {
    "method": "GET",
    "url_path": "/v1/other",
    "response_headers": (("retry-after", "1"),),
    "span_id": "00f067aa0ba902b7",
    "start_time_unix_nano": 1,
    "end_time_unix_nano": 2,
    "request_model": "claude",
    "error_type": "529",
}


@pytest.mark.parametrize(("field", "value"), COVERED_EXCHANGE_CHANGES.items())
@pytest.mark.parametrize("index", [0, 1])
def test_a_covered_exchange_field_changes_the_digest(index: int, field: str, value: object) -> None:
    exchanges = list(EXCHANGES)
    if isinstance(value, bool):
        value = not getattr(exchanges[index], field)
    exchanges[index] = dataclasses.replace(exchanges[index], **{field: value})
    assert tape_digest(exchanges, DRAWS) != BASE


@pytest.mark.parametrize(("field", "value"), UNCOVERED_EXCHANGE_CHANGES.items())
def test_timing_and_display_fields_do_not(field: str, value: object) -> None:
    exchanges = [dataclasses.replace(EXCHANGES[0], **{field: value}), EXCHANGES[1]]
    assert tape_digest(exchanges, DRAWS) == BASE


@pytest.mark.parametrize(("field", "value"), [("order", 5), ("kind", "now_iso"), ("value", "0.25")])
def test_a_draw_field_changes_the_digest(field: str, value: object) -> None:
    draws = [dataclasses.replace(DRAWS[0], **{field: value}), DRAWS[1]]
    assert tape_digest(EXCHANGES, draws) != BASE


def test_dropping_or_reordering_changes_the_digest() -> None:
    assert tape_digest(EXCHANGES[:1], DRAWS) != BASE
    assert tape_digest(EXCHANGES, DRAWS[:1]) != BASE
    assert tape_digest((), ()) != BASE
    swapped = [
        dataclasses.replace(EXCHANGES[1], step=0),
        dataclasses.replace(EXCHANGES[0], step=1),
    ]
    assert tape_digest(swapped, DRAWS) != BASE
    swapped_draws = [dataclasses.replace(DRAWS[1], order=0), dataclasses.replace(DRAWS[0], order=1)]
    assert tape_digest(EXCHANGES, swapped_draws) != BASE


def test_the_digest_follows_steps_not_list_order() -> None:
    assert tape_digest(reversed(EXCHANGES), reversed(DRAWS)) == BASE


def test_draw_text_boundaries_are_unambiguous() -> None:
    assert tape_digest((), [Draw(0, "a|b", "c")]) != tape_digest((), [Draw(0, "a", "b|c")])


def test_a_sealed_tape_carries_its_digest() -> None:
    tape = Tape(trace_id="ab" * 16, exchanges=EXCHANGES, draws=DRAWS)
    assert tape.digest == ""
    assert tape.sealed().digest == BASE == tape.computed_digest()
    assert tape.blob_digests() == [A, B, C, D]
