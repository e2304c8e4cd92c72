"""Fixtures shared by the trace-source tests: our own wire samples and the shared backend samples."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tracefork_otel.sources import parse_traces
from tracefork_otel.spanmodel import SpanRecord

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_FIXTURES = REPO_ROOT / "tests" / "fixtures" / "sources"
SHARED_BACKENDS = REPO_ROOT.parent / "shared" / "fixtures" / "backends"

RUN_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
"""The recorded run every own fixture carries (root + two chat spans)."""


@pytest.fixture
def fixture_bytes() -> Callable[[str], bytes]:
    """Read one of our own fixture files."""
    return lambda name: (OWN_FIXTURES / name).read_bytes()


@pytest.fixture
def fixture_json() -> Callable[[str], object]:
    """Decode one of our own fixture files."""
    return lambda name: json.loads((OWN_FIXTURES / name).read_text())


@pytest.fixture
def run_spans() -> list[SpanRecord]:
    """The run's spans as the plain OTLP/JSON fixture gives them: the reference every format must match."""
    spans = parse_traces(json.loads((OWN_FIXTURES / "otlp_trace.json").read_text()))
    return [span for span in spans if span.trace_id == RUN_TRACE_ID]


@pytest.fixture
def shared_backends() -> Path:
    """The shared backend samples (``../shared/fixtures/backends``); skips where they are absent."""
    if not SHARED_BACKENDS.is_dir():
        pytest.skip(f"shared backend samples not found at {SHARED_BACKENDS}")
    return SHARED_BACKENDS
