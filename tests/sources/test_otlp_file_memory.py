"""An OTLP/JSON file costs the memory of its caps, not of its size (issue: input amplification).

JSON Lines stream a line at a time and keep only the wanted trace's spans; a single document
is parsed whole, so one over ``MAX_DOCUMENT_BYTES`` is refused before it is read.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from tracefork_otel.errors import SourceError
from tracefork_otel.sources import OtlpFileSource, _otlp_json, otlp_file, to_otlp_json
from tracefork_otel.spanmodel import SpanKind, SpanRecord

WANTED = "ab" * 16


def _span(trace_id: str, index: int) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=f"{index + 1:016x}",
        parent_span_id=None,
        name=f"chat step {index}",
        kind=SpanKind.CLIENT,
        start_time_unix_nano=1_700_000_000_000_000_000 + index,
        end_time_unix_nano=1_700_000_000_000_000_100 + index,
        attributes={"gen_ai.request.model": "claude-sonnet-4-6", "padding": "x" * 400},
    )


def _lines(path: Path, traces: int, spans_per_trace: int) -> None:
    with path.open("w") as out:
        for t in range(traces):
            trace_id = WANTED if t == traces // 2 else f"{t + 1:032x}"
            out.write(json.dumps(to_otlp_json([_span(trace_id, i) for i in range(spans_per_trace)])) + "\n")


def test_json_lines_stream_a_line_at_a_time_and_keep_one_trace(tmp_path: Path) -> None:
    path = tmp_path / "collector.jsonl"
    _lines(path, traces=400, spans_per_trace=20)  # ~4.5 MB on disk, ~40 MB as Python objects
    size = path.stat().st_size
    tracemalloc.start()
    try:
        spans = OtlpFileSource(path).get(WANTED)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [s.name for s in spans] == [f"chat step {i}" for i in range(20)]
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte file: the file was held whole"


def test_a_single_document_over_the_cap_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps(to_otlp_json([_span(WANTED, i) for i in range(400)]), indent=1))
    limit = path.stat().st_size // 2
    for module in (_otlp_json, otlp_file):
        monkeypatch.setattr(module, "MAX_DOCUMENT_BYTES", limit)
    with pytest.raises(SourceError, match=r"is one JSON document of \d+ bytes, over the .* write JSON Lines"):
        OtlpFileSource(path).get(WANTED)
    monkeypatch.setattr(otlp_file, "MAX_DOCUMENT_BYTES", path.stat().st_size)
    monkeypatch.setattr(_otlp_json, "MAX_DOCUMENT_BYTES", path.stat().st_size)
    assert len(OtlpFileSource(path).get(WANTED)) == 400  # at the cap it is read


def test_a_bad_line_is_named_when_streaming(tmp_path: Path) -> None:
    path = tmp_path / "collector.jsonl"
    _lines(path, traces=3, spans_per_trace=2)
    with path.open("a") as out:
        out.write("{not json\n")
    with pytest.raises(SourceError, match=r"collector.jsonl line 4 is not JSON"):
        OtlpFileSource(path).get(WANTED)
