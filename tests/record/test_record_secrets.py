"""Secrets never leave the process: not in a blob, a span, the local store, a tape, or a log line.

The run happens in a child process with its own ``TFOTEL_HOME`` (local span store on, as
in production), logging at DEBUG; afterwards every byte it left behind is searched.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracefork_otel.blobstore import FsspecBlobStore, is_digest
from tracefork_otel.cli import cli
from tracefork_otel.spanstore import SpanStore

pytestmark = pytest.mark.subprocess

SCRIPT = textwrap.dedent(
    """
    import json, logging, os, sys

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)

    import anthropic
    from tracefork_otel import record_run
    from tracefork_otel.demo import MessagesEndpoint, demo_policy, run as demo_agent

    key = os.environ["ANTHROPIC_API_KEY"]
    headers = json.loads(os.environ["SECRET_HEADERS"])
    trace_ids, outcomes, sent = [], [], True
    for open_telemetry in (False, None):  # our full spans, then the SDK's spans with our children
        with MessagesEndpoint(demo_policy) as endpoint, record_run("secret-agent") as run:
            client = anthropic.Anthropic(
                base_url=endpoint.base_url,
                api_key=key,
                default_headers=headers,
                http_client=run.http_client(trust_env=False),
                open_telemetry=open_telemetry,
            )
            outcomes.append(demo_agent(client, run.nondet))
            # The secrets really went over the wire, so not finding them later means something.
            sent = sent and all(
                any(key in value for value in r.headers.values())
                and all(r.headers.get(k) == v for k, v in headers.items())
                for r in endpoint.requests
            )
        trace_ids.append(run.trace_id)
    provider.force_flush()
    spans = [json.loads(span.to_json()) for span in memory.get_finished_spans()]
    with open(sys.argv[1], "w") as out:
        json.dump({"trace_ids": trace_ids, "outcomes": outcomes, "sent": sent, "spans": spans}, out)
    """
)


def test_no_secret_reaches_any_store_span_tape_or_log(tmp_path: Path, child_env: Callable[..., dict[str, str]]) -> None:
    unique = uuid.uuid4().hex
    secrets = {
        "api key": f"sk-ant-TESTKEY-{unique}",
        "custom token": f"tok-secret-{unique}",
        "cookie": f"c=secret-cookie-{unique}",
    }
    headers = {"x-custom-token": secrets["custom token"], "cookie": secrets["cookie"]}
    home = tmp_path / "home"
    env = child_env(home, ANTHROPIC_API_KEY=secrets["api key"], SECRET_HEADERS=json.dumps(headers))
    script = tmp_path / "agent.py"
    script.write_text(SCRIPT)
    result_file = tmp_path / "result.json"
    child = subprocess.run(
        [sys.executable, str(script), str(result_file)], env=env, capture_output=True, text=True, timeout=120
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result: dict[str, Any] = json.loads(result_file.read_text())
    assert result["sent"] is True
    assert all(outcome["refunded"] == 129.99 for outcome in result["outcomes"])

    tapes = []
    for trace_id in result["trace_ids"]:
        tape = home / f"{trace_id}.tftape"
        exported = CliRunner().invoke(cli, ["export", trace_id, "-o", str(tape)], env={"TFOTEL_HOME": str(home)})
        assert exported.exit_code == 0, exported.output
        tapes.append(tape)

    haystacks: dict[str, bytes] = {
        "child stdout": child.stdout.encode(),
        "child stderr (DEBUG logs)": child.stderr.encode(),
        "exported spans": json.dumps(result["spans"]).encode(),
    }
    files = [path for path in home.rglob("*") if path.is_file()]
    for path in files:
        haystacks[f"raw {path.relative_to(home)}"] = path.read_bytes()
    store = FsspecBlobStore(str(home / "blobs"))
    blobs = [path.name for path in (home / "blobs").rglob("*") if path.is_file() and is_digest(path.name)]
    for digest in blobs:
        haystacks[f"blob {digest[:12]}"] = store.get(digest)
    span_store = SpanStore(home / "spans.sqlite3")
    for trace_id in result["trace_ids"]:
        haystacks[f"span store {trace_id}"] = repr(span_store.get_trace(trace_id)).encode()
    span_store.close()

    # The search covered what it should have: both runs' blobs, spans and tapes.
    assert len(blobs) >= 6  # the two runs share their first requests, byte for byte
    assert {path.name for path in files} >= {"spans.sqlite3", *(tape.name for tape in tapes)}
    assert sum(1 for span in result["spans"] if "tracefork.step" in span["attributes"]) == 6

    leaks = [
        f"{what} found in {where}"
        for where, data in haystacks.items()
        for what, secret in secrets.items()
        if secret.encode() in data
    ]
    assert leaks == []
