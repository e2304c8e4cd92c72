"""The bundled demo agent: a refund desk that looks an order up and refunds it.

An agent is ``fn(client, nondet)``: ``client`` is an ``anthropic.Anthropic`` (an
``anthropic.AsyncAnthropic`` for ``async def``), ``nondet`` the run's `Nondet` source,
and the return value a JSON-serialisable outcome. `run` and `run_async` are that agent;
`oracle` judges its outcome, and `demo_policy` is the scripted model that drives it from a
`MessagesEndpoint`. The loop body lives once, in the sans-I/O `RefundDesk`; `run` and
`run_async` drive it with `tracefork_otel.loop`.

Every step calls ``messages.create`` except the final answer, which streams through
``messages.stream`` so the demo exercises SSE too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import anthropic
from anthropic.types import (
    Message,
    MessageParam,
    TextBlockParam,
    ToolParam,
    ToolResultBlockParam,
    ToolUseBlock,
    ToolUseBlockParam,
)

from tracefork_otel.loop import MessagesRequest, adrive, drive
from tracefork_otel.nondet import Nondet
from tracefork_otel.wire import DEFAULT_MODEL, message

logger = logging.getLogger(__name__)

DEMO_MODEL: Final = DEFAULT_MODEL
DEMO_ORDER_ID: Final = "A-1001"
MAX_STEPS: Final = 8
MAX_TOKENS: Final = 512

SYSTEM_PROMPT: Final = (
    "You are the refund desk of an online shop. Always look an order up before refunding it, "
    "refund exactly the amount the customer paid, and tell the customer the refund id."
)

ORDERS: Final[Mapping[str, Mapping[str, Any]]] = {
    "A-1001": {
        "order_id": "A-1001",
        "item": "Noise-cancelling headphones",
        "amount": 129.99,
        "currency": "USD",
        "status": "delivered",
    },
    "A-1002": {
        "order_id": "A-1002",
        "item": "USB-C cable",
        "amount": 9.5,
        "currency": "USD",
        "status": "shipped",
    },
}
"""The shop's order book, as ``lookup_order`` sees it."""

TOOLS: Final[list[ToolParam]] = [
    {
        "name": "lookup_order",
        "description": "Look an order up by id: item, amount paid, currency and status.",
        "input_schema": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
    {
        "name": "issue_refund",
        "description": "Refund an amount (at most the amount paid) for an order.",
        "input_schema": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
            "required": ["order_id", "amount"],
        },
    },
]

_ORDER_ID_PATTERN: Final = re.compile(r"\b[A-Z]-\d{3,}\b")


def lookup_order(order_id: str) -> dict[str, Any]:
    """The ``lookup_order`` tool: the order record, or ``{"error": ...}``."""
    order = ORDERS.get(order_id)
    return dict(order) if order is not None else {"error": f"no order {order_id}"}


class RefundDesk:
    """The refund-desk loop without I/O: what to ask the model next, and what to do with its reply.

    Drive it with ``while (request := desk.next_request()) is not None: desk.consume(reply)``,
    sending ``request`` with ``messages.stream`` when `streams_next` is true.

    Args:
        nondet: Source of the refund's id and timestamp.
        order_id: The order the customer wants refunded.
    """

    def __init__(self, nondet: Nondet, order_id: str = DEMO_ORDER_ID) -> None:
        self._nondet = nondet
        self._messages: list[MessageParam] = [
            {"role": "user", "content": f"Hi, please refund my order {order_id}. It arrived broken."}
        ]
        self._steps = 0
        self._done = False
        self._refunded: float | None = None
        self._refund_id: str | None = None
        self._final_text: str | None = None

    @property
    def streams_next(self) -> bool:
        """True once the refund is issued: the final answer is streamed."""
        return self._refund_id is not None

    def next_request(self) -> MessagesRequest | None:
        """The next model call, or None when the agent has finished (or used `MAX_STEPS`)."""
        if self._done or self._steps >= MAX_STEPS:
            return None
        return {
            "model": DEMO_MODEL,
            "max_tokens": MAX_TOKENS,
            "system": SYSTEM_PROMPT,
            "tools": TOOLS,
            "messages": list(self._messages),
        }

    def consume(self, reply: Message) -> None:
        """Take the model's reply: run the tools it asked for, or finish on any other stop."""
        self._steps += 1
        said: list[TextBlockParam | ToolUseBlockParam] = []
        results: list[ToolResultBlockParam] = []
        for block in reply.content:
            if block.type == "text":
                said.append({"type": "text", "text": block.text})
            elif block.type == "tool_use":
                said.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
                results.append(self._call_tool(block))
        logger.debug("step %d: stop_reason=%s, %d tool call(s)", self._steps, reply.stop_reason, len(results))
        self._messages.append({"role": "assistant", "content": said})
        if reply.stop_reason == "tool_use" and results:
            self._messages.append({"role": "user", "content": results})
        else:
            self._done = True
            self._final_text = "".join(b["text"] for b in said if b["type"] == "text")

    def outcome(self) -> dict[str, Any]:
        """The run's JSON-serialisable outcome."""
        return {
            "refunded": self._refunded,
            "refund_id": self._refund_id,
            "steps": self._steps,
            "final_text": self._final_text,
        }

    def _call_tool(self, call: ToolUseBlock) -> ToolResultBlockParam:
        args = call.input
        if call.name == "lookup_order":
            result = lookup_order(str(args.get("order_id", "")))
        elif call.name == "issue_refund":
            result = self._issue_refund(str(args.get("order_id", "")), args.get("amount"))
        else:
            result = {"error": f"unknown tool {call.name}"}
        block: ToolResultBlockParam = {
            "type": "tool_result",
            "tool_use_id": call.id,
            "content": json.dumps(result, sort_keys=True),
        }
        if "error" in result:
            block["is_error"] = True
        return block

    def _issue_refund(self, order_id: str, amount: object) -> dict[str, Any]:
        order = ORDERS.get(order_id)
        if order is None:
            return {"error": f"no order {order_id}"}
        if not isinstance(amount, int | float) or not 0 < amount <= order["amount"]:
            return {"error": f"amount must be a number in (0, {order['amount']}]"}
        if self._refund_id is not None:
            return {"error": f"order {order_id} is already refunded ({self._refund_id})"}
        self._refunded = float(amount)
        self._refund_id = self._nondet.new_id("rf")
        return {
            "refund_id": self._refund_id,
            "order_id": order_id,
            "amount": self._refunded,
            "currency": order["currency"],
            "issued_at": self._nondet.now_iso(),
            "status": "issued",
        }


def run(client: anthropic.Anthropic, nondet: Nondet) -> dict[str, Any]:
    """The refund-desk agent, synchronously."""
    return drive(client, RefundDesk(nondet))


async def run_async(client: anthropic.AsyncAnthropic, nondet: Nondet) -> dict[str, Any]:
    """The refund-desk agent, on ``AsyncAnthropic``."""
    return await adrive(client, RefundDesk(nondet))


def oracle(outcome: object) -> bool:
    """True when the run refunded exactly what the demo order cost."""
    if not isinstance(outcome, Mapping):
        return False
    refunded = outcome.get("refunded")
    return isinstance(refunded, int | float) and refunded == ORDERS[DEMO_ORDER_ID]["amount"]


def demo_policy(request: dict[str, Any]) -> dict[str, Any]:
    """The scripted model that drives `run`: look up, refund the amount found, confirm.

    Each answer derives from the conversation in ``request`` alone (no hidden state), so it
    is deterministic given the request and safe for concurrent runs.
    """
    messages: list[Any] = request.get("messages") or []
    result = _last_tool_result(messages)
    if result is None:
        order_id = _mentioned_order(messages)
        if order_id is None:
            return message("Which order would you like refunded?", request=request)
        return message(tool_use={"name": "lookup_order", "input": {"order_id": order_id}}, request=request)
    tool, payload = result
    if "error" in payload:
        return message(f"Sorry, I could not complete the refund: {payload['error']}.", request=request)
    if tool == "lookup_order":
        refund = {"order_id": payload.get("order_id"), "amount": payload.get("amount")}
        return message(tool_use={"name": "issue_refund", "input": refund}, request=request)
    if tool == "issue_refund":
        text = (
            f"Refunded {payload.get('amount')} {payload.get('currency')} for order "
            f"{payload.get('order_id')} (id {payload.get('refund_id')})."
        )
        return message(text, request=request)
    return message("Sorry, something went wrong; please contact support.", request=request)


def _mentioned_order(messages: list[Any]) -> str | None:
    for msg in messages:
        if isinstance(msg, dict) and msg.get("role") == "user":
            found = _ORDER_ID_PATTERN.search(_text_of(msg.get("content")))
            if found:
                return found.group()
    return None


def _last_tool_result(messages: list[Any]) -> tuple[str | None, dict[str, Any]] | None:
    """The tool name and parsed payload of the newest tool_result, if the last turn has one."""
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or not isinstance(last.get("content"), list):
        return None
    results = [b for b in last["content"] if isinstance(b, dict) and b.get("type") == "tool_result"]
    if not results:
        return None
    names = {
        block.get("id"): block.get("name")
        for msg in messages
        if isinstance(msg, dict) and msg.get("role") == "assistant" and isinstance(msg.get("content"), list)
        for block in msg["content"]
        if isinstance(block, dict) and block.get("type") == "tool_use"
    }
    try:
        payload = json.loads(_text_of(results[-1].get("content")))
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        payload = {"error": "unreadable tool result"}
    return names.get(results[-1].get("tool_use_id")), payload


def _text_of(content: object) -> str:
    """The text in a message or tool_result ``content``: a string or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""
