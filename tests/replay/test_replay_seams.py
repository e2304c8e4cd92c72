"""Replay, fork and blame serve every seam an agent reaches, not only the ones handed to it.

The module-level nondeterminism functions (``tracefork_otel.now_iso()`` …, the only seam a
framework's tool function can reach, also from a worker thread) and every Anthropic client
the process holds (a module-level client built before the replay, pointing at a host that
is not there) are served from the tape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
import replay_agents
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from replay_support import API_KEY, Recording, trace_spans

import tracefork_otel
from tracefork_otel.blame import Budget, ForkSampler, price_for
from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.demo import MessagesEndpoint
from tracefork_otel.replay import fork_run, load_blobs, rebuild_tape, replay_run
from tracefork_otel.spanstore import span_record_from_readable
from tracefork_otel.tape import DrawKind

Record = Callable[..., Recording]
NOWHERE = "http://replay-seams.invalid"


def test_the_module_seam_replays_also_from_a_worker_thread(record: Record) -> None:
    recording = record(replay_agents.module_seam, policy=replay_agents.echo_policy)
    assert [d.kind for d in recording.tape.draws] == [DrawKind.NOW_ISO, DrawKind.NEW_ID]  # both were recorded

    receipt = replay_run(recording.tape, recording.store(), replay_agents.module_seam)

    assert receipt.bit_exact, receipt.divergence
    assert receipt.draws == 2
    assert receipt.outcome == recording.outcome  # the same ticket id and time, served back


def test_a_fork_serves_the_module_seam_before_the_fork_step(record: Record) -> None:
    recording = record(replay_agents.module_seam, policy=replay_agents.echo_policy)
    result = fork_run(
        recording.tape,
        recording.store(),
        replay_agents.module_seam,
        step=0,
        response=None,
        live=_echo_transport(),
        client_kwargs={"api_key": API_KEY, "base_url": NOWHERE},
    )
    assert result.divergence is None and result.agent_error is None
    assert result.outcome["ticket"] == recording.outcome["ticket"]  # drawn before step 0: served from the tape


def test_blame_forks_serve_the_module_seam(record: Record) -> None:
    recording = record(replay_agents.module_seam, policy=replay_agents.echo_policy)
    tickets: list[str] = []

    def oracle(outcome: Any) -> bool:
        tickets.append(outcome["ticket"])
        return False

    sampler = ForkSampler(
        recording.tape,
        load_blobs(recording.tape, recording.store()),
        replay_agents.module_seam,
        oracle,
        live=_echo_transport(),
        client_kwargs={"api_key": API_KEY, "base_url": NOWHERE},
        budget=Budget(price_for("")),
    )
    assert sampler.sample(0, 3) == [False, False, False]  # no fork raised: the prefix draws were served
    assert tickets == [recording.outcome["ticket"]] * 3


@pytest.fixture
def module_client(record: Record) -> Iterator[Recording]:
    """A run recorded while the agent asked through a module-level client of its own (recorded by instrument())."""
    tracefork_otel.instrument(local_store=False)
    try:
        with MessagesEndpoint(replay_agents.echo_policy) as endpoint:
            replay_agents.MODULE_CLIENT = anthropic.Anthropic(
                base_url=endpoint.base_url, api_key=API_KEY, max_retries=0
            )
            yield record(replay_agents.module_client, policy=replay_agents.echo_policy)
    finally:
        tracefork_otel.uninstrument()
        replay_agents.MODULE_CLIENT = None


def test_a_client_the_agent_holds_itself_is_served_from_the_tape(module_client: Recording) -> None:
    assert len(module_client.tape.exchanges) == 2
    # The client still points at its endpoint, which is gone: only the tape can answer it now.
    replay_agents.MODULE_CLIENT = anthropic.Anthropic(base_url=NOWHERE, api_key="not-a-key", max_retries=0)

    receipt = replay_run(module_client.tape, module_client.store(), replay_agents.module_client)

    assert receipt.bit_exact, receipt.divergence
    assert receipt.outcome == module_client.outcome


def _echo_transport() -> httpx2.MockTransport:
    def answer(request: httpx2.Request) -> httpx2.Response:
        import json

        return httpx2.Response(200, json=replay_agents.echo_policy(json.loads(request.content)))

    return httpx2.MockTransport(answer)


def test_a_fork_records_the_requests_of_a_client_the_agent_holds_itself(
    module_client: Recording, spans: InMemorySpanExporter
) -> None:
    replay_agents.MODULE_CLIENT = anthropic.Anthropic(base_url=NOWHERE, api_key="not-a-key", max_retries=0)
    result = fork_run(
        module_client.tape,
        module_client.store(),
        replay_agents.module_client,
        step=1,
        response=None,
        live=_echo_transport(),
        client_kwargs={"api_key": API_KEY, "base_url": NOWHERE},
    )
    assert result.divergence is None and result.agent_error is None
    assert (result.replayed, result.recorded) == (1, 1)
    records = [span_record_from_readable(s) for s in trace_spans(spans, result.trace_id)]
    fork_tape = rebuild_tape(result.trace_id, records, open_blob_store())
    assert [ex.request_sha256 for ex in fork_tape.exchanges] == [
        ex.request_sha256 for ex in module_client.tape.exchanges
    ]
