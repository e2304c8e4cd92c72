"""Traces from an OTLP/JSON file on disk.

Either one JSON document (any shape the shared reader knows: a ``TracesData``, a
saved Jaeger or Tempo answer) or JSON Lines, one ``TracesData`` per line, as the
OpenTelemetry Collector's ``file`` exporter writes with ``format: json``.

Memory is bounded by the caps, not the file: JSON Lines are read and parsed a line at a
time, and only the wanted trace's spans are kept; a single document is parsed whole, so it
may be at most `MAX_DOCUMENT_BYTES` (128 MiB, ~1 GiB of objects while it is parsed).
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO, Final

from tracefork_otel.errors import ConfigError, SourceError, TraceNotFoundError
from tracefork_otel.sources._otlp_json import (
    MAX_DOCUMENT_BYTES,
    load_documents,
    read_document_lines,
    select_trace,
    too_big_document,
)
from tracefork_otel.sources.base import normalize_trace_id
from tracefork_otel.spanmodel import SpanRecord

MAX_FILE_BYTES: Final = 512 * 1024 * 1024
"""Largest file read (JSON Lines stream through; a single document has its own, smaller cap)."""

_COMPRESSED: Final = {b"\x28\xb5\x2f\xfd": "zstd", b"\x1f\x8b": "gzip"}


class OtlpFileSource:
    """A :class:`~tracefork_otel.sources.base.TraceSource` reading one OTLP/JSON file.

    The file is read again on every ``get`` (it may still be growing under a
    collector), so a source is cheap to keep and safe to share between threads.

    Args:
        path: the file; ``~`` is expanded.
        max_bytes: the largest file read.
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = MAX_FILE_BYTES) -> None:
        if max_bytes <= 0:
            raise ConfigError(f"bad max_bytes {max_bytes!r}: must be > 0")
        self.path = os.path.expanduser(os.fspath(path))
        self.name = f"file {self.path}"
        self._max_bytes = max_bytes

    def get(self, trace_id: str) -> list[SpanRecord]:
        """Return the spans of ``trace_id``; see :class:`~tracefork_otel.sources.base.TraceSource`."""
        tid = normalize_trace_id(trace_id)
        try:
            with open(self.path, "rb") as file:
                spans = self._select(file, tid)
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        if not spans:
            raise TraceNotFoundError(tid, self.name)
        return spans

    def _select(self, file: BinaryIO, trace_id: str) -> list[SpanRecord]:
        size = os.fstat(file.fileno()).st_size
        if size > self._max_bytes:
            raise SourceError(f"{self.path} is larger than {self._max_bytes} bytes; split it or filter it first")
        head = file.read(4)
        for magic, kind in _COMPRESSED.items():
            if head.startswith(magic):
                raise SourceError(f"{self.path} is {kind}-compressed; decompress it first")
        file.seek(0)
        if self._is_json_lines(file):
            file.seek(0)
            return select_trace(read_document_lines(file, self.path), trace_id, self.path, numbered=True)
        if size > MAX_DOCUMENT_BYTES:
            raise SourceError(too_big_document(self.path, size))
        file.seek(0)
        return select_trace(load_documents(self._decode(file.read()), self.path), trace_id, self.path)

    @staticmethod
    def _is_json_lines(file: BinaryIO) -> bool:
        """Whether the file's first non-blank line is a whole JSON document and another line follows."""
        first = b""
        while not first.strip():
            first = file.readline(MAX_DOCUMENT_BYTES + 1)
            if not first:
                return False
        if not first.endswith(b"\n") or not any(line.strip() for line in iter(lambda: file.readline(4096), b"")):
            return False
        try:
            json.loads(first.decode("utf-8-sig"))
        except (ValueError, RecursionError):
            return False
        return True

    def _decode(self, data: bytes) -> str:
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path} is not UTF-8 JSON (byte {exc.start}); a collector file exporter must write format: json"
            ) from exc
