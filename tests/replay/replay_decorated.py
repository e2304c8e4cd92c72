"""Agents written as people write them: a decorated function and a decorated async method, each making its own
client. Importable as ``replay_decorated`` (tests/replay is on sys.path), so a replay can import them again."""

from __future__ import annotations

from typing import Any

import anthropic

import tracefork_otel
from tracefork_otel.wire import DEFAULT_MODEL

BASE_URL = "http://replay-decorated.invalid"
"""Where the agents' clients point (the test sets it to its endpoint while recording)."""

EXTRA: dict[str, Any] = {}
"""Merged into ``triage``'s return value: a test changes it to change the outcome and nothing else."""


@tracefork_otel.agent
def triage(question: str, *, urgent: bool = False) -> dict[str, Any]:
    """One model call with a ticket id drawn from the module-level seam."""
    client = anthropic.Anthropic(base_url=BASE_URL, api_key="sk-ant-decorated", max_retries=0)
    ticket = tracefork_otel.new_id("tk")
    reply = client.messages.create(
        model=DEFAULT_MODEL, max_tokens=64, messages=[{"role": "user", "content": f"{question} ({ticket})"}]
    )
    return {"ticket": ticket, "answer": reply.content[0].text, "urgent": urgent, **EXTRA}


class Desk:
    """A class whose async method is the agent."""

    @tracefork_otel.agent("desk")
    async def handle(self, question: str) -> str:
        client = anthropic.AsyncAnthropic(base_url=BASE_URL, api_key="sk-ant-decorated", max_retries=0)
        first = await client.messages.create(
            model=DEFAULT_MODEL, max_tokens=64, messages=[{"role": "user", "content": question}]
        )
        second = await client.messages.create(
            model=DEFAULT_MODEL, max_tokens=64, messages=[{"role": "user", "content": first.content[0].text}]
        )
        return str(second.content[0].text)


@tracefork_otel.agent
def tagged(tags: set[str]) -> str:
    """Takes an argument JSON cannot hold (a set): its run records "inputs not captured"."""
    client = anthropic.Anthropic(base_url=BASE_URL, api_key="sk-ant-decorated", max_retries=0)
    reply = client.messages.create(
        model=DEFAULT_MODEL, max_tokens=64, messages=[{"role": "user", "content": " ".join(sorted(tags))}]
    )
    return str(reply.content[0].text)
