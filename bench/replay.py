"""Replay cost: a recorded 50-step run replayed from the local store, in process and through ``tfotel replay``.

One 50-step run of the bench agent is recorded into a fresh ``TFOTEL_HOME`` with the
local span store on (the production processor, ``otel_setup.local_store_processor``:
a ``BatchSpanProcessor`` over ``LocalSpanExporter``, plugged in through the bench's
`SwitchProcessor` for this one run) and blobs under ``$TFOTEL_HOME/blobs``. Then:

* **in process**, interleaved per round: arm A runs the same agent against the
  in-process endpoint (``httpx2.MockTransport``, as in `bench.overhead`); arm R loads
  the run from disk (``loading.load_run`` through a fresh ``SpanStore`` and blob
  store, so nothing is cached between rounds) and ``replay_run``\\ s it. Reported per
  exchange: A's client setup + loop, R's ``load_run``, R's ``replay_run`` (blobs read
  and hash-checked, clients built, agent run, receipt) and the agent loop inside it.
  Every replay must be bit-exact.
* **as a user runs it**: ``tfotel replay <id> --agent bench.agents:agent_50 --json``
  as a subprocess, interleaved with ``tfotel --version`` (interpreter start-up plus
  the CLI's imports), a bare ``python -c pass`` and ``python -c "import anthropic"``
  (the SDK any replayed agent imports: a floor no CLI change removes); wall times,
  median of the rounds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2

from bench import overhead, workload
from bench.timing import field, interleave, now_ns, summary
from bench.tracing import Tracing
from tracefork_otel.blobstore import open_blob_store
from tracefork_otel.loading import load_run
from tracefork_otel.otel_setup import local_store_processor
from tracefork_otel.record import record_run
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.sources.local import LocalSource
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.spanstore.sqlite import DEFAULT_FILENAME

STEPS = 50
AGENT = f"bench.agents:agent_{STEPS}"
TARGET_S = 1.0


def record(tracing: Tracing, home: Path, steps: int = STEPS) -> str:
    """Record one ``steps``-step run into ``home`` (span store and blobs); returns its trace id."""
    processor = local_store_processor(SpanStore(home / DEFAULT_FILENAME))
    tracing.switch.target = processor
    try:
        with record_run(f"bench-replay-{steps}", blob_store=str(home / "blobs")) as run:
            http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(workload.script(steps).handler())))
            workload.run_agent(workload.make_client(http), steps)
            http.close()
    finally:
        tracing.switch.target = None
        processor.shutdown()  # flushes the batch, then closes the store
    if run.exchanges != steps:
        raise RuntimeError(f"recorded {run.exchanges} of {steps} exchanges")
    return run.trace_id


class _Replayed:
    """Arm R: load the run from disk and replay it; each call builds its stores afresh."""

    def __init__(self, home: Path, trace_id: str, steps: int) -> None:
        self.home, self.trace_id, self.steps = home, trace_id, steps
        self.receipts: list[dict[str, Any]] = []

    def __call__(self) -> dict[str, float]:
        agent_ns: list[int] = []

        def agent(client: Any, nondet: Any) -> int:
            t = now_ns()
            exchanges = workload.run_agent(client, self.steps)
            agent_ns.append(now_ns() - t)
            return exchanges

        t0 = now_ns()
        source = LocalSource(SpanStore(self.home / DEFAULT_FILENAME))
        loaded = load_run(self.trace_id, source, open_blob_store(str(self.home / "blobs")))
        t1 = now_ns()
        receipt = replay_run(loaded.tape, loaded.blob_store, agent)
        t2 = now_ns()
        if not receipt.bit_exact or receipt.replayed != self.steps:
            raise RuntimeError(f"the replay was not bit-exact: {receipt.to_json()}")
        self.receipts.append({"bit_exact": receipt.bit_exact, "replayed": receipt.replayed})
        return {
            "exchanges": receipt.replayed,
            "load_ns": t1 - t0,
            "replay_ns": t2 - t1,
            "agent_ns": agent_ns[0] if agent_ns else 0,
            "total_ns": t2 - t0,
        }


def _us_per_exchange(samples: list[dict[str, float]], key: str) -> dict[str, Any]:
    return summary([s[key] / s["exchanges"] / 1000 for s in samples])


def in_process(home: Path, trace_id: str, rounds: int, warmup: int = 1) -> dict[str, Any]:
    """Arms A (agent vs in-process endpoint) and R (load + replay from the local store), interleaved."""
    replayed = _Replayed(home, trace_id, STEPS)
    samples = interleave({"A": lambda: overhead.run_plain(STEPS), "R": replayed}, rounds, warmup)
    a, r = samples["A"], samples["R"]
    pairs = list(zip(a, r, strict=True))
    return {
        "rounds": rounds,
        "steps": STEPS,
        "A_total_us": _us_per_exchange(a, "total_ns"),
        "A_agent_us": _us_per_exchange(a, "agent_ns"),
        "R_load_us": _us_per_exchange(r, "load_ns"),
        "R_replay_us": _us_per_exchange(r, "replay_ns"),
        "R_agent_us": _us_per_exchange(r, "agent_ns"),
        "R_total_us": _us_per_exchange(r, "total_ns"),
        "paired_ratio_replay_vs_A": summary([y["replay_ns"] / x["total_ns"] for x, y in pairs]),
        "paired_ratio_total_vs_A": summary([y["total_ns"] / x["total_ns"] for x, y in pairs]),
        "paired_ratio_agent_vs_A": summary([y["agent_ns"] / x["agent_ns"] for x, y in pairs]),
        "all_bit_exact": all(x["bit_exact"] for x in replayed.receipts),
        "replays": len(replayed.receipts),
    }


def _tfotel() -> str:
    beside = Path(sys.executable).with_name("tfotel")
    return str(beside) if beside.exists() else shutil.which("tfotel") or "tfotel"


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    t0 = now_ns()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=120, check=False)
    return (now_ns() - t0) / 1e6, done


def cli(home: Path, trace_id: str, rounds: int, warmup: int = 1) -> dict[str, Any]:
    """``tfotel replay`` vs ``tfotel --version`` vs ``python -c pass``, as subprocesses, interleaved."""
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "TFOTEL_HOME": str(home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    }
    env.pop("TFOTEL_BLOBS", None)
    tfotel = _tfotel()
    receipts: list[dict[str, Any]] = []

    def replay() -> dict[str, float]:
        ms, done = _timed([tfotel, "replay", trace_id, "--agent", AGENT, "--json"], env, root)
        if done.returncode != 0:
            raise RuntimeError(f"tfotel replay exited {done.returncode}: {done.stderr.strip()[-400:]}")
        receipt = json.loads(done.stdout)
        receipts.append(receipt)
        return {"ms": ms, "replay_run_ms": receipt["wall_time_s"] * 1000}

    def version() -> dict[str, float]:
        ms, done = _timed([tfotel, "--version"], env, root)
        if done.returncode != 0:
            raise RuntimeError(f"tfotel --version exited {done.returncode}: {done.stderr.strip()[-400:]}")
        return {"ms": ms}

    def bare() -> dict[str, float]:
        return {"ms": _timed([sys.executable, "-c", "pass"], env, root)[0]}

    def sdk() -> dict[str, float]:
        return {"ms": _timed([sys.executable, "-c", "import anthropic"], env, root)[0]}

    arms = {"replay": replay, "version": version, "python": bare, "anthropic": sdk}
    samples = interleave(arms, rounds, warmup)
    rep, ver, py = samples["replay"], samples["version"], samples["python"]
    replay_ms, version_ms = summary(field(rep, "ms")), summary(field(ver, "ms"))
    return {
        "rounds": rounds,
        "steps": STEPS,
        "command": f"tfotel replay <id> --agent {AGENT} --json",
        "replay_ms": replay_ms,
        "replay_run_ms": summary(field(rep, "replay_run_ms")),
        "version_ms": version_ms,
        "python_ms": summary(field(py, "ms")),
        "import_anthropic_ms": summary(field(samples["anthropic"], "ms")),
        "startup_share": version_ms["median"] / replay_ms["median"],
        "paired_replay_minus_version_ms": summary([x["ms"] - y["ms"] for x, y in zip(rep, ver, strict=True)]),
        "all_bit_exact": all(r.get("bit_exact") for r in receipts),
        "target_s": TARGET_S,
        "met": replay_ms["median"] / 1000 < TARGET_S,
    }


def measure(tracing: Tracing, root: Path, rounds: int, cli_rounds: int, cli_warmup: int = 1) -> dict[str, Any]:
    home = root / "replay-home"
    trace_id = record(tracing, home)
    results = {
        "trace_id": trace_id,
        "in_process": in_process(home, trace_id, rounds),
        "cli": cli(home, trace_id, cli_rounds, cli_warmup),
    }
    shutil.rmtree(home, ignore_errors=True)
    return results
