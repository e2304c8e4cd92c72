"""``tfotel demo``: record the bundled refund-desk agent against the in-process Messages API stand-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anthropic

from tracefork_otel.demo.agent import demo_policy
from tracefork_otel.demo.agent import run as demo_agent
from tracefork_otel.demo.endpoint import MessagesEndpoint
from tracefork_otel.record import record_run
from tracefork_otel.urls import safe_url

DEMO_AGENT_SPEC = "tracefork_otel.demo.agent:run"
DEMO_RUN_NAME = "refund-desk"
DEMO_API_KEY = "sk-ant-demo-not-a-real-key"
"""Sent to the stand-in as a real key would be; the recorder must keep it out of every store."""


@dataclass(frozen=True)
class DemoResult:
    trace_id: str
    outcome: Any
    exchanges: int
    blob_store: str


def run_demo(*, chunk_delay: float = 0.0) -> DemoResult:
    """Run and record the demo agent, fully offline; everything is flushed on return."""
    with MessagesEndpoint(demo_policy, chunk_delay=chunk_delay) as endpoint, record_run(DEMO_RUN_NAME) as run:
        client = anthropic.Anthropic(
            base_url=endpoint.base_url, api_key=DEMO_API_KEY, http_client=run.http_client(trust_env=False)
        )
        try:
            outcome = demo_agent(client, run.nondet)
        finally:
            client.close()
    from tracefork_otel.record import config as record_config

    return DemoResult(
        trace_id=run.trace_id,
        outcome=outcome,
        exchanges=run.exchanges,
        blob_store=safe_url(record_config.get().blob_store.url),
    )
