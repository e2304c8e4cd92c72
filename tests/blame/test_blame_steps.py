"""Blame forks at and ranks model calls only: ``count_tokens`` steps are replayed in prefixes, never ranked."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from trace_support import sdk_client

from tracefork_otel.agents import call_agent
from tracefork_otel.blame import Budget, FixedK, blame_run, estimate_cost, price_for
from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.demo import MessagesEndpoint, message
from tracefork_otel.errors import ConfigError
from tracefork_otel.record import record_run
from tracefork_otel.replay import fork_run, load_blobs, rebuild_tape
from tracefork_otel.spanstore import span_record_from_readable
from tracefork_otel.wire import DEFAULT_MODEL

ASKS = ("first", "second")


def counting(client: Any, nondet: Any) -> str:
    """Counts the tokens of each question before asking it (two count_tokens calls, two model calls)."""
    answers = []
    for ask in ASKS:
        messages = [{"role": "user", "content": ask}]
        client.messages.count_tokens(model=DEFAULT_MODEL, messages=messages)
        answers.append(client.messages.create(model=DEFAULT_MODEL, max_tokens=32, messages=messages).content[0].text)
    return " / ".join(answers)


def never_ok(outcome: object) -> bool:
    return False


def test_count_tokens_steps_are_never_forked_at_or_ranked(spans: InMemorySpanExporter) -> None:
    def policy(request: dict[str, Any]) -> dict[str, Any]:
        return message(f"answer to {request['messages'][-1]['content']}", request=request)

    with MessagesEndpoint(policy) as endpoint:
        with record_run("counting") as run:
            call_agent(
                counting,
                run.nondet,
                sync_client=lambda: sdk_client(endpoint.base_url, run),
                async_client=lambda: sdk_client(endpoint.base_url, run),
            )
        records = [span_record_from_readable(s) for s in spans.get_finished_spans() if s.context]
        tape = rebuild_tape(run.trace_id, [r for r in records if r.trace_id == run.trace_id], open_blob_store())
        assert [ex.url_path for ex in tape.exchanges] == ["/v1/messages/count_tokens", "/v1/messages"] * 2
        assert tape.model_steps() == [1, 3]

        store = open_blob_store()
        estimate = estimate_cost(tape, load_blobs(tape, store), FixedK(k=2), price_for(""))
        assert estimate.runs_expected == 4  # k per model step, not per exchange
        before = len(endpoint.requests)
        report = blame_run(
            tape,
            store,
            counting,
            never_ok,
            strategy=FixedK(k=2),
            budget=Budget(price_for("")),
            live=httpx2.HTTPTransport(),
            client_kwargs={"api_key": "sk-ant-test", "base_url": endpoint.base_url},
            perturb=None,
            perturb_name="resample",
            oracle_spec="test_blame_steps:never_ok",
        )
        live = endpoint.requests[before:]

    assert sorted(s.step for s in report.steps) == [1, 3]
    assert report.outcome.agent_runs == 4 and report.fixed_k_runs == 20
    # Forks at step 1 send steps 1-3 live (3 requests), at step 3 only step 3: never a fork at a count_tokens step.
    assert len(live) == 2 * 3 + 2 * 1
    assert sorted(report.outcome.estimates) == [1, 3, 4]  # V at each model step, and the recorded run's

    with pytest.raises(
        ConfigError, match=r"step 2 is a POST /v1/messages/count_tokens call, not a model call; model steps: 1, 3"
    ):
        fork_run(tape, store, counting, step=2, response=None, live=httpx2.HTTPTransport(), client_kwargs={})
