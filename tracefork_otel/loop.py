"""The loop of a sans-I/O agent over the Anthropic client, written once for sync and async.

The bundled agents (the demo's refund desk, validate's ledger clerk) keep their logic in
a `LoopAgent`: it says what to send next (`LoopAgent.next_request`), whether to stream
it, and takes each reply (`LoopAgent.consume`). `drive` and `adrive` only move the
requests and replies, so the agent's behaviour is the same on both clients.
"""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

import anthropic
from anthropic.types import Message, MessageParam, ToolParam


class MessagesRequest(TypedDict):
    """The keyword arguments of one ``messages.create`` / ``messages.stream`` call."""

    model: str
    max_tokens: int
    system: str
    tools: list[ToolParam]
    messages: list[MessageParam]


class LoopAgent(Protocol):
    """An agent as a state machine: the next request, then the reply to it, until done."""

    @property
    def streams_next(self) -> bool:
        """Whether the next request goes through ``messages.stream`` (else ``messages.create``)."""
        ...

    def next_request(self) -> MessagesRequest | None:
        """The next model call, or None when the agent is done."""
        ...

    def consume(self, reply: Message) -> None:
        """Take the model's reply to the last request."""
        ...

    def outcome(self) -> dict[str, Any]:
        """The run's JSON-serialisable outcome."""
        ...


def drive(client: anthropic.Anthropic, agent: LoopAgent) -> dict[str, Any]:
    """Run ``agent`` to the end on a sync client; return its outcome."""
    while (request := agent.next_request()) is not None:
        if agent.streams_next:
            with client.messages.stream(**request) as stream:
                reply: Message = stream.get_final_message()
        else:
            reply = client.messages.create(**request)
        agent.consume(reply)
    return agent.outcome()


async def adrive(client: anthropic.AsyncAnthropic, agent: LoopAgent) -> dict[str, Any]:
    """Run ``agent`` to the end on an async client; return its outcome."""
    while (request := agent.next_request()) is not None:
        if agent.streams_next:
            async with client.messages.stream(**request) as stream:
                reply: Message = await stream.get_final_message()
        else:
            reply = await client.messages.create(**request)
        agent.consume(reply)
    return agent.outcome()
