"""The user story end to end: a run recorded in production, replayed bit-exact from nothing but its trace id.

``tfotel record`` runs in its own process with the standard OTel environment and
exports its spans over real OTLP/HTTP (protobuf) to a receiver in this test. The
received spans are then served by stand-ins of Tempo (jsonpb: base64 ids, enum
names) and Jaeger (API v3: hex ids, int enums), and written as a collector's JSON
Lines file. With a fresh ``TFOTEL_HOME`` that holds no spans, ``tfotel replay
<trace-id>`` rebuilds the run from each backend plus the blob store and replays it
bit-exact, with no API key.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cli_support import PROXY_VARIABLES, CliResult, clean_env, run_tfotel
from google.protobuf.json_format import MessageToDict
from loopback import OtlpReceiver, attributes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from replay_backends import TraceBackend

from tracefork_otel import semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.demo import MessagesEndpoint, demo_policy
from tracefork_otel.sources import parse_traces, to_otlp_json
from tracefork_otel.spanmodel import EventRecord, LinkRecord, SpanKind, SpanRecord, StatusCode

pytestmark = pytest.mark.subprocess

DEMO = "tracefork_otel.demo.agent:run"
SECRET = "sk-ant-e2e-" + "9d8c7b6a5f4e" * 4
"""The API key the recording process runs with; it must not reach any store or span."""


# --- protobuf → SpanRecord, written independently of the package's JSON reader --------------


def spans_from_proto(request: ExportTraceServiceRequest) -> list[SpanRecord]:
    """The spans of one export request, straight from the protobuf fields."""
    out = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                out.append(
                    SpanRecord(
                        trace_id=s.trace_id.hex(),
                        span_id=s.span_id.hex(),
                        parent_span_id=s.parent_span_id.hex() or None,
                        name=s.name,
                        kind=SpanKind(s.kind),
                        start_time_unix_nano=s.start_time_unix_nano,
                        end_time_unix_nano=s.end_time_unix_nano,
                        attributes=attributes(s.attributes),
                        events=tuple(EventRecord(e.name, e.time_unix_nano, attributes(e.attributes)) for e in s.events),
                        links=tuple(
                            LinkRecord(k.trace_id.hex(), k.span_id.hex(), attributes(k.attributes)) for k in s.links
                        ),
                        status_code=StatusCode(s.status.code),
                        status_message=s.status.message,
                        resource=resource,
                        scope_name=ss.scope.name,
                    )
                )
    return out


# --- the recording, made once per module ---------------------------------------------------


def _tfotel_command() -> list[str]:
    script = Path(sys.executable).with_name("tfotel")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from tracefork_otel.cli import main; sys.argv[0] = 'tfotel'; main()"]


def _tfotel_process(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_tfotel_command(), *args], env=env, capture_output=True, text=True, timeout=120)


@dataclass(frozen=True)
class Production:
    """What the recording left behind: the trace id, the blob folder, and what the collector received."""

    trace_id: str
    outcome: Any
    home: Path
    blobs: Path
    otlp: list[ExportTraceServiceRequest]
    otlp_raw: list[bytes]
    spans: list[SpanRecord]
    """The run's spans as Tempo's JSON carries them (``MessageToDict`` of what was received)."""


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    home = tmp_path_factory.mktemp("production") / "home"
    with OtlpReceiver() as receiver:
        with MessagesEndpoint(demo_policy) as endpoint:
            env = clean_env(
                home,
                OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
                OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
                OTEL_SERVICE_NAME="e2e",
                ANTHROPIC_API_KEY=SECRET,
            )
            done = _tfotel_process("record", "--agent", DEMO, "--base-url", endpoint.base_url, "--json", env=env)
            assert done.returncode == 0, done.stderr
            assert len(endpoint.requests) == 3
            assert all(SECRET in " ".join(r.headers.values()) for r in endpoint.requests)  # the key was in use
        doc = json.loads(done.stdout)
        trace_id = doc["trace_id"]
        spans = [
            span for request in receiver.requests for span in parse_traces(MessageToDict(request))
            if span.trace_id == trace_id
        ]  # fmt: skip
        yield Production(
            trace_id=trace_id,
            outcome=doc["outcome"],
            home=home,
            blobs=home / "blobs",
            otlp=receiver.requests,
            otlp_raw=receiver.raw,
            spans=spans,
        )


@pytest.fixture
def tfotel(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> Callable[..., CliResult]:
    """``tfotel`` in-process, in a fresh ``TFOTEL_HOME`` that has no spans and no blobs."""
    monkeypatch.setenv("TFOTEL_HOME", str(tmp_path / "laptop"))
    for name in ("TFOTEL_BLOBS", "TFOTEL_SOURCE", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", *PROXY_VARIABLES):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str) -> CliResult:
        return run_tfotel(monkeypatch, capsys, *args)

    return invoke


def _assert_bit_exact(result: CliResult, trace_id: str) -> None:
    assert result.code == 0, result.out + result.err
    assert result.out.startswith(f"replay {trace_id}: bit-exact\n")
    assert "  steps      3/3 replayed" in result.out
    assert "(matches the recording)" in result.out


# --- the tests -------------------------------------------------------------------------------


def test_the_run_reached_the_collector_over_otlp(production: Production) -> None:
    spans = production.spans
    root = next(s for s in spans if s.parent_span_id is None)
    assert root.name == "invoke_agent run"
    assert root.resource["service.name"] == "e2e"
    assert root.attributes[semconv.RUN_EXCHANGES] == 3
    assert root.attributes[semconv.RUN_PARTIAL] is False
    assert sorted(s.attributes[semconv.STEP] for s in spans if semconv.STEP in s.attributes) == [0, 1, 2]
    assert production.outcome["refunded"] == 129.99
    # Tempo's JSON (jsonpb: base64 ids, enum names, int64 as strings) reads back exactly what was sent.
    from_proto = [s for r in production.otlp for s in spans_from_proto(r) if s.trace_id == production.trace_id]
    assert sorted(spans, key=lambda s: s.span_id) == sorted(from_proto, key=lambda s: s.span_id)
    first = MessageToDict(production.otlp[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert (
        first["traceId"]
        == base64.b64encode(production.otlp[0].resource_spans[0].scope_spans[0].spans[0].trace_id).decode()
    )
    assert first["kind"].startswith("SPAN_KIND_")


def test_the_api_key_reached_no_store_and_no_span(production: Production) -> None:
    secret = SECRET.encode()
    assert all(secret not in raw for raw in production.otlp_raw)
    files = [p for p in production.home.rglob("*") if p.is_file()]
    assert any(p.name.startswith("spans.sqlite3") for p in files)  # the local store was written too
    store = FsspecBlobStore(str(production.blobs))
    blobs = 0
    for path in files:
        assert secret not in path.read_bytes(), path
        if len(path.name) == 64 and path.parent.name == path.name[:2]:
            assert secret not in store.get(path.name), path  # compressed on disk: check the bytes too
            blobs += 1
    assert blobs == 7  # three requests, three responses, and the run's outcome (tfotel record --agent)


def test_replay_from_tempo_in_a_fresh_process(
    production: Production, tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    env = clean_env(Path(os.environ["TFOTEL_HOME"]))  # no spans here, no API key, no OTLP
    local = tfotel("replay", production.trace_id, "--agent", DEMO)  # the span store here has never seen the run
    assert local.code == 2 and local.err.startswith(f"tfotel: error: trace {production.trace_id} not found in local")
    with TraceBackend("tempo", production.spans) as tempo:
        done = _tfotel_process(
            "replay", production.trace_id, "--agent", DEMO,
            "--source", f"tempo:{tempo.url}", "--blobs", str(production.blobs), env=env,
        )  # fmt: skip
        assert tempo.paths[-1] == f"/api/v2/traces/{production.trace_id}"
    _assert_bit_exact(CliResult(done.returncode, done.stdout, done.stderr), production.trace_id)
    assert "Traceback" not in done.stderr


def test_replay_from_jaeger(production: Production, tfotel: Callable[..., CliResult]) -> None:
    with TraceBackend("jaeger", production.spans) as jaeger:
        result = tfotel(
            "replay", production.trace_id, "--agent", DEMO,
            "--source", f"jaeger:{jaeger.url}", "--blobs", str(production.blobs),
        )  # fmt: skip
        assert jaeger.paths == [f"/api/v3/traces/{production.trace_id}"]
    _assert_bit_exact(result, production.trace_id)


def test_replay_from_a_collector_json_lines_file(
    production: Production, tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "traces.jsonl"
    noise = SpanRecord("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", None, "GET /", SpanKind.SERVER, 1, 2)
    lines = [to_otlp_json(spans_from_proto(request)) for request in production.otlp]
    lines.insert(len(lines) // 2, to_otlp_json([noise]))  # another service's trace, in the same file
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    result = tfotel(
        "replay", production.trace_id, "--agent", DEMO, "--source", f"file:{path}", "--blobs", str(production.blobs)
    )
    _assert_bit_exact(result, production.trace_id)


def test_replay_from_a_saved_tempo_answer(
    production: Production, tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "tempo-answer.json"
    merged = ExportTraceServiceRequest()
    for request in production.otlp:
        merged.MergeFrom(request)
    path.write_text(json.dumps({"trace": MessageToDict(merged), "status": "COMPLETE"}))

    result = tfotel(
        "replay", production.trace_id, "--agent", DEMO, "--source", f"file:{path}", "--blobs", str(production.blobs)
    )
    _assert_bit_exact(result, production.trace_id)


def test_export_from_tempo_then_verify_the_tape_anywhere(
    production: Production, tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    tape = tmp_path / "f.tftape"
    with TraceBackend("tempo", production.spans) as tempo:
        exported = tfotel(
            "export", production.trace_id, "--source", f"tempo:{tempo.url}", "--blobs", str(production.blobs),
            "-o", str(tape), "--json",
        )  # fmt: skip
    assert exported.code == 0, exported.err
    assert json.loads(exported.out)["steps"] == 3
    moved = tmp_path / "elsewhere" / "f.tftape"
    moved.parent.mkdir()
    shutil.move(tape, moved)

    verified = tfotel("verify", str(moved), "--agent", DEMO)  # no source, no blob store: the tape is whole
    assert verified.code == 0, verified.err
    assert verified.out == f"ok {production.trace_id}: 3 steps bit-exact\n"
    as_json = json.loads(tfotel("verify", str(moved), "--agent", DEMO, "--json").out)
    assert as_json["bit_exact"] is True and as_json["divergence"] is None
