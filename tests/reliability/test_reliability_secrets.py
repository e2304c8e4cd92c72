"""Secrets and privacy: keys and auth headers are written nowhere; message content is on spans only when asked.

tests/record checks one recorded run for an API key and two headers. Here every command
that touches a key runs (demo, record, replay, fork, export, show), the key comes from
``ANTHROPIC_API_KEY`` and the agent adds ``authorization``, ``cookie``,
``proxy-authorization`` and two ``*-token`` headers; then every byte left under
``TFOTEL_HOME`` (raw and decoded), every ``.tftape`` (raw and decoded), every exported
span and every DEBUG log line is searched.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_support import clean_env
from reliability_support import MODEL, Trace, child_command
from trace_support import sdk_client

import tracefork_otel
from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore, is_digest
from tracefork_otel.demo import MessagesEndpoint, demo_policy
from tracefork_otel.demo.session import DEMO_API_KEY
from tracefork_otel.tape import decode_bundle

AGENT = textwrap.dedent(
    """
    import json, os

    from tracefork_otel.demo import run as demo_run

    HEADERS = json.loads(os.environ["SECRET_HEADERS"])
    # The SDK sends the key as "authorization: Bearer"; one call overrides it with the agent's own header.
    AUTH = {k: v for k, v in HEADERS.items() if k == "authorization"}
    REST = {k: v for k, v in HEADERS.items() if k != "authorization"}


    def run(client, nondet):
        client.with_options(default_headers=AUTH).messages.count_tokens(
            model="claude-sonnet-4-6", messages=[{"role": "user", "content": "hi"}]
        )
        return demo_run(client.with_options(default_headers=REST), nondet)
    """
)


@pytest.mark.subprocess
def test_no_key_or_auth_header_is_written_anywhere(tmp_path: Path, serve: Callable[..., MessagesEndpoint]) -> None:
    unique = uuid.uuid4().hex
    secrets = {
        "api key (ANTHROPIC_API_KEY)": f"sk-ant-api03-{unique}",
        "authorization": f"Bearer auth-{unique}",
        "cookie": f"session=cookie-{unique}",
        "proxy-authorization": f"Basic proxy-{unique}",
        "x-tenant-token": f"tenant-{unique}",
        "x-session-token": f"sess-{unique}",
        "x-api-key": f"sk-ant-header-{unique}",
        "demo key": DEMO_API_KEY,
    }
    headers = {name: value for name, value in secrets.items() if not name.endswith(")") and name != "demo key"}
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "secret_agent.py").write_text(AGENT)
    home, out = tmp_path / "home", tmp_path / "out"
    out.mkdir()
    endpoint = serve(demo_policy)
    env = clean_env(
        home,
        ANTHROPIC_API_KEY=secrets["api key (ANTHROPIC_API_KEY)"],
        SECRET_HEADERS=json.dumps(headers),
        PYTHONPATH=str(tmp_path / "agent"),
        OTEL_TRACES_EXPORTER="console",
    )
    child = subprocess.run(
        child_command("secrets", endpoint.base_url, str(out)), env=env, capture_output=True, text=True, timeout=240
    )
    assert child.returncode == 0, child.stderr[-4000:]
    result: dict[str, Any] = json.loads((out / "result.json").read_text())
    codes = {" ".join(c["args"][:1]): c["code"] for c in result["commands"]}
    assert set(codes.values()) == {0}, [(c["args"], c["code"], c["stdout"][-500:]) for c in result["commands"]]
    assert codes.keys() == {"demo", "record", "replay", "fork", "export", "show"}

    # The secrets really went over the wire (record, and the fork's live tail), so not finding them means something.
    key = secrets["api key (ANTHROPIC_API_KEY)"]
    sent = [r for r in endpoint.requests if r.headers.get("authorization") == f"Bearer {key}"]  # how this SDK sends it
    assert len(sent) >= 4 and all(
        r.headers.get(k) == v for r in sent for k, v in headers.items() if k != "authorization"
    )
    assert any(r.headers.get("authorization") == secrets["authorization"] for r in endpoint.requests)

    haystacks: dict[str, bytes] = {
        "child stdout (console-exported spans, command output)": child.stdout.encode(),
        "child stderr (DEBUG logs)": child.stderr.encode(),
        "command outputs": json.dumps(result["commands"]).encode(),
    }
    files = [path for path in [*home.rglob("*"), *out.rglob("*")] if path.is_file()]
    for path in files:
        haystacks[f"raw {path.relative_to(tmp_path)}"] = path.read_bytes()
    store = FsspecBlobStore(str(home / "blobs"))
    blob_names = [path.name for path in (home / "blobs").rglob("*") if is_digest(path.name)]
    for digest in blob_names:
        haystacks[f"blob {digest[:12]}"] = store.get(digest)
    tapes = sorted(out.glob("*.tftape"))
    for tape in tapes:
        bundle = decode_bundle(tape.read_bytes())
        for digest, data in bundle.blobs.items():
            haystacks[f"{tape.name} blob {digest[:12]}"] = data
        haystacks[f"{tape.name} tape"] = repr(bundle.tape).encode()

    # The search covered what it should: three runs' blobs, spans on stdout, the span store, three tapes.
    assert len(tapes) == 3 and len(blob_names) >= 8
    assert b'"tracefork.step"' in haystacks["child stdout (console-exported spans, command output)"]
    assert any(path.name == "spans.sqlite3" for path in files)
    assert b"DEBUG" in haystacks["child stderr (DEBUG logs)"]

    leaks = [
        f"{what} in {where}" for where, data in haystacks.items() for what, s in secrets.items() if s.encode() in data
    ]
    assert leaks == []


# --- message content on spans ----------------------------------------------------------------


def _texts(trace: Trace) -> str:
    """Everything the trace's spans say: names, attributes, events, status."""
    return json.dumps([json.loads(span.to_json()) for span in trace.spans])


@pytest.mark.parametrize(
    ("capture", "sdk_spans"),
    [(None, False), (None, True), ("true", False)],
    ids=["default", "default-with-the-sdk-spans", "TFOTEL_CAPTURE_CONTENT=true"],
)
def test_message_content_is_on_spans_only_when_asked(
    capture: str | None,
    sdk_spans: bool,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Trace],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if capture is not None:
        monkeypatch.setenv("TFOTEL_CAPTURE_CONTENT", capture)
    question = f"Where is parcel {uuid.uuid4().hex}?"
    answer = f"It is in depot {uuid.uuid4().hex}."
    endpoint = serve(lambda request: {**_reply(request, answer)})
    with (
        record_run("content") as run,
        sdk_client(endpoint.base_url, run, open_telemetry=None if sdk_spans else False) as client,
    ):
        messages: list[Any] = [{"role": "user", "content": question}]
        client.messages.create(model=MODEL, max_tokens=64, messages=messages)
        with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as events:
            assert events.get_final_message().content[0].text == answer  # type: ignore[union-attr]
    text = _texts(trace_of(run.trace_id))
    if capture is None:
        assert question not in text and answer.split()[-1].rstrip(".") not in text
    else:
        assert text.count(question) >= 2  # gen_ai.input.messages, both exchanges
        assert answer in text  # gen_ai.output.messages, JSON and the stream's reassembled message


def _reply(request: dict[str, Any], text: str) -> dict[str, Any]:
    from tracefork_otel.wire import message

    return message(text, request=request)


def test_instrument_with_only_capture_content_turns_capture_on(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Trace]
) -> None:
    """Bug fixed: ``instrument(capture_content=True)`` was ignored unless a blob store or strict was given too."""
    question = f"Where is parcel {uuid.uuid4().hex}?"
    endpoint = serve(lambda request: _reply(request, "In the depot."))
    tracefork_otel.instrument(capture_content=True)
    try:
        client = sdk_client(endpoint.base_url, open_telemetry=False)
        with tracefork_otel.record.config.get().tracer().start_as_current_span("job") as job:
            client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": question}])
        assert tracefork_otel.shutdown()
    finally:
        tracefork_otel.uninstrument()
    (span,) = trace_of(format(job.get_span_context().trace_id, "032x")).exchanges
    assert question in span.attributes[semconv.GEN_AI_INPUT_MESSAGES]
