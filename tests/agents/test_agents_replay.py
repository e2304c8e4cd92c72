"""The five unmodified agents, replayed from their trace id alone: ``tfotel replay TRACE_ID``, no ``--agent``.

Each was recorded with ``tfotel record -- python programs/X.py`` (a process run); replay runs the
same command again in a child whose every Anthropic client is served from the tape: the stand-in
gets no request, and the receipt is bit-exact.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from conftest import FRAMEWORKS, PROGRAMS, Tfotel
from standin import QUESTION

from tracefork_otel.demo import MessagesEndpoint

pytestmark = pytest.mark.subprocess


@pytest.mark.parametrize("program", FRAMEWORKS)
def test_tfotel_replay_with_nothing_else_replays_the_script_bit_exact(
    program: str, tfotel: Tfotel, standin: MessagesEndpoint
) -> None:
    trace_id = tfotel.record(program, QUESTION)
    recorded = len(standin.requests)

    done = tfotel("replay", trace_id, "--json")

    assert done.returncode == 0, done.stderr[-3000:]
    receipt = json.loads(done.stdout)  # the program's own output went to stderr
    assert receipt["bit_exact"] is True, receipt
    assert receipt["replayed"] == receipt["steps"] == recorded
    assert receipt["outcome"] == {"exit_code": 0}
    assert len(standin.requests) == recorded  # served from the tape: nothing reached the endpoint
    assert tfotel("verify", trace_id).stdout == f"ok {trace_id}: {recorded} steps bit-exact\n"


def test_a_changed_script_drifts_at_the_field_that_changed(tfotel: Tfotel, standin: MessagesEndpoint) -> None:
    trace_id = tfotel.record("quickstart_loop", QUESTION)
    other = "What is 6 * 7?"
    done = tfotel("replay", trace_id, "--", sys.executable, str(PROGRAMS / "quickstart_loop.py"), other)
    assert done.returncode == 1, done.stderr[-3000:]
    assert f"replay {trace_id}: DIVERGED at step 0" in done.stdout
    assert "    field     messages[0].content" in done.stdout


FORK_AGENT = """
import sys

sys.path.insert(0, {programs!r})
import tool_runner


def agent(client, nondet):
    return tool_runner.main({question!r})
"""


def test_a_fork_of_a_tool_runner_run_sends_the_whole_history_the_live_server_never_had(
    tfotel: Tfotel, standin: MessagesEndpoint, tmp_path: Path
) -> None:
    trace_id = tfotel.record("tool_runner", QUESTION)
    assert [r.json()["thread"]["type"] for r in standin.requests] == ["create", "continue"]
    agent = tmp_path / "fork_agent.py"
    agent.write_text(FORK_AGENT.format(programs=str(PROGRAMS), question=QUESTION))
    before = len(standin.requests)

    done = tfotel(
        "fork", trace_id, "--step", "1", "--resample", "--agent", f"{agent}:agent",
        "--base-url", standin.base_url, "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["divergence"] is None and result["agent_error"] is None
    assert (result["replayed"], result["recorded"]) == (1, 1)
    live = standin.requests[before:]
    # The recorded continue names a message the recording already continued: it went out whole, as a create.
    assert [r.json()["thread"]["type"] for r in live] == ["create"]
    assert [m["role"] for m in live[0].json()["messages"]] == ["user", "assistant", "user"]
