"""Traces from an OTLP/JSON file on disk.

Either one JSON document (any shape the shared reader knows: a ``TracesData``, a
saved Jaeger or Tempo answer) or JSON Lines, one ``TracesData`` per line, as the
OpenTelemetry Collector's ``file`` exporter writes with ``format: json``.
"""

from __future__ import annotations

import os
from typing import Final

from tracefork_otel.errors import ConfigError, SourceError, TraceNotFoundError
from tracefork_otel.sources._otlp_json import load_documents, select_trace
from tracefork_otel.sources.base import normalize_trace_id
from tracefork_otel.spanmodel import SpanRecord

MAX_FILE_BYTES: Final = 512 * 1024 * 1024
"""Largest file read; the whole file is parsed in memory."""

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
        spans = select_trace(load_documents(self._read_text(), self.path), tid, self.path)
        if not spans:
            raise TraceNotFoundError(tid, self.name)
        return spans

    def _read_text(self) -> str:
        try:
            with open(self.path, "rb") as file:
                data = file.read(self._max_bytes + 1)
        except OSError as exc:
            raise SourceError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        if len(data) > self._max_bytes:
            raise SourceError(f"{self.path} is larger than {self._max_bytes} bytes; split it or filter it first")
        for magic, kind in _COMPRESSED.items():
            if data.startswith(magic):
                raise SourceError(f"{self.path} is {kind}-compressed; decompress it first")
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SourceError(
                f"{self.path} is not UTF-8 JSON (byte {exc.start}); a collector file exporter must write format: json"
            ) from exc
