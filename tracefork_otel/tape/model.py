"""The tape as Python sees it: frozen dataclasses over the ``tracefork.v1.Tape`` message.

A tape is one recorded run: its exchanges in step order (references to the exact
request and response bytes, plus what replay needs to answer like the server did)
and its nondeterminism draws. It holds digests, never bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from tracefork_otel._proto.tracefork.v1 import tape_pb2
from tracefork_otel.entrypoint import EntryKind, EntryPoint, Outcome, OutcomeStatus
from tracefork_otel.tape.digest import tape_digest
from tracefork_otel.wire import is_model_call

ANY_EXCEPTION = "exception"
"""The recorded error type of a run that raised but did not record which exception (matches any)."""

SCHEMA_VERSION = 1
"""Version of the tape format this code writes and the newest it reads."""


@dataclass(frozen=True)
class Exchange:
    """One HTTP request/response pair of the run."""

    step: int
    request_sha256: str
    response_sha256: str
    method: str = "POST"
    url_path: str = "/v1/messages"
    status_code: int = 200
    response_headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False
    incomplete: bool = False
    span_id: str = ""
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    request_model: str = ""
    error_type: str = ""
    redacted: bool = False
    """A redaction hook changed the stored bytes: the exchange can be inspected, not replayed."""

    @property
    def is_model_step(self) -> bool:
        """A model call (``POST /v1/messages``); other calls (``count_tokens``, models, batches, files) are
        replayed but never resampled or ranked."""
        return is_model_call(self.method, self.url_path)

    def header(self, name: str) -> str | None:
        """A kept response header's value, by lowercase name."""
        for key, value in self.response_headers:
            if key == name:
                return value
        return None


class DrawKind(enum.StrEnum):
    """What a draw from the nondeterminism seam was: each is one method of ``Nondet``."""

    NOW_ISO = "now_iso"
    NEW_ID = "new_id"
    RANDOM = "random"


@dataclass(frozen=True)
class Draw:
    """One value drawn from the nondeterminism seam."""

    order: int
    kind: str
    """A ``DrawKind`` value (kept as text: a tape from a newer recorder may hold kinds this one does not know)."""
    value: str
    before_step: int = 0
    """How many exchanges the run had started when the value was drawn (forks replay draws up to their step)."""


@dataclass(frozen=True)
class Tape:
    """A recorded run, ready to replay."""

    trace_id: str
    exchanges: tuple[Exchange, ...] = ()
    draws: tuple[Draw, ...] = ()
    run_name: str = ""
    schema: int = SCHEMA_VERSION
    digest: str = ""
    root_span_id: str = ""
    start_time_unix_nano: int = 0
    end_time_unix_nano: int = 0
    partial: bool = False
    parent_trace_id: str = ""
    fork_step: int = 0
    outcome: Outcome | None = None
    """How the recorded run ended; None when it was not recorded (a crash, an older recorder)."""
    entry: EntryPoint | None = None
    """How to start the run again; None when it was not recorded."""

    @property
    def recorded_error_type(self) -> str | None:
        """The exception the recorded run raised, or None (it returned, or its outcome was not recorded)."""
        if self.outcome is None or self.outcome.ok:
            return None
        return self.outcome.error_type or ANY_EXCEPTION

    @property
    def fragment(self) -> bool:
        """No run boundary opened it (no entry point, no agent name): it may hold only some calls of a larger
        run — one call of a loop traced per call, or the calls under another instrumentation's span."""
        return self.entry is None and not self.run_name

    def computed_digest(self) -> str:
        """The hash chain over this tape's exchanges and draws."""
        return tape_digest(self.exchanges, self.draws)

    def sealed(self) -> Tape:
        """This tape with ``digest`` set from its content."""
        return replace(self, digest=self.computed_digest())

    def first_redacted_step(self) -> int | None:
        """The first step whose bytes a redaction hook changed, or None for a replayable tape."""
        return next((ex.step for ex in self.exchanges if ex.redacted), None)

    def model_steps(self) -> list[int]:
        """The steps that are model calls: the ones forks resample and blame ranks."""
        return [ex.step for ex in self.exchanges if ex.is_model_step]

    def blob_digests(self) -> list[str]:
        """Every blob the exchanges reference, in step order, without repeats: a replay needs them all."""
        seen: dict[str, None] = {}
        for ex in self.exchanges:
            seen.setdefault(ex.request_sha256, None)
            seen.setdefault(ex.response_sha256, None)
        return [d for d in seen if d]

    def run_blob_digests(self) -> list[str]:
        """The run's own blobs (its inputs, its outcome): used where present (starting the run again,
        comparing outcomes), never required — the recorder writes them fail-open like everything else."""
        digests = [self.entry.inputs_sha256 if self.entry else "", self.outcome.sha256 if self.outcome else ""]
        return [d for d in dict.fromkeys(digests) if d and d not in self.blob_digests()]

    # --- proto ------------------------------------------------------------------

    def to_proto(self) -> tape_pb2.Tape:
        msg = tape_pb2.Tape(
            schema=self.schema,
            trace_id=self.trace_id,
            run_name=self.run_name,
            digest=self.digest,
            root_span_id=self.root_span_id,
            start_time_unix_nano=self.start_time_unix_nano,
            end_time_unix_nano=self.end_time_unix_nano,
            partial=self.partial,
            parent_trace_id=self.parent_trace_id,
            fork_step=self.fork_step,
        )
        if self.outcome is not None:
            msg.outcome.CopyFrom(
                tape_pb2.Outcome(
                    status=self.outcome.status.value, sha256=self.outcome.sha256, error_type=self.outcome.error_type
                )
            )
        if self.entry is not None:
            e = self.entry
            msg.entry.CopyFrom(
                tape_pb2.EntryPoint(
                    kind=e.kind.value,
                    function=e.function,
                    method=e.method,
                    inputs_sha256=e.inputs_sha256,
                    inputs_not_captured=e.inputs_not_captured,
                    command=list(e.command),
                    cwd=e.cwd,
                )
            )
        for ex in self.exchanges:
            msg.exchanges.append(
                tape_pb2.Exchange(
                    step=ex.step,
                    request_sha256=ex.request_sha256,
                    response_sha256=ex.response_sha256,
                    method=ex.method,
                    url_path=ex.url_path,
                    status_code=ex.status_code,
                    response_headers=[tape_pb2.Header(name=k, value=v) for k, v in ex.response_headers],
                    stream=ex.stream,
                    incomplete=ex.incomplete,
                    span_id=ex.span_id,
                    start_time_unix_nano=ex.start_time_unix_nano,
                    end_time_unix_nano=ex.end_time_unix_nano,
                    request_model=ex.request_model,
                    error_type=ex.error_type,
                    redacted=ex.redacted,
                )
            )
        for draw in self.draws:
            msg.draws.append(
                tape_pb2.Draw(order=draw.order, kind=draw.kind, value=draw.value, before_step=draw.before_step)
            )
        return msg

    @classmethod
    def from_proto(cls, msg: tape_pb2.Tape) -> Tape:
        return cls(
            schema=msg.schema,
            trace_id=msg.trace_id,
            run_name=msg.run_name,
            digest=msg.digest,
            root_span_id=msg.root_span_id,
            start_time_unix_nano=msg.start_time_unix_nano,
            end_time_unix_nano=msg.end_time_unix_nano,
            partial=msg.partial,
            parent_trace_id=msg.parent_trace_id,
            fork_step=msg.fork_step,
            outcome=_outcome_from_proto(msg.outcome) if msg.HasField("outcome") else None,
            entry=_entry_from_proto(msg.entry) if msg.HasField("entry") else None,
            exchanges=tuple(
                Exchange(
                    step=ex.step,
                    request_sha256=ex.request_sha256,
                    response_sha256=ex.response_sha256,
                    method=ex.method,
                    url_path=ex.url_path,
                    status_code=ex.status_code,
                    response_headers=tuple((h.name, h.value) for h in ex.response_headers),
                    stream=ex.stream,
                    incomplete=ex.incomplete,
                    span_id=ex.span_id,
                    start_time_unix_nano=ex.start_time_unix_nano,
                    end_time_unix_nano=ex.end_time_unix_nano,
                    request_model=ex.request_model,
                    error_type=ex.error_type,
                    redacted=ex.redacted,
                )
                for ex in msg.exchanges
            ),
            draws=tuple(Draw(order=d.order, kind=d.kind, value=d.value, before_step=d.before_step) for d in msg.draws),
        )


def _outcome_from_proto(msg: tape_pb2.Outcome) -> Outcome | None:
    try:
        status = OutcomeStatus(msg.status)
    except ValueError:  # a status a newer recorder knows: not one this code can compare
        return None
    return Outcome(status, sha256=msg.sha256, error_type=msg.error_type)


def _entry_from_proto(msg: tape_pb2.EntryPoint) -> EntryPoint | None:
    try:
        kind = EntryKind(msg.kind)
    except ValueError:
        return None
    return EntryPoint(
        kind,
        function=msg.function,
        method=msg.method,
        inputs_sha256=msg.inputs_sha256,
        inputs_not_captured=msg.inputs_not_captured,
        command=tuple(msg.command),
        cwd=msg.cwd,
    )
