"""Decorated agents the run-boundary tests call (importable by path, as replay imports them back)."""

from __future__ import annotations

import os
from typing import Any

import anthropic

import tracefork_otel

MODEL = "claude-sonnet-4-6"


def _ask(client: Any, text: str) -> str:
    reply = client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": text}])
    return str(reply.content[0].text)


@tracefork_otel.agent
def plain(question: str, *, times: int = 1) -> dict[str, Any]:
    client = anthropic.Anthropic(base_url=os.environ["ANTHROPIC_BASE_URL"], api_key="sk-test")
    return {"answers": [_ask(client, question) for _ in range(times)]}


@tracefork_otel.agent("named-desk")
async def asynchronous(question: str) -> str:
    client = anthropic.AsyncAnthropic(base_url=os.environ["ANTHROPIC_BASE_URL"], api_key="sk-test")
    reply = await client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": question}])
    return str(reply.content[0].text)


@tracefork_otel.agent
def failing(question: str) -> str:
    client = anthropic.Anthropic(base_url=os.environ["ANTHROPIC_BASE_URL"], api_key="sk-test")
    _ask(client, question)
    raise LookupError(f"no answer for {question}")


@tracefork_otel.agent
def takes_anything(thing: object) -> str:
    return repr(thing)


@tracefork_otel.agent
def outer(question: str) -> list[str]:
    return [plain(question)["answers"][0], plain(question + "!")["answers"][0]]


class Desk:
    """An agent as a method: replay calls it on ``Desk()``."""

    @tracefork_otel.agent
    def answer(self, question: str) -> str:
        client = anthropic.Anthropic(base_url=os.environ["ANTHROPIC_BASE_URL"], api_key="sk-test")
        return _ask(client, question)
