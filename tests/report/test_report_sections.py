"""The blame chart and the fork tree: each appears exactly when the local store has one."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_support import (
    MS,
    T0,
    TRACE,
    blame_outcome,
    demo_like_exchanges,
    embedded_data,
    export_blame_to,
    run_spans,
    tape_of,
)

from tracefork_otel import semconv
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.report import build_report, render_html
from tracefork_otel.spanmodel import SpanKind, SpanRecord
from tracefork_otel.spanstore import SpanStore

FORK_A = "f" * 31 + "a"
FORK_B = "f" * 31 + "b"
GRANDCHILD = "e" * 32
PARENT = "c" * 32


@pytest.fixture
def store(tmp_path: Path) -> SpanStore:
    return SpanStore(tmp_path / "spans.sqlite3")


def _fork_root(trace_id: str, parent: str, step: int, *, start: int, name: str = "refund-desk (fork)") -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id="b" * 16,
        parent_span_id=None,
        name=f"{semconv.SPAN_INVOKE_AGENT_PREFIX} {name}",
        kind=SpanKind.INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + 10 * MS,
        attributes={semconv.GEN_AI_AGENT_NAME: name}
        if not parent
        else {
            semconv.GEN_AI_AGENT_NAME: name,
            semconv.FORK_PARENT_TRACE_ID: parent,
            semconv.FORK_STEP: step,
            semconv.FORK_REPLAYED: step,
            semconv.FORK_RECORDED: 1,
        },
    )


def test_no_blame_and_no_forks_means_neither_section(store: SpanStore) -> None:
    blobs = MemoryBlobStore()
    spans = run_spans(blobs, demo_like_exchanges())
    store.write(spans)

    report = build_report(TRACE, spans, blobs, span_store=store)
    page = render_html(report)

    assert report.blame is None and report.forks is None
    assert 'id="blame"' not in page and 'id="forks"' not in page
    assert 'class="blame-row"' not in page and 'class="tree"' not in page
    assert 'id="timeline"' in page and 'id="detail"' in page


def test_the_newest_blame_is_charted_by_rank(store: SpanStore) -> None:
    blobs = MemoryBlobStore()
    spans = run_spans(blobs, demo_like_exchanges())
    store.write(spans)
    tape = tape_of(spans)
    older = BlameReport(TRACE, blame_outcome({0: (0.9, 0.8, 1.0), 1: (0.0, -0.1, 0.1), 2: (0.0, -0.1, 0.1)}), "x", "o")
    export_blame_to(store, older, tape)
    newest = BlameReport(
        TRACE,
        blame_outcome({0: (0.05, -0.1, 0.2), 1: (0.62, 0.41, 0.8), 2: (-0.1, -0.3, 0.1)}),
        perturb="resample",
        oracle="tracefork_otel.demo.agent:oracle",
    )
    blame_id = export_blame_to(store, newest, tape)

    report = build_report(TRACE, spans, blobs, span_store=store)
    page = render_html(report)

    assert report.blame is not None and report.blame.trace_id == blame_id
    assert report.blame.top_step == 1 and report.blame.oracle == "tracefork_otel.demo.agent:oracle"
    assert 'id="blame"' in page
    rows = page.split('class="blame-row"')[1:]
    assert [row.split('data-step="')[1].split('"')[0] for row in rows] == ["1", "0", "2"]
    assert "<b>+0.62</b> <span>[+0.41, +0.80] n=20</span>" in rows[0]
    assert "blame +0.62 · #1" in page  # on the timeline row too
    data = embedded_data(page)
    assert data["blame"]["trace_id"] == blame_id
    assert [c["step"] for c in data["blame"]["steps"]] == [1, 0, 2]
    assert data["steps"][1]["blame"] == {"score": 0.62, "ci_low": 0.41, "ci_high": 0.8, "rank": 1, "samples": 20}


def test_forks_of_finds_fork_roots_oldest_first(store: SpanStore) -> None:
    blobs = MemoryBlobStore()
    store.write(run_spans(blobs, demo_like_exchanges()))
    later, earlier = _fork_root(FORK_B, TRACE, 2, start=T0 + 20 * MS), _fork_root(FORK_A, TRACE.upper(), 1, start=T0)
    not_root = SpanRecord(**{**vars(_fork_root("1" * 32, TRACE, 0, start=T0)), "parent_span_id": "9" * 16})
    store.write([later, earlier, not_root, _fork_root(GRANDCHILD, FORK_A, 2, start=T0 + 30 * MS)])

    assert [s.trace_id for s in store.forks_of(TRACE)] == [FORK_B]  # the attribute is matched as written
    assert [s.trace_id for s in store.forks_of(TRACE.upper())] == [FORK_B]  # ids are looked up lowercase
    assert [s.trace_id for s in store.forks_of(FORK_A)] == [GRANDCHILD]
    assert store.forks_of("0" * 32) == []


def test_fork_tree_shows_parent_run_and_forks_of_forks(store: SpanStore) -> None:
    blobs = MemoryBlobStore()
    spans = run_spans(
        blobs,
        demo_like_exchanges(),
        root_attributes={semconv.FORK_PARENT_TRACE_ID: PARENT, semconv.FORK_STEP: 0},
    )
    store.write(spans)
    store.write([_fork_root(PARENT, "", 0, start=T0 - 100 * MS, name="refund-desk")])
    store.write([_fork_root(FORK_A, TRACE, 1, start=T0 + MS), _fork_root(FORK_B, TRACE, 2, start=T0 + 2 * MS)])
    store.write([_fork_root(GRANDCHILD, FORK_A, 2, start=T0 + 3 * MS, name="second fork")])

    report = build_report(TRACE, spans, blobs, span_store=store)
    page = render_html(report)

    tree = report.forks
    assert tree is not None
    assert [n.trace_id for n in tree.walk()] == [PARENT, TRACE, FORK_A, GRANDCHILD, FORK_B]
    assert [n.current for n in tree.walk()] == [False, True, False, False, False]
    assert 'id="forks"' in page and "4 forks" in page  # this run, its two forks and theirs
    assert "fork @ step 2" in page and "second fork" in page
    data = embedded_data(page)
    assert data["forks"]["trace_id"] == PARENT
    assert data["forks"]["children"][0]["children"][0]["children"][0]["trace_id"] == GRANDCHILD


def test_a_fork_whose_parent_is_elsewhere_still_has_a_tree() -> None:
    blobs = MemoryBlobStore()
    spans = run_spans(
        blobs, demo_like_exchanges(), root_attributes={semconv.FORK_PARENT_TRACE_ID: PARENT, semconv.FORK_STEP: 1}
    )

    report = build_report(TRACE, spans, blobs)  # no local store: only the run's own root names its parent
    page = render_html(report)

    assert report.forks is not None and not report.forks.found
    assert [n.trace_id for n in report.forks.walk()] == [PARENT, TRACE]
    assert 'id="forks"' in page and "not in the local store" in page
