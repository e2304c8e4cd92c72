"""The five unmodified agents, replayed from their trace id alone: ``tfotel replay TRACE_ID``, no ``--agent``.

Each was recorded with ``tfotel record -- python programs/X.py`` (a process run); replay runs the
same command again in a child whose every Anthropic client is served from the tape: the stand-in
gets no request, and the receipt is bit-exact.
"""

from __future__ import annotations

import json
import sys

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
