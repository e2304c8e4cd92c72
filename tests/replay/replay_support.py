"""Helpers of the replay tests (plain code; the fixtures that use them are in ``conftest.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli_support import CliResult as CliResult  # re-exported for this folder's tests
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.demo import ReceivedRequest
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.tape import Tape

API_KEY = "sk-ant-replay-tests-7f3e9c1d0b5a4e2f"
"""A fake key, unique enough to search every stored byte for."""


def trace_spans(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    """The finished SDK spans of one trace."""
    return [s for s in exporter.get_finished_spans() if s.context and format(s.context.trace_id, "032x") == trace_id]


@dataclass
class Recording:
    """One run recorded against a live ``MessagesEndpoint``, and its rebuilt tape."""

    trace_id: str
    outcome: Any
    readable: list[ReadableSpan]
    spans: list[SpanRecord]
    tape: Tape
    requests: list[ReceivedRequest]
    blob_root: Path

    def store(self) -> FsspecBlobStore:
        """A fresh handle on the recording's blob store (no cache: every read hits the disk)."""
        return FsspecBlobStore(str(self.blob_root))

    def blob_path(self, digest: str) -> Path:
        return self.blob_root / digest[:2] / digest


@dataclass
class Served:
    """One response the replay transport handed to the SDK."""

    request: bytes
    status_code: int
    headers: dict[str, str]
    body: bytes


@dataclass
class ServedLog:
    items: list[Served] = field(default_factory=list)
