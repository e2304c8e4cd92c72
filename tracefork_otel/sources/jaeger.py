"""Traces from Jaeger's query API v3 (Jaeger v2, and v1 from 1.35 on).

``GET /api/v3/traces/{id}`` answers OTLP/JSON wrapped as ``{"result": {...}}`` (hex
ids, int enums). Through grpc-gateway (Jaeger v1) the same route streams one such
object per line, which the shared reader accepts too. An unknown trace is a 404 with
``{"error": {"httpCode": 404, "message": ...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from tracefork_otel.errors import SourceError, TraceNotFoundError
from tracefork_otel.sources._http import DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES, HttpBackend
from tracefork_otel.sources._otlp_json import select_trace
from tracefork_otel.sources.base import normalize_trace_id
from tracefork_otel.spanmodel import SpanRecord


class JaegerSource:
    """A :class:`~tracefork_otel.sources.base.TraceSource` reading one Jaeger query service.

    Args:
        base_url: the query service, e.g. ``http://jaeger:16686`` (with its
            ``base_path`` if one is set).
        client: an ``httpx.Client`` to send through; not closed here. By default a
            client is made per call.
        headers: sent with every request (``Authorization`` for a proxy in front);
            never shown in messages.
        timeout: seconds one request may take in all, connect to last byte (a deadline).
        max_bytes: the largest answer read.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._http = HttpBackend(base_url, client=client, headers=headers, timeout=timeout, max_bytes=max_bytes)
        self.name = f"jaeger {self._http.base_url}"

    def get(self, trace_id: str) -> list[SpanRecord]:
        """Return the spans of ``trace_id``; see :class:`~tracefork_otel.sources.base.TraceSource`."""
        tid = normalize_trace_id(trace_id)
        answer = self._http.get(f"/api/v3/traces/{tid}")
        if answer.status_code == 404:
            if answer.json_or_none() is None:
                raise SourceError(
                    f"no Jaeger API v3 at {self._http.base_url}: {answer.url} answered 404 without "
                    f"a JSON body ({answer.excerpt() or 'empty'}); is this the query port, usually 16686?"
                )
            raise TraceNotFoundError(tid, self.name)
        docs = answer.documents()
        for doc in docs:
            error = doc.get("error") if isinstance(doc, dict) else None
            if isinstance(error, dict):  # grpc-gateway streams a failure as a 200 line
                if error.get("httpCode") == 404 or error.get("grpcCode") == 5:
                    raise TraceNotFoundError(tid, self.name)
                raise SourceError(f"{answer.url} answered an error: {str(error.get('message', error))[:200]}")
        spans = select_trace(docs, tid, f"the answer of {answer.url}")
        if not spans:
            raise TraceNotFoundError(tid, self.name)
        return spans
