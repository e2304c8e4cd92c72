"""The stochastic stand-in model for the ledger task, and the in-process transport serving it.

`LedgerModel` plays the model. It answers from the request alone: the step is the
number of assistant turns in ``messages``, never a counter, because requests get
replayed and forked. The only other input is an ``rng`` the world owns, so every live
sample is a fresh draw:

* innocent steps: the right call, with wording drawn at random;
* decoy steps: also the right call, but half the samples show a suspicious extra
  text block and the amount as a string (``"25.00"``). The transcript changes; the
  outcome does not;
* echo steps: the call copies the amount the transcript shows at the source step,
  so a wrong amount there is repeated here;
* cause steps: with probability ``q``, the sample goes through the step's planted fault.

``forced`` (step → fault name) applies a fault on every sample. Only recordings of
the failed run use it.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any, Final

import httpx2

from tracefork_otel.validate.faults import fault
from tracefork_otel.validate.ledger import Op, Task
from tracefork_otel.wire import dumps, encode_event, error_body, message, stream_events

__all__ = ["LedgerModel", "assistant_turns", "model_transport"]

_OPENERS: Final = ("Okay.", "Next one.", "Sure -", "Got it.", "Proceeding.", "Right.", "On it.", "Understood.")
_BODIES: Final = (
    "Posting operation {i}: {tool} {account} by {amount}.",
    "I'll {tool} {account} by {amount} (operation {i}).",
    "Operation {i} is a {tool} of {amount} on {account}; posting it now.",
    "Recording the {tool} of {amount} for {account}.",
)
_CLOSERS: Final = ("", " Will confirm the balance after.", " Moving on after this.", " As per your list.", " Simple.")
_ASIDES: Final = (
    "Aside: {account} has seen a lot of activity today; worth a second look later.",
    "I'll double-check the running total for {account} at the end.",
    "FYI: passing the amount as the string {amount} to keep the cents exact.",
)
_REPORTS: Final = (
    "All done: {n} postings recorded.",
    "Closing report - {n} operations posted; the ledger is updated.",
    "Finished. {n} postings went through.",
    "That's everything: {n} operations posted.",
)


def assistant_turns(request: Mapping[str, Any]) -> int:
    """The step a request asks for: how many assistant turns its transcript already has."""
    return sum(1 for m in request.get("messages") or () if isinstance(m, dict) and m.get("role") == "assistant")


def _tool_input_at(messages: list[Any], turn: int) -> dict[str, Any] | None:
    """The input of the first tool call in assistant turn ``turn`` of the transcript."""
    turns = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
    if turn >= len(turns) or not isinstance(turns[turn].get("content"), list):
        return None
    for block in turns[turn]["content"]:
        if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("input"), dict):
            return dict(block["input"])
    return None


def _posted(messages: list[Any]) -> int:
    return sum(
        1
        for m in messages
        if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), list)
        for b in m["content"]
        if isinstance(b, dict) and b.get("type") == "tool_result" and not b.get("is_error")
    )


class LedgerModel:
    """The model's policy for one scenario's task. Not thread-safe; the transport serialises calls.

    Args:
        task: the task whose operations the model posts.
        rng: the source of every random choice (wording, decoys, faults).
        cause_steps: step → ``(fault name, q)``; a sample at the step is faulty with probability q.
        decoys: steps whose samples vary in a suspicious-looking but harmless way.
        decoy_rate: the probability that a decoy sample shows its odd form.
        forced: step → fault name applied on every sample (recording only).
        show_decoys: decoys always show their odd form (recording only).
    """

    def __init__(
        self,
        task: Task,
        rng: random.Random,
        *,
        cause_steps: Mapping[int, tuple[str, float]] | None = None,
        decoys: frozenset[int] = frozenset(),
        decoy_rate: float = 0.5,
        forced: Mapping[int, str] | None = None,
        show_decoys: bool = False,
    ) -> None:
        self._task = task
        self._rng = rng
        self._causes = dict(cause_steps or {})
        self._decoys = decoys
        self._decoy_rate = decoy_rate
        self._forced = dict(forced or {})
        self._show_decoys = show_decoys

    def __call__(self, request: dict[str, Any]) -> dict[str, Any]:
        """The reply (a Message dict) to ``request``."""
        step = assistant_turns(request)
        if step >= len(self._task.ops):
            return self._report(request)
        reply = self._operation(request, self._task.ops[step])
        name = self._forced.get(step)
        if name is None and step in self._causes:
            planted, q = self._causes[step]
            name = planted if self._rng.random() < q else None
        return fault(name).apply(reply, self._rng) if name else reply

    def _operation(self, request: dict[str, Any], op: Op) -> dict[str, Any]:
        amount: Any = op.cents / 100
        if op.same_as is not None:
            # An echo reads the amount back from its own transcript, right or wrong.
            shown = _tool_input_at(list(request.get("messages") or ()), op.same_as)
            if shown is not None and "amount" in shown:
                amount = shown["amount"]
        odd = op.index in self._decoys and (self._show_decoys or self._rng.random() < self._decoy_rate)
        if odd:
            amount = f"{float(amount):.2f}"
        shown_amount = amount if isinstance(amount, str) else f"{amount:g}"
        words = {"i": op.index, "tool": op.tool, "account": op.account, "amount": shown_amount}
        text = f"{self._rng.choice(_OPENERS)} {self._rng.choice(_BODIES).format(**words)}{self._rng.choice(_CLOSERS)}"
        if op.same_as is not None:
            text = f"Operation {op.index} repeats the amount of operation {op.same_as}. {text}"
        call = {"name": op.tool, "input": {"index": op.index, "account": op.account, "amount": amount}}
        reply = message(text, tool_use=call, request=request)
        if odd:
            aside = {"type": "text", "text": self._rng.choice(_ASIDES).format(**words)}
            reply["content"].insert(1, aside)
        return reply

    def _report(self, request: dict[str, Any]) -> dict[str, Any]:
        n = _posted(list(request.get("messages") or ()))
        return message(self._rng.choice(_REPORTS).format(n=n), request=request)


class _Chunks(httpx2.SyncByteStream, httpx2.AsyncByteStream):
    """A response body served chunk by chunk. Unlike ``Response(content=...)``, it passes through recording tees."""

    def __init__(self, chunks: list[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._chunks:
            yield chunk


def model_transport(policy: Callable[[dict[str, Any]], dict[str, Any]]) -> httpx2.MockTransport:
    """An ``httpx2`` transport answering ``POST /v1/messages`` with ``policy``. Thread-safe.

    Calls to ``policy`` are serialised with a lock, so a policy may hold an unlocked
    ``random.Random``. JSON unless the request asks for ``"stream": true``, then SSE
    with one chunk per event.
    """
    lock = threading.Lock()

    def handle(request: httpx2.Request) -> httpx2.Response:
        if request.method != "POST" or not request.url.path.endswith("/v1/messages"):
            body = dumps(error_body(404, f"no route {request.method} {request.url.path}"))
            return httpx2.Response(404, headers={"content-type": "application/json"}, stream=_Chunks([body]))
        doc = json.loads(request.read())
        with lock:
            reply = policy(doc)
        headers = {"request-id": f"req_validate_{reply['id'][4:16]}"}
        if doc.get("stream"):
            chunks = [encode_event(name, data) for name, data in stream_events(reply)]
            headers["content-type"] = "text/event-stream; charset=utf-8"
        else:
            chunks = [dumps(reply)]
            headers["content-type"] = "application/json"
        return httpx2.Response(200, headers=headers, stream=_Chunks(chunks))

    return httpx2.MockTransport(handle)
