"""Traces from Grafana Tempo's HTTP query API.

Tempo ≥ 2.5 serves ``GET /api/v2/traces/{id}`` as ``{"trace": {...}, "status": ...}``;
older ones only ``GET /api/traces/{id}`` as ``{"batches": [...]}``. Both are protobuf's
jsonpb: base64 ids and enum names, which the shared OTLP/JSON reader handles. A trace
larger than Tempo's ``max_bytes_per_trace`` comes back cut, marked ``"status":
"PARTIAL"``; a partial run would rebuild into a wrong tape, so it is refused unless
the caller opts in.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx

from tracefork_otel.errors import SourceError, TraceNotFoundError
from tracefork_otel.sources._http import DEFAULT_TIMEOUT, MAX_RESPONSE_BYTES, Answer, HttpBackend
from tracefork_otel.sources._otlp_json import select_trace
from tracefork_otel.sources.base import normalize_trace_id
from tracefork_otel.spanmodel import SpanRecord

logger = logging.getLogger(__name__)

_TEMPO_V2_KEYS = frozenset({"trace", "status", "message", "metrics"})


class TempoSource:
    """A :class:`~tracefork_otel.sources.base.TraceSource` reading one Tempo (or Grafana Cloud Traces).

    Args:
        base_url: Tempo's query address, e.g. ``http://tempo:3200`` (a path prefix is
            kept, so a gateway such as ``https://host/tempo`` works).
        client: an ``httpx.Client`` to send through (tests pass one over
            ``MockTransport``); it is not closed here. By default a client is made per call.
        headers: sent with every request, e.g. ``Authorization`` and ``X-Scope-OrgID``
            (see :func:`tracefork_otel.sources.open_source`); never shown in messages.
        timeout: seconds one request may take in all, connect to last byte (a deadline).
        allow_partial: accept a trace Tempo marks partial (logged as a warning).
        max_bytes: the largest answer read.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.Client | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        allow_partial: bool = False,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        self._http = HttpBackend(base_url, client=client, headers=headers, timeout=timeout, max_bytes=max_bytes)
        self.name = f"tempo {self._http.base_url}"
        self.allow_partial = allow_partial

    def get(self, trace_id: str) -> list[SpanRecord]:
        """Return the spans of ``trace_id``; see :class:`~tracefork_otel.sources.base.TraceSource`."""
        tid = normalize_trace_id(trace_id)
        answer = self._http.get(f"/api/v2/traces/{tid}")
        if answer.status_code == 404 and not _tempo_json(answer):
            # No v2 route (Tempo < 2.5, or a proxy that only forwards /api/traces).
            logger.debug("%s: no answer on the v2 route, trying /api/traces", self.name)
            answer = self._http.get(f"/api/traces/{tid}")
            if answer.status_code == 404 and answer.route_missing():
                raise SourceError(
                    f"no Tempo query API at {self._http.base_url}: both /api/v2/traces and "
                    "/api/traces answered 404 page not found (is this Tempo's HTTP port, usually 3200?)"
                )
        if answer.status_code == 404:
            raise TraceNotFoundError(tid, self.name)
        docs = answer.documents()
        self._check_partial(docs, tid)
        spans = select_trace(docs, tid, f"the answer of {answer.url}")
        if not spans:  # Tempo v2 answers 200 with an empty trace for an unknown id
            raise TraceNotFoundError(tid, self.name)
        return spans

    def _check_partial(self, docs: list[object], trace_id: str) -> None:
        for doc in docs:
            if not isinstance(doc, dict):
                continue
            status, message = doc.get("status"), doc.get("message")
            text = message if isinstance(message, str) else ""
            if status in ("PARTIAL", 1, "1") or "partial" in text.lower():
                reason = text or "status PARTIAL"
                if not self.allow_partial:
                    raise SourceError(
                        f"trace {trace_id} from {self.name} is partial ({reason}); Tempo cut it at its "
                        "limits (max_bytes_per_trace) — raise them, or pass allow_partial=True to use it"
                    )
                logger.warning("Using a partial trace %s from %s: %s", trace_id, self.name, reason)


def _tempo_json(answer: Answer) -> bool:
    """True when a 404 came from Tempo's v2 handler itself (a JSON body in its shape)."""
    doc = answer.json_or_none()
    return isinstance(doc, dict) and bool(doc) and _TEMPO_V2_KEYS.issuperset(doc)
