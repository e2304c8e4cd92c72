"""How a run starts and how it ended: its entry point and its outcome, as the run's root span carries them.

A run records how to start it again. A decorated function (``@tracefork_otel.agent``)
records its import path (``module:qualname``) and its arguments as one JSON blob; a
process run records its command line and working directory (secret-looking values
redacted, the environment never). Every run records its **outcome**: the return value
or the exception, as a JSON blob. The root span holds the blobs' sha256s and a few plain
attributes (`semconv.ENTRY_*`, `semconv.OUTCOME_*`), so ``show``, ``runs`` and the report
read a run's entry point and whether it succeeded from its spans alone.

This module is data and codecs: the recorder writes these attributes, replay and the
views read them back (`entry_point_of`, `outcome_of`).
"""

from __future__ import annotations

import enum
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tracefork_otel import semconv
from tracefork_otel.spanmodel import AttributeValue
from tracefork_otel.wire import dumps

REDACTED: Final = "[REDACTED]"
MAX_ERROR_MESSAGE: Final = 500
"""Characters of an exception's message kept in the outcome (its type is always kept)."""


class EntryKind(enum.StrEnum):
    """What started the run."""

    FUNCTION = "function"
    """A decorated function (``@tracefork_otel.agent``): replay calls it again with the recorded arguments."""
    PROCESS = "process"
    """A whole process (``tfotel record -- …``, ``opentelemetry-instrument``): replay runs the command again."""
    BLOCK = "block"
    """A ``record_run`` block: replay needs ``--agent``."""


class OutcomeStatus(enum.StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class EntryPoint:
    """How to start a run again."""

    kind: EntryKind
    function: str = ""
    """``module:qualname`` of a decorated function."""
    method: bool = False
    """The function is a method: replay calls it on an instance made with no arguments."""
    inputs_sha256: str = ""
    """The blob of ``{"args": [...], "kwargs": {...}}`` (``self`` left out), "" when not captured."""
    inputs_not_captured: str = ""
    """Why the inputs were not captured (replay then asks for ``--agent``)."""
    command: tuple[str, ...] = ()
    """A process run's command line, secret-looking values redacted."""
    cwd: str = ""

    @property
    def replayable(self) -> str | None:
        """None when replay can start the run again from this alone, else why not."""
        if self.kind is EntryKind.BLOCK:
            return "the run was recorded by a record_run block, which records no entry point"
        if self.kind is EntryKind.FUNCTION and not self.inputs_sha256:
            return f"inputs not captured: {self.inputs_not_captured or 'unknown reason'}"
        if self.kind is EntryKind.PROCESS and REDACTED in self.command:
            return "its command line had secret-looking values, which were redacted"
        return None

    def attributes(self) -> dict[str, AttributeValue]:
        attrs: dict[str, AttributeValue] = {semconv.ENTRY_KIND: self.kind.value}
        if self.function:
            attrs[semconv.ENTRY_FUNCTION] = self.function
        if self.method:
            attrs[semconv.ENTRY_METHOD] = True
        if self.inputs_sha256:
            attrs[semconv.ENTRY_INPUTS_SHA256] = self.inputs_sha256
        if self.inputs_not_captured:
            attrs[semconv.ENTRY_INPUTS_NOT_CAPTURED] = self.inputs_not_captured
        if self.command:
            attrs[semconv.ENTRY_COMMAND] = list(self.command)
        if self.cwd:
            attrs[semconv.ENTRY_CWD] = self.cwd
        return attrs

    def describe(self) -> str:
        """One line for ``show``: what replay would start."""
        if self.kind is EntryKind.FUNCTION:
            note = f" (inputs not captured: {self.inputs_not_captured})" if self.inputs_not_captured else ""
            return f"{self.function}(…){note}"
        if self.kind is EntryKind.PROCESS:
            return " ".join(self.command) + (f"  (in {self.cwd})" if self.cwd else "")
        return "record_run block (replay with --agent)"


@dataclass(frozen=True)
class Outcome:
    """How a run ended: the summary on its root span; the value itself is in the blob."""

    status: OutcomeStatus
    sha256: str = ""
    error_type: str = ""

    @property
    def ok(self) -> bool:
        return self.status is OutcomeStatus.OK

    def attributes(self) -> dict[str, AttributeValue]:
        attrs: dict[str, AttributeValue] = {semconv.OUTCOME_STATUS: self.status.value}
        if self.sha256:
            attrs[semconv.OUTCOME_SHA256] = self.sha256
        if self.error_type:
            attrs[semconv.OUTCOME_ERROR_TYPE] = self.error_type
        return attrs


# --- blobs -------------------------------------------------------------------------------


def inputs_blob(args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[bytes | None, str]:
    """The arguments as one JSON blob, or None and why JSON cannot hold them (then replay needs ``--agent``)."""
    try:
        return dumps({"args": list(args), "kwargs": dict(kwargs)}), ""
    except (TypeError, ValueError) as exc:
        return None, f"arguments are not JSON ({exc})"


def parse_inputs(data: bytes) -> tuple[list[Any], dict[str, Any]]:
    """``(args, kwargs)`` from an inputs blob.

    Raises:
        ValueError: the blob is not an inputs document.
    """
    doc = json.loads(data)
    if not isinstance(doc, dict) or not isinstance(doc.get("args"), list) or not isinstance(doc.get("kwargs"), dict):
        raise ValueError("not an inputs blob")
    return doc["args"], doc["kwargs"]


def outcome_document(value: Any = None, error: BaseException | None = None) -> dict[str, Any]:
    """The outcome as JSON-ready data: ``{"status": "ok", "value": …}`` (``repr`` where JSON cannot hold it)
    or ``{"status": "error", "type": …, "message": …}``."""
    if error is not None:
        return {
            "status": OutcomeStatus.ERROR.value,
            "type": type(error).__qualname__,
            "message": str(error)[:MAX_ERROR_MESSAGE],
        }
    try:
        return {"status": OutcomeStatus.OK.value, "value": json.loads(dumps(value))}
    except (TypeError, ValueError):
        return {"status": OutcomeStatus.OK.value, "repr": repr(value)}


def outcome_summary(document: Mapping[str, Any]) -> str:
    """One line for a person: the value, or ``raised Type: message``."""
    if document.get("status") == OutcomeStatus.ERROR.value:
        return f"raised {document.get('type')}: {document.get('message')}"
    if "value" in document:
        return json.dumps(document["value"], ensure_ascii=False)
    return str(document.get("repr", ""))


# --- reading a root span back ------------------------------------------------------------


def entry_point_of(attributes: Mapping[str, AttributeValue]) -> EntryPoint | None:
    """The entry point a root span records, or None (a run recorded before entry points, or not a run root)."""
    kind = attributes.get(semconv.ENTRY_KIND)
    try:
        entry_kind = EntryKind(str(kind))
    except ValueError:
        return None
    command = attributes.get(semconv.ENTRY_COMMAND)
    return EntryPoint(
        kind=entry_kind,
        function=str(attributes.get(semconv.ENTRY_FUNCTION, "")),
        method=attributes.get(semconv.ENTRY_METHOD) is True,
        inputs_sha256=str(attributes.get(semconv.ENTRY_INPUTS_SHA256, "")),
        inputs_not_captured=str(attributes.get(semconv.ENTRY_INPUTS_NOT_CAPTURED, "")),
        command=tuple(str(a) for a in command) if isinstance(command, (list, tuple)) else (),
        cwd=str(attributes.get(semconv.ENTRY_CWD, "")),
    )


def outcome_of(attributes: Mapping[str, AttributeValue]) -> Outcome | None:
    """The outcome a root span records, or None (not recorded: a crash, or an older recorder)."""
    try:
        status = OutcomeStatus(str(attributes.get(semconv.OUTCOME_STATUS)))
    except ValueError:
        return None
    return Outcome(
        status=status,
        sha256=str(attributes.get(semconv.OUTCOME_SHA256, "")),
        error_type=str(attributes.get(semconv.OUTCOME_ERROR_TYPE, "")),
    )


# --- command lines -----------------------------------------------------------------------

_SECRET_NAME = re.compile(r"(key|token|secret|passw(or)?d|auth|credential|bearer|cookie|session)", re.IGNORECASE)
_SECRET_VALUE = re.compile(r"^(sk-[A-Za-z0-9_-]{8,}|Bearer\s+\S+|[A-Za-z0-9_-]{40,}={0,2})$")
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)


def redact_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """A command line with secret-looking values replaced by ``[REDACTED]``.

    The value of an option whose name looks like a secret (``--api-key X``, ``--token=X``,
    ``PASSWORD=X``), a value shaped like a key (``sk-…``, ``Bearer …``, a long opaque token),
    and the credentials of a URL (``https://user:pass@host``) are redacted.
    """
    out: list[str] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            out.append(REDACTED)
            redact_next = False
            continue
        name, sep, value = arg.partition("=")
        if sep and _SECRET_NAME.search(name) and value:
            out.append(f"{name}={REDACTED}")
            continue
        if arg.startswith("-") and not sep and _SECRET_NAME.search(arg):
            out.append(arg)
            redact_next = True
            continue
        if _SECRET_VALUE.match(arg):
            out.append(REDACTED)
            continue
        out.append(_URL_CREDENTIALS.sub(rf"\g<scheme>{REDACTED}@", arg))
    return tuple(out)


def qualified_name(fn: Callable[..., Any]) -> str:
    """``module:qualname`` of a function, as ``load_callable`` imports it back.

    A function of a script run as ``__main__`` is named by the script's path (``/abs/agent.py:main``):
    replay imports the file under another name, so its ``if __name__ == "__main__"`` block stays out.
    """
    module = fn.__module__
    if module == "__main__":
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        if spec is not None and spec.name:
            module = spec.name
        elif getattr(main, "__file__", None):
            module = os.path.abspath(str(getattr(main, "__file__", "")))
    return f"{module}:{fn.__qualname__}"
