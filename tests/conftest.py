"""Fixtures shared across the suite: one OTel SDK provider per session, recording state reset per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import PROXY_VARIABLES, clean_env
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from trace_support import Trace

from tracefork_otel.demo import MessagesEndpoint, Policy

_MEMORY = InMemorySpanExporter()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every ``subprocess`` test is also ``slow``, so ``-m "not slow"`` is the fast tier."""
    for item in items:
        if item.get_closest_marker("subprocess") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter behind the process's global SDK ``TracerProvider``.

    The global provider can be set once per process, so this autouse session fixture sets
    it before any test can call ``ensure_tracing`` (or joins an SDK provider already there).
    ``TFOTEL_LOCAL_STORE=false`` keeps ``ensure_tracing`` from pinning a local span
    store under whatever ``TFOTEL_HOME`` the first test happened to have.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TFOTEL_LOCAL_STORE", "false")
        provider = trace.get_tracer_provider()
        if not isinstance(provider, TracerProvider):
            trace.set_tracer_provider(TracerProvider(shutdown_on_exit=False))
            provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider), "another test set a non-SDK global tracer provider"
        provider.add_span_processor(SimpleSpanProcessor(_MEMORY))
        yield _MEMORY


@pytest.fixture
def spans(
    span_exporter: InMemorySpanExporter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InMemorySpanExporter]:
    """A cleared in-memory exporter, with ``TFOTEL_HOME`` in ``tmp_path`` and the record config reset."""
    from tracefork_otel.record import config as record_config
    from tracefork_otel.record.writer import get_writer

    monkeypatch.setenv("TFOTEL_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("TFOTEL_BLOBS", raising=False)
    monkeypatch.delenv("TFOTEL_STRICT", raising=False)
    monkeypatch.delenv("TFOTEL_CAPTURE_CONTENT", raising=False)
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    get_writer().flush()  # nothing from an earlier test may end up in this one
    record_config.set_config(None)
    span_exporter.clear()
    yield span_exporter
    get_writer().flush()
    record_config.set_config(None)


@pytest.fixture
def trace_of(spans: InMemorySpanExporter) -> Callable[[str], Trace]:
    """The finished spans of a trace id (hex), from the cleared session exporter."""

    def get(trace_id: str) -> Trace:
        found = [s for s in spans.get_finished_spans() if format(s.context.trace_id, "032x") == trace_id]
        return Trace(trace_id, found)

    return get


@pytest.fixture
def serve() -> Iterator[Callable[..., MessagesEndpoint]]:
    """Start a ``MessagesEndpoint(policy, **options)``; every one is stopped after the test."""
    started: list[MessagesEndpoint] = []

    def start(policy: Policy, **options: Any) -> MessagesEndpoint:
        endpoint = MessagesEndpoint(policy, **options).start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.stop()


@pytest.fixture(scope="session")
def child_env() -> Callable[..., dict[str, str]]:
    """``child_env(home, **extra)``: a clean environment for a child process (see `clean_env`)."""
    return clean_env
