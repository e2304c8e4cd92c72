"""Recording in tests: the SDK client a test drives, and the finished spans of one trace it emitted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anthropic
from opentelemetry.sdk.trace import ReadableSpan

from tracefork_otel import semconv
from tracefork_otel.record import Run

TEST_API_KEY = "sk-ant-test"
"""The dummy key of a test's client (the loopback endpoints take any key)."""


def sdk_client(
    base_url: str, run: Run | None = None, *, http: dict[str, Any] | None = None, **options: Any
) -> anthropic.Anthropic:
    """An ``anthropic.Anthropic`` on ``base_url`` with `TEST_API_KEY`, recording into ``run`` when given.

    With ``run`` it talks over ``run.http_client(trust_env=False, **http)`` (no proxy from
    the environment); without, over the SDK's default client (as a user's plain client,
    which ``tracefork_otel.instrument`` records). ``options`` go to the client
    (``max_retries``, ``open_telemetry``, ``timeout``, or another ``api_key``).
    """
    if run is not None:
        options["http_client"] = run.http_client(trust_env=False, **(http or {}))
    return anthropic.Anthropic(base_url=base_url, **{"api_key": TEST_API_KEY, **options})


def async_sdk_client(
    base_url: str, run: Run | None = None, *, http: dict[str, Any] | None = None, **options: Any
) -> anthropic.AsyncAnthropic:
    """The async twin of `sdk_client` (over ``run.async_http_client``)."""
    if run is not None:
        options["http_client"] = run.async_http_client(trust_env=False, **(http or {}))
    return anthropic.AsyncAnthropic(base_url=base_url, **{"api_key": TEST_API_KEY, **options})


@dataclass(frozen=True)
class Trace:
    """The finished spans of one trace, as the in-memory exporter got them."""

    trace_id: str
    spans: list[ReadableSpan]

    @property
    def root(self) -> ReadableSpan:
        roots = [s for s in self.spans if s.parent is None]
        assert len(roots) == 1, [s.name for s in roots]
        return roots[0]

    @property
    def exchanges(self) -> list[ReadableSpan]:
        """Spans with a ``tracefork.step``, in step order."""
        found = [s for s in self.spans if semconv.STEP in (s.attributes or {})]
        return sorted(found, key=lambda s: s.attributes[semconv.STEP])  # type: ignore[index]

    def by_id(self, span_id: int) -> ReadableSpan:
        return next(s for s in self.spans if s.context.span_id == span_id)

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        """The parent chain of ``span`` up to its root (all in this trace)."""
        chain = []
        while span.parent is not None:
            span = self.by_id(span.parent.span_id)
            chain.append(span)
        return chain
