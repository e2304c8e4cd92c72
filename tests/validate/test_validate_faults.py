"""The fault library: every fault yields a new, valid, different Message through its own mechanism."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest
from anthropic.types import Message

from tracefork_otel.errors import ConfigError
from tracefork_otel.validate.faults import (
    FAULTS,
    CorruptToolArgument,
    DroppedMessage,
    FaultNotApplicable,
    MisleadingText,
    TruncatedResponse,
    WrongInstruction,
    applicable,
    fault,
)
from tracefork_otel.validate.ledger import NOTE_PATTERN
from tracefork_otel.wire import message

POSTING = message(
    "Posting operation 3: debit ACC-2 by 25.",
    tool_use={"name": "debit", "input": {"index": 3, "account": "ACC-2", "amount": 25.0}},
)
LOOKUP_ONLY = message(tool_use={"name": "lookup_order", "input": {"order_id": "A-1001"}})
TWO_CALLS = message(
    "Two postings.",
    tool_use=[
        {"name": "credit", "input": {"index": 0, "account": "ACC-1", "amount": "12.50"}},
        {"name": "debit", "input": {"index": 1, "account": "ACC-3", "amount": 7}},
    ],
)
TEXT_ONLY = message("Refunded 129.99 USD for order A-1001.")
MESSAGES: dict[str, dict[str, Any]] = {
    "posting": POSTING,
    "lookup-only": LOOKUP_ONLY,
    "two-calls": TWO_CALLS,
    "text-only": TEXT_ONLY,
}
NOT_APPLICABLE = {("wrong_instruction", "text-only")}


def _tool_uses(msg: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in msg["content"] if b["type"] == "tool_use"]


@pytest.mark.parametrize("message_name", sorted(MESSAGES))
@pytest.mark.parametrize("fault_name", sorted(FAULTS))
def test_fault_output_is_a_new_valid_different_message(fault_name: str, message_name: str) -> None:
    original = MESSAGES[message_name]
    snapshot = copy.deepcopy(original)
    for seed in range(8):
        if (fault_name, message_name) in NOT_APPLICABLE:
            with pytest.raises(FaultNotApplicable, match=fault_name):
                FAULTS[fault_name].apply(original, random.Random(seed))
            continue
        out = FAULTS[fault_name].apply(original, random.Random(seed))
        Message.model_validate(out)
        assert out != original
        assert out is not original and out["content"] is not original["content"]
        assert original == snapshot, "the fault mutated its input"


def test_applicable_lists_the_faults_that_can_act() -> None:
    assert applicable(POSTING) == tuple(FAULTS)
    assert "wrong_instruction" not in applicable(TEXT_ONLY)
    assert applicable(message("No digits here.")) == ("misleading_text", "dropped_message", "truncated_response")


def test_registry_has_five_mechanisms_and_a_clear_lookup_error() -> None:
    assert len(FAULTS) >= 5
    assert len({type(f) for f in FAULTS.values()}) >= 5
    for name, f in FAULTS.items():
        assert f.name == name
        line = f.describe()
        assert line.startswith(name) and "\n" not in line
    assert fault("dropped_message") is FAULTS["dropped_message"]
    with pytest.raises(ConfigError, match="unknown fault 'nope'; valid faults: corrupt_tool_argument, "):
        fault("nope")


def test_corrupt_tool_argument_scales_the_amount_by_ten() -> None:
    for seed in range(10):
        out = CorruptToolArgument().apply(POSTING, random.Random(seed))
        (call,) = _tool_uses(out)
        assert call["input"]["amount"] in (250, 2.5)
        assert call["input"]["account"] == "ACC-2" and call["name"] == "debit"
        (string_amount, _) = _tool_uses(CorruptToolArgument().apply(TWO_CALLS, random.Random(seed)))
        assert string_amount["input"]["amount"] in ("125.00", "1.25")


def test_corrupt_tool_argument_alters_an_id_when_nothing_is_numeric() -> None:
    out = CorruptToolArgument().apply(LOOKUP_ONLY, random.Random(1))
    order_id = _tool_uses(out)[0]["input"]["order_id"]
    assert order_id != "A-1001" and order_id[:-1] == "A-100"


def test_misleading_text_names_a_wrong_account_the_clerk_would_follow() -> None:
    for seed in range(10):
        out = MisleadingText().apply(POSTING, random.Random(seed))
        assert out["content"][0]["type"] == "text"
        found = NOTE_PATTERN.search(out["content"][0]["text"])
        assert found and found.group(1) != "ACC-2"
        assert _tool_uses(out) == _tool_uses(POSTING)
    added = MisleadingText().apply(LOOKUP_ONLY, random.Random(0))
    assert added["content"][0]["type"] == "text" and len(added["content"]) == 2


def test_wrong_instruction_swaps_the_tool() -> None:
    assert _tool_uses(WrongInstruction().apply(POSTING, random.Random(0)))[0]["name"] == "credit"
    assert _tool_uses(WrongInstruction().apply(LOOKUP_ONLY, random.Random(0)))[0]["name"] == "issue_refund"
    unknown = message(tool_use={"name": "frobnicate", "input": {}})
    assert _tool_uses(WrongInstruction().apply(unknown, random.Random(0)))[0]["name"] == "legacy_frobnicate"


def test_dropped_message_leaves_only_the_text() -> None:
    out = DroppedMessage().apply(POSTING, random.Random(0))
    assert [b["type"] for b in out["content"]] == ["text"]
    assert out["stop_reason"] == "end_turn"
    two = DroppedMessage().apply(TWO_CALLS, random.Random(0))
    assert [c["input"]["index"] for c in _tool_uses(two)] == [1] and two["stop_reason"] == "tool_use"
    with pytest.raises(FaultNotApplicable):
        DroppedMessage().apply(message(tool_use=[]), random.Random(0))


def test_truncated_response_stops_at_max_tokens_mid_call() -> None:
    out = TruncatedResponse().apply(POSTING, random.Random(0))
    assert out["stop_reason"] == "max_tokens"
    (call,) = _tool_uses(out)
    assert set(call["input"]) < {"index", "account", "amount"} and "amount" not in call["input"]
    two = TruncatedResponse().apply(TWO_CALLS, random.Random(0))
    assert len(_tool_uses(two)) == 1, "blocks after the cut are gone"
    text = TruncatedResponse().apply(TEXT_ONLY, random.Random(0))
    assert TEXT_ONLY["content"][0]["text"].startswith(text["content"][0]["text"])
    assert len(text["content"][0]["text"]) < len(TEXT_ONLY["content"][0]["text"])
