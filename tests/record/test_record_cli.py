"""``tfotel demo / record / runs / show / export / import``: exit codes, JSON output, one-line errors.

``tfotel demo`` runs in a fresh process (it reads its run back from the local span store
under TFOTEL_HOME, which this test process keeps switched off); everything else goes
through click's ``CliRunner``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tracefork_otel import semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.cli import cli
from tracefork_otel.demo import MessagesEndpoint, demo_policy
from tracefork_otel.tape.codec import MAGIC

UNKNOWN_TRACE_ID = "0123456789abcdef0123456789abcdef"


def tfotel_in_process(*args: str, home: Path, **env: str | None) -> Result:
    return CliRunner().invoke(cli, list(args), env={"TFOTEL_HOME": str(home), **env})


def assert_one_line_error(stderr: str, exit_code: int, *, mentions: str = "") -> None:
    assert exit_code == 2, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("tfotel: error: ")
    assert "Traceback" not in stderr
    assert mentions.lower() in lines[0].lower()


@pytest.fixture(scope="module")
def demo_home(
    tmp_path_factory: pytest.TempPathFactory,
    child_env: Callable[..., dict[str, str]],
    tfotel: Callable[..., subprocess.CompletedProcess[str]],
) -> tuple[Path, dict[str, Any], Path]:
    """A home with one ``tfotel demo`` run in it, its ``--json`` output, and the run exported to a .tftape."""
    home = tmp_path_factory.mktemp("demo") / "home"
    result = tfotel("demo", "--json", env=child_env(home))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)  # stdout is exactly one JSON document
    tape = home.parent / "run.tftape"
    exported = tfotel_in_process("export", output["trace_id"], "-o", str(tape), home=home)
    assert exported.exit_code == 0, exported.output
    return home, output, tape


@pytest.mark.subprocess
def test_demo_prints_the_trace_id_and_outcome(demo_home: tuple[Path, dict[str, Any], Path]) -> None:
    home, output, _ = demo_home
    assert len(output["trace_id"]) == 32 and int(output["trace_id"], 16)
    assert output["outcome"]["refunded"] == 129.99
    assert output["outcome"]["refund_id"].startswith("rf_")
    assert output["exchanges"] == 3
    assert output["blob_store"] == str(home / "blobs")
    assert [step["step"] for step in output["timeline"]["steps"]] == [0, 1, 2]


@pytest.mark.subprocess
def test_runs_lists_the_run(demo_home: tuple[Path, dict[str, Any], Path]) -> None:
    home, output, _ = demo_home
    result = tfotel_in_process("runs", "--json", home=home)
    assert result.exit_code == 0, result.output
    (run,) = json.loads(result.stdout)["runs"]
    assert run["trace_id"] == output["trace_id"]
    assert run["exchanges"] == 3
    assert run["name"] == "invoke_agent refund-desk"
    assert run["partial"] is False
    text = tfotel_in_process("runs", home=home)
    assert output["trace_id"] in text.stdout


@pytest.mark.subprocess
def test_show_has_three_steps(demo_home: tuple[Path, dict[str, Any], Path]) -> None:
    home, output, _ = demo_home
    result = tfotel_in_process("show", output["trace_id"], "--json", home=home)
    assert result.exit_code == 0, result.output
    timeline = json.loads(result.stdout)
    assert timeline["trace_id"] == output["trace_id"]
    steps = timeline["steps"]
    assert [s["step"] for s in steps] == [0, 1, 2]
    assert [s["stream"] for s in steps] == [False, False, True]
    assert [s["tool_calls"] for s in steps] == [["lookup_order"], ["issue_refund"], []]
    assert tfotel_in_process("show", output["trace_id"].upper(), home=home).exit_code == 0


@pytest.mark.subprocess
def test_export_then_import_into_a_fresh_home(demo_home: tuple[Path, dict[str, Any], Path], tmp_path: Path) -> None:
    home, output, tape = demo_home
    assert tape.read_bytes().startswith(MAGIC)
    fresh = tmp_path / "elsewhere"
    imported = tfotel_in_process("import", str(tape), "--json", home=fresh)
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["trace_id"] == output["trace_id"]
    assert json.loads(imported.stdout)["steps"] == 3
    shown = tfotel_in_process("show", output["trace_id"], "--json", home=fresh)
    assert shown.exit_code == 0, shown.output
    there = json.loads(shown.stdout)
    assert [s["step"] for s in there["steps"]] == [0, 1, 2]
    original, copied = FsspecBlobStore(str(home / "blobs")), FsspecBlobStore(str(fresh / "blobs"))
    for step in there["steps"]:
        for digest in (step["request_sha256"], step["response_sha256"]):
            assert copied.get(digest) == original.get(digest)
    again = tfotel_in_process("import", str(tape), home=fresh)  # importing twice is harmless
    assert again.exit_code == 0 and again.stdout.strip() == output["trace_id"]


@pytest.mark.parametrize("agent", ["tracefork_otel.demo.agent:run", "tracefork_otel.demo.agent:run_async"])
def test_record_an_agent_against_a_base_url(
    agent: str,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Any],
    tmp_path: Path,
) -> None:
    endpoint = serve(demo_policy)
    blobs = tmp_path / "blobs"
    result = tfotel_in_process(
        "record",
        "--agent",
        agent,
        "--base-url",
        endpoint.base_url,
        "--blobs",
        str(blobs),
        "--json",
        home=tmp_path / "home",
        ANTHROPIC_API_KEY=None,
        ANTHROPIC_AUTH_TOKEN=None,
    )
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)
    assert set(output) == {"trace_id", "outcome", "agent_error"}
    assert output["outcome"]["refunded"] == 129.99 and output["agent_error"] is None
    assert output["trace_id"] in result.stderr  # "recording run …" progress goes to stderr
    trace = trace_of(output["trace_id"])
    assert trace.root.name == f"invoke_agent {agent.rpartition(':')[2]}"
    assert [s.attributes[semconv.STEP] for s in trace.exchanges] == [0, 1, 2]
    store = FsspecBlobStore(str(blobs))
    for span, request in zip(trace.exchanges, endpoint.requests, strict=True):
        assert store.get(span.attributes[semconv.REQUEST_SHA256]) == request.body


def test_record_without_json_prints_only_the_trace_id(serve: Callable[..., MessagesEndpoint], tmp_path: Path) -> None:
    endpoint = serve(demo_policy)
    result = tfotel_in_process(
        "record", "--agent", "tracefork_otel.demo.agent:run", "--base-url", endpoint.base_url, home=tmp_path / "h"
    )
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.splitlines()
    assert len(line) == 32 and int(line, 16)


def failing_agent(client: Any, nondet: Any) -> None:
    """One model call, then the agent's own bug."""
    client.messages.create(model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    raise LookupError("no such order")


@pytest.mark.parametrize("case", ["agent raises", "endpoint down"])
def test_record_of_an_agent_that_fails_prints_its_run_and_one_line_then_exits_1(
    case: str, serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Any], tmp_path: Path
) -> None:
    if case == "agent raises":
        agent, base_url = "test_record_cli:failing_agent", serve(demo_policy).base_url
        said = "LookupError: no such order"
    else:
        agent, base_url = "tracefork_otel.demo.agent:run", "http://127.0.0.1:9"  # nothing listens on port 9
        said = "APIConnectionError: Connection error."
    result = tfotel_in_process("record", "--agent", agent, "--base-url", base_url, home=tmp_path / "h")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    (trace_id,) = result.stdout.splitlines()
    assert result.stderr.splitlines()[-1] == (f"tfotel record: the agent raised {said} (recorded as the run's outcome)")
    root = trace_of(trace_id).root
    assert root.attributes[semconv.OUTCOME_STATUS] == "error"
    assert root.attributes[semconv.OUTCOME_ERROR_TYPE] == said.partition(":")[0]


def write_garbage_store(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "spans.sqlite3").write_bytes(os.urandom(4096))


ERROR_CASES: dict[str, tuple[list[str], str]] = {
    "unknown trace id": (["show", UNKNOWN_TRACE_ID], "not found"),
    "malformed trace id": (["show", "not-a-trace-id"], "trace"),
    "export of an unknown trace": (["export", UNKNOWN_TRACE_ID, "-o", "{tmp}/x.tftape"], "not found"),
    "corrupt tape": (["import", "{tmp}/corrupt.tftape"], "corrupt"),
    "truncated tape": (["import", "{tmp}/truncated.tftape"], "truncated"),
    "not a tape": (["import", "{tmp}/notes.txt"], "not a .tftape"),
    "missing file": (["import", "{tmp}/missing.tftape"], "missing.tftape"),
    "agent module missing": (
        ["record", "--agent", "nosuchmodule_tf:fn", "--base-url", "http://127.0.0.1:9"],
        "nosuchmodule_tf",
    ),
    "agent function missing": (["record", "--agent", "os:nosuchfn", "--base-url", "http://127.0.0.1:9"], "nosuchfn"),
    "no api key": (["record", "--agent", "tracefork_otel.demo.agent:run"], "ANTHROPIC_API_KEY"),
    "garbage span store": (["runs"], "spans.sqlite3"),
    "home is a file": (["runs"], "is a file, not a folder"),
    "base url without a scheme": (
        ["record", "--agent", "tracefork_otel.demo.agent:run", "--base-url", "127.0.0.1:9"],
        "--base-url must be an http:// or https:// URL",
    ),
    "base url with a bad port": (
        ["record", "--agent", "tracefork_otel.demo.agent:run", "--base-url", "http://127.0.0.1:99999"],
        "--base-url must be",
    ),
    "base url of another scheme": (
        ["fork", UNKNOWN_TRACE_ID, "--step", "0", "--resample", "--agent", "x:y", "--base-url", "ftp://h/"],
        "--base-url must be",
    ),
}


@pytest.mark.parametrize("case", ERROR_CASES)
@pytest.mark.subprocess
def test_bad_input_is_one_line_and_exit_2(
    case: str, demo_home: tuple[Path, dict[str, Any], Path], tmp_path: Path
) -> None:
    args, mentions = ERROR_CASES[case]
    _, _, tape = demo_home
    data = tape.read_bytes()
    (tmp_path / "truncated.tftape").write_bytes(data[: len(data) // 2])
    (tmp_path / "corrupt.tftape").write_bytes(MAGIC + bytes(b ^ 0x5A for b in data[len(MAGIC) :]))
    (tmp_path / "notes.txt").write_text("just some notes\n")
    home = tmp_path / "home"
    if case == "garbage span store":
        write_garbage_store(home)
    if case == "home is a file":
        home.write_text("not a folder\n")
    result = tfotel_in_process(
        *(arg.format(tmp=tmp_path) for arg in args), home=home, ANTHROPIC_API_KEY=None, ANTHROPIC_AUTH_TOKEN=None
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert_one_line_error(result.stderr, result.exit_code, mentions=mentions)
    assert result.stdout == ""
    assert not (tmp_path / "x.tftape").exists()


@pytest.mark.subprocess
def test_bad_input_in_a_real_process_has_no_traceback(
    tmp_path: Path,
    child_env: Callable[..., dict[str, str]],
    tfotel: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    home = tmp_path / "home"
    write_garbage_store(home)
    result = tfotel("runs", env=child_env(home))
    assert_one_line_error(result.stderr, result.returncode, mentions="spans.sqlite3")
    assert result.stdout == ""
