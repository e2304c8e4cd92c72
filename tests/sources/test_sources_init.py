"""open_source: specs to sources, auth from options or the environment, and the public surface."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tracefork_otel.sources as sources
from tracefork_otel.environment_variables import TFOTEL_SOURCE_AUTHORIZATION, TFOTEL_SOURCE_ORG_ID
from tracefork_otel.errors import ConfigError, TraceNotFoundError
from tracefork_otel.sources import JaegerSource, OtlpFileSource, TempoSource, TraceSource, open_source
from tracefork_otel.spanmodel import SpanRecord

RUN = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_public_surface() -> None:
    assert sorted(sources.__all__) == [
        "JaegerSource",
        "OtlpFileSource",
        "TempoSource",
        "TraceSource",
        "normalize_trace_id",
        "open_source",
        "parse_traces",
        "to_otlp_json",
    ]
    for name in sources.__all__:
        assert getattr(sources, name).__doc__


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [
        ("tempo:http://tempo:3200", TempoSource, "tempo http://tempo:3200"),
        (" jaeger:http://jaeger:16686/ ", JaegerSource, "jaeger http://jaeger:16686"),
        ("file:/tmp/traces.jsonl", OtlpFileSource, "file /tmp/traces.jsonl"),
        ("file:///tmp/traces.jsonl", OtlpFileSource, "file /tmp/traces.jsonl"),
        ("file://localhost/tmp/traces.jsonl", OtlpFileSource, "file /tmp/traces.jsonl"),
        ("file:traces.json", OtlpFileSource, "file traces.json"),
    ],
)
def test_specs(spec: str, kind: type, name: str) -> None:
    source = open_source(spec)
    assert isinstance(source, kind)
    assert source.name == name


def _recording_client(seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(404, content=b'{"error": {"httpCode": 404, "message": "No traces found"}}')

    return httpx.Client(transport=httpx.MockTransport(handler))


@pytest.mark.parametrize("scheme", ["tempo", "jaeger"])
def test_auth_from_the_environment(monkeypatch: pytest.MonkeyPatch, scheme: str) -> None:
    monkeypatch.setenv(TFOTEL_SOURCE_AUTHORIZATION, "Bearer from-env")
    monkeypatch.setenv(TFOTEL_SOURCE_ORG_ID, "tenant-env")
    seen: list[httpx.Request] = []
    with pytest.raises(TraceNotFoundError):
        open_source(f"{scheme}:http://h:1", client=_recording_client(seen)).get(RUN)
    assert seen[0].headers["authorization"] == "Bearer from-env"
    assert seen[0].headers["x-scope-orgid"] == "tenant-env"


def test_auth_options_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TFOTEL_SOURCE_AUTHORIZATION, "Bearer from-env")
    monkeypatch.delenv(TFOTEL_SOURCE_ORG_ID, raising=False)
    seen: list[httpx.Request] = []
    source = open_source("jaeger:http://h:1", authorization="Basic b3B0", client=_recording_client(seen))
    with pytest.raises(TraceNotFoundError):
        source.get(RUN)
    assert seen[0].headers["authorization"] == "Basic b3B0"
    assert "x-scope-orgid" not in seen[0].headers


def test_local_uses_the_factory() -> None:
    class Local:
        name = "local store"

        def get(self, trace_id: str) -> list[SpanRecord]:
            return []

    local = Local()
    assert open_source("local", local_factory=lambda: local) is local
    assert isinstance(local, TraceSource)
    with pytest.raises(ConfigError, match="local trace source is not available"):
        open_source("local")


@pytest.mark.parametrize(
    "spec", ["", "tempo", "tempo:", "zipkin:http://z:9411", "http://tempo:3200", "Tempo:http://t", "file:"]
)
def test_bad_specs_list_the_valid_forms(spec: str) -> None:
    with pytest.raises(ConfigError, match="expected local, tempo:URL, jaeger:URL or file:PATH"):
        open_source(spec)


def test_bad_spec_does_not_echo_credentials() -> None:
    with pytest.raises(ConfigError) as caught:
        open_source("tempoo:https://admin:hunter2@tempo.example.com")
    assert "hunter2" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        open_source("tempo:https://admin:hunter2@tempo.example.com/?q=1")
    assert "hunter2" not in str(caught.value)


def test_bad_auth_value_is_named_not_shown() -> None:
    with pytest.raises(ConfigError, match="Authorization value") as caught:
        open_source("tempo:http://t:3200", authorization="Bearer abc\ndef")
    assert "abc" not in str(caught.value)


def test_file_source_reads(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"resourceSpans": []}')
    with pytest.raises(TraceNotFoundError, match=f"not found in file {path}"):
        open_source(f"file:{path}").get(RUN)
