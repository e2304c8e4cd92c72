"""A stochastic stand-in model for the agents tests: a multiplication the model sometimes gets wrong.

Every agent in ``programs/`` asks "What is A * B?" with a ``multiply`` tool. The model's
first step is decisive: with probability ``p_wrong`` it calls the tool with B's digits
swapped, so the run answers a wrong product. Its later steps only vary their wording
(and, when thinking is asked for, the thinking text), which never changes the outcome:
so blame must rank the first model step of a run first. Seeded and thread-safe.
"""

from __future__ import annotations

import json
import random
import re
import threading
from typing import Any

from tracefork_otel.wire import message

QUESTION = "What is 17 * 23?"
ANSWER = 17 * 23
WRONG = 17 * 32
_OPERANDS = re.compile(r"(\d+)\s*\*\s*(\d+)")
SIGN_OFFS = ("Hope that helps.", "Happy to help.", "Anything else?", "Done.")


def text_of(content: object) -> str:
    """The text of a message or tool_result ``content``: a string or a list of blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            text_of(b.get("content")) if b.get("type") == "tool_result" else str(b.get("text", ""))
            for b in content
            if isinstance(b, dict)
        )
    return ""


def oracle(outcome: object) -> bool:
    """Success: the outcome (the agent's answer) names the right product."""
    return str(ANSWER) in json.dumps(outcome)


class MultiplyModel:
    """Plays the model for every agent of ``programs/`` (a `Policy`)."""

    def __init__(self, seed: int, p_wrong: float = 0.5) -> None:
        self._decide = random.Random(f"decide:{seed}")
        self._wording = random.Random(f"wording:{seed}")
        self._lock = threading.Lock()
        self.p_wrong = p_wrong
        self.decisions = 0

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        messages = request.get("messages") or []
        last = messages[-1] if messages else {}
        thinking = (
            [{"type": "thinking", "thinking": self._words("Let me think."), "signature": "sig"}]
            if isinstance(request.get("thinking"), dict) and request["thinking"].get("type") == "enabled"
            else []
        )
        results = (
            [b for b in last.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_result"]
            if isinstance(last.get("content"), list)
            else []
        )
        if results:
            found = re.search(r"-?\d+", text_of(results[-1].get("content")))
            product = found.group() if found else "unknown"
            return self._reply(request, thinking, text=f"The answer is {product}. {self._words(*SIGN_OFFS)}")
        tools = [t for t in request.get("tools") or [] if isinstance(t, dict) and t.get("name") == "multiply"]
        operands = _OPERANDS.search(" ".join(text_of(m.get("content")) for m in messages if m.get("role") == "user"))
        if not tools or operands is None:
            return self._reply(request, thinking, text="I can only multiply.")
        a, b = operands.groups()
        with self._lock:
            self.decisions += 1
            if self._decide.random() < self.p_wrong:
                b = b[::-1]
        use = {"name": "multiply", "input": {"a": int(a), "b": int(b)}}
        return self._reply(request, thinking, text=self._words("Let me compute that.", "Using the tool."), use=use)

    def _words(self, *choices: str) -> str:
        with self._lock:
            return self._wording.choice(choices)

    def _reply(
        self, request: dict[str, Any], thinking: list[dict[str, Any]], *, text: str, use: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        reply = message(text, tool_use=use, request=request)
        reply["content"] = [*thinking, *reply["content"]]
        return reply
