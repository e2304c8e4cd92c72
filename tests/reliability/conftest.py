"""Fixtures of the reliability tests: isolated recording state, loopback endpoints, the spans of one trace."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from reliability_support import Trace

from tracefork_otel.demo import MessagesEndpoint, Policy


@pytest.fixture(autouse=True)
def _isolated(spans: InMemorySpanExporter) -> None:
    """Every test: a cleared exporter, its own ``TFOTEL_HOME``, the record config re-read (see tests/conftest.py)."""


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
