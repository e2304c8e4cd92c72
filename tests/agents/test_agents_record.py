"""Five agents of different styles, unmodified, recorded with no code change: one run each, its entry point kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import FRAMEWORKS, PROGRAMS, Tfotel
from standin import QUESTION, MultiplyModel

from tracefork_otel.demo import MessagesEndpoint

pytestmark = pytest.mark.subprocess

MODEL_CALLS = {
    "quickstart_loop": 2,
    "tool_runner": 2,
    "streaming_thinking": 2,
    "langgraph_agent": 2,
    "pydantic_ai_agent": 2,
}


@pytest.mark.parametrize("program", FRAMEWORKS)
def test_tfotel_record_makes_one_run_of_the_whole_script(
    program: str, tfotel: Tfotel, standin: MessagesEndpoint, model: MultiplyModel
) -> None:
    trace_id = tfotel.record(program, QUESTION)

    (run,) = tfotel.json("runs")["runs"]
    assert run["trace_id"] == trace_id and run["name"] == f"invoke_agent {program}.py"
    assert run["entry"] == "process" and run["outcome"] == "ok" and not run["fragment"]
    assert run["exchanges"] == len(standin.requests)  # every call of the script, in one run
    shown = tfotel.json("show", trace_id)
    model_steps = [s for s in shown["steps"] if s["model_step"]]
    assert len(model_steps) == 2 and model.decisions == 1  # the tool call, then the answer
    assert list(shown["entry_point"]["tracefork.entry.command"]) == [
        sys.executable,
        str(PROGRAMS / f"{program}.py"),
        QUESTION,
    ]
    if program == "tool_runner":  # the SDK keeps this conversation on the server
        assert [r.json().get("thread", {}).get("type") for r in standin.requests] == ["create", "continue"]


def test_count_tokens_is_recorded_and_shown_by_its_endpoint_not_as_a_model_step(tfotel: Tfotel) -> None:
    trace_id = tfotel.record("streaming_thinking", QUESTION)
    steps = tfotel.json("show", trace_id)["steps"]
    assert [(s["endpoint"], s["model_step"]) for s in steps] == [
        ("messages/count_tokens", False),
        ("messages", True),
        ("messages", True),
    ]
    text = tfotel("show", trace_id).stdout
    assert "messages/count_tokens" in text.splitlines()[5]


FAILING = """
import sys
import anthropic
import tracefork_otel

@tracefork_otel.agent
def answer(question):
    client = anthropic.Anthropic()
    client.messages.create(model="claude-sonnet-4-6", max_tokens=64, messages=[{"role": "user", "content": question}])
    raise RuntimeError("the agent gave up on " + question)

answer(sys.argv[1])
"""


def test_a_failed_outcome_is_shown_by_show_runs_and_the_report(tfotel: Tfotel, tmp_path: Path) -> None:
    script = tmp_path / "failing.py"
    script.write_text(FAILING)
    done = tfotel("record", "--", sys.executable, str(script), "7 * 6")
    assert done.returncode == 1 and "RuntimeError: the agent gave up on 7 * 6" in done.stderr
    (trace_id,) = done.stdout.split()
    (run,) = tfotel.json("runs")["runs"]
    assert (run["trace_id"], run["outcome"], run["error_type"], run["entry"]) == (
        trace_id,
        "error",
        "RuntimeError",
        "function",
    )
    assert "raised RuntimeError" in tfotel("runs").stdout.splitlines()[1]
    shown = tfotel.json("show", trace_id)
    assert shown["outcome"]["document"] == {
        "status": "error",
        "type": "RuntimeError",
        "message": "the agent gave up on 7 * 6",
    }
    assert shown["entry_point"]["tracefork.entry.function"] == f"{script}:answer"
    assert "outcome raised RuntimeError: the agent gave up on 7 * 6" in tfotel("show", trace_id).stdout
    report = tmp_path / "report.html"
    assert tfotel("report", trace_id, "-o", str(report)).returncode == 0
    assert "raised RuntimeError: the agent gave up on 7 * 6" in report.read_text()
