"""Agents the replay tests record and then replay, each ``fn(client, nondet)``.

Importable as ``replay_agents`` (pytest puts ``tests/replay`` on ``sys.path``), so the
CLI can load them as ``replay_agents:NAME``. The module-level knobs change what an
agent does; a test sets them with ``monkeypatch.setattr`` between recording and
replay to make a run drift in one precise way.
"""

from __future__ import annotations

import datetime
import json
import threading
import uuid
from typing import Any

from tracefork_otel.wire import DEFAULT_MODEL, message

MODEL = DEFAULT_MODEL
MAX_TOKENS = 64
SYSTEM = "Be brief."

SYSTEM_DRIFT_AT: int | None = None
"""``prompted`` sends ``SYSTEM`` with its last character upper-cased at this step."""

DRAW_PLAN: tuple[str, ...] = ("now_iso", "new_id")
"""The draws ``drawing`` takes, in order, before its one request."""

CALLS = 2
"""How many requests ``counted`` makes."""

PROMPT = "hello"
"""The prompt of ``catching``."""

ORDER: str | None = None
"""``parallel``: None lets both threads race; ``"ab"``/``"ba"`` forces which request completes first."""

RAISE_AFTER = False
"""``raising_after`` raises ``AgentFailed`` after its last request."""

CAUGHT: list[BaseException] = []
"""Every exception ``catching`` saw from the SDK."""


def echo_policy(request: dict[str, Any]) -> dict[str, Any]:
    """A scripted model: answers every request with ``echo: <last user text>``."""
    last = request["messages"][-1]["content"]
    text = last if isinstance(last, str) else "".join(b.get("text", "") for b in last if isinstance(b, dict))
    return message(f"echo: {text}", request=request)


def ask(client: Any, prompt: str, *, system: str = SYSTEM) -> str:
    reply = client.messages.create(
        model=MODEL, max_tokens=MAX_TOKENS, system=system, messages=[{"role": "user", "content": prompt}]
    )
    return "".join(block.text for block in reply.content if block.type == "text")


def streaming(client: Any, nondet: Any) -> dict[str, Any]:
    """Streams twice: ``messages.create(stream=True)`` iterated event by event, then ``messages.stream``."""
    events: list[str] = []
    first = ""
    for event in client.messages.create(
        model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": "stream one"}], stream=True
    ):
        events.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            first += event.delta.text
    with client.messages.stream(
        model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": f"stream two after {first}"}]
    ) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    return {"events": events, "first": first, "pieces": pieces, "final_id": final.id}


async def streaming_async(client: Any, nondet: Any) -> dict[str, Any]:
    """``streaming`` on ``AsyncAnthropic``."""
    events: list[str] = []
    first = ""
    async for event in await client.messages.create(
        model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": "stream one"}], stream=True
    ):
        events.append(event.type)
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            first += event.delta.text
    async with client.messages.stream(
        model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": f"stream two after {first}"}]
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    return {"events": events, "first": first, "pieces": pieces, "final_id": final.id}


def prompted(client: Any, nondet: Any) -> list[str]:
    """Three requests; at step ``SYSTEM_DRIFT_AT`` the system prompt differs in one character."""
    answers = []
    for step in range(3):
        system = SYSTEM[:-2] + SYSTEM[-2].upper() + SYSTEM[-1] if step == SYSTEM_DRIFT_AT else SYSTEM
        answers.append(ask(client, f"question {step}", system=system))
    return answers


def clock_in_request(client: Any, nondet: Any) -> str:
    """Reads the clock and a uuid directly, not through ``nondet``: cannot replay bit-exact."""
    stamp = datetime.datetime.now(datetime.UTC).isoformat()
    return ask(client, f"ticket {uuid.uuid4().hex} opened at {stamp}")


def drawing(client: Any, nondet: Any) -> dict[str, Any]:
    """Takes the draws ``DRAW_PLAN`` lists (not sent to the model), then makes one request."""
    drawn = []
    for kind in DRAW_PLAN:
        if kind == "now_iso":
            drawn.append(nondet.now_iso())
        elif kind == "new_id":
            drawn.append(nondet.new_id("tk"))
        else:
            drawn.append(nondet.random())
    return {"drawn": drawn, "answer": ask(client, "what time is it?")}


def counted(client: Any, nondet: Any) -> list[str]:
    """``CALLS`` requests, one after the other."""
    return [ask(client, f"call {i}") for i in range(CALLS)]


def catching(client: Any, nondet: Any) -> str:
    """Asks ``PROMPT``; keeps whatever the SDK raised in ``CAUGHT`` and raises it on."""
    try:
        return ask(client, PROMPT)
    except BaseException as exc:
        CAUGHT.append(exc)
        raise


async def catching_async(client: Any, nondet: Any) -> str:
    """``catching`` on ``AsyncAnthropic``."""
    try:
        reply = await client.messages.create(
            model=MODEL, max_tokens=MAX_TOKENS, messages=[{"role": "user", "content": PROMPT}]
        )
    except BaseException as exc:
        CAUGHT.append(exc)
        raise
    return str(reply.content[0].text)


class AgentFailed(RuntimeError):
    """What ``raising_after`` raises."""


def raising_after(client: Any, nondet: Any) -> str:
    """Two requests, then, when ``RAISE_AFTER`` is set, an exception of the agent's own (no request after it)."""
    answer = ask(client, "first") + ask(client, "second")
    if RAISE_AFTER:
        raise AgentFailed("the agent gave up after its last request")
    return answer


def single(client: Any, nondet: Any) -> str:
    """One request with the SDK's default retries."""
    return ask(client, "just once")


def parallel(client: Any, nondet: Any) -> list[str]:
    """Two requests from two threads sharing ``client``; ``ORDER`` decides which completes first."""
    prompts = {"a": "alpha", "b": "beta"}
    results: dict[str, str] = {}
    errors: list[BaseException] = []
    done = {key: threading.Event() for key in prompts}

    def worker(key: str) -> None:
        try:
            if ORDER is not None and ORDER[1] == key:
                done[ORDER[0]].wait(10)
            results[key] = ask(client, prompts[key])
        except BaseException as exc:
            errors.append(exc)
        finally:
            done[key].set()

    threads = [threading.Thread(target=worker, args=(key,)) for key in prompts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return [results["a"], results["b"]]


def module_seam(client: Any, nondet: Any) -> dict[str, Any]:
    """Reads its clock and ids through the module-level seam only, once from a worker thread (as a framework's
    tool function would: the thread does not inherit the caller's context)."""
    import concurrent.futures

    import tracefork_otel

    stamp = tracefork_otel.now_iso()
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        ticket = pool.submit(tracefork_otel.new_id, "tk").result()
    answer = ask(client, f"ticket {ticket} opened at {stamp}")
    return {"ticket": ticket, "stamp": stamp, "answer": answer}


MODULE_CLIENT: Any = None
"""The client ``module_client`` uses instead of the one it is given (set by the test, as a module-level
``client = anthropic.Anthropic()`` of an agent's own would be)."""


def module_client(client: Any, nondet: Any) -> str:
    """Ignores the client it is given and asks through ``MODULE_CLIENT``."""
    return ask(MODULE_CLIENT, "from the module's own client") + ask(MODULE_CLIENT, "and again")


def reads_past_the_seam(client: Any, nondet: Any) -> dict[str, Any]:
    """Reads the clock, uuid4, random and secrets the way most agent code does: through the stdlib modules."""
    import datetime as dt
    import random
    import secrets
    import time
    import uuid as uuid_module

    seen = {
        "time": time.time(),
        "ns": time.time_ns(),
        "now": dt.datetime.now(dt.UTC).isoformat(),
        "uuid": str(uuid_module.uuid4()),
        "dice": random.randint(1, 6),
        "pick": random.choice(["a", "b", "c", "d"]),
        "float": random.random(),
        "token": secrets.token_hex(4),
    }
    return {"seen": seen, "answer": ask(client, json.dumps(seen, sort_keys=True))}


def multiply_policy(request: dict[str, Any]) -> dict[str, Any]:
    """Asks for ``multiply(17, 23)``, then answers with the tool's result."""
    last = (request.get("messages") or [{}])[-1]
    content = last.get("content")
    if isinstance(content, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in content):
        return message(f"The answer is {content[-1].get('content')}.", request=request)
    return message(tool_use={"name": "multiply", "input": {"a": 17, "b": 23}}, request=request)


def tool_runner(client: Any, nondet: Any) -> str:
    """The SDK's own tool runner, which keeps the conversation on the server (message threads)."""
    from anthropic import beta_tool

    @beta_tool
    def multiply(a: int, b: int) -> str:
        """Multiply two integers.

        Args:
            a: the first factor.
            b: the second factor.
        """
        return str(a * b)

    runner = client.beta.messages.tool_runner(
        model=MODEL, max_tokens=MAX_TOKENS, tools=[multiply], messages=[{"role": "user", "content": "17 * 23?"}]
    )
    final = runner.until_done()
    return "".join(block.text for block in final.content if block.type == "text")
