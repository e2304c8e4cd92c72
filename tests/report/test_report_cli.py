"""``tfotel report``: writes the page, and every bad input is one stderr line and exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from report_support import (
    TRACE,
    CliResult,
    blame_outcome,
    demo_like_exchanges,
    embedded_data,
    export_blame_to,
    run_spans,
    tape_of,
)

from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.spanstore import SpanStore

Tfotel = Callable[..., CliResult]


def _record(blob_url: str | None = None) -> None:
    """A demo-shaped run in the local store under ``TFOTEL_HOME``, its bodies in the default blob store."""
    store = SpanStore.default()
    try:
        spans = run_spans(open_blob_store(blob_url), demo_like_exchanges())
        store.write(spans)
        export_blame_to(
            store, BlameReport(TRACE, blame_outcome({0: (0.1, 0, 0.2), 1: (0.5, 0.3, 0.7)}), "p", "o"), tape_of(spans)
        )
    finally:
        store.close()


def _only_error_line(result: CliResult) -> str:
    assert result.code == 2, result
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tfotel: error: "), result.err
    return lines[0]


def test_report_writes_one_page_with_blame(home: Path, tmp_path: Path, tfotel: Tfotel) -> None:
    _record()
    out = tmp_path / "run.html"

    result = tfotel("report", TRACE.upper(), "-o", str(out))

    assert result.code == 0, result.err
    assert result.out.startswith(f"wrote {out} (") and f"run {TRACE}, 3 steps, blame)" in result.out
    assert result.err == ""
    data = embedded_data(out.read_text(encoding="utf-8"))
    assert data["run"]["trace_id"] == TRACE
    assert data["source"] == "local" and data["blob_store"].endswith("blobs")
    assert [c["step"] for c in data["blame"]["steps"]] == [1, 0]
    assert data["steps"][2]["response"]["kind"] == "sse"
    assert not list(tmp_path.glob(".run.html.*"))  # no temporary file left behind


def test_report_with_another_blob_store_warns_of_missing_bodies(home: Path, tmp_path: Path, tfotel: Tfotel) -> None:
    _record(str(tmp_path / "elsewhere"))
    out = tmp_path / "run.html"

    result = tfotel("report", TRACE, "-o", str(out))

    assert result.code == 0
    assert result.err == "tfotel: warning: 6 bodies are not in the blob store; the page says which\n"
    result = tfotel("report", TRACE, "-o", str(out), "--blobs", str(tmp_path / "elsewhere"))
    assert result.code == 0 and result.err == ""


def test_unknown_trace_is_one_line_and_exit_2(home: Path, tmp_path: Path, tfotel: Tfotel) -> None:
    line = _only_error_line(tfotel("report", "0" * 31 + "1", "-o", str(tmp_path / "x.html")))

    assert line == f"tfotel: error: trace {'0' * 31}1 not found in local store {home / 'spans.sqlite3'}"
    assert not (tmp_path / "x.html").exists()


def test_bad_inputs_are_one_line_and_exit_2(home: Path, tmp_path: Path, tfotel: Tfotel) -> None:
    _record()

    assert "bad trace id 'abc'" in _only_error_line(tfotel("report", "abc", "-o", str(tmp_path / "x.html")))
    missing = tmp_path / "no" / "such" / "x.html"
    assert _only_error_line(tfotel("report", TRACE, "-o", str(missing))) == (
        f"tfotel: error: cannot write {missing}: folder {missing.parent} does not exist"
    )
    assert "output" in _only_error_line(tfotel("report", TRACE))


def test_report_json_is_the_document_the_page_is_built_from(home: Path, tmp_path: Path, tfotel: Tfotel) -> None:
    import json

    _record()
    out = tmp_path / "run.html"
    assert tfotel("report", TRACE, "-o", str(out)).code == 0

    result = tfotel("report", TRACE[:8], "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out) == embedded_data(out.read_text(encoding="utf-8"))
    assert "(not both)" in _only_error_line(tfotel("report", TRACE, "--json", "-o", str(out)))
