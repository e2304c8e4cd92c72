"""Fixtures of the reliability tests: isolated recording state, loopback endpoints, the spans of one trace."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


@pytest.fixture(autouse=True)
def _isolated(spans: InMemorySpanExporter) -> None:
    """Every test: a cleared exporter, its own ``TFOTEL_HOME``, the record config re-read (see tests/conftest.py)."""
