"""Bytes stored per recorded run, next to the bytes that crossed the wire and a practical floor.

Each run records into a fresh folder with the local span store plugged in (a
``SimpleSpanProcessor`` over ``LocalSpanExporter(SpanStore(tmp/spans.sqlite3))``), so
both stores' bytes belong to that run alone. Reported per run:

* **wire**: request + response bodies (headers excluded), as the agent sent and got them.
* **blobs**: the blob store folder, file sizes summed (delta-compressed zstd frames).
* **spans**: the SQLite span store file(s) of the run (every span: the SDK's, ours, the root).
* **per-body zstd-3**: each body compressed on its own at the store's level: what the
  store would take without its delta against the previous exchange.
* **floor**: every body of the run concatenated in wire order, one zstd level-19 frame.

Every blob is then read back through a fresh store (no cache) and compared byte for byte.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import httpx2
import zstandard
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from bench import workload
from bench.timing import now_ns
from bench.tracing import Tracing
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.record import record_run
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore

FLOOR_LEVEL = 19
STORE_LEVEL = 3


def folder_bytes(folder: Path, pattern: str = "*") -> tuple[int, int]:
    """(bytes, files) of the regular files under ``folder`` matching ``pattern``."""
    sizes = [p.stat().st_size for p in folder.rglob(pattern) if p.is_file()]
    return sum(sizes), len(sizes)


def verify(blob_url: str, bodies: list[bytes]) -> dict[str, Any]:
    """Read every distinct body back from a fresh store and compare bytes."""
    reader = FsspecBlobStore(blob_url)
    distinct = {hashlib.sha256(body).hexdigest(): body for body in bodies}
    mismatched: list[str] = []
    missing: list[str] = []
    for digest, body in distinct.items():
        try:
            if reader.get(digest) != body:
                mismatched.append(digest)
        except Exception:
            missing.append(digest)
    return {
        "checked": len(distinct),
        "bit_exact": len(distinct) - len(mismatched) - len(missing),
        "mismatched": mismatched[:5],
        "missing": missing[:5],
        "ok": not mismatched and not missing,
    }


def measure_run(tracing: Tracing, root: Path, steps: int) -> dict[str, Any]:
    """Record one ``steps``-step run into ``root/run-{steps}`` and account for every byte."""
    home = root / f"run-{steps}"
    blobs = home / "blobs"
    store = SpanStore(home / "spans.sqlite3")
    processor = SimpleSpanProcessor(LocalSpanExporter(store))
    script = workload.script(steps)
    sink: list[bytes] = []
    tracing.switch.target = processor
    t0 = now_ns()
    try:
        with record_run(f"bench-storage-{steps}", blob_store=str(blobs)) as run:
            http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(script.handler(sink))))
            exchanges = workload.run_agent(workload.make_client(http), steps)
            http.close()
    finally:
        tracing.switch.target = None
    record_ms = (now_ns() - t0) / 1e6
    spans = len(store.get_trace(run.trace_id))
    processor.shutdown()  # closes the store, checkpointing its WAL
    requests, responses = sink, list(script.responses[:exchanges])
    wire_order = [body for pair in zip(requests, responses, strict=True) for body in pair]
    blob_bytes, blob_files = folder_bytes(blobs)
    span_bytes, _ = folder_bytes(home, "spans.sqlite3*")
    per_body = sum(len(zstandard.ZstdCompressor(level=STORE_LEVEL).compress(b)) for b in wire_order)
    t1 = now_ns()
    floor = len(zstandard.ZstdCompressor(level=FLOOR_LEVEL).compress(b"".join(wire_order)))
    floor_ms = (now_ns() - t1) / 1e6
    check = verify(str(blobs), wire_order)
    result = {
        "steps": steps,
        "exchanges": exchanges,
        "recorded": run.exchanges,
        "spans": spans,
        "wire": {
            "request_bytes": sum(map(len, requests)),
            "response_bytes": sum(map(len, responses)),
            "bytes": sum(map(len, wire_order)),
            "last_request_bytes": len(requests[-1]),
            "mean_response_bytes": sum(map(len, responses)) / len(responses),
        },
        "blob_bytes": blob_bytes,
        "blob_files": blob_files,
        "span_store_bytes": span_bytes,
        "stored_bytes": blob_bytes + span_bytes,
        "per_body_zstd3_bytes": per_body,
        "floor_zstd19_bytes": floor,
        "verify": check,
        "record_ms": record_ms,
        "floor_ms": floor_ms,
    }
    shutil.rmtree(home, ignore_errors=True)
    return result


def measure(tracing: Tracing, root: Path, step_sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    return [measure_run(tracing, root, steps) for steps in step_sizes]
