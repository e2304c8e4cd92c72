"""Fixtures for the record tests: loopback Messages API endpoints and the spans of one recorded trace."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracefork_otel.demo import Policy, ReceivedRequest, encode_event, stream_events
from tracefork_otel.demo.endpoint import dumps


@pytest.fixture(autouse=True)
def _isolated(spans: InMemorySpanExporter) -> None:
    """Every record test: a cleared exporter, its own ``TFOTEL_HOME``, the record config re-read."""


def sent_bytes(policy: Policy, request: ReceivedRequest) -> bytes:
    """The exact response body the endpoint sent for ``request`` (its policies are pure functions of it)."""
    doc = request.json()
    reply = policy(doc)
    if doc.get("stream") is True:
        return b"".join(encode_event(name, data) for name, data in stream_events(reply))
    return dumps(reply)


@pytest.fixture
def expected_body() -> Callable[[Policy, ReceivedRequest], bytes]:
    return sent_bytes


@pytest.fixture(scope="session")
def tfotel() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the ``tfotel`` console script in a fresh process: ``tfotel(*args, env=...)``."""
    script = Path(sys.executable).parent / "tfotel"
    fallback = [sys.executable, "-c", "from tracefork_otel.cli import main; main()"]
    command = [str(script)] if script.exists() else fallback

    def run(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], env=env, capture_output=True, text=True, timeout=timeout)

    return run
