"""OtlpFileSource: one JSON document or a collector's JSON Lines file."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tracefork_otel.errors import ConfigError, SourceError, TraceNotFoundError
from tracefork_otel.sources import OtlpFileSource, TraceSource
from tracefork_otel.spanmodel import SpanRecord

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"
OTHER = "5b8efff798038103d269b633813fc60c"
OWN = Path(__file__).resolve().parents[1] / "fixtures" / "sources"


@pytest.mark.parametrize(
    "name",
    [
        "otlp_trace.json",
        "collector_traces.jsonl",
        "jaeger_get_trace.json",
        "tempo_v2_trace.json",
        "tempo_v1_trace.json",
    ],
)
def test_every_saved_shape(name: str, run_spans: list[SpanRecord]) -> None:
    source = OtlpFileSource(OWN / name)
    assert isinstance(source, TraceSource)
    assert source.name == f"file {OWN / name}"
    assert source.get(RUN) == run_spans


def test_json_lines_keep_only_the_asked_trace() -> None:
    (span,) = OtlpFileSource(OWN / "collector_traces.jsonl").get(OTHER)
    assert (span.name, span.resource) == ("GET", {"service.name": "billing-api"})


def test_unknown_trace() -> None:
    with pytest.raises(TraceNotFoundError, match="not found in file"):
        OtlpFileSource(OWN / "otlp_trace.json").get("0af7651916cd43dd8448eb211c80319c")


def test_shared_sample_with_two_traces(shared_backends: Path) -> None:
    source = OtlpFileSource(shared_backends / "jaeger/otlp_storage_otel_traces_01.json")
    assert [s.span_id for s in source.get("00000000000000010000000000000000")] == [
        "0000000000000002",
        "0000000000000004",
    ]


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"cannot read .*nope\.json: No such file or directory"):
        OtlpFileSource(tmp_path / "nope.json").get(RUN)
    with pytest.raises(SourceError, match="cannot read"):
        OtlpFileSource(tmp_path).get(RUN)


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes((OWN / "otlp_trace.json").read_bytes())
    with pytest.raises(SourceError, match="larger than 100 bytes"):
        OtlpFileSource(path, max_bytes=100).get(RUN)
    with pytest.raises(ConfigError):
        OtlpFileSource(path, max_bytes=0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"resourceSpans": [{"scopeSpans": [', r"t\.json is not JSON: Expecting"),
        (b'{"resourceSpans": []}\n{"resourceSpans": [\n', r"t\.json line 2 is not JSON"),
        (
            b'{"resourceSpans": []}\n\n{"resourceSpans": [{"scopeSpans": {}}]}\n',
            r"t\.json line 2: bad OTLP/JSON at resourceSpans\[0\]\.scopeSpans: expected an array",
        ),
        (gzip.compress(b"{}"), "is gzip-compressed; decompress it first"),
        (b"\x28\xb5\x2f\xfd\x00\x00", "is zstd-compressed"),
        (b"\x0a\xff\x01\x12", "is not UTF-8 JSON .*format: json"),
        (b"", "is not JSON"),
    ],
)
def test_unreadable_content(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "t.json"
    path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        OtlpFileSource(path).get(RUN)


def test_byte_order_mark_and_crlf(tmp_path: Path, run_spans: list[SpanRecord]) -> None:
    lines = (OWN / "collector_traces.jsonl").read_text().splitlines()
    path = tmp_path / "windows.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    assert OtlpFileSource(path).get(RUN) == run_spans


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "t.json").write_text(json.dumps({"resourceSpans": []}))
    source = OtlpFileSource("~/t.json")
    assert source.path == str(tmp_path / "t.json")
    with pytest.raises(TraceNotFoundError):
        source.get(RUN)
