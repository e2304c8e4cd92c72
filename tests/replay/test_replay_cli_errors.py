"""Bad input to the debug commands: one ``tfotel: error: …`` line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from replay_backends import TraceBackend
from replay_support import CliResult, Recording

from tracefork_otel.demo import run
from tracefork_otel.errors import SourceError
from tracefork_otel.sources import JaegerSource, TempoSource, open_source
from tracefork_otel.spanstore import SpanStore

DEMO = "tracefork_otel.demo.agent:run"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
COMMANDS = ["replay", "verify"]


@pytest.fixture
def home(spans: object) -> Path:
    """The test's (empty) ``TFOTEL_HOME``."""
    return SpanStore.default().path.parent


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("command", COMMANDS)
def test_unknown_trace_id_in_the_local_store(command: str, tfotel: Callable[..., CliResult], home: Path) -> None:
    result = tfotel(command, TRACE_ID, "--agent", DEMO)
    assert result.only_error_line() == f"tfotel: error: trace {TRACE_ID} not found in local store {home}/spans.sqlite3"
    assert result.out == ""


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("trace_id", ["4bf92f35-77b3", "zz" * 16, "0" * 32])
def test_malformed_trace_id(command: str, trace_id: str, tfotel: Callable[..., CliResult], home: Path) -> None:
    line = tfotel(command, trace_id, "--agent", DEMO).only_error_line()
    assert line.startswith("tfotel: error: bad trace id")


@pytest.mark.parametrize("command", [*COMMANDS, "export"])
def test_tempo_404(command: str, tfotel: Callable[..., CliResult], home: Path, tmp_path: Path) -> None:
    extra = ["-o", str(tmp_path / "x.tftape")] if command == "export" else ["--agent", DEMO]
    with TraceBackend("tempo") as tempo:
        url = tempo.url
        result = tfotel(command, TRACE_ID, *extra, "--source", f"tempo:{url}")
        # Tempo's v2 route answers a plain-text 404, so the source also asks the v1 route.
        assert tempo.paths == [f"/api/v2/traces/{TRACE_ID}", f"/api/traces/{TRACE_ID}"]
    assert result.only_error_line() == f"tfotel: error: trace {TRACE_ID} not found in tempo {url}"


@pytest.mark.parametrize("command", [*COMMANDS, "export"])
def test_jaeger_404(command: str, tfotel: Callable[..., CliResult], home: Path, tmp_path: Path) -> None:
    extra = ["-o", str(tmp_path / "x.tftape")] if command == "export" else ["--agent", DEMO]
    with TraceBackend("jaeger") as jaeger:
        url = jaeger.url
        result = tfotel(command, TRACE_ID, *extra, "--source", f"jaeger:{url}")
        assert jaeger.paths == [f"/api/v3/traces/{TRACE_ID}"]
    assert result.only_error_line() == f"tfotel: error: trace {TRACE_ID} not found in jaeger {url}"


def test_tempo_partial_trace_is_refused(
    record: Callable[..., Recording], tfotel: Callable[..., CliResult], home: Path
) -> None:
    recording = record(run)
    with TraceBackend("tempo", recording.spans, partial=True) as tempo:
        url = tempo.url
        result = tfotel("replay", recording.trace_id, "--agent", DEMO, "--source", f"tempo:{url}")
    line = result.only_error_line()
    assert line.startswith(f"tfotel: error: trace {recording.trace_id} from tempo {url} is partial (status PARTIAL)")


@pytest.mark.parametrize("flavor", ["tempo", "jaeger"])
def test_backend_timeout_in_process(flavor: str) -> None:
    with TraceBackend(flavor, hang=True) as backend:  # type: ignore[arg-type]
        source = (TempoSource if flavor == "tempo" else JaegerSource)(backend.url, timeout=0.2)
        with pytest.raises(SourceError, match="timed out waiting for the answer"):
            source.get(TRACE_ID)


@pytest.mark.parametrize("flavor", ["tempo", "jaeger"])
def test_backend_timeout_through_the_cli(
    flavor: str, tfotel: Callable[..., CliResult], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TFOTEL_SOURCE_TIMEOUT", "0.2")
    route = "/api/v2/traces/" if flavor == "tempo" else "/api/v3/traces/"
    with TraceBackend(flavor, hang=True) as backend:  # type: ignore[arg-type]
        url = backend.url
        result = tfotel("replay", TRACE_ID, "--agent", DEMO, "--source", f"{flavor}:{url}")
    assert result.only_error_line() == f"tfotel: error: {url}{route}{TRACE_ID} timed out waiting for the answer"


@pytest.mark.parametrize("value", ["abc", "-1", "0", "inf", "nan"])
def test_a_bad_source_timeout_warns_and_falls_back_to_the_default(
    value: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TFOTEL_SOURCE_TIMEOUT", value)
    with caplog.at_level(logging.WARNING):
        source = open_source("tempo:http://127.0.0.1:1")
    assert f"Invalid value {value!r} for TFOTEL_SOURCE_TIMEOUT, using the default 10.0" in caplog.text
    assert source._http._timeout.read == 10.0  # type: ignore[attr-defined]
    assert open_source("jaeger:http://127.0.0.1:1", timeout=0.5)._http._timeout.read == 0.5  # type: ignore[attr-defined]


@pytest.mark.parametrize("flavor", ["tempo", "jaeger"])
def test_unreachable_backend(flavor: str, closed_port: int, tfotel: Callable[..., CliResult], home: Path) -> None:
    url = f"http://127.0.0.1:{closed_port}"
    route = "/api/v2/traces/" if flavor == "tempo" else "/api/v3/traces/"
    result = tfotel("replay", TRACE_ID, "--agent", DEMO, "--source", f"{flavor}:{url}")
    assert result.only_error_line().startswith(f"tfotel: error: cannot connect to {url}{route}{TRACE_ID}: ")


@pytest.mark.parametrize("command", COMMANDS)
def test_missing_blobs(
    command: str,
    record: Callable[..., Recording],
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    recording = record(run)
    local_store(recording)
    empty = tmp_path / "no-blobs-here"
    empty.mkdir()
    digest = recording.tape.exchanges[0].request_sha256
    result = tfotel(command, recording.trace_id, "--agent", DEMO, "--blobs", str(empty))
    assert result.only_error_line() == (
        f"tfotel: error: step 0: request blob {digest[:16]}… is not in {empty}"
        " (pass the store that recorded it with --blobs)"
    )


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"PK\x03\x04 not a tape", "not a .tftape file (bad magic)"),
        (b"TFTAPE1\n" + bytes(20), "corrupt or truncated"),
        (b"TFTAPE1\n" + zstandard.ZstdCompressor().compress(bytes(1000))[:-3], "corrupt or truncated"),
        (b"TFTAPE1\n" + zstandard.ZstdCompressor().compress(b"no protobuf in here"), "corrupt tape message"),
    ],
    ids=["empty", "foreign", "not-zstd", "truncated-frame", "not-a-tape-message"],
)
def test_corrupt_tftape(
    command: str, content: bytes, reason: str, tfotel: Callable[..., CliResult], home: Path, tmp_path: Path
) -> None:
    path = tmp_path / "run.tftape"
    path.write_bytes(content)
    line = tfotel(command, str(path), "--agent", DEMO).only_error_line()
    assert line.startswith(f"tfotel: error: {path}: {reason}")


def test_truncated_real_tftape(
    record: Callable[..., Recording],
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    tmp_path: Path,
) -> None:
    recording = record(run)
    local_store(recording)
    path = tmp_path / "run.tftape"
    assert tfotel("export", recording.trace_id, "-o", str(path)).code == 0
    assert tfotel("verify", str(path), "--agent", DEMO).code == 0
    path.write_bytes(path.read_bytes()[:-40])
    line = tfotel("verify", str(path), "--agent", DEMO).only_error_line()
    assert line.startswith(f"tfotel: error: {path}: corrupt or truncated")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("agent", "message"),
    [
        ("nosuch_agent_module:fn", "cannot import agent module 'nosuch_agent_module': ModuleNotFoundError: "),
        ("os:nosuchfn", "agent 'os:nosuchfn': module 'os' has no attribute 'nosuchfn'"),
        ("tfotel_replay_boom_agent:run", "cannot import agent module 'tfotel_replay_boom_agent': RuntimeError: boom"),
        ("no-colon-here", "agent must be given as module:function, got 'no-colon-here'"),
        ("os:sep", "agent 'os:sep' is not callable"),
    ],
    ids=["no-module", "no-function", "raises-at-import", "malformed", "not-callable"],
)
def test_an_agent_that_cannot_be_loaded(
    command: str,
    agent: str,
    message: str,
    record: Callable[..., Recording],
    local_store: Callable[[Recording], None],
    tfotel: Callable[..., CliResult],
    home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recording = record(run)
    local_store(recording)
    (tmp_path / "tfotel_replay_boom_agent.py").write_text(
        'raise RuntimeError("boom at import time")\n\ndef run(client, nondet):\n    return None\n'
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tfotel_replay_boom_agent", raising=False)
    line = tfotel(command, recording.trace_id, "--agent", agent).only_error_line()
    assert line.startswith("tfotel: error: " + message)


@pytest.mark.parametrize("command", [*COMMANDS, "fork", "blame"])
def test_a_bad_trace_id_is_refused_before_the_agent_module_runs(
    command: str, tfotel: Callable[..., CliResult], home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "tfotel_side_effect_agent.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef run(client, nondet):\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "tfotel_side_effect_agent", raising=False)
    extra = {
        "fork": ["--step", "0", "--resample", "--base-url", "http://127.0.0.1:9"],
        "blame": ["--oracle", "tfotel_side_effect_agent:run", "--yes", "--base-url", "http://127.0.0.1:9"],
    }.get(command, [])
    line = tfotel(command, TRACE_ID, "--agent", "tfotel_side_effect_agent:run", *extra).only_error_line()
    assert line == f"tfotel: error: trace {TRACE_ID} not found in local store {home}/spans.sqlite3"
    assert not marker.exists(), "the agent's module was imported (its code ran) before the trace id was checked"


@pytest.mark.parametrize("command", [*COMMANDS, "export"])
def test_file_source_with_a_missing_file(
    command: str, tfotel: Callable[..., CliResult], home: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "nowhere" / "traces.jsonl"
    extra = ["-o", str(tmp_path / "x.tftape")] if command == "export" else ["--agent", DEMO]
    result = tfotel(command, TRACE_ID, *extra, "--source", f"file:{missing}")
    assert result.only_error_line() == f"tfotel: error: cannot read {missing}: No such file or directory"


def test_an_unknown_source_spec(tfotel: Callable[..., CliResult], home: Path) -> None:
    line = tfotel("replay", TRACE_ID, "--agent", DEMO, "--source", "zipkin:http://127.0.0.1:9411").only_error_line()
    assert line == ("tfotel: error: bad trace source 'zipkin:…': expected local, tempo:URL, jaeger:URL or file:PATH")
