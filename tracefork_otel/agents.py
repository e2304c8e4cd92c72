"""Agents and oracles named ``module:function``, and how they are called.

An agent is ``fn(client, nondet)``: ``client`` an ``anthropic.Anthropic`` (an
``anthropic.AsyncAnthropic`` when ``fn`` is ``async def``), ``nondet`` the run's
nondeterminism source. It returns a JSON-serialisable outcome. An oracle is
``fn(outcome) -> bool`` (True = success).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tracefork_otel.errors import AgentLoadError, OracleError
from tracefork_otel.nondet import Nondet


def load_callable(spec: str, *, what: str = "agent") -> Callable[..., Any]:
    """Import ``module:function`` (the current folder is importable, as with ``python -m``), or
    ``path/to/script.py:function`` (a script's function, imported under another name than ``__main__``,
    so its ``if __name__ == "__main__":`` block does not run).

    Raises:
        AgentLoadError: malformed spec, module not importable, or no such callable.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise AgentLoadError(f"{what} must be given as module:function, got {spec!r}")
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = _import_file(module_name) if module_name.endswith(".py") else importlib.import_module(module_name)
    except Exception as exc:  # the agent's own import-time errors included
        raise AgentLoadError(f"cannot import {what} module {module_name!r}: {type(exc).__name__}: {exc}") from exc
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
        if target is None:
            raise AgentLoadError(f"{what} {spec!r}: module {module_name!r} has no attribute {attr!r}")
    if not callable(target):
        raise AgentLoadError(f"{what} {spec!r} is not callable")
    return target  # type: ignore[no-any-return]


def _import_file(path: str) -> ModuleType:
    """A script imported as the module ``__tracefork_script__`` (its folder importable, as when it ran)."""
    folder = str(Path(path).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location("__tracefork_script__", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def is_async(fn: Callable[..., Any]) -> bool:
    """Whether the agent wants an ``AsyncAnthropic`` (it is ``async def``)."""
    call = type(fn).__call__ if not inspect.isfunction(fn) and not inspect.ismethod(fn) else fn
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(call)


def call_agent(
    fn: Callable[..., Any],
    nondet: Nondet,
    *,
    sync_client: Callable[[], Any],
    async_client: Callable[[], Any],
) -> Any:
    """Run the agent with a client made by the matching factory; return its outcome."""
    if is_async(fn):

        async def main() -> Any:
            client = async_client()
            try:
                return await fn(client, nondet)
            finally:
                await client.close()

        return asyncio.run(main())
    client = sync_client()
    try:
        return fn(client, nondet)
    finally:
        client.close()


def verdict(oracle: Callable[[Any], Any], outcome: Any) -> bool:
    """The oracle's verdict on ``outcome``: True (success) or False.

    Raises:
        OracleError: the oracle raised, or returned something that is not a bool (``"no"`` would
            otherwise read as success and ``None`` as failure).
    """
    try:
        value = oracle(outcome)
    except Exception as exc:
        raise OracleError(f"the oracle raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(value, bool):
        raise OracleError(
            f"the oracle returned {value!r} ({type(value).__name__}); it must return True (success) or False"
        )
    return value


def outcome_json(outcome: Any) -> Any:
    """The outcome as JSON-ready data (``repr`` for what JSON cannot hold)."""
    try:
        return json.loads(json.dumps(outcome))
    except (TypeError, ValueError):
        return repr(outcome)
