"""What the OTLP path costs the agent when the collector is slow or down.

The SDK's tracer provider is global, so each arm is its own long-lived process
(``python -m bench.otlp``), set up exactly as a user's would be: ``record_run`` calls
``otel_setup.ensure_tracing()``, which builds the provider from the standard
environment, with the local span store on and an OTLP ``BatchSpanProcessor`` (SDK
defaults: 5 s schedule delay, batches of 512, queue of 2,048) when an endpoint is set.
The arms differ only in that environment:

* ``none``: no OTLP endpoint (local store only): the baseline;
* ``http-ok``: a healthy OTLP/HTTP receiver on 127.0.0.1 (in the parent) that answers at
  once: what exporting costs when all is well (serialising batches on the worker thread);
* ``http-closed``: ``OTEL_EXPORTER_OTLP_ENDPOINT`` at a closed port on 127.0.0.1, OTLP/HTTP;
* ``grpc-closed``: the same closed port, OTLP/gRPC (the default protocol);
* ``http-slow``: the same receiver, answering every request after sleeping 2 s.

The parent drives the children over stdin/stdout: each round, every arm in turn
(order reversed on odd rounds) records one 50-step run of the bench agent against the
in-process endpoint, into a fresh blob folder, and reports the agent loop's time and
``record_run``'s exit (writer flush + local store flush). The children stay up for the
whole measurement, so their exporters fill, retry and back off across runs as in a
long-lived agent; they end with ``os._exit`` (the OTLP queue is not drained).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from bench.timing import order, summary

STEPS = 50
SLOW_DELAY_S = 2.0
ARMS = ("none", "http-ok", "http-closed", "grpc-closed", "http-slow")
_REPLY_TIMEOUT_S = 120.0
_OTEL_VARS = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BSP_EXPORT_TIMEOUT",
)


# --- the child -------------------------------------------------------------------------


def _one_run(root: Path, index: int, steps: int) -> dict[str, float]:
    import shutil

    import httpx2

    from bench import workload
    from bench.timing import now_ns
    from tracefork_otel.record import record_run

    blobs = root / f"blobs-{index}"
    script = workload.script(steps)
    with record_run("bench-otlp", blob_store=str(blobs)) as run:
        http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(script.handler())))
        client = workload.make_client(http)
        t1 = now_ns()
        exchanges = workload.run_agent(client, steps)
        t2 = now_ns()
        http.close()
    t3 = now_ns()
    shutil.rmtree(blobs, ignore_errors=True)
    if run.exchanges != exchanges:
        raise RuntimeError(f"recording kept {run.exchanges} of {exchanges} exchanges")
    return {"exchanges": exchanges, "agent_ns": t2 - t1, "exit_ns": t3 - t2}


def child(steps: int) -> None:
    """Serve ``run`` requests on stdin with one JSON line each on stdout; exit on ``quit`` or EOF."""
    from tracefork_otel.otel_setup import configured_exporters, ensure_tracing

    ensure_tracing()  # what record_run does first; done here so no timed run pays for the setup
    root = Path(os.environ["TFOTEL_HOME"])
    exporters = [type(e).__module__ + "." + type(e).__name__ for e in configured_exporters()]
    print(json.dumps({"ready": True, "otlp_exporters": exporters}), flush=True)
    for index, line in enumerate(sys.stdin):
        if line.strip() != "run":
            break
        gc.collect()  # as bench.timing.interleave does: one run's garbage is not collected on the next's time
        print(json.dumps(_one_run(root, index, steps)), flush=True)
    sys.stdout.flush()
    os._exit(0)  # skip the SDK's atexit shutdown: it would wait for the dead or slow collector


# --- the parent ------------------------------------------------------------------------


def _receiver_class() -> Any:
    """The test suite's ``OtlpReceiver`` (``tests/loopback.py``), loaded by its path: ``tests/`` is not a package.

    ``OtlpReceiver(delay=s)`` answers every export after sleeping ``s`` seconds.
    """
    path = Path(__file__).resolve().parent.parent / "tests" / "loopback.py"
    spec = importlib.util.spec_from_file_location("tfotel_tests_loopback", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load the OTLP receiver from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.OtlpReceiver


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env(arm: str, home: Path, port: int, urls: dict[str, str]) -> dict[str, str]:
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in _OTEL_VARS}
    env.update(
        TFOTEL_HOME=str(home),
        TFOTEL_LOCAL_STORE="true",
        PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
    )
    env.pop("TFOTEL_BLOBS", None)
    if arm == "http-closed":
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    elif arm == "grpc-closed":
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_EXPORTER_OTLP_PROTOCOL="grpc")
    elif arm in urls:
        env.update(OTEL_EXPORTER_OTLP_ENDPOINT=urls[arm], OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf")
    return env


class _Child:
    def __init__(self, arm: str, root: Path, port: int, urls: dict[str, str], steps: int) -> None:
        home = root / f"otlp-{arm}"
        home.mkdir(parents=True, exist_ok=True)
        self.arm = arm
        self.stderr_path = home / "stderr.txt"
        self._stderr = self.stderr_path.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.otlp", "--steps", str(steps)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            env=_env(arm, home, port, urls),
            cwd=Path(__file__).resolve().parent.parent,
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        ready, _, _ = select.select([stdout], [], [], _REPLY_TIMEOUT_S)
        line = stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            tail = self.stderr_path.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"OTLP arm {self.arm!r} gave no answer: {' | '.join(tail) or 'no stderr'}")
        return json.loads(line)  # type: ignore[no-any-return]

    def run(self) -> dict[str, float]:
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdin.write("run\n")
        stdin.flush()
        return self._read()

    def close(self) -> dict[str, Any]:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        self._stderr.close()
        lines = self.stderr_path.read_text(errors="replace").splitlines()
        failures = [x for x in lines if "export" in x.lower() and ("fail" in x.lower() or "retry" in x.lower())]
        return {"stderr_lines": len(lines), "export_failure_lines": len(failures), "sample": failures[:2]}


def _per_exchange_us(samples: list[dict[str, float]]) -> dict[str, Any]:
    return summary([s["agent_ns"] / s["exchanges"] / 1000 for s in samples])


def measure(root: Path, rounds: int, warmup: int = 2, steps: int = STEPS) -> dict[str, Any]:
    """Every arm interleaved, one run each per round; agent path per exchange and exit time, with ratios to ``none``."""
    port = closed_port()
    receiver = _receiver_class()
    with receiver() as ok, receiver(delay=SLOW_DELAY_S) as slow:
        urls = {"http-ok": ok.endpoint, "http-slow": slow.endpoint}
        children = {arm: _Child(arm, root, port, urls, steps) for arm in ARMS}
        samples: dict[str, list[dict[str, float]]] = {arm: [] for arm in ARMS}
        try:
            for index in range(warmup + rounds):
                for arm in order(ARMS, index):
                    sample = children[arm].run()
                    if index >= warmup:
                        samples[arm].append(sample)
        finally:
            logs = {arm: child.close() for arm, child in children.items()}
        received = {
            name: {"requests": len(r.raw), "bytes": sum(map(len, r.raw))} for name, r in (("ok", ok), ("slow", slow))
        }
    base = samples["none"]
    arms: dict[str, Any] = {}
    for arm in ARMS:
        mine = samples[arm]
        pairs = list(zip(base, mine, strict=True))
        arms[arm] = {
            "otlp_exporters": children[arm].hello.get("otlp_exporters", []),
            "agent_us": _per_exchange_us(mine),
            "exit_ms": summary([s["exit_ns"] / 1e6 for s in mine]),
            "paired_agent_ratio": summary([y["agent_ns"] / x["agent_ns"] for x, y in pairs]),
            "paired_agent_added_us": summary(
                [(y["agent_ns"] - x["agent_ns"]) / y["exchanges"] / 1000 for x, y in pairs]
            ),
            "paired_exit_added_ms": summary([(y["exit_ns"] - x["exit_ns"]) / 1e6 for x, y in pairs]),
            "log": logs[arm],
        }
    return {
        "rounds": rounds,
        "warmup": warmup,
        "steps": steps,
        "closed_port": port,
        "slow_delay_s": SLOW_DELAY_S,
        "receivers": received,
        "arms": arms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.otlp", description="one OTLP arm (driven by bench)")
    parser.add_argument("--steps", type=int, default=STEPS)
    child(parser.parse_args().steps)


if __name__ == "__main__":
    main()
