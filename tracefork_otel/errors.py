"""The exceptions tracefork-otel raises.

Every error derives from one root, so the CLI maps them to one stderr line and exit 2
in one place::

    TraceforkError
    ├── ConfigError(ValueError)          bad argument, option or environment value
    ├── BlobError
    │   ├── BlobNotFoundError(FileNotFoundError)
    │   └── BlobIntegrityError(ValueError)   bytes read do not hash to their name
    ├── TapeError(ValueError)            corrupt, foreign or too-new tape / bundle
    │   ├── TapeRedactedError            redacted at record time: inspect it, never replay it
    │   ├── TapePartialError             a partial recording (crash, kill): replay its prefix only when asked
    │   └── TapeEncodedError             a response stored still compressed (an older recorder's tape)
    ├── TraceNotFoundError               unknown trace id in a source
    ├── SourceError                      backend unreachable, refused, timed out, bad body
    ├── RebuildError                     spans + blobs do not make a complete tape
    ├── AgentLoadError                   ``module:function`` cannot be imported
    ├── OracleError                      the oracle raised, or returned something not a bool
    ├── StoreError                       the local span store cannot be read or written
    ├── FrameTooLarge(ValueError)        a zstd frame claims or expands past its cap
    ├── ContentDecodingError(ValueError) a response body does not undo from its content-encoding
    ├── NotReplayableError               the run (or a fork's prefix) does not replay, so forks
    │                                    are no counterfactuals of it; carries the divergence
    ├── RunFragmentError                 the trace holds calls of a larger run, not a whole run
    ├── LiveEndpointError                the live endpoint failed during a fork (measures nothing)
    ├── BudgetExhausted                  blame's run or dollar cap was reached
    ├── ReplayDivergence                 the replayed run differs from the tape (exit 1 in
    │                                    ``verify``; carries a ``DivergenceCode``, step, field
    │                                    and both sides)
    ├── validate.world.ScenarioError     a scenario did not behave as planted
    └── demo.threads.ThreadRejected      the stand-in cannot continue a message thread

    ConfigError
    └── validate.faults.FaultNotApplicable   a fault that cannot act on this message

Errors carry the fields a caller needs (step, digests, paths) and say what to do next.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any


class TraceforkError(Exception):
    """Root of every error tracefork-otel raises on purpose."""


class ConfigError(TraceforkError, ValueError):
    """A bad argument, option or environment value."""


class BlobError(TraceforkError):
    """A blob store could not serve or keep a blob."""


class BlobNotFoundError(BlobError, FileNotFoundError):
    """No blob with this digest in the store."""

    def __init__(self, digest: str, store: str) -> None:
        super().__init__(f"blob {digest[:16]}… not found in {store}")
        self.digest = digest
        self.store = store


class BlobIntegrityError(BlobError, ValueError):
    """The bytes stored under a digest do not hash to it (a flipped byte, a truncated file)."""

    def __init__(self, digest: str, actual: str, store: str) -> None:
        super().__init__(f"blob {digest[:16]}… in {store} is corrupt: its bytes hash to {actual[:16]}…")
        self.digest = digest
        self.actual = actual
        self.store = store


class TapeError(TraceforkError, ValueError):
    """A tape or ``.tftape`` bundle is corrupt, foreign, or of a newer schema."""


class TapeRedactedError(TapeError):
    """The tape's bytes were redacted when it was recorded, so replaying it cannot be bit-exact.

    Attributes:
        step: the first redacted step.
    """

    def __init__(self, trace_id: str, step: int) -> None:
        super().__init__(
            f"tape {trace_id} was redacted at record time (from step {step}): inspect it with tfotel show or"
            " tfotel export; replay is not bit-exact"
        )
        self.trace_id = trace_id
        self.step = step


class TapePartialError(TapeError):
    """The recording stopped before the run ended (a crash, a kill, a lost root span), so only its prefix replays.

    Attributes:
        steps: how many exchanges the partial recording holds.
    """

    def __init__(self, trace_id: str, steps: int) -> None:
        super().__init__(
            f"run {trace_id} is a partial recording (it stopped after {steps} steps: a crash or a kill, not drift);"
            " replay its completed prefix with --allow-partial"
        )
        self.trace_id = trace_id
        self.steps = steps


class TapeEncodedError(TapeError):
    """A recorded response body is still content-encoded (gzip, zstd, zlib) where its exchange says JSON or SSE.

    The recorder used to store a compressed response as it came off the wire and drop its
    ``content-encoding``; served back, the SDK would parse compressed bytes as text. Such a tape
    cannot be repaired: the run has to be recorded again.

    Attributes:
        step: the first such step.
        coding: the coding its body starts with.
    """

    def __init__(self, trace_id: str, step: int, coding: str) -> None:
        super().__init__(
            f"tape {trace_id} step {step}: the recorded response is {coding}-compressed bytes, not the body the"
            " SDK parsed (an older recorder kept compressed responses as sent); it cannot be replayed:"
            " record the run again"
        )
        self.trace_id = trace_id
        self.step = step
        self.coding = coding


class TraceNotFoundError(TraceforkError, LookupError):
    """The source has no trace with this id."""

    def __init__(self, trace_id: str, source: str) -> None:
        super().__init__(f"trace {trace_id} not found in {source}")
        self.trace_id = trace_id
        self.source = source


class SourceError(TraceforkError):
    """A trace source could not answer: unreachable, refused, timed out, or an unreadable body."""


class RebuildError(TraceforkError):
    """The spans and blobs of a trace do not make a complete tape (missing step, missing blob)."""

    def __init__(self, message: str, *, step: int | None = None) -> None:
        super().__init__(message)
        self.step = step


class AgentLoadError(TraceforkError):
    """An agent or oracle given as ``module:function`` cannot be loaded."""


class OracleError(TraceforkError):
    """The oracle raised, or returned something other than True or False: its verdict cannot be read."""


class StoreError(TraceforkError):
    """The local span store cannot be opened, read or written."""


class FrameTooLarge(TraceforkError, ValueError):
    """A zstd frame declares, or expands to, more than the cap (a decompression bomb or a corrupt frame)."""

    def __init__(self, size: int, *, declared: bool) -> None:
        what = "claims" if declared else "expands to more than"
        super().__init__(f"{what} {size} bytes")
        self.size = size
        self.declared = declared


class ContentDecodingError(TraceforkError, ValueError):
    """A response body cannot be undone from its ``content-encoding``: corrupt, a coding this process
    cannot undo, or it expands past the cap (a decompression bomb)."""


class BudgetExhausted(TraceforkError):
    """Blame's run or dollar cap was reached; the strategy reports what it has."""


class LiveEndpointError(TraceforkError):
    """The live endpoint failed during a fork: such a fork measures the endpoint, not the agent.

    Attributes:
        step: the step the fork was made at.
    """

    def __init__(self, step: int, cause: BaseException) -> None:
        super().__init__(f"the live endpoint failed during a fork at step {step}: {cause!r}")
        self.step = step


class NotReplayableError(TraceforkError):
    """The run, or the prefix of a fork, does not replay bit-exact, so forks are not counterfactuals of it.

    Attributes:
        divergence: the first divergence.
    """

    def __init__(self, message: str, divergence: ReplayDivergence | None) -> None:
        super().__init__(f"{message}: {divergence}")
        self.divergence = divergence


class RunFragmentError(TraceforkError):
    """The trace holds some calls of a larger run (no run boundary opened it), and the agent went on past them.

    Attributes:
        steps: how many calls the trace holds.
    """

    def __init__(self, trace_id: str, steps: int) -> None:
        super().__init__(
            f"trace {trace_id} holds {steps} call(s) of a larger run, not a whole run, so it cannot be replayed"
            " alone: record the whole run with @tracefork_otel.agent on its entry function, or run it as"
            " `tfotel record -- python agent.py …`"
        )
        self.trace_id = trace_id
        self.steps = steps


class DivergenceCode(enum.StrEnum):
    """The stable, searchable code of a divergence (``[TFO101]`` in messages and docs)."""

    REQUEST_DIFFERS = "TFO101"
    """A request's bytes differ from the recorded one at the same step."""
    EXTRA_REQUEST = "TFO102"
    """A request the recording does not have (past the tape, or past the prefix with nothing live)."""
    MISSING_REQUEST = "TFO103"
    """A recorded request the replayed run never made."""
    DRAW_DIFFERS = "TFO104"
    """A draw of another kind, past the recorded ones, or a recorded draw never taken."""
    UNOWNED_REQUEST = "TFO105"
    """A request from a thread that belongs to none of the replays running at once."""


class ReplayDivergence(TraceforkError):
    """The replayed run differs from the tape: the first difference, pinned to a step and a field.

    Attributes:
        code: the stable, searchable ``DivergenceCode``.
        step: the step where the run diverged (for draws: the draw's order).
        field: the first differing JSON path (``messages[3].content[0].input.amount``), or "".
        expected / actual: both sides at that path, shortened (request bodies never hold secrets).
        expected_sha256 / actual_sha256: digests of the recorded and replayed bytes.
    """

    def __init__(
        self,
        code: DivergenceCode,
        summary: str,
        *,
        step: int,
        field: str = "",
        expected: str = "",
        actual: str = "",
        expected_sha256: str = "",
        actual_sha256: str = "",
        hint: str = "",
    ) -> None:
        where = f" at {field}: {expected} \u2192 {actual}" if field else ""
        digests = (
            f" (recorded sha256 {expected_sha256[:12]}\u2026, replayed {actual_sha256[:12]}\u2026)"
            if expected_sha256 and actual_sha256
            else ""
        )
        super().__init__(f"[{code}] step {step}: {summary}{where}{digests}" + (f". {hint}" if hint else ""))
        self.code = code
        self.summary = summary
        self.hint = hint
        self.step = step
        self.field = field
        self.expected = expected
        self.actual = actual
        self.expected_sha256 = expected_sha256
        self.actual_sha256 = actual_sha256

    def to_json(self) -> dict[str, Any]:
        """The divergence as data: every field, and the message as printed."""
        return {
            "code": self.code.value,
            "summary": self.summary,
            "step": self.step,
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
            "expected_sha256": self.expected_sha256,
            "actual_sha256": self.actual_sha256,
            "hint": self.hint,
            "message": str(self),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ReplayDivergence:
        """The divergence `to_json` wrote (a replayed command's, passed back to its parent)."""
        return cls(
            DivergenceCode(doc["code"]),
            doc["summary"],
            step=doc["step"],
            field=doc["field"],
            expected=doc["expected"],
            actual=doc["actual"],
            expected_sha256=doc["expected_sha256"],
            actual_sha256=doc["actual_sha256"],
            hint=doc["hint"],
        )
