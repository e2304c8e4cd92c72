"""The recorded entry point, started again: what ``tfotel replay TRACE_ID`` runs when no ``--agent`` is given.

A run recorded by ``@tracefork_otel.agent`` names its function (``module:qualname``, or
``/path/to/script.py:qualname`` for a script run as ``__main__``) and its arguments (a JSON
blob). `recorded_agent` turns that into an agent the replay session can start: it imports
the function and calls it with the recorded arguments (on an instance made with no arguments
for a method). The function makes its own clients, which the session serves from the tape,
and reads the module-level seam, which the session serves too. A run that recorded no way to
start it again is refused with the reason and what to pass instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tracefork_otel.agents import load_callable
from tracefork_otel.blobstore import BlobStore
from tracefork_otel.entrypoint import EntryKind, parse_inputs
from tracefork_otel.errors import AgentLoadError, BlobError, ConfigError
from tracefork_otel.tape.model import Tape

GIVE_AGENT = "give --agent module:function (called as fn(client, nondet))"


def agent_for(spec: str | None, tape: Tape, store: BlobStore) -> Callable[..., Any]:
    """The agent to replay ``tape`` with: ``spec`` (``module:function``, called as ``fn(client, nondet)``) when
    given, else the recorded entry point (`recorded_agent`).

    Raises:
        AgentLoadError: ``spec`` (or the recorded function) cannot be imported.
        ConfigError: no ``spec``, and the tape records no entry point a replay can start.
    """
    return load_callable(spec) if spec else recorded_agent(tape, store)


def recorded_agent(tape: Tape, store: BlobStore) -> Callable[..., Any]:
    """An agent, ``fn(client, nondet)``, that starts the run recorded on ``tape`` again.

    Raises:
        ConfigError: the tape records no entry point a replay can start (a ``record_run`` block, inputs
            not captured, a process run), or its inputs blob is not in the store; the message says why
            and what to give instead.
        AgentLoadError: the recorded function cannot be imported any more.
    """
    entry = tape.entry
    if entry is None:
        raise ConfigError(f"run {tape.trace_id} records no entry point (an older recorder): {GIVE_AGENT}")
    why = entry.replayable
    if why is None and entry.kind is EntryKind.PROCESS:
        why = (
            "it is a whole process, which tfotel replay and verify run again, but fork and blame need a"
            " function: decorate the agent's entry function with @tracefork_otel.agent"
        )
    if why is not None:
        raise ConfigError(f"run {tape.trace_id} cannot be started again from its trace ({why}); {GIVE_AGENT}")
    try:
        data = store.get(entry.inputs_sha256)
    except BlobError:
        raise ConfigError(
            f"run {tape.trace_id}: its inputs blob {entry.inputs_sha256[:16]}… is not in the blob store; {GIVE_AGENT}"
        ) from None
    try:
        args, kwargs = parse_inputs(data)
    except ValueError as exc:
        raise ConfigError(
            f"run {tape.trace_id}: its inputs blob is not an inputs document ({exc}); {GIVE_AGENT}"
        ) from exc
    target = _target(entry.function, entry.method)
    if inspect.iscoroutinefunction(target):

        async def start_async(client: Any, nondet: Any) -> Any:
            return await target(*args, **kwargs)

        return start_async

    def start(client: Any, nondet: Any) -> Any:
        return target(*args, **kwargs)

    return start


def _target(function: str, method: bool) -> Callable[..., Any]:
    if not method:
        return load_callable(function, what="recorded agent")
    module, _, qualname = function.rpartition(":")
    owner_name, _, name = qualname.rpartition(".")
    owner = load_callable(f"{module}:{owner_name}", what="recorded agent's class")
    try:
        instance = owner()
    except Exception as exc:
        raise AgentLoadError(
            f"recorded agent {function!r} is a method, and its class could not be made with no arguments:"
            f" {type(exc).__name__}: {exc}; {GIVE_AGENT}"
        ) from exc
    bound: Callable[..., Any] = getattr(instance, name)
    return bound
