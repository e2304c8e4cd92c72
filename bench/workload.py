"""The benchmark's agent: a tool-using loop on the real ``anthropic`` SDK against a scripted model.

A `Script` is one whole run decided up front from a seed: for every step the exact
response bytes the "model" sends (a short text plus a ``tool_use`` whose input is
0.4-1.0 KB of code-like text or prose; the last step a ~1.5 KB text answer). With the
API's full usage block that makes 1.0-1.9 KB responses (mean ~1.3 KB). Precomputing
them keeps the model's own cost out of the measurement: the in-process handler only
counts the step and hands the bytes back.

`run_agent` is the agent everyone measures: it sends the whole conversation each step
(the assistant turn and the tool results are appended), so requests grow step by
step, as a real agent's do; a 50-step run's last request is ~65 KB. (Tool inputs of
~1.5 KB would give ~2 KB responses but a ~90 KB last request; the growth of the
request is what storage depends on, so the inputs were sized for it.)
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import anthropic
import httpx2

from tracefork_otel.demo import message

MODEL: Final = "claude-sonnet-4-6"
MAX_TOKENS: Final = 4096
BASE_URL: Final = "https://api.anthropic.test"
API_KEY: Final = "sk-bench"

SYSTEM: Final = (
    "You are a careful software engineer working in a Python repository. Use the tools to read, search, "
    "edit and test code. Make one change at a time, run the tests after each change, and explain what you did "
    "when the task is finished."
)

TOOLS: Final[list[dict[str, Any]]] = [
    {
        "name": "read_file",
        "description": "Read a file of the repository and return its text.",
        "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
    },
    {
        "name": "write_file",
        "description": "Replace the whole text of a file.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
            "required": ["path", "content"],
        },
    },
    {
        "name": "search_code",
        "description": "Search the repository for a regular expression; returns matching lines.",
        "input_schema": {
            "type": "object",
            "properties": {"pattern": {"type": "string"}, "paths": {"type": "array", "items": {"type": "string"}}},
            "required": ["pattern"],
        },
    },
    {
        "name": "run_shell",
        "description": "Run a shell command in the repository and return its output.",
        "input_schema": {
            "type": "object",
            "properties": {"command": {"type": "string"}, "reason": {"type": "string"}},
            "required": ["command"],
        },
    },
]

TASK: Final = (
    "The nightly job fails with a KeyError in the billing export. Find the cause, fix it, add a regression "
    "test, and make sure the whole test suite passes."
)

_SYLLABLES: Final = [consonant + vowel for consonant in "bcdfgklmnprstvz" for vowel in "aeiou"]


def _vocabulary(rng: random.Random, size: int = 320) -> list[str]:
    words = {"".join(rng.choices(_SYLLABLES, k=rng.choice((1, 2, 2, 3, 3, 4)))) for _ in range(size * 2)}
    return sorted(words)[:size]


class _Text:
    """Deterministic, varied prose and code from one seeded RNG (compresses like real text, ~3-4x)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = _vocabulary(rng)
        # Zipf-like weights: a few words are common, most are rare.
        self.weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(self.words))]

    def words_(self, n: int) -> str:
        return " ".join(self.rng.choices(self.words, self.weights, k=n))

    def prose(self, size: int) -> str:
        out: list[str] = []
        total = 0
        while total < size:
            sentence = self.words_(self.rng.randint(6, 16)).capitalize() + "."
            out.append(sentence)
            total += len(sentence) + 1
        return " ".join(out)[:size]

    def ident(self) -> str:
        return "_".join(self.rng.choices(self.words, self.weights, k=self.rng.randint(1, 3)))

    def code(self, size: int) -> str:
        lines: list[str] = []
        total = 0
        while total < size:
            kind = self.rng.random()
            if kind < 0.2:
                line = f"def {self.ident()}({', '.join(self.ident() for _ in range(self.rng.randint(0, 3)))}):"
            elif kind < 0.35:
                line = f"    # {self.words_(self.rng.randint(4, 10))}"
            elif kind < 0.7:
                line = f"    {self.ident()} = {self.ident()}.{self.ident()}({self.rng.randint(0, 999)})"
            elif kind < 0.85:
                line = f"    if {self.ident()} is None:\n        raise KeyError({self.ident()!r})"
            else:
                line = f"    return {self.ident()}[{self.ident()!r}]"
            lines.append(line)
            total += len(line) + 1
        return "\n".join(lines)[:size]

    def path(self) -> str:
        return f"src/{self.ident()}/{self.ident()}.py"


def _tool_input(text: _Text, size: int) -> tuple[str, dict[str, Any]]:
    kind = text.rng.random()
    if kind < 0.45:
        return "write_file", {"path": text.path(), "content": text.code(size)}
    if kind < 0.65:
        command = f"pytest -q tests/{text.ident()}.py -k {text.ident()}"
        return "run_shell", {"command": command, "reason": text.prose(size)}
    if kind < 0.85:
        paths = [text.path() for _ in range(text.rng.randint(2, 6))]
        pattern = f"{text.ident()}\\(.*{text.ident()}"
        return "search_code", {"pattern": pattern, "paths": paths, "note": text.prose(size)}
    return "read_file", {"path": text.path(), "why": text.prose(size)}


def tool_result(name: str, step: int, seed: int) -> str:
    """What running tool ``name`` returns at ``step`` (deterministic, 80-320 bytes)."""
    rng = random.Random(seed * 1_000_003 + step)
    size = rng.randint(80, 320)
    body = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz  \n_.()=", k=size))
    return f"[{name} exit=0]\n{body}"


@dataclass(frozen=True)
class Script:
    """The scripted model for one run: ``steps`` response bodies, the last one a final answer."""

    steps: int
    seed: int
    responses: tuple[bytes, ...]
    headers: tuple[tuple[str, str], ...] = field(
        default=(
            ("content-type", "application/json"),
            ("anthropic-ratelimit-requests-limit", "4000"),
            ("anthropic-ratelimit-requests-remaining", "3999"),
            ("anthropic-ratelimit-tokens-limit", "400000"),
            ("x-envoy-upstream-service-time", "912"),
        )
    )

    def handler(
        self, sink: list[bytes] | None = None, *, preread: bool = False
    ) -> Callable[[httpx2.Request], httpx2.Response]:
        """A ``MockTransport`` handler serving this script once, in order; ``sink`` collects request bodies.

        The body is an unread stream, as a network transport returns it. With ``preread``
        it is ``Response(content=...)``, which httpx reads (and closes) at construction.
        """
        steps = iter(range(self.steps))
        responses, headers = self.responses, list(self.headers)

        def handle(request: httpx2.Request) -> httpx2.Response:
            step = next(steps)
            if sink is not None:
                sink.append(request.content)
            data = responses[step]
            head = [*headers, ("content-length", str(len(data))), ("request-id", f"req_{self.seed:04d}{step:05d}")]
            if preread:
                return httpx2.Response(200, headers=head, content=data)
            return httpx2.Response(200, headers=head, stream=_Body(data))

        return handle


class _Body(httpx2.SyncByteStream):
    """A response body that is read when the client iterates it, like bytes off a socket."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self._data


def dumps(obj: object) -> bytes:
    """JSON as the stand-in endpoint sends it: sorted keys, no whitespace, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _usage(input_tokens: int, output_tokens: int) -> Any:
    """The usage block as the API sends it, cache fields included."""
    return {
        "input_tokens": input_tokens % 2048,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": input_tokens - input_tokens % 2048,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "service_tier": "standard",
    }


@functools.cache
def script(steps: int, seed: int = 7) -> Script:
    """The run of ``steps`` exchanges for ``seed``; the same arguments always give the same bytes."""
    rng = random.Random(seed)
    text = _Text(rng)
    responses: list[bytes] = []
    input_tokens = 900
    for step in range(steps):
        if step == steps - 1:
            body = message(
                text.prose(1500),
                stop_reason="end_turn",
                model=MODEL,
                message_id=f"msg_bench{seed:04d}{step:05d}",
                usage=_usage(input_tokens, 380),
            )
        else:
            name, tool_input = _tool_input(text, rng.randint(380, 1000))
            use = {"name": name, "input": tool_input, "id": f"toolu_bench{seed:04d}{step:05d}"}
            body = message(
                text.prose(rng.randint(30, 130)),
                use,
                model=MODEL,
                message_id=f"msg_bench{seed:04d}{step:05d}",
                usage=_usage(input_tokens, rng.randint(150, 420)),
            )
        data = dumps(body)
        input_tokens += len(data) // 4
        responses.append(data)
    return Script(steps, seed, tuple(responses))


def make_client(http_client: httpx2.Client, base_url: str = BASE_URL) -> anthropic.Anthropic:
    """The SDK client every arm uses; only ``http_client`` differs between arms."""
    return anthropic.Anthropic(base_url=base_url, api_key=API_KEY, http_client=http_client, max_retries=0)


def run_agent(client: anthropic.Anthropic, steps: int, seed: int = 7) -> int:
    """The agent loop: call the model, run the tools it asks for, repeat until it answers. Returns exchanges."""
    messages: list[Any] = [{"role": "user", "content": TASK}]
    exchanges = 0
    while True:
        response = client.messages.create(
            model=MODEL,
            max_tokens=MAX_TOKENS,
            system=SYSTEM,
            tools=TOOLS,
            messages=messages,  # type: ignore[arg-type]
        )
        exchanges += 1
        if response.stop_reason != "tool_use":
            return exchanges
        messages.append({"role": "assistant", "content": response.content})
        results = [
            {"type": "tool_result", "tool_use_id": block.id, "content": tool_result(block.name, exchanges, seed)}
            for block in response.content
            if block.type == "tool_use"
        ]
        messages.append({"role": "user", "content": results})
        if exchanges > steps:
            raise RuntimeError(f"the agent did not stop after {steps} steps")


def conversation(steps: int, seed: int = 7) -> list[Any]:
    """The messages a ``steps``-step run has sent by its last request (plain JSON, for streaming requests)."""
    messages: list[Any] = [{"role": "user", "content": TASK}]
    for step, data in enumerate(script(steps + 1, seed).responses[:steps], start=1):
        body = json.loads(data)
        messages.append({"role": "assistant", "content": body["content"]})
        messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": block["id"],
                        "content": tool_result(block["name"], step, seed),
                    }
                    for block in body["content"]
                    if block["type"] == "tool_use"
                ],
            }
        )
    return messages
