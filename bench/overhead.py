"""Recording overhead per exchange: the same agent without (A) and with (B) tracefork recording.

Both arms run the `bench.workload` agent through ``httpx2.MockTransport`` (no sockets, so
only the client-side path is timed), under the production-like OTel setup of
`bench.tracing` (the Anthropic SDK's own span is on in both). Arm B wraps the client's
transport with ``record_run(...).wrap(...)`` and writes to a fresh blob folder per run
(a content-addressed store would otherwise skip the writes of a repeated run).

Two times per run:

* **agent path**: the agent loop alone, what the agent waits for. Blob hashing,
  compression and writes happen on tracefork's background writer, so they show up
  here only as contention for the GIL and the CPUs.
* **total**: client setup + loop + ``record_run`` exit, which waits for the background
  writer to finish and flushes the span processors.

A diagnostic arm B' ("writer held") parks the background writer during the loop: B' - A
is what recording costs on the agent's own thread, B - B' what the writer costs the
agent by competing for the GIL (with zero model latency there is no idle time for the
writer to hide in; with a real model it mostly runs while the agent waits on the network).
"""

from __future__ import annotations

import contextlib
import itertools
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from bench import workload
from bench.timing import field, interleave, now_ns, summary
from tracefork_otel.record import record_run
from tracefork_otel.record.writer import Job, get_writer

STEP_SIZES = (10, 50)


def run_plain(steps: int) -> dict[str, float]:
    """Arm A: one run with no recording."""
    script = workload.script(steps)
    t0 = now_ns()
    http = httpx2.Client(transport=httpx2.MockTransport(script.handler()))
    client = workload.make_client(http)
    t1 = now_ns()
    exchanges = workload.run_agent(client, steps)
    t2 = now_ns()
    http.close()
    t3 = now_ns()
    return {"exchanges": exchanges, "agent_ns": t2 - t1, "total_ns": t3 - t0, "exit_ns": t3 - t2}


class _HeldWriter:
    """Parks tracefork's background writer on a job that waits, so later jobs queue until release.

    A diagnostic only (it uses the writer's internals): with the writer parked, the
    agent path carries recording's own work on the agent thread and none of the
    writer's competition for the GIL; the queued work then runs in the exit's flush.
    """

    def __enter__(self) -> _HeldWriter:
        self._release = threading.Event()
        get_writer().submit(Job(run=self._release.wait, drop=lambda why: None, size=0))
        return self

    def release(self) -> None:
        self._release.set()

    def __exit__(self, *exc: object) -> None:
        self._release.set()


class Recorded:
    """Arm B: one recorded run per call, each into a fresh blob folder under ``root``.

    With ``hold_writer`` (arm B'), the background writer is parked during the agent loop.
    """

    def __init__(self, root: Path, *, hold_writer: bool = False) -> None:
        self.root = root
        self.hold_writer = hold_writer
        self._ids = itertools.count()

    def __call__(self, steps: int) -> dict[str, float]:
        script = workload.script(steps)
        blobs = self.root / f"blobs-{'held-' if self.hold_writer else ''}{next(self._ids)}"
        held = _HeldWriter() if self.hold_writer else contextlib.nullcontext()
        t0 = now_ns()
        with record_run("bench", blob_store=str(blobs)) as run, held:
            http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(script.handler())))
            client = workload.make_client(http)
            t1 = now_ns()
            exchanges = workload.run_agent(client, steps)
            t2 = now_ns()
            if isinstance(held, _HeldWriter):
                held.release()
            http.close()
        t3 = now_ns()
        shutil.rmtree(blobs, ignore_errors=True)
        if run.exchanges != exchanges:
            raise RuntimeError(f"recording kept {run.exchanges} of {exchanges} exchanges; the numbers would be void")
        return {"exchanges": exchanges, "agent_ns": t2 - t1, "total_ns": t3 - t0, "exit_ns": t3 - t2}


def per_exchange(samples: list[dict[str, float]], key: str) -> dict[str, Any]:
    """Summary of ``key`` in µs per exchange."""
    return summary([s[key] / s["exchanges"] / 1000 for s in samples])


def compare(base: list[dict[str, float]], other: list[dict[str, float]]) -> dict[str, Any]:
    """Both arms per exchange, for the agent path and the total.

    ``added_us`` and ``ratio`` compare the two medians; ``paired_added_us`` and
    ``paired_ratio`` are the medians of the per-round differences and ratios (the two
    runs of a round are adjacent, so they share the machine's state; on a noisy
    machine these are the steadier numbers).
    """
    out: dict[str, Any] = {}
    for key in ("agent_ns", "total_ns"):
        a, b = per_exchange(base, key), per_exchange(other, key)
        pairs = list(zip(base, other, strict=True))
        out[key.removesuffix("_ns")] = {
            "base_us": a,
            "arm_us": b,
            "added_us": b["median"] - a["median"],
            "ratio": b["median"] / a["median"],
            "paired_added_us": summary([(y[key] - x[key]) / y["exchanges"] / 1000 for x, y in pairs]),
            "paired_ratio": summary([y[key] / x[key] for x, y in pairs]),
        }
    out["exit_ms"] = summary([s["exit_ns"] / 1e6 for s in other])
    return out


def measure(root: Path, rounds: int, warmup: int = 2) -> dict[str, Any]:
    """Arms A and B for each step size, interleaved in one process."""
    recorded, held = Recorded(root), Recorded(root, hold_writer=True)
    arms: dict[str, Callable[[], dict[str, float]]] = {}
    for steps in STEP_SIZES:
        arms[f"A{steps}"] = lambda steps=steps: run_plain(steps)  # type: ignore[misc]
        arms[f"B{steps}"] = lambda steps=steps: recorded(steps)  # type: ignore[misc]
        arms[f"H{steps}"] = lambda steps=steps: held(steps)  # type: ignore[misc]
    samples = interleave(arms, rounds, warmup)
    results: dict[str, Any] = {"rounds": rounds, "warmup": warmup, "by_steps": {}}
    for steps in STEP_SIZES:
        a, b, h = samples[f"A{steps}"], samples[f"B{steps}"], samples[f"H{steps}"]
        results["by_steps"][str(steps)] = {
            "B_vs_A": compare(a, b),
            "Bheld_vs_A": compare(a, h),
            "raw_ns": {
                arm: {"agent": field(x, "agent_ns"), "total": field(x, "total_ns")}
                for arm, x in (("A", a), ("B", b), ("B_held", h))
            },
        }
    return results


def spans_per_run(tracing: Any, root: Path, steps: int = 10) -> dict[str, dict[str, int]]:
    """Which spans one run of each arm exports (checks the SDK's own span is on in both)."""
    tracing.spans()
    run_plain(steps)
    plain = tracing.spans()
    Recorded(root)(steps)
    recorded = tracing.spans()
    return {"A": plain, "B": recorded}


def preread_probe(root: Path, steps: int = 3) -> dict[str, Any]:
    """How many exchanges are recorded when the inner transport returns ``Response(content=...)``.

    httpx reads and closes such a response when it is built, so the SDK never iterates
    its stream; the recording transport's tee sees no chunk and no close.
    """
    script = workload.script(steps)
    with record_run("bench-preread", blob_store=str(root / "blobs-preread")) as run:
        http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(script.handler(preread=True))))
        exchanges = workload.run_agent(workload.make_client(http), steps)
    shutil.rmtree(root / "blobs-preread", ignore_errors=True)
    return {"exchanges": exchanges, "recorded": run.exchanges, "steps_started": getattr(run, "started_exchanges", None)}
