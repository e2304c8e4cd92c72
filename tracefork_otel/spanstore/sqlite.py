"""The local span store: finished spans in one SQLite file under ``$TFOTEL_HOME``.

Several processes may write to one file at once: the file is in WAL mode, every write
is one ``BEGIN IMMEDIATE`` transaction that waits up to ``busy_timeout`` for the write
lock, and a write that still finds the file locked is retried a few times with backoff
before it fails with :class:`StoreError`. Rows are keyed by ``(trace_id, span_id)``
and written with ``INSERT OR REPLACE``, so exporting or importing a span twice is a
no-op. No ``sqlite3`` exception leaves this module: each becomes a one-line
``StoreError`` naming the file.

The file carries its schema version in ``PRAGMA user_version`` and our mark in
``PRAGMA application_id``; a newer version or a foreign database is refused, never
written over.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import random
import sqlite3
import threading
import time
import urllib.parse
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn

from tracefork_otel import environment_variables, semconv
from tracefork_otel.errors import StoreError
from tracefork_otel.spanmodel import (
    Attributes,
    EventRecord,
    LinkRecord,
    SpanKind,
    SpanRecord,
    StatusCode,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1
"""The schema this module writes (``PRAGMA user_version``); files with a higher one are refused."""

APPLICATION_ID: Final = 0x54464F54
"""``PRAGMA application_id`` of a span store file ("TFOT")."""

DEFAULT_FILENAME: Final = "spans.sqlite3"

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS spans (
    trace_id        TEXT    NOT NULL,
    span_id         TEXT    NOT NULL,
    parent_span_id  TEXT,
    name            TEXT    NOT NULL,
    kind            INTEGER NOT NULL,
    start_ns        INTEGER NOT NULL,
    end_ns          INTEGER NOT NULL,
    status_code     INTEGER NOT NULL,
    status_message  TEXT    NOT NULL,
    attributes      TEXT    NOT NULL,
    events          TEXT    NOT NULL,
    links           TEXT    NOT NULL,
    resource        TEXT    NOT NULL,
    scope_name      TEXT    NOT NULL,
    is_exchange     INTEGER NOT NULL,
    input_tokens    INTEGER,
    output_tokens   INTEGER,
    run_partial     INTEGER NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS spans_by_trace ON spans (trace_id, start_ns);
CREATE INDEX IF NOT EXISTS spans_roots ON spans (start_ns) WHERE parent_span_id IS NULL;
CREATE INDEX IF NOT EXISTS spans_exchanges ON spans (trace_id) WHERE is_exchange = 1;
"""

_COLUMNS: Final = (
    "trace_id, span_id, parent_span_id, name, kind, start_ns, end_ns, status_code, status_message, "
    "attributes, events, links, resource, scope_name, is_exchange, input_tokens, output_tokens, run_partial"
)
_INSERT: Final = f"INSERT OR REPLACE INTO spans ({_COLUMNS}) VALUES ({', '.join('?' * 18)})"
_DELETE_TRACE: Final = "DELETE FROM spans WHERE trace_id = ?"
_LATEST_BLAME: Final = """
SELECT trace_id FROM spans
WHERE parent_span_id IS NULL AND name = ? AND json_extract(attributes, '$."' || ? || '"') = ?
ORDER BY start_ns DESC LIMIT 1
"""

# A run whose process died before its root span ended has exchange spans but no root:
# such traces are listed too (newest first, partial), found through the two partial
# indexes rather than a walk of every span.
_LIST_UNSEALED: Final = """
WITH unsealed AS (
    SELECT trace_id FROM spans WHERE is_exchange = 1
    EXCEPT
    SELECT trace_id FROM spans WHERE parent_span_id IS NULL
),
firsts AS (
    SELECT s.trace_id, MIN(s.start_ns) AS start_ns
    FROM unsealed JOIN spans AS s ON s.trace_id = unsealed.trace_id
    GROUP BY s.trace_id
    ORDER BY start_ns DESC, s.trace_id
    LIMIT :limit
)
SELECT firsts.trace_id, '', firsts.start_ns, MAX(s.end_ns) - firsts.start_ns,
       SUM(s.is_exchange),
       COALESCE(SUM(s.input_tokens), 0),
       COALESCE(SUM(s.output_tokens), 0),
       SUM(s.status_code = :error),
       1, '', '', ''
FROM firsts JOIN spans AS s ON s.trace_id = firsts.trace_id
GROUP BY firsts.trace_id
"""

_SELECT_TRACE: Final = f"SELECT {_COLUMNS} FROM spans WHERE trace_id = ? ORDER BY start_ns, span_id"
_TRACES_STARTING: Final = (
    "SELECT DISTINCT trace_id FROM spans WHERE trace_id >= ? AND trace_id < ? ORDER BY trace_id LIMIT ?"
)
_FORKS_OF: Final = f"""
SELECT {_COLUMNS} FROM spans
WHERE parent_span_id IS NULL AND json_extract(attributes, '$."' || ? || '"') = ?
ORDER BY start_ns, trace_id
"""

# Candidate roots are walked newest first through the partial index ``spans_roots``, so
# LIMIT stops the walk early; only the chosen traces are then aggregated.
_LIST_RUNS: Final = """
WITH roots AS (
    SELECT r.trace_id, r.span_id, r.name, r.start_ns, r.end_ns, r.run_partial,
           COALESCE(json_extract(r.attributes, '$."' || :outcome_key || '"'), '') AS outcome,
           COALESCE(json_extract(r.attributes, '$."' || :error_key || '"'), '') AS error_type,
           COALESCE(json_extract(r.attributes, '$."' || :entry_key || '"'), '') AS entry
    FROM spans AS r
    WHERE r.parent_span_id IS NULL
      AND (r.name = :blame
           OR substr(r.name, 1, length(:agent_prefix)) = :agent_prefix
           OR EXISTS (SELECT 1 FROM spans AS e WHERE e.trace_id = r.trace_id AND e.is_exchange = 1))
    ORDER BY r.start_ns DESC, r.trace_id
    LIMIT :limit
)
SELECT roots.trace_id, roots.name, roots.start_ns, roots.end_ns - roots.start_ns,
       SUM(s.is_exchange),
       COALESCE(SUM(s.input_tokens), 0),
       COALESCE(SUM(s.output_tokens), 0),
       SUM(s.status_code = :error),
       roots.run_partial, roots.outcome, roots.error_type, roots.entry
FROM roots JOIN spans AS s ON s.trace_id = roots.trace_id
GROUP BY roots.trace_id, roots.span_id
ORDER BY roots.start_ns DESC, roots.trace_id
"""

# Stores alive in this process; a forked child must not reuse its parent's connection.
_STORES: weakref.WeakSet[SpanStore] = weakref.WeakSet()


@dataclass(frozen=True)
class RunSummary:
    """One recorded run (or blame report) as ``tfotel runs`` lists it."""

    trace_id: str
    """The run id: 32 lowercase hex digits."""
    name: str
    """The root span's name (``invoke_agent {name}``, ``tracefork.blame``…); "" when the trace has no root span."""
    start_time_unix_nano: int
    duration_ns: int
    exchanges: int
    """Spans of the trace that carry ``tracefork.step``."""
    input_tokens: int
    """Sum of ``gen_ai.usage.input_tokens`` over the trace's spans (ours, or the SDK's own GenAI spans)."""
    output_tokens: int
    """Sum of ``gen_ai.usage.output_tokens`` over the trace's spans."""
    errors: int
    """Spans of the trace whose status is ERROR."""
    partial: bool
    """The root span's ``tracefork.run.partial``: recording lost part of the run."""
    outcome: str = ""
    """``ok`` or ``error`` (``tracefork.outcome.status``); "" when not recorded (an older run, or a trace that
    holds only calls of a larger run)."""
    error_type: str = ""
    """The exception's type when the run raised."""
    entry: str = ""
    """What started the run (``tracefork.entry.kind``: ``function``, ``process``, ``block``); "" for a trace
    that no run boundary opened."""

    @property
    def fragment(self) -> bool:
        """The trace holds calls of a larger run, not a whole run: no run boundary opened it."""
        return not self.entry and not self.name.startswith(semconv.SPAN_INVOKE_AGENT_PREFIX) and self.exchanges > 0


class SpanStore:
    """Finished spans in a SQLite file, safe for several threads and processes at once.

    Nothing touches the disk until the first call; the parent folders are created on the
    first write, and reading a file that does not exist yet finds nothing. Every method
    may block (on the file lock, up to ``busy_timeout`` per attempt) and may raise
    :class:`StoreError`; none raises anything else.
    """

    def __init__(self, path: Path | str, *, busy_timeout: float = 10.0, retries: int = 3) -> None:
        """Open (lazily) the store at ``path``.

        Args:
            path: the database file.
            busy_timeout: seconds one attempt waits for another writer's lock.
            retries: further attempts after a write still finds the file locked.

        Raises:
            ValueError: a negative ``busy_timeout`` or ``retries``.
        """
        if busy_timeout < 0:
            raise ValueError(f"busy_timeout must be >= 0, got {busy_timeout}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.path = Path(path).expanduser()
        self.busy_timeout = busy_timeout
        self.retries = retries
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._read_only = False
        self._closed = False
        _STORES.add(self)

    @classmethod
    def default(cls, **kwargs: Any) -> SpanStore:
        """The embedded default store, ``$TFOTEL_HOME/spans.sqlite3``."""
        return cls(environment_variables.home() / DEFAULT_FILENAME, **kwargs)

    def __repr__(self) -> str:
        return f"SpanStore({str(self.path)!r})"

    def write(self, spans: Sequence[SpanRecord], *, replace_traces: bool = False) -> None:
        """Store ``spans`` in one transaction, replacing any with the same ids.

        With ``replace_traces``, every stored span of the traces in ``spans`` is deleted
        first, in the same transaction (``tfotel import --force``).

        Raises:
            StoreError: the file cannot be created, is not a span store, or stayed locked
                through every retry.
        """
        if not spans:
            return
        rows = [_row(span) for span in spans]
        with self._lock:
            for attempt in range(self.retries + 1):
                try:
                    conn = self._connection(create=True)
                    assert conn is not None
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        if replace_traces:
                            conn.executemany(_DELETE_TRACE, [(t,) for t in {span.trace_id for span in spans}])
                        conn.executemany(_INSERT, rows)
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                    return
                except sqlite3.Error as exc:
                    if not _is_busy(exc) or attempt == self.retries:
                        self._fail("write", exc)
                    delay = 0.05 * 2**attempt * (1 + random.random())
                    logger.debug("Span store %s is locked; retrying in %.2fs", self.path, delay)
                    time.sleep(delay)

    def get_trace(self, trace_id: str) -> list[SpanRecord]:
        """Every stored span of ``trace_id``, by start time (empty if none).

        Raises:
            StoreError: the file cannot be read or holds rows this version cannot decode.
        """
        rows = self._query(_SELECT_TRACE, (trace_id.lower(),))
        try:
            return [_record(row) for row in rows]
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"span store {self.path} holds a corrupt span of trace {trace_id}: {exc}") from exc

    def trace_ids_starting(self, prefix: str, limit: int = 5) -> list[str]:
        """The stored trace ids that start with ``prefix`` (lowercase hex), at most ``limit``, in order.

        Raises:
            StoreError: the file cannot be read.
        """
        rows = self._query(_TRACES_STARTING, (prefix, prefix + "g", limit))  # "g" sorts after every hex digit
        return [str(row[0]) for row in rows]

    def latest_blame(self, trace_id: str) -> str | None:
        """The trace id of the newest ``tracefork.blame`` report on run ``trace_id``, if any.

        Raises:
            StoreError: the file cannot be read.
        """
        rows = self._query(_LATEST_BLAME, (semconv.SPAN_BLAME, semconv.BLAME_TRACE_ID, trace_id.lower()))
        return str(rows[0][0]) if rows else None

    def forks_of(self, trace_id: str) -> list[SpanRecord]:
        """The root spans of the runs forked from run ``trace_id`` (``tracefork.fork.parent_trace_id``), oldest first.

        Raises:
            StoreError: the file cannot be read or holds rows this version cannot decode.
        """
        rows = self._query(_FORKS_OF, (semconv.FORK_PARENT_TRACE_ID, trace_id.lower()))
        try:
            return [_record(row) for row in rows]
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"span store {self.path} holds a corrupt fork root of trace {trace_id}: {exc}") from exc

    def list_runs(self, limit: int = 50) -> list[RunSummary]:
        """The newest ``limit`` runs: root spans of agent runs and blame reports, newest first.

        A run is a root span whose trace has exchange spans (``tracefork.step``), or whose
        name starts with ``invoke_agent`` or is ``tracefork.blame``. A trace with exchange
        spans and no root span at all (its process was killed mid-run, or it is still
        recording) is listed too: unnamed, and partial.

        Raises:
            StoreError: the file cannot be read.
        """
        params = {
            "blame": semconv.SPAN_BLAME,
            "agent_prefix": semconv.SPAN_INVOKE_AGENT_PREFIX,
            "error": int(StatusCode.ERROR),
            "limit": limit,
            "outcome_key": semconv.OUTCOME_STATUS,
            "error_key": semconv.OUTCOME_ERROR_TYPE,
            "entry_key": semconv.ENTRY_KIND,
        }
        rows = self._query(_LIST_RUNS, params) + self._query(_LIST_UNSEALED, params)
        rows.sort(key=lambda row: (-row[2], row[0]))
        return [
            RunSummary(
                trace_id=trace_id,
                name=name,
                start_time_unix_nano=start,
                duration_ns=duration,
                exchanges=exchanges,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                errors=errors,
                partial=bool(partial),
                outcome=str(outcome),
                error_type=str(error_type),
                entry=str(entry),
            )
            for (
                trace_id,
                name,
                start,
                duration,
                exchanges,
                input_tokens,
                output_tokens,
                errors,
                partial,
                outcome,
                error_type,
                entry,
            ) in rows[:limit]
        ]

    def close(self) -> None:
        """Close the file. Idempotent; later calls raise :class:`StoreError`."""
        with self._lock:
            self._closed = True
            self._drop_connection()

    # --- internals -------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[object] | Mapping[str, object]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                conn = self._connection(create=False)
                return [] if conn is None else conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                self._fail("read", exc)

    def _connection(self, *, create: bool) -> sqlite3.Connection | None:
        """The open connection, opened and checked on first use; None if reading a missing file.

        A reader that cannot open the file for writing (a read-only mount, a full disk: WAL
        mode needs its ``-shm`` file) falls back to a read-only connection, then to an
        immutable one, so a store shipped as a CI artifact can still be read. A writer never
        uses those: it drops a read-only connection and opens the file for writing.
        """
        if self._closed:
            raise StoreError(f"span store {self.path} is closed")
        if self._conn is not None and not (create and self._read_only):
            return self._conn
        self._drop_connection()
        if not self.path.exists():
            if self.path.parent.exists() and not self.path.parent.is_dir():
                raise StoreError(f"the span store folder {self.path.parent} is a file, not a folder (TFOTEL_HOME?)")
            if not create:
                return None
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the span store folder {self.path.parent}: {exc}") from exc
        try:
            conn = self._open_for_writing()
            self._read_only = False
        except sqlite3.Error as exc:
            if create or not _is_unwritable(exc):
                raise
            conn = self._open_read_only(exc)
            self._read_only = True
        self._conn = conn
        return conn

    def _open_for_writing(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the
        # lock up front (through the busy handler) instead of failing on upgrade.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            self._check_schema(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is safe in WAL mode; a power loss may drop the last commits, not corrupt.
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_read_only(self, cause: sqlite3.Error) -> sqlite3.Connection:
        """A read-only connection (``mode=ro``), else an immutable one (no locks, no WAL: the committed file only)."""
        uri = "file:" + urllib.parse.quote(str(self.path.resolve()))
        for flags in ("mode=ro", "immutable=1"):
            conn = sqlite3.connect(
                f"{uri}?{flags}", uri=True, timeout=self.busy_timeout, isolation_level=None, check_same_thread=False
            )
            try:
                self._check_schema(conn)
            except sqlite3.Error:
                conn.close()
                continue
            except BaseException:
                conn.close()
                raise
            logger.info("span store %s is not writable (%s): reading it %s", self.path, cause, flags)
            return conn
        raise cause

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        version = _pragma(conn, "user_version")
        if version == 0:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have created the schema while we waited for the lock.
                version = _pragma(conn, "user_version")
                if version == 0:
                    if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                        raise StoreError(f"{self.path} is a SQLite database but not a tracefork span store")
                    _create_schema(conn)
                    version = SCHEMA_VERSION
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if _pragma(conn, "application_id") != APPLICATION_ID:
            raise StoreError(f"{self.path} is a SQLite database but not a tracefork span store")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"span store {self.path} has schema version {version}, newer than this tracefork-otel "
                f"reads ({SCHEMA_VERSION}); upgrade tracefork-otel"
            )

    def _fail(self, action: str, exc: sqlite3.Error) -> NoReturn:
        # The next call starts afresh: the file may have been replaced or unlocked meanwhile.
        self._drop_connection()
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"cannot {action} span store {self.path}: {reason}") from exc

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _after_fork_in_child(self) -> None:
        # SQLite connections must not cross fork(); abandon (not close) the parent's one.
        self._lock = threading.Lock()
        self._conn = None


def _is_unwritable(exc: sqlite3.Error) -> bool:
    """Whether opening failed because the file or its folder cannot be written (read-only, full, no -shm)."""
    text = str(exc).lower()
    return any(
        marker in text
        for marker in ("readonly", "read-only", "unable to open database file", "disk is full", "disk i/o error")
    )


def _reset_stores_after_fork() -> None:
    for store in list(_STORES):
        store._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_stores_after_fork)


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    value = conn.execute(f"PRAGMA {name}").fetchone()[0]
    return int(value)


def _create_schema(conn: sqlite3.Connection) -> None:
    # executescript() would COMMIT our open transaction first, so run statement by statement.
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


# --- row codec ---------------------------------------------------------------------


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _int_attribute(attributes: Attributes, key: str) -> int | None:
    value = attributes.get(key)
    # bool is an int to Python, but a flag is not a token count.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _row(span: SpanRecord) -> tuple[object, ...]:
    attrs = span.attributes
    return (
        span.trace_id.lower(),
        span.span_id.lower(),
        span.parent_span_id.lower() if span.parent_span_id else None,
        span.name,
        int(span.kind),
        span.start_time_unix_nano,
        span.end_time_unix_nano,
        int(span.status_code),
        span.status_message,
        _dumps(_plain(attrs)),
        _dumps([_event_json(event) for event in span.events]),
        _dumps([_link_json(link) for link in span.links]),
        _dumps(_plain(span.resource)),
        span.scope_name,
        int(semconv.STEP in attrs),
        _int_attribute(attrs, semconv.GEN_AI_USAGE_INPUT_TOKENS),
        _int_attribute(attrs, semconv.GEN_AI_USAGE_OUTPUT_TOKENS),
        int(attrs.get(semconv.RUN_PARTIAL) is True),
    )


def _plain(attributes: Attributes) -> dict[str, object]:
    return {
        key: value if isinstance(value, str | bool | int | float) else list(value) for key, value in attributes.items()
    }


def _event_json(event: EventRecord) -> dict[str, object]:
    return {"name": event.name, "time": event.time_unix_nano, "attributes": _plain(event.attributes)}


def _link_json(link: LinkRecord) -> dict[str, object]:
    return {"trace_id": link.trace_id, "span_id": link.span_id, "attributes": _plain(link.attributes)}


def _record(row: tuple[Any, ...]) -> SpanRecord:
    events = tuple(EventRecord(e["name"], int(e["time"]), e["attributes"]) for e in json.loads(row[10]))
    links = tuple(LinkRecord(ln["trace_id"], ln["span_id"], ln["attributes"]) for ln in json.loads(row[11]))
    return SpanRecord(
        trace_id=row[0],
        span_id=row[1],
        parent_span_id=row[2],
        name=row[3],
        kind=SpanKind(row[4]),
        start_time_unix_nano=row[5],
        end_time_unix_nano=row[6],
        attributes=json.loads(row[9]),
        events=events,
        links=links,
        status_code=StatusCode(row[7]),
        status_message=row[8],
        resource=json.loads(row[12]),
        scope_name=row[13],
    )
