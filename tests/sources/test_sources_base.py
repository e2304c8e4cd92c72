"""normalize_trace_id: the one form every source is asked with."""

from __future__ import annotations

import pytest

from tracefork_otel.errors import ConfigError
from tracefork_otel.sources import normalize_trace_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("  4bf92f3577b34da6a3ce929d0e0e4736\n", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("A3CE929D0E0E4736", "0000000000000000a3ce929d0e0e4736"),
        ("00000000000000000000000000000001", "00000000000000000000000000000001"),
    ],
)
def test_accepted(text: str, expected: str) -> None:
    assert normalize_trace_id(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "4bf92f3577b34da6a3ce929d0e0e473",  # 31 digits
        "4bf92f3577b34da6a3ce929d0e0e47366",  # 33
        "4bf92f35-77b3-4da6-a3ce-929d0e0e4736",  # a UUID
        "S/kvNXezTaajzpKdDg5HNg==",  # base64 is for the wire, not for people
        "0x4bf92f3577b34da6a3ce929d0e0e4736",
        "4bf92f3577b34da6a3ce929d0e0e473g",
        "\uff14bf92f3577b34da6a3ce929d0e0e4736",  # a full-width digit 4
    ],
)
def test_rejected_with_the_value_named(text: str) -> None:
    with pytest.raises(ConfigError, match="bad trace id") as caught:
        normalize_trace_id(text)
    assert repr(text.strip()) in str(caught.value)


def test_all_zero_id_is_invalid() -> None:
    with pytest.raises(ConfigError, match="all zeros"):
        normalize_trace_id("0" * 32)


def test_a_long_value_is_shortened_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        normalize_trace_id("f" * 5000)
    assert len(str(caught.value)) < 200


def test_not_a_string() -> None:
    with pytest.raises(ConfigError, match="bad trace id 12"):
        normalize_trace_id(12)  # type: ignore[arg-type]
