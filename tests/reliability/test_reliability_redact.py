"""The redaction hook: ``record_run(redact=fn)`` / ``instrument(redact=fn)`` rewrite bytes before they are kept.

A redacted run can be inspected (``show``, ``export``/``import``) and is refused, with one
line and exit 2, by everything that replays (replay, verify, fork): its bytes are not what
the agent sent and got, so no replay could be bit-exact.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export import SpanExportResult
from reliability_support import MODEL, Trace, next_turn, one_error_line
from trace_support import sdk_client

import tracefork_otel
from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore, MemoryBlobStore, is_digest
from tracefork_otel.cli import cli
from tracefork_otel.demo import MessagesEndpoint
from tracefork_otel.errors import ConfigError, TapeRedactedError
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore, span_record_from_readable
from tracefork_otel.tape import decode_bundle
from tracefork_otel.wire import message

CARD = "4111-1111-1111-1111"
CARD_RE = re.compile(rb"\d{4}-\d{4}-\d{4}-\d{4}")


def echo_policy(request: dict[str, Any]) -> dict[str, Any]:
    """Repeats the card number it was sent (in JSON answers), so responses need redacting too.

    A streamed answer carries its text in fragments (a card number split across two
    deltas), which a pattern on the raw bytes cannot see: that answer does not repeat it.
    """
    if request.get("stream"):
        return message("Done.", request=request)
    cards = re.findall(r"\d{4}-\d{4}-\d{4}-\d{4}", json.dumps(request["messages"]))
    return message(f"Charged card {cards[-1] if cards else 'none'}.", request=request)


class Redactor:
    """Masks card numbers; remembers which threads it ran on."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.calls: list[str] = []

    def __call__(self, kind: str, body: bytes) -> bytes:
        self.threads.add(threading.get_ident())
        self.calls.append(kind)
        return CARD_RE.sub(b"[card]", body)


def agent(client: anthropic.Anthropic, nondet: Any = None) -> list[str]:
    """Three calls that each carry the card (the last one streamed); returns what the agent was told."""
    texts = []
    messages: list[Any] = [{"role": "user", "content": f"Charge my card {CARD}."}]
    for call in range(3):
        if call == 2:
            with client.messages.stream(model=MODEL, max_tokens=32, messages=messages) as events:
                texts.append(events.get_final_message().content[0].text)  # type: ignore[union-attr]
        else:
            texts.append(client.messages.create(model=MODEL, max_tokens=32, messages=messages).content[0].text)  # type: ignore[union-attr]
        messages = next_turn(messages, texts[-1])
    return texts


def record(endpoint: MessagesEndpoint, **options: Any) -> tuple[str, list[str]]:
    with (
        record_run("redacted", **options) as run,
        sdk_client(endpoint.base_url, run, max_retries=0, open_telemetry=False) as client,
    ):
        texts = agent(client)
    return run.trace_id, texts


def to_local_store(trace: Trace) -> None:
    exporter = LocalSpanExporter(SpanStore.default())
    try:
        assert exporter.export(trace.spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()


def test_a_redacted_run_keeps_no_card_and_can_be_inspected_but_not_replayed(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Trace], tmp_path: Path
) -> None:
    endpoint = serve(echo_policy)
    redactor = Redactor()
    trace_id, texts = record(endpoint, redact=redactor, capture_content=True)

    assert texts == [f"Charged card {CARD}.", f"Charged card {CARD}.", "Done."]  # the agent saw the real bytes
    assert all(CARD.encode() in r.body for r in endpoint.requests)
    assert redactor.calls == ["request", "response"] * 3
    assert threading.get_ident() not in redactor.threads  # it ran on the background writer

    trace = trace_of(trace_id)
    assert trace.root.attributes[semconv.REDACTED] is True
    blobs = tmp_path / "home" / "blobs"
    store = FsspecBlobStore(str(blobs))
    for span in trace.exchanges:
        assert span.attributes[semconv.REDACTED] is True
        request = store.get(span.attributes[semconv.REQUEST_SHA256])  # the digest is of the redacted bytes
        response = store.get(span.attributes[semconv.RESPONSE_SHA256])
        assert b"[card]" in request and CARD.encode() not in request
        assert CARD.encode() not in response
        assert "[card]" in span.attributes[semconv.GEN_AI_INPUT_MESSAGES]  # captured content is redacted too
    for span in trace.exchanges[:2]:
        assert b"Charged card [card]." in store.get(span.attributes[semconv.RESPONSE_SHA256])
        assert "[card]" in span.attributes[semconv.GEN_AI_OUTPUT_MESSAGES]
    assert CARD not in json.dumps([json.loads(s.to_json()) for s in trace.spans])
    files = [p for p in blobs.rglob("*") if p.is_file()]
    assert files and all(CARD.encode() not in store.get(p.name) for p in files if is_digest(p.name))

    records = [span_record_from_readable(s) for s in trace.spans]
    tape = rebuild_tape(trace_id, records, store)
    assert tape.first_redacted_step() == 0 and all(ex.redacted for ex in tape.exchanges)
    with pytest.raises(TapeRedactedError, match="was redacted at record time") as refused:
        replay_run(tape, store, agent)
    assert refused.value.step == 0

    to_local_store(trace)
    env = {"TFOTEL_HOME": str(tmp_path / "home"), "TFOTEL_BLOBS": None}
    shown = CliRunner().invoke(cli, ["show", trace_id], env=env)
    assert shown.exit_code == 0 and "3 steps" in shown.stdout
    tape_file = tmp_path / "redacted.tftape"
    exported = CliRunner().invoke(cli, ["export", trace_id, "-o", str(tape_file)], env=env)
    assert exported.exit_code == 0, exported.output
    assert all(ex.redacted for ex in decode_bundle(tape_file.read_bytes()).tape.exchanges)
    expected = (
        f"tfotel: error: tape {trace_id} was redacted at record time (from step 0): inspect it with tfotel show"
        " or tfotel export; replay is not bit-exact"
    )
    agent_spec = f"{__name__}:agent"
    for args in (
        ["replay", trace_id, "--agent", agent_spec],
        ["verify", str(tape_file), "--agent", agent_spec],
        ["fork", trace_id, "--step", "1", "--resample", "--agent", agent_spec, "--base-url", endpoint.base_url],
    ):
        result = CliRunner().invoke(cli, args, env={**env, "ANTHROPIC_API_KEY": "sk-ant-test"})
        assert result.exit_code == 2, (args, result.output)
        assert one_error_line(result.stderr) == expected

    # Imported elsewhere, the tape is still known to be redacted.
    other = {"TFOTEL_HOME": str(tmp_path / "elsewhere"), "TFOTEL_BLOBS": None}
    assert CliRunner().invoke(cli, ["import", str(tape_file)], env=other).exit_code == 0
    result = CliRunner().invoke(cli, ["replay", trace_id, "--agent", agent_spec], env=other)
    assert result.exit_code == 2 and "was redacted at record time" in result.stderr


def test_a_hook_that_changes_nothing_leaves_the_run_replayable(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Trace], tmp_path: Path
) -> None:
    endpoint = serve(echo_policy)
    trace_id, _ = record(endpoint, redact=lambda kind, body: body)
    trace = trace_of(trace_id)
    assert semconv.REDACTED not in trace.root.attributes
    assert not any(semconv.REDACTED in s.attributes for s in trace.exchanges)
    store = FsspecBlobStore(str(tmp_path / "home" / "blobs"))
    tape = rebuild_tape(trace_id, [span_record_from_readable(s) for s in trace.spans], store)
    assert replay_run(tape, store, agent).bit_exact


def test_a_failing_hook_keeps_nothing_of_the_exchange(
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Trace],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hook raises on responses: the agent goes on; no byte of those exchanges is stored, and the spans say why."""

    def fragile(kind: str, body: bytes) -> bytes:
        if kind == "response":
            raise ValueError(f"cannot parse {body[:40]!r}")  # its message quotes the content: never logged
        return CARD_RE.sub(b"[card]", body)

    endpoint = serve(echo_policy)
    caplog.set_level(logging.WARNING)
    trace_id, texts = record(endpoint, redact=fragile)
    assert texts == [f"Charged card {CARD}.", f"Charged card {CARD}.", "Done."]
    trace = trace_of(trace_id)
    assert trace.root.attributes[semconv.RUN_PARTIAL] is True
    for span in trace.exchanges:
        assert span.attributes[semconv.RECORD_ERROR] == "redaction failed: ValueError"
        assert semconv.REQUEST_SHA256 not in span.attributes
    assert not (tmp_path / "home" / "blobs").exists() or not any((tmp_path / "home" / "blobs").rglob("*"))
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("tracefork_otel")]
    assert logged == ["tracefork: recording failed, the agent goes on: redaction failed: ValueError"]

    with pytest.raises(ConfigError, match="redaction failed: ValueError") as strict:  # strict: it reaches the agent
        record(endpoint, redact=fragile, strict=True)
    assert CARD not in str(strict.value)


def test_a_hook_that_is_not_callable_is_refused_up_front() -> None:
    with pytest.raises(ConfigError, match="redact must be a function"), record_run("x", redact="mask"):  # type: ignore[arg-type]
        pass


@pytest.fixture
def instrumented_with_redaction(tmp_path: Path) -> Iterator[tuple[MemoryBlobStore, Redactor]]:
    store, redactor = MemoryBlobStore(f"redact-{tmp_path.name}"), Redactor()
    tracefork_otel.instrument(blob_store=store, redact=redactor)
    try:
        yield store, redactor
    finally:
        tracefork_otel.uninstrument()


def test_instrument_redacts_calls_outside_record_run(
    instrumented_with_redaction: tuple[MemoryBlobStore, Redactor],
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Trace],
) -> None:
    store, redactor = instrumented_with_redaction
    endpoint = serve(echo_policy)
    client = sdk_client(endpoint.base_url, open_telemetry=False)
    with tracefork_otel.record.config.get().tracer().start_as_current_span("my-job") as job:
        assert agent(client) == [f"Charged card {CARD}.", f"Charged card {CARD}.", "Done."]
    assert tracefork_otel.shutdown()
    trace = trace_of(format(job.get_span_context().trace_id, "032x"))
    assert [s.attributes[semconv.STEP] for s in trace.exchanges] == [0, 1, 2]
    assert all(s.attributes[semconv.REDACTED] is True for s in trace.exchanges)
    assert store.digests() and all(CARD.encode() not in store.get(d) for d in store.digests())
    assert redactor.calls == ["request", "response"] * 3
