"""The five unmodified agents, replayed from their trace id alone: ``tfotel replay TRACE_ID``, no ``--agent``.

Each was recorded with ``tfotel record -- python programs/X.py`` (a process run); replay runs the
same command again in a child whose every Anthropic client is served from the tape: the stand-in
gets no request, and the receipt is bit-exact.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from conftest import FRAMEWORKS, PROGRAMS, Tfotel
from standin import QUESTION, oracle

from tracefork_otel.demo import MessagesEndpoint

pytestmark = pytest.mark.subprocess

STANDIN = Path(__file__).parent / "standin.py"


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


def decorated(program: str, folder: Path) -> Path:
    """A copy of ``program`` with the one line blame needs: ``@tracefork_otel.agent`` on its ``main``."""
    source = (PROGRAMS / f"{program}.py").read_text()
    source = re.sub(r"^((?:async )?def main\()", r"@tracefork_otel.agent\n\1", source, count=1, flags=re.M)
    script = folder / f"{program}.py"
    script.write_text("import tracefork_otel\n" + source)
    return script


def _failed_run(tfotel: Tfotel, script: Path, attempts: int = 12) -> str:
    """Record the decorated program until the stochastic model gets the product wrong; that run's trace id."""
    for _ in range(attempts):
        done = tfotel("record", "--", sys.executable, str(script), QUESTION)
        assert done.returncode == 0, done.stderr[-3000:]
        (trace_id,) = [line for line in done.stdout.splitlines() if len(line) == 32]
        if not oracle(tfotel.json("show", trace_id)["outcome"]["document"]["value"]):
            return trace_id
    raise AssertionError(f"no failed run in {attempts} recordings")


@pytest.mark.parametrize("program", FRAMEWORKS)
def test_blame_with_no_agent_ranks_the_decisive_model_step_first(
    program: str, tfotel: Tfotel, standin: MessagesEndpoint, tmp_path: Path
) -> None:
    trace_id = _failed_run(tfotel, decorated(program, tmp_path))
    steps = tfotel.json("show", trace_id)["steps"]
    first_model_step = next(s["step"] for s in steps if s["model_step"])

    done = tfotel(
        "blame", trace_id, "--oracle", f"{STANDIN}:oracle", "--yes", "--no-export", "--jobs", "1", "--json",
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    ranked = sorted(report["steps"], key=lambda s: s["rank"])
    assert ranked[0]["step"] == first_model_step, ranked
    assert {s["step"] for s in report["steps"]} == {s["step"] for s in steps if s["model_step"]}
