"""Where two request bodies first differ, as a JSON path with both values.

Small named comparators in the VCR.py manner: each compares one aspect and says
pass or where it failed; ``first_difference`` reports the first failure, which is
what a person needs to find the line of agent code that changed.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_MAX_VALUE_CHARS = 80
_MISSING = object()


@dataclass(frozen=True)
class Difference:
    """The first place two bodies differ."""

    path: str
    expected: str
    actual: str


def shorten(value: Any) -> str:
    """A value as a person reads it in one line: JSON, cut to a readable length."""
    if value is _MISSING:
        return "(absent)"
    text = json.dumps(value, ensure_ascii=False, sort_keys=False) if not isinstance(value, str) else repr(value)
    if isinstance(value, float):
        text = repr(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 1] + "\u2026"


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _walk(expected: Any, actual: Any, path: str) -> Iterator[Difference]:
    """Every place ``expected`` and ``actual`` differ, in document order (the first is what a person needs)."""
    if type(expected) is not type(actual) and not (
        isinstance(expected, (int, float))
        and isinstance(actual, (int, float))
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        yield Difference(path or "(root)", shorten(expected), shorten(actual))
        return
    if isinstance(expected, dict):
        found = False
        for key in expected:
            if key not in actual:
                found = True
                yield Difference(_join(path, key), shorten(expected[key]), shorten(_MISSING))
                continue
            for difference in _walk(expected[key], actual[key], _join(path, key)):
                found = True
                yield difference
        for key in actual:
            if key not in expected:
                found = True
                yield Difference(_join(path, key), shorten(_MISSING), shorten(actual[key]))
        if not found and list(expected) != list(actual):
            yield Difference(path or "(root)", "keys " + shorten(list(expected)), "keys " + shorten(list(actual)))
        return
    if isinstance(expected, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            yield from _walk(e, a, _join(path, i))
        for i in range(min(len(expected), len(actual)), max(len(expected), len(actual))):
            yield Difference(
                _join(path, i),
                shorten(expected[i]) if i < len(expected) else shorten(_MISSING),
                shorten(actual[i]) if i < len(actual) else shorten(_MISSING),
            )
        return
    if isinstance(expected, str) and expected != actual:
        nested = _json_in_string(expected, actual, path)
        if nested is not None:
            yield from nested
            return
    if expected != actual or type(expected) is not type(actual):
        yield Difference(path or "(root)", shorten(expected), shorten(actual))


def _json_in_string(expected: str, actual: str, path: str) -> Iterator[Difference] | None:
    """Tool results often carry JSON as a string: walk into it (``content<json>.amount``)."""
    if not (expected[:1] in "{[" and actual[:1] in "{["):
        return None
    try:
        e_doc, a_doc = json.loads(expected), json.loads(actual)
    except ValueError:
        return None
    return _walk(e_doc, a_doc, f"{path}<json>")


def _bytes_difference(expected: bytes, actual: bytes) -> Difference:
    limit = min(len(expected), len(actual))
    offset = next((i for i in range(limit) if expected[i] != actual[i]), limit)
    lo = max(0, offset - 20)
    return Difference(
        f"byte {offset}",
        repr(expected[lo : offset + 20]),
        repr(actual[lo : offset + 20]),
    )


def first_difference(expected: bytes, actual: bytes) -> Difference | None:
    """The first difference between two bodies: a JSON path when both are JSON, else a byte offset.

    Returns None when the bodies are equal byte for byte. Two JSON bodies that are equal
    as values but not as bytes (whitespace, key order, number spelling) differ at
    ``(encoding)``.
    """
    found = differences(expected, actual, limit=1)
    return found[0] if found else None


def differences(expected: bytes, actual: bytes, *, limit: int = 20) -> list[Difference]:
    """Up to ``limit`` places two bodies differ, in document order (see `first_difference`)."""
    if expected == actual:
        return []
    try:
        e_doc, a_doc = json.loads(expected), json.loads(actual)
    except (ValueError, UnicodeDecodeError):
        return [_bytes_difference(expected, actual)]
    found = list(itertools.islice(_walk(e_doc, a_doc, ""), limit))
    if found:
        return found
    diff = _bytes_difference(expected, actual)
    return [Difference("(encoding) " + diff.path, diff.expected, diff.actual)]
