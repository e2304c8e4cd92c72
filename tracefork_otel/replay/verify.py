"""Where two request bodies first differ, as a JSON path with both values.

Small named comparators in the VCR.py manner: each compares one aspect and says
pass or where it failed; ``first_difference`` reports the first failure, which is
what a person needs to find the line of agent code that changed.
"""

from __future__ import annotations

import json
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


def _walk(expected: Any, actual: Any, path: str) -> Difference | None:
    if type(expected) is not type(actual) and not (
        isinstance(expected, (int, float))
        and isinstance(actual, (int, float))
        and not isinstance(expected, bool)
        and not isinstance(actual, bool)
    ):
        return Difference(path or "(root)", shorten(expected), shorten(actual))
    if isinstance(expected, dict):
        for key in expected:
            if key not in actual:
                return Difference(_join(path, key), shorten(expected[key]), shorten(_MISSING))
            found = _walk(expected[key], actual[key], _join(path, key))
            if found:
                return found
        for key in actual:
            if key not in expected:
                return Difference(_join(path, key), shorten(_MISSING), shorten(actual[key]))
        if list(expected) != list(actual):
            return Difference(path or "(root)", "keys " + shorten(list(expected)), "keys " + shorten(list(actual)))
        return None
    if isinstance(expected, list):
        for i, (e, a) in enumerate(zip(expected, actual, strict=False)):
            found = _walk(e, a, _join(path, i))
            if found:
                return found
        if len(expected) != len(actual):
            i = min(len(expected), len(actual))
            return Difference(
                _join(path, i),
                shorten(expected[i]) if i < len(expected) else shorten(_MISSING),
                shorten(actual[i]) if i < len(actual) else shorten(_MISSING),
            )
        return None
    if isinstance(expected, str) and expected != actual:
        nested = _json_in_string(expected, actual, path)
        if nested is not None:
            return nested
    if expected != actual or type(expected) is not type(actual):
        return Difference(path or "(root)", shorten(expected), shorten(actual))
    return None


def _json_in_string(expected: str, actual: str, path: str) -> Difference | None:
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
    if expected == actual:
        return None
    try:
        e_doc, a_doc = json.loads(expected), json.loads(actual)
    except (ValueError, UnicodeDecodeError):
        return _bytes_difference(expected, actual)
    found = _walk(e_doc, a_doc, "")
    if found is not None:
        return found
    diff = _bytes_difference(expected, actual)
    return Difference("(encoding) " + diff.path, diff.expected, diff.actual)
