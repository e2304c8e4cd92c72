"""Span store throughput: spans per second one SQLite span store ingests from several writer processes at once.

The spans are real ones: a 10-step recorded run of the bench agent is captured once
(every span it makes: the root, tracefork's exchange spans, the Anthropic SDK's own),
and each writer clones them under fresh trace and span ids up to ``N`` spans. Each
writer is a spawned process (as separate agent processes on one machine would be); it
builds its spans and opens the store before a shared barrier, then calls
``SpanStore.write`` with batches of 512, as a ``BatchSpanProcessor`` hands them to the
exporter. Throughput = all writers' spans / (last writer's end - first writer's start).
The configurations (1, 2, 4 writers) run interleaved, round after round, each trial
into a fresh store file created beforehand (the schema is not part of the timing).
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import random
import time
from pathlib import Path
from typing import Any

from bench.timing import order, summary
from tracefork_otel.spanmodel import SpanRecord
from tracefork_otel.spanstore import SpanStore

WRITERS = (1, 2, 4)
SPANS_PER_WRITER = 2_000
BATCH = 512
_START_TIMEOUT_S = 120.0


def clone(templates: list[SpanRecord], count: int, writer: int) -> list[SpanRecord]:
    """``count`` spans copied from ``templates`` under fresh ids (one new trace per pass over them)."""
    rng = random.Random(writer)
    out: list[SpanRecord] = []
    trace_no = 0
    while len(out) < count:
        trace_id = f"{writer + 1:08x}{trace_no:024x}"
        new_ids = {span.span_id: f"{rng.getrandbits(64):016x}" for span in templates}
        for span in templates:
            parent = new_ids.get(span.parent_span_id or "", span.parent_span_id)
            copy = dataclasses.replace(span, trace_id=trace_id, span_id=new_ids[span.span_id], parent_span_id=parent)
            out.append(copy)
            if len(out) == count:
                break
        trace_no += 1
    return out


def writer(path: str, templates: list[SpanRecord], count: int, batch: int, index: int, barrier: Any, out: Any) -> None:
    """Body of one writer process: prepare, wait for the others, write, report ``(index, t0, t1, count, error)``."""
    spans = clone(templates, count, index)
    store = SpanStore(path)
    error = None
    try:
        store.get_trace("0" * 32)  # opens the connection, outside the timing
        barrier.wait(_START_TIMEOUT_S)
        t0 = time.monotonic_ns()  # CLOCK_MONOTONIC: one clock for every process on Linux
        for start in range(0, len(spans), batch):
            store.write(spans[start : start + batch])
        t1 = time.monotonic_ns()
    except Exception as exc:  # reported, not raised: the parent counts failed writers
        t0 = t1 = time.monotonic_ns()
        error = f"{type(exc).__name__}: {exc}"
    finally:
        store.close()
    out.put((index, t0, t1, count, error))


def _trial(ctx: Any, path: Path, templates: list[SpanRecord], writers: int, count: int, batch: int) -> dict[str, Any]:
    seed = SpanStore(path)
    seed.write(templates[:1])  # creates the file and its schema before anyone is timed
    seed.close()
    barrier = ctx.Barrier(writers)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=(str(path), templates, count, batch, i, barrier, out), daemon=True)
        for i in range(writers)
    ]
    for proc in procs:
        proc.start()
    reports = [out.get(timeout=_START_TIMEOUT_S) for _ in procs]
    for proc in procs:
        proc.join(30)
    errors = [r[4] for r in reports if r[4]]
    start, end = min(r[1] for r in reports), max(r[2] for r in reports)
    elapsed_s = (end - start) / 1e9
    return {
        "writers": writers,
        "spans": sum(r[3] for r in reports),
        "elapsed_s": elapsed_s,
        "spans_per_s": sum(r[3] for r in reports) / elapsed_s if elapsed_s > 0 else 0.0,
        "per_writer_spans_per_s": [r[3] / ((r[2] - r[1]) / 1e9) for r in reports if r[2] > r[1]],
        "errors": errors,
    }


def templates(tracing: Any, root: Path, steps: int = 10) -> list[SpanRecord]:
    """Every span of one recorded ``steps``-step run, as the local store keeps them.

    The workload is imported here, not at module level: the spawned writers import this
    module and need none of it.
    """
    import httpx2
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from bench import workload
    from tracefork_otel.record import record_run
    from tracefork_otel.spanstore import LocalSpanExporter

    store = SpanStore(root / "ingest-templates.sqlite3")
    processor = SimpleSpanProcessor(LocalSpanExporter(store))
    tracing.switch.target = processor
    try:
        with record_run("bench-ingest", blob_store=str(root / "ingest-blobs")) as run:
            http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(workload.script(steps).handler())))
            workload.run_agent(workload.make_client(http), steps)
            http.close()
    finally:
        tracing.switch.target = None
    spans = store.get_trace(run.trace_id)
    processor.shutdown()
    return spans


def measure(root: Path, templates: list[SpanRecord], rounds: int) -> dict[str, Any]:
    """Every writer count, interleaved over ``rounds`` rounds; medians of spans per second."""
    ctx = multiprocessing.get_context("spawn")
    trials: dict[int, list[dict[str, Any]]] = {n: [] for n in WRITERS}
    for index in range(rounds):
        for writers in order(WRITERS, index):
            path = root / f"ingest-{writers}-{index}.sqlite3"
            trials[writers].append(_trial(ctx, path, templates, writers, SPANS_PER_WRITER, BATCH))
            for leftover in root.glob(f"{path.name}*"):
                leftover.unlink(missing_ok=True)
    by_writers = {}
    for writers, runs in trials.items():
        rates = summary([t["spans_per_s"] for t in runs])
        by_writers[str(writers)] = {
            "spans_per_s": rates,
            "per_writer_spans_per_s": summary([x for t in runs for x in t["per_writer_spans_per_s"]] or [0.0]),
            "elapsed_s": summary([t["elapsed_s"] for t in runs]),
            "errors": [e for t in runs for e in t["errors"]],
        }
    one = by_writers["1"]["spans_per_s"]["median"]
    for data in by_writers.values():
        data["scaling_vs_1"] = data["spans_per_s"]["median"] / one if one else 0.0
    return {
        "rounds": rounds,
        "spans_per_writer": SPANS_PER_WRITER,
        "batch": BATCH,
        "template_spans": len(templates),
        "by_writers": by_writers,
    }
