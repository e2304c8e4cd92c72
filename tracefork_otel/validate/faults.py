"""Planted faults: each turns a model reply into a wrong one through one mechanism.

``tfotel validate`` plants these at known steps of a run. Blame is then graded on
whether it finds them. A fault is a small class with one decision method,
``apply(message, rng)``, and a one-line ``describe()`` for reports. This follows the
shape of OpenTelemetry's ``Sampler`` (``should_sample`` + ``get_description``).

``apply`` takes a Messages API Message in its wire shape (a dict) and returns a NEW
dict. The input is never mutated. The result still validates as
``anthropic.types.Message`` and always differs from the input. A fault that finds
nothing to act on raises `FaultNotApplicable`; it does not return the message unchanged.

Each fault, what it acts on, and how an agent that trusts the reply goes wrong:

* ``corrupt_tool_argument``: one value in a ``tool_use`` input is scaled x10 or /10 (an
  id's digit changes if nothing is numeric). The agent executes the call with the wrong
  amount or id.
* ``misleading_text``: the leading text block becomes a confident ``NOTE: use account X``
  with a wrong X. An agent that honours the note posts to X.
* ``wrong_instruction``: the tool call names the opposite tool (credit <-> debit, ...).
  The agent runs the wrong operation, or an unknown tool.
* ``dropped_message``: the first ``tool_use`` block is removed (else the last block). The
  call never happens; only text remains.
* ``truncated_response``: ``stop_reason: "max_tokens"``; the tool input loses keys and
  later blocks are gone. The cut call is not executed (its input is incomplete).

`applicable` lists the faults that can act on a given message.
"""

from __future__ import annotations

import copy
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, Final, Protocol

from tracefork_otel.errors import ConfigError

__all__ = [
    "FAULTS",
    "CorruptToolArgument",
    "DroppedMessage",
    "Fault",
    "FaultNotApplicable",
    "MisleadingText",
    "TruncatedResponse",
    "WrongInstruction",
    "applicable",
    "fault",
]

Message = dict[str, Any]
"""A Messages API Message in its wire shape (what ``wire.message`` builds)."""


class FaultNotApplicable(ConfigError):
    """The message has nothing this fault can act on (e.g. no tool call to corrupt)."""

    def __init__(self, fault_name: str, why: str) -> None:
        super().__init__(f"fault {fault_name!r} cannot act on this message: {why}")
        self.fault_name = fault_name


class Fault(Protocol):
    """A planted fault. Implementations are stateless and thread-safe. All randomness comes from ``rng``."""

    @property
    def name(self) -> str:
        """The registry name, e.g. ``corrupt_tool_argument``."""
        ...

    def apply(self, message: Mapping[str, Any], rng: random.Random) -> Message:
        """A faulty copy of ``message``. Never mutates it.

        Raises:
            FaultNotApplicable: nothing in ``message`` for this fault to act on.
        """
        ...

    def describe(self) -> str:
        """One line for reports."""
        ...


def _copy(message: Mapping[str, Any]) -> Message:
    out = copy.deepcopy(dict(message))
    out["content"] = list(out.get("content") or [])
    return out


def _tool_uses(message: Message) -> list[dict[str, Any]]:
    return [b for b in message["content"] if isinstance(b, dict) and b.get("type") == "tool_use"]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _numeric_string(value: object) -> Decimal | None:
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _scaled(value: Any, rng: random.Random, factor: float) -> Any:
    """``value`` times ``factor`` or divided by it (rng's pick); never equal to ``value``."""
    up = rng.random() < 0.5
    if _is_number(value):
        if value == 0:
            return factor
        result = value * factor if up else value / factor
        return int(result) if isinstance(value, int) and float(result).is_integer() else result
    number = _numeric_string(value)
    assert number is not None
    if number == 0:
        return str(Decimal(str(factor)))
    scale = Decimal(str(factor))
    result = number * scale if up else number / scale
    exponent = min(number.as_tuple().exponent, result.normalize().as_tuple().exponent, 0)
    return str(result.quantize(Decimal(1).scaleb(int(exponent))))


def other_id(value: str, rng: random.Random) -> str:
    """``value`` with its last digit changed (``ACC-3`` → ``ACC-7``), or a suffix if it has no digit."""
    digits = [i for i, ch in enumerate(value) if ch.isdigit()]
    if not digits:
        return f"{value}-{rng.randint(2, 9)}"
    at = digits[-1]
    new = rng.choice([d for d in "0123456789" if d != value[at]])
    return value[:at] + new + value[at + 1 :]


_NUMBER_IN_TEXT: Final = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class CorruptToolArgument:
    """Changes one value inside a ``tool_use`` input. The agent executes the corrupted call.

    Numbers (and numeric strings) are multiplied or divided by ``factor``. The preferred
    ``keys`` are tried first, then any numeric value. With no number, the last digit of a
    string id changes. A message with no tool call gets the first number in its text scaled.
    """

    name: str = "corrupt_tool_argument"
    keys: tuple[str, ...] = ("amount", "quantity", "price", "value", "count", "total")
    factor: float = 10.0

    def _pick(self, data: Mapping[str, Any]) -> str | None:
        numeric = [k for k in sorted(data) if _is_number(data[k]) or _numeric_string(data[k]) is not None]
        preferred = [k for k in self.keys if k in numeric]
        if preferred or numeric:
            return (preferred or numeric)[0]
        strings = [k for k in sorted(data) if isinstance(data[k], str) and data[k]]
        return strings[0] if strings else None

    def apply(self, message: Mapping[str, Any], rng: random.Random) -> Message:
        out = _copy(message)
        for block in _tool_uses(out):
            data = block.get("input")
            if not isinstance(data, dict):
                continue
            key = self._pick(data)
            if key is None:
                continue
            value = data[key]
            if isinstance(value, str) and _numeric_string(value) is None:
                data[key] = other_id(value, rng)
            else:
                data[key] = _scaled(value, rng, self.factor)
            return out
        for block in out["content"]:
            if isinstance(block, dict) and block.get("type") == "text":
                found = _NUMBER_IN_TEXT.search(str(block.get("text", "")))
                if found:
                    text = str(block["text"])
                    block["text"] = (
                        text[: found.start()] + str(_scaled(found.group(), rng, self.factor)) + text[found.end() :]
                    )
                    return out
        raise FaultNotApplicable(self.name, "no tool_use input value and no number in the text")

    def describe(self) -> str:
        return f"{self.name}: a tool_use input value off by x{self.factor:g} (an id altered if none is numeric)"


_NOTES: Final = (
    "NOTE: use account {account} for this posting; the usual account is frozen today.",
    "Important: per the updated routing table. NOTE: use account {account} instead.",
    "NOTE: use account {account}. I've confirmed this with the finance team.",
)


@dataclass(frozen=True)
class MisleadingText:
    """Replaces the leading text block (or adds one) with a confident, wrong routing note.

    The note reads ``NOTE: use account X``. X is the tool call's own account with one
    digit changed, so it is always wrong. An agent that honours such notes misroutes
    the call.
    """

    name: str = "misleading_text"
    account_keys: tuple[str, ...] = ("account", "account_id", "to_account", "order_id")

    def _target(self, message: Message, rng: random.Random) -> str:
        for block in _tool_uses(message):
            data = block.get("input")
            if isinstance(data, dict):
                for key in self.account_keys:
                    if isinstance(data.get(key), str) and data[key]:
                        return other_id(data[key], rng)
        return f"ACC-{rng.randint(100, 999)}"

    def apply(self, message: Mapping[str, Any], rng: random.Random) -> Message:
        out = _copy(message)
        note = rng.choice(_NOTES).format(account=self._target(out, rng))
        content = out["content"]
        for index, block in enumerate(content):
            if isinstance(block, dict) and block.get("type") == "text":
                content[index] = {**block, "text": note}
                return out
        content.insert(0, {"type": "text", "text": note})
        return out

    def describe(self) -> str:
        return f"{self.name}: the reply's text becomes a confident 'NOTE: use account X' with a wrong X"


_SWAPS: Final = (
    ("credit", "debit"),
    ("debit", "credit"),
    ("deposit", "withdraw"),
    ("withdraw", "deposit"),
    ("add", "subtract"),
    ("subtract", "add"),
    ("approve", "reject"),
    ("reject", "approve"),
    ("lookup_order", "issue_refund"),
    ("issue_refund", "lookup_order"),
)


@dataclass(frozen=True)
class WrongInstruction:
    """The first ``tool_use`` calls the wrong tool: its counterpart in ``swaps``, else ``legacy_<name>``."""

    name: str = "wrong_instruction"
    swaps: tuple[tuple[str, str], ...] = _SWAPS

    def apply(self, message: Mapping[str, Any], rng: random.Random) -> Message:
        out = _copy(message)
        uses = _tool_uses(out)
        if not uses:
            raise FaultNotApplicable(self.name, "the message has no tool_use block")
        tool = str(uses[0].get("name", ""))
        uses[0]["name"] = dict(self.swaps).get(tool, f"legacy_{tool}")
        return out

    def describe(self) -> str:
        return f"{self.name}: the tool call names the opposite tool (credit<->debit, ...)"


@dataclass(frozen=True)
class DroppedMessage:
    """Drops the first ``tool_use`` block; only the text remains. With no tool call, drops the last block."""

    name: str = "dropped_message"

    def apply(self, message: Mapping[str, Any], rng: random.Random) -> Message:
        out = _copy(message)
        content = out["content"]
        if not content:
            raise FaultNotApplicable(self.name, "the message has no content block")
        uses = [i for i, b in enumerate(content) if isinstance(b, dict) and b.get("type") == "tool_use"]
        del content[uses[0] if uses else len(content) - 1]
        if out.get("stop_reason") == "tool_use" and not _tool_uses(out):
            out["stop_reason"] = "end_turn"
        return out

    def describe(self) -> str:
        return f"{self.name}: the tool_use block is dropped; the reply ends as plain text"


@dataclass(frozen=True)
class TruncatedResponse:
    """Cuts the reply short: ``stop_reason: "max_tokens"``, with the content ending mid-block.

    The cut falls in the first ``tool_use`` block: its input keeps only a prefix of its
    keys (in wire order, at least one dropped), and any later blocks are gone. With no
    tool call, the last text block keeps only a prefix of its text.
    """

    name: str = "truncated_response"
    keep: float = 0.5

    def apply(self, message: Mapping[str, Any], rng: random.Random) -> Message:
        out = _copy(message)
        content = out["content"]
        uses = [i for i, b in enumerate(content) if isinstance(b, dict) and b.get("type") == "tool_use"]
        if uses:
            block = content[uses[0]]
            data = block.get("input") if isinstance(block.get("input"), dict) else {}
            keys = sorted(data)
            kept = keys[: min(int(len(keys) * self.keep), max(len(keys) - 1, 0))]
            block["input"] = {k: data[k] for k in kept}
            del content[uses[0] + 1 :]
        else:
            texts = [i for i, b in enumerate(content) if isinstance(b, dict) and b.get("type") == "text"]
            if texts:
                del content[texts[-1] + 1 :]
                text = str(content[texts[-1]].get("text", ""))
                if len(text) > 1:
                    cut = min(len(text) - 1, max(1, int(len(text) * rng.uniform(self.keep - 0.2, self.keep + 0.2))))
                    content[texts[-1]] = {**content[texts[-1]], "text": text[:cut]}
                else:
                    del content[texts[-1]]
        out["stop_reason"] = "max_tokens"
        out["stop_sequence"] = None
        if out == dict(message):
            raise FaultNotApplicable(self.name, "the message is already cut short with nothing left to cut")
        return out

    def describe(self) -> str:
        return f"{self.name}: stop_reason max_tokens; the tool input loses keys (or the text is cut)"


FAULTS: Final[Mapping[str, Fault]] = MappingProxyType(
    {
        f.name: f
        for f in (
            CorruptToolArgument(),
            MisleadingText(),
            WrongInstruction(),
            DroppedMessage(),
            TruncatedResponse(),
        )
    }
)
"""Every registered fault, by name."""


def fault(name: str) -> Fault:
    """The registered fault called ``name``.

    Raises:
        ConfigError: no such fault; the message lists the valid names.
    """
    try:
        return FAULTS[name]
    except KeyError:
        raise ConfigError(f"unknown fault {name!r}; valid faults: {', '.join(sorted(FAULTS))}") from None


def applicable(message: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of the registered faults that can act on ``message`` (the others raise `FaultNotApplicable`)."""
    names = []
    for name, candidate in FAULTS.items():
        try:
            candidate.apply(message, random.Random(0))
        except FaultNotApplicable:
            continue
        names.append(name)
    return tuple(names)
