"""Our errors, re-typed so the Anthropic SDK lets them through unchanged.

The SDK wraps any exception raised by its HTTP transport in ``APIConnectionError`` and
retries it, after a back-off sleep, unless it is one of its own ``AnthropicError``s,
which it re-raises as they are. A replay divergence or a strict-mode recording failure
is not a connection problem: retrying cannot help and the wrapper hides what went
wrong. ``passthrough`` returns the same error (same fields, same message) as a
subclass of both its own type and ``AnthropicError``, so ``except ReplayDivergence``
and ``except BlobError`` still catch it.
"""

from __future__ import annotations

import functools
from typing import TypeVar

from tracefork_otel.errors import TraceforkError

E = TypeVar("E", bound=TraceforkError)


@functools.cache
def _passthrough_class(cls: type[TraceforkError]) -> type[TraceforkError]:
    try:
        from anthropic import AnthropicError
    except ImportError:
        return cls
    if issubclass(cls, AnthropicError):
        return cls
    return type(cls.__name__, (cls, AnthropicError), {"__module__": cls.__module__, "__doc__": cls.__doc__})


def passthrough(error: E) -> E:
    """``error`` as a type the Anthropic SDK neither wraps nor retries."""
    cls: type[TraceforkError] = _passthrough_class(type(error))  # type: ignore[arg-type]
    if type(error) is cls:
        return error
    clone = cls.__new__(cls)
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    clone.__cause__ = error.__cause__
    return clone  # type: ignore[return-value]
