"""Child processes of the reliability tests: ``python reliability_child.py MODE ARGS…``.

Each mode sets up tracing the way a user's process does (``record_run`` builds the SDK
provider and adds the local span store under ``$TFOTEL_HOME``), does one thing, and
prints JSON lines on stdout; the last line is its result.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import sqlite3
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

MODEL = "claude-sonnet-4-6"


def say(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def turn_policy(request: dict[str, Any]) -> dict[str, Any]:
    from tracefork_otel.wire import message

    turns = sum(1 for m in request["messages"] if m["role"] == "assistant")
    return message(f"turn {turns} of the run " + "word " * 12, request=request)


def next_turn(messages: list[Any], text: str) -> list[Any]:
    return [*messages, {"role": "assistant", "content": text}, {"role": "user", "content": "go on"}]


def record_steps(base_url: str, name: str, steps: int, *, marker: str = "", stream_every: int = 3) -> tuple[str, int]:
    """One recorded run of ``steps`` calls (every ``stream_every``-th streamed); (trace id, exchanges recorded)."""
    import anthropic

    from tracefork_otel import record_run

    with (
        record_run(name) as run,
        anthropic.Anthropic(
            base_url=base_url, api_key="sk-ant-child", http_client=run.http_client(trust_env=False), max_retries=0
        ) as client,
    ):
        messages: list[Any] = [{"role": "user", "content": f"start {marker}"}]
        for step in range(steps):
            if stream_every and step % stream_every == stream_every - 1:
                with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as events:
                    text = events.get_final_message().content[0].text  # type: ignore[union-attr]
            else:
                text = client.messages.create(model=MODEL, max_tokens=64, messages=messages).content[0].text  # type: ignore[union-attr]
            messages = next_turn(messages, text)
    return run.trace_id, run.exchanges


def local_spans(trace_id: str) -> list[Any]:
    from tracefork_otel.spanstore import SpanStore

    store = SpanStore.default()
    try:
        return store.get_trace(trace_id)
    finally:
        store.close()


def mode_crash(steps: str, pause_after: str, pause_s: str, chunk_delay: str) -> None:
    """Record a long streaming run, announcing each finished step; the parent kills us with SIGKILL."""
    import anthropic

    from tracefork_otel import record_run
    from tracefork_otel.demo import MessagesEndpoint

    with (
        MessagesEndpoint(turn_policy, chunk_delay=float(chunk_delay)) as endpoint,
        record_run("crash-victim") as run,
    ):
        say(trace_id=run.trace_id)
        client = anthropic.Anthropic(
            base_url=endpoint.base_url, api_key="sk-ant-child", http_client=run.http_client(trust_env=False)
        )
        messages: list[Any] = [{"role": "user", "content": "count"}]
        for step in range(int(steps)):
            with client.messages.stream(model=MODEL, max_tokens=64, messages=messages) as events:
                text = events.get_final_message().content[0].text  # type: ignore[union-attr]
            messages = next_turn(messages, text)
            say(done=step, at=time.time())
            if step == int(pause_after):
                time.sleep(float(pause_s))  # a slow tool call


def mode_otlp_run(steps: str) -> None:
    """Record a run with an OTLP exporter configured (dead or slow collector); report the local store on exit."""
    from tracefork_otel.demo import MessagesEndpoint

    with MessagesEndpoint(turn_policy) as endpoint:
        trace_id, exchanges = record_steps(endpoint.base_url, "otlp-fault", int(steps))
        spans = local_spans(trace_id)  # right as record_run returned
    say(
        trace_id=trace_id,
        exchanges=exchanges,
        requests=len(endpoint.requests),
        stored_exchanges=sorted(s.attributes["tracefork.step"] for s in spans if "tracefork.step" in s.attributes),
        stored_root=any(s.parent_span_id is None for s in spans),
    )


def mode_hold_lock(db: str) -> None:
    """Hold the span store's write lock (``BEGIN EXCLUSIVE``) until a line arrives on stdin."""
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    say(locked=True)
    sys.stdin.readline()
    conn.execute("ROLLBACK")
    conn.close()
    say(released=True)


def mode_locked_run(steps: str, budget: str) -> None:
    """Record a run while another process holds the store's lock, then (on a line on stdin) a second one."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if budget == "small":
        # A store that gives up on a locked file after ~0.3 s instead of ~40 s, to see what a drop does.
        from tracefork_otel.spanstore import SpanStore

        path = SpanStore.default().path
        SpanStore.default = classmethod(lambda cls, **kw: cls(path, busy_timeout=0.1, retries=1))  # type: ignore[method-assign]
    import anthropic  # noqa: F401  (imported before "started": the parent times the lock from there)

    from tracefork_otel.demo import MessagesEndpoint

    with MessagesEndpoint(turn_policy) as endpoint:
        say(started=True)
        started = time.monotonic()
        first, exchanges = record_steps(endpoint.base_url, "while-locked", int(steps))
        say(first=first, exchanges=exchanges, seconds=round(time.monotonic() - started, 2))
        sys.stdin.readline()  # the parent says the lock is gone
        second, exchanges = record_steps(endpoint.base_url, "after-unlock", int(steps))
        say(first=first, second=second, exchanges=exchanges)


def mode_writer(base_url: str, runs: str, steps: str, marker: str) -> None:
    """One of several processes recording into one ``TFOTEL_HOME`` at once."""
    trace_ids = []
    for index in range(int(runs)):
        trace_id, exchanges = record_steps(base_url, f"writer-{marker}", int(steps), marker=f"{marker}-{index}")
        assert exchanges == int(steps)
        trace_ids.append(trace_id)
    say(trace_ids=trace_ids)


def mode_memory(runs: str, steps: str, warmup_runs: str, cache_bytes: str, how: str = "record_run") -> None:
    """Record ``runs`` x ``steps`` exchanges through a MockTransport; memory retained per exchange after warm-up.

    ``how`` is ``record_run`` (one run per ``record_run``) or ``session`` (``instrument()``-style
    recording: every exchange in one long-lived span of the user's, an implicit run).
    """
    import contextlib

    import httpx2
    from opentelemetry import trace

    from tracefork_otel import record_run
    from tracefork_otel.blobstore import fsspec_store
    from tracefork_otel.otel_setup import ensure_tracing, flush_local
    from tracefork_otel.record.transport import wrap_client
    from tracefork_otel.record.writer import get_writer
    from tracefork_otel.wire import dumps

    fsspec_store._CACHE_BYTES = int(cache_bytes)  # the blob LRU is bounded; a small bound fills during warm-up

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = dumps(turn_policy(json.loads(request.content)))
        return httpx2.Response(200, headers={"content-type": "application/json"}, content=body)

    transport = httpx2.MockTransport(handler)

    stack = contextlib.ExitStack()
    if how == "session":
        ensure_tracing()
        stack.enter_context(trace.get_tracer("user-app").start_as_current_span("a long-lived session"))
        session_client = stack.enter_context(wrap_client(httpx2.Client(transport=transport)))

    def one_run(index: int) -> None:
        with contextlib.ExitStack() as per_run:
            if how == "session":
                client = session_client
            else:
                run = per_run.enter_context(record_run("memory"))
                client = per_run.enter_context(run.wrap(httpx2.Client(transport=transport)))
            messages: list[Any] = [{"role": "user", "content": f"run {index} of the memory test"}]
            for _ in range(int(steps)):
                reply = client.post(
                    "http://model.test/v1/messages", json={"model": MODEL, "max_tokens": 64, "messages": messages}
                ).json()
                messages = next_turn(messages, reply["content"][0]["text"])

    def settle() -> None:
        get_writer().flush()
        flush_local()
        gc.collect()

    started = time.monotonic()
    tracemalloc.start(1)  # from the first exchange: net growth is end minus warm, both counted the same way
    for index in range(int(warmup_runs)):
        one_run(index)
    settle()
    warm, _ = tracemalloc.get_traced_memory()
    warm_snapshot = tracemalloc.take_snapshot()
    rss_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for index in range(int(warmup_runs), int(runs)):
        one_run(index)
    settle()
    end, _ = tracemalloc.get_traced_memory()
    top = tracemalloc.take_snapshot().compare_to(warm_snapshot, "lineno")[:5]
    tracemalloc.stop()
    stack.close()
    measured = (int(runs) - int(warmup_runs)) * int(steps)
    say(
        exchanges=int(runs) * int(steps),
        measured_exchanges=measured,
        warm_bytes=warm,
        end_bytes=end,
        bytes_per_exchange=round((end - warm) / measured, 1),
        seconds=round(time.monotonic() - started, 1),
        rss_warm_kib=rss_warm,
        rss_end_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        top=[str(stat) for stat in top],
    )


def mode_bomb_rss(path: str) -> None:
    """Read a ``.tftape`` file as ``tfotel import`` does; peak memory before and after."""
    from tracefork_otel.errors import TapeError
    from tracefork_otel.transfer import read_bundle_file

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        read_bundle_file(Path(path))
        error = ""
    except TapeError as exc:
        error = str(exc)
    say(before_kib=before, after_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, error=error)


def mode_secrets(base_url: str, out_dir: str) -> None:
    """Every command that touches a key, in one process: demo, record, replay, fork, export (and show).

    Logging is at DEBUG on stderr and ``OTEL_TRACES_EXPORTER=console`` prints every exported
    span on stdout: the parent searches both, and every file this leaves behind.
    """
    import contextlib
    import io

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    from opentelemetry import trace

    from tracefork_otel.cli import main
    from tracefork_otel.spanstore import SpanStore

    out = Path(out_dir)
    commands: list[dict[str, Any]] = []

    def tfotel(*args: str) -> int:
        sys.argv = ["tfotel", "-vv", *args]
        text = io.StringIO()
        code: Any = 0
        with contextlib.redirect_stdout(text):
            try:
                main()
            except SystemExit as exc:
                code = exc.code
        commands.append({"args": list(args), "code": int(code or 0), "stdout": text.getvalue()})
        return int(code or 0)

    def newest(name: str) -> str:
        store = SpanStore.default()
        try:
            return next(r.trace_id for r in store.list_runs(limit=100) if r.name == f"invoke_agent {name}")
        finally:
            store.close()

    agent = "secret_agent:run"
    tfotel("demo", "--json")
    tfotel("record", "--agent", agent, "--base-url", base_url, "--name", "secret-run")
    recorded = newest("secret-run")
    tfotel("replay", recorded, "--agent", agent)
    tfotel("fork", recorded, "--step", "1", "--resample", "--agent", agent, "--base-url", base_url)
    forked = newest("secret-run (fork@1)")
    for trace_id in (newest("refund-desk"), recorded, forked):
        tfotel("export", trace_id, "-o", str(out / f"{trace_id}.tftape"))
        tfotel("show", trace_id)
    provider = trace.get_tracer_provider()
    provider.force_flush()  # type: ignore[attr-defined]
    (out / "result.json").write_text(json.dumps({"commands": commands, "recorded": recorded, "forked": forked}))


MODES = {
    "crash": mode_crash,
    "otlp-run": mode_otlp_run,
    "hold-lock": mode_hold_lock,
    "locked-run": mode_locked_run,
    "writer": mode_writer,
    "memory": mode_memory,
    "bomb-rss": mode_bomb_rss,
    "secrets": mode_secrets,
}


if __name__ == "__main__":
    os.environ.setdefault("ANTHROPIC_OPEN_TELEMETRY", "false")
    MODES[sys.argv[1]](*sys.argv[2:])
