"""SpanStore: round trip, run listing, several writing processes, and refusing bad files."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracefork_otel import semconv
from tracefork_otel.environment_variables import TFOTEL_HOME
from tracefork_otel.errors import StoreError
from tracefork_otel.spanmodel import EventRecord, LinkRecord, SpanKind, SpanRecord, StatusCode
from tracefork_otel.spanstore import RunSummary, SpanStore
from tracefork_otel.spanstore.sqlite import SCHEMA_VERSION

SECOND = 1_000_000_000


def _span(
    trace: int,
    span: int,
    parent: int | None = None,
    *,
    name: str = "work",
    start: int = 0,
    **attributes: object,
) -> SpanRecord:
    return SpanRecord(
        trace_id=format(trace, "032x"),
        span_id=format(span, "016x"),
        parent_span_id=format(parent, "016x") if parent is not None else None,
        name=name,
        kind=SpanKind.INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + SECOND,
        attributes=dict(attributes),  # type: ignore[arg-type]
    )


def _exchange(trace: int, span: int, step: int, *, start: int, tokens: tuple[int, int]) -> SpanRecord:
    return _span(
        trace,
        span,
        1,
        name="chat claude",
        start=start,
        **{
            semconv.STEP: step,
            semconv.GEN_AI_USAGE_INPUT_TOKENS: tokens[0],
            semconv.GEN_AI_USAGE_OUTPUT_TOKENS: tokens[1],
        },
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SpanStore]:
    s = SpanStore(tmp_path / "spans.sqlite3")
    yield s
    s.close()


def test_round_trip_keeps_every_field(store: SpanStore) -> None:
    span = SpanRecord(
        trace_id="0af7651916cd43dd8448eb211c80319c",
        span_id="b7ad6b7169203331",
        parent_span_id="00f067aa0ba902b7",
        name="chat claude-sonnet-4",
        kind=SpanKind.CLIENT,
        start_time_unix_nano=1_700_000_000_000_000_001,
        end_time_unix_nano=1_700_000_000_500_000_000,
        attributes={"s": "x", "b": True, "i": 7, "f": 0.5, "l": ["a", "b"], "li": [1, 2], "lf": [1.0]},
        events=(EventRecord("retry", 1_700_000_000_100_000_000, {"attempt": 2, "why": ["429"]}),),
        links=(LinkRecord("1" * 32, "2" * 16, {"kind": "fork"}),),
        status_code=StatusCode.ERROR,
        status_message="overloaded ✗",
        resource={"service.name": "agent", "k8s.ports": [80, 443]},
        scope_name="tracefork_otel",
    )
    store.write([span])

    assert store.get_trace(span.trace_id) == [span]


def test_missing_file_reads_empty_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "spans.sqlite3"
    store = SpanStore(path)

    assert store.get_trace("0" * 32) == []
    assert store.list_runs() == []
    assert not path.parent.exists()

    store.write([_span(1, 1)])
    assert path.exists()
    store.close()


def test_rewrite_is_idempotent_and_trace_is_ordered_by_start(store: SpanStore) -> None:
    spans = [_span(1, 3, 1, start=30), _span(1, 1, start=10), _span(1, 2, 1, start=20), _span(2, 9, start=5)]
    store.write(spans)
    store.write(spans[:2])

    assert [s.span_id for s in store.get_trace(format(1, "032x"))] == [format(i, "016x") for i in (1, 2, 3)]


def test_list_runs_summarises_runs_newest_first(store: SpanStore) -> None:
    store.write(
        [
            # an agent run: root + two exchanges + a failed tool span
            _span(1, 1, name="invoke_agent demo", start=100 * SECOND, **{semconv.RUN_PARTIAL: True}),
            _exchange(1, 2, 0, start=101 * SECOND, tokens=(10, 3)),
            _exchange(1, 3, 1, start=102 * SECOND, tokens=(20, 4)),
            # a run recorded without an invoke_agent root
            _span(2, 1, name="my job", start=200 * SECOND),
            _exchange(2, 2, 0, start=201 * SECOND, tokens=(5, 1)),
            # a blame report
            _span(3, 1, name=semconv.SPAN_BLAME, start=300 * SECOND),
            # unrelated traffic: never listed
            _span(4, 1, name="GET /health", start=400 * SECOND),
        ]
    )
    store.write([_span(1, 4, 1, name="execute_tool search", start=103 * SECOND)])
    with sqlite3.connect(store.path) as conn:  # mark the tool span failed behind the store's back
        conn.execute("UPDATE spans SET status_code = ? WHERE span_id = ?", (StatusCode.ERROR, format(4, "016x")))

    runs = store.list_runs()

    assert [r.trace_id for r in runs] == [format(t, "032x") for t in (3, 2, 1)]
    assert runs[2] == RunSummary(
        trace_id=format(1, "032x"),
        name="invoke_agent demo",
        start_time_unix_nano=100 * SECOND,
        duration_ns=SECOND,
        exchanges=2,
        input_tokens=30,
        output_tokens=7,
        errors=1,
        partial=True,
    )
    assert (runs[1].exchanges, runs[1].input_tokens, runs[1].partial) == (1, 5, False)
    assert (runs[0].name, runs[0].exchanges, runs[0].input_tokens) == (semconv.SPAN_BLAME, 0, 0)
    assert [r.trace_id for r in store.list_runs(limit=1)] == [format(3, "032x")]


def test_default_lives_under_tfotel_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TFOTEL_HOME, str(tmp_path / "home"))
    store = SpanStore.default()

    store.write([_span(1, 1)])

    assert store.path == tmp_path / "home" / "spans.sqlite3"
    assert store.path.is_file()
    store.close()


def test_garbage_file_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "spans.sqlite3"
    path.write_bytes(b"this is not a database, just bytes " * 100)
    store = SpanStore(path)

    with pytest.raises(StoreError, match=re.escape(str(path))) as read_error:
        store.get_trace("0" * 32)
    with pytest.raises(StoreError, match=re.escape(str(path))):
        store.write([_span(1, 1)])

    assert "\n" not in str(read_error.value)
    assert path.read_bytes().startswith(b"this is not a database")


def test_folder_under_a_regular_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    store = SpanStore(tmp_path / "blocker" / "home" / "spans.sqlite3")

    with pytest.raises(StoreError, match="blocker"):
        store.write([_span(1, 1)])


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "spans.sqlite3"
    SpanStore(path).write([_span(1, 1)])
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StoreError, match="newer"):
        SpanStore(path).get_trace("0" * 32)


def test_foreign_sqlite_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")

    with pytest.raises(StoreError, match="not a tracefork span store"):
        SpanStore(path).write([_span(1, 1)])

    with sqlite3.connect(path) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert tables == ["notes"]


def test_closed_store_raises(store: SpanStore) -> None:
    store.close()
    store.close()

    with pytest.raises(StoreError, match="closed"):
        store.get_trace("0" * 32)


WORKERS = 4
TRACES_PER_WORKER = 200
SPANS_PER_TRACE = 5


def _write_traces(path: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    """Child process body: one transaction per trace, all workers starting together."""
    store = SpanStore(path)
    start.wait()
    for t in range(TRACES_PER_WORKER):
        trace = worker * TRACES_PER_WORKER + t + 1
        store.write([_span(trace, s + 1, None if s == 0 else 1, start=s) for s in range(SPANS_PER_TRACE)])
    store.close()


@pytest.mark.subprocess
def test_several_processes_write_one_file(tmp_path: Path) -> None:
    path = tmp_path / "shared" / "spans.sqlite3"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    workers = [ctx.Process(target=_write_traces, args=(str(path), w, start)) for w in range(WORKERS)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(timeout=120)

    assert [process.exitcode for process in workers] == [0] * WORKERS
    with sqlite3.connect(path) as conn:
        count, traces = conn.execute("SELECT count(*), count(DISTINCT trace_id) FROM spans").fetchone()
    assert (count, traces) == (WORKERS * TRACES_PER_WORKER * SPANS_PER_TRACE, WORKERS * TRACES_PER_WORKER)
    store = SpanStore(path)
    assert len(store.get_trace(format(WORKERS * TRACES_PER_WORKER, "032x"))) == SPANS_PER_TRACE
    store.close()
