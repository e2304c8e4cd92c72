"""A failed attempt of a retried call has no usage: tokens are counted once.

With the SDK's own GenAI span current, ``gen_ai.usage.*`` sits on that span, which is
the parent of every attempt's ``tracefork.exchange`` span. At f8a9b07 the timeline read
usage from the parent for each attempt, so a 429 → 200 retry counted the call's tokens
twice: the report's header said 22/14 where ``runs`` said 11/7.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from trace_support import sdk_client

from tracefork_otel import record_run
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.spanstore.exporter import span_record_from_readable
from tracefork_otel.timeline import build_timeline

MODEL = "claude-sonnet-4-6"


def policy(request: dict[str, Any]) -> dict[str, Any]:
    return message("ok", request=request, usage={"input_tokens": 11, "output_tokens": 7})


def test_a_rate_limited_attempt_carries_no_tokens(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    endpoint = serve(policy, statuses=[429])
    with (
        record_run("retry-usage", blob_store=str(tmp_path / "blobs")) as run,
        sdk_client(endpoint.base_url, run, max_retries=1, open_telemetry=None) as client,
    ):
        client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}])
    trace = trace_of(run.trace_id)
    timeline = build_timeline(run.trace_id, [span_record_from_readable(s) for s in trace.spans])
    failed, ok = timeline.steps
    assert (failed.status_code, ok.status_code) == (429, 200)
    assert (failed.input_tokens, failed.output_tokens) == (None, None)
    assert (ok.input_tokens, ok.output_tokens) == (11, 7)
    assert sum(s.input_tokens or 0 for s in timeline.steps) == 11
