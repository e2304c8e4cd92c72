"""The ledger task: a clerk agent that posts a list of operations, one model turn per operation.

A run has exactly ``n_steps`` model calls, so tape step ``i`` (0-based) is model turn ``i``:

* steps ``0 .. n_steps-2`` are operation steps. The clerk asks for operation ``i``, and
  the model answers with a ``credit``/``debit`` tool call. The clerk posts it against an
  in-memory ledger (deterministically; the posting's id comes from ``nondet``) and
  returns the tool result.
* step ``n_steps-1`` is the closing report (plain text). It never changes the outcome.

The clerk is deliberately literal, so each planted fault has one predictable effect:

* it executes every tool call it gets, with whatever arguments it gets;
* it honours a ``NOTE: use account X`` line in the reply by routing that reply's call to X;
* it never executes a call from a reply cut short (``stop_reason: "max_tokens"``);
* a reply with no tool call posts nothing, and the clerk moves on without retrying.

Some steps stream (``messages.stream``): every third one and the closing report. That
way replays and forks also exercise SSE.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from anthropic.types import (
    Message,
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
)

from tracefork_otel.loop import MessagesRequest
from tracefork_otel.nondet import Nondet
from tracefork_otel.wire import DEFAULT_MODEL

ACCOUNTS: Final = ("ACC-1", "ACC-2", "ACC-3", "ACC-4")
OPENING_CENTS: Final = 100_000
MAX_TOKENS: Final = 1024
SYSTEM_PROMPT: Final = (
    "You assist a ledger clerk. Post exactly the operation you are asked for, with the credit or "
    "debit tool, one per turn. Amounts are in dollars."
)
NOTE_PATTERN: Final = re.compile(r"NOTE:\s*use account\s+([A-Za-z]+-\d+)", re.IGNORECASE)
"""A routing note the clerk obeys: the reply's tool call goes to the named account."""

_ARGS_SCHEMA: Final[dict[str, object]] = {
    "type": "object",
    "properties": {
        "index": {"type": "integer", "description": "The operation's number in the list."},
        "account": {"type": "string"},
        "amount": {"type": "number", "description": "Dollars, > 0."},
    },
    "required": ["index", "account", "amount"],
}
TOOLS: Final[list[ToolParam]] = [
    {"name": "credit", "description": "Add an amount to an account.", "input_schema": _ARGS_SCHEMA},
    {"name": "debit", "description": "Take an amount from an account.", "input_schema": _ARGS_SCHEMA},
]


def dollars(cents: int) -> str:
    """``2550`` → ``"25.50"``."""
    return f"{cents // 100}.{cents % 100:02d}" if cents >= 0 else f"-{dollars(-cents)}"


def to_cents(value: object) -> int | None:
    """An amount (number or numeric string, in dollars) as whole cents; None if unreadable."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    return int((number * 100).to_integral_value())


@dataclass(frozen=True)
class Op:
    """One operation of the task: ``tool`` ``account`` by ``cents``."""

    index: int
    tool: str
    account: str
    cents: int
    same_as: int | None = None
    """For an echo: this operation repeats the amount of operation ``same_as``."""

    def describe(self) -> str:
        if self.same_as is not None:
            return f"{self.index}. {self.tool} {self.account} by the same amount as operation {self.same_as}"
        return f"{self.index}. {self.tool} {self.account} by {dollars(self.cents)}"


@dataclass(frozen=True)
class Task:
    """What the user asks: operations to post, and (for the impossible task) a closing balance demanded."""

    ops: tuple[Op, ...]
    target: tuple[str, int] | None = None
    """``(account, cents)`` the user insists the account closes at; unreachable by construction."""

    def prompt(self) -> str:
        lines = ["Please post these operations to the ledger, in order, one per turn:"]
        lines += [op.describe() for op in self.ops]
        if self.target is not None:
            lines.append(f"{self.target[0]} must close at exactly {dollars(self.target[1])}.")
        lines.append("After the last operation, give me a short closing report.")
        return "\n".join(lines)

    def expected_postings(self) -> dict[int, tuple[str, str, int]]:
        """Operation step → ``(tool, account, cents)`` a correct run posts."""
        return {op.index: (op.tool, op.account, op.cents) for op in self.ops}

    def expected_balances(self) -> dict[str, int]:
        balances = dict.fromkeys(ACCOUNTS, OPENING_CENTS)
        for op in self.ops:
            balances[op.account] += op.cents if op.tool == "credit" else -op.cents
        return balances


def streams(step: int, n_steps: int) -> bool:
    """Whether the clerk sends ``step`` with ``messages.stream``."""
    return step == n_steps - 1 or step % 3 == 2


class LedgerClerk:
    """The clerk's loop without I/O: what to ask the model next, and what to do with its reply.

    Drive it with ``while (request := clerk.next_request()) is not None: clerk.consume(reply)``,
    streaming when `streams_next` is true. Deterministic given the replies and ``nondet``.
    """

    def __init__(self, task: Task, n_steps: int, nondet: Nondet) -> None:
        self._task = task
        self._n_steps = n_steps
        self._nondet = nondet
        self._messages: list[MessageParam] = [
            {"role": "user", "content": f"{task.prompt()}\n\n{self._ask(0)}"},
        ]
        self._step = 0
        self._balances = dict.fromkeys(ACCOUNTS, OPENING_CENTS)
        self._postings: list[dict[str, Any]] = []
        self._rejected: list[dict[str, Any]] = []
        self._report: str | None = None

    @property
    def streams_next(self) -> bool:
        return streams(self._step, self._n_steps)

    def next_request(self) -> MessagesRequest | None:
        """The next model call, or None once the closing report is in."""
        if self._step >= self._n_steps:
            return None
        return {
            "model": DEFAULT_MODEL,
            "max_tokens": MAX_TOKENS,
            "system": SYSTEM_PROMPT,
            "tools": TOOLS,
            "messages": list(self._messages),
        }

    def consume(self, reply: Message) -> None:
        """Take the model's reply for the current step: post its tool calls, then ask for the next one."""
        step, self._step = self._step, self._step + 1
        said: list[TextBlockParam | ToolUseBlockParam] = []
        calls: list[ToolUseBlock] = []
        for block in reply.content:
            if block.type == "text":
                said.append({"type": "text", "text": block.text})
            elif block.type == "tool_use":
                said.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
                calls.append(block)
        self._messages.append({"role": "assistant", "content": said or [{"type": "text", "text": "(no reply)"}]})
        text = "".join(b["text"] for b in said if b["type"] == "text")
        if step == self._n_steps - 1:
            self._report = text
            return
        note = NOTE_PATTERN.search(text)
        results = [self._post(step, call, reply.stop_reason, note.group(1) if note else None) for call in calls]
        if not calls:
            self._rejected.append({"step": step, "reason": "no tool call"})
        follow_up: TextBlockParam = {
            "type": "text",
            "text": ("" if calls else "Nothing was posted for that operation. ") + self._ask(step + 1),
        }
        self._messages.append({"role": "user", "content": [*results, follow_up]})

    def outcome(self) -> dict[str, Any]:
        """The run's JSON-serialisable outcome."""
        return {
            "balances": dict(self._balances),
            "postings": list(self._postings),
            "rejected": list(self._rejected),
            "report": self._report,
            "steps": self._step,
        }

    def _ask(self, step: int) -> str:
        if step >= self._n_steps - 1:
            return "All operations are done: please give the closing report."
        return f"Please post operation {step} now."

    def _post(self, step: int, call: ToolUseBlock, stop_reason: str | None, routed: str | None) -> ToolResultBlockParam:
        result = self._execute(step, call, stop_reason, routed)
        block: ToolResultBlockParam = {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": json.dumps(result, sort_keys=True),
        }
        if "error" in result:
            block["is_error"] = True
            self._rejected.append({"step": step, "reason": result["error"]})
        return block

    def _execute(self, step: int, call: ToolUseBlock, stop_reason: str | None, routed: str | None) -> dict[str, Any]:
        if stop_reason == "max_tokens":
            return {"error": "the reply was cut off (max_tokens); the call was not executed"}
        if call.name not in ("credit", "debit"):
            return {"error": f"unknown tool {call.name}"}
        args = call.input if isinstance(call.input, dict) else {}
        account = (routed or str(args.get("account", ""))).upper()
        cents = to_cents(args.get("amount"))
        if account not in self._balances:
            return {"error": f"no account {account}"}
        if cents is None or cents <= 0:
            return {"error": f"amount must be a positive number, got {args.get('amount')!r}"}
        self._balances[account] += cents if call.name == "credit" else -cents
        txn = self._nondet.new_id("txn")
        self._postings.append({"step": step, "tool": call.name, "account": account, "cents": cents, "txn": txn})
        return {"txn": txn, "account": account, "balance": dollars(self._balances[account])}


def deviations(task: Task, outcome: Mapping[str, Any]) -> int:
    """How many operations were not posted exactly once and exactly as asked (extra postings count too)."""
    expected = task.expected_postings()
    by_step: dict[int, list[tuple[str, str, int]]] = {}
    for posting in outcome.get("postings") or ():
        entry = (str(posting.get("tool")), str(posting.get("account")), int(posting.get("cents", 0)))
        by_step.setdefault(int(posting.get("step", -1)), []).append(entry)
    wrong = sum(1 for step, want in expected.items() if by_step.get(step) != [want])
    return wrong + sum(1 for step in by_step if step not in expected)
