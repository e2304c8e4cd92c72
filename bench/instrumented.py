"""Arm C: the same agent under a third-party Anthropic instrumentation, no tracefork, in its own process.

Instrumenting patches the SDK's classes for the whole process, so each instrumentation
runs in a subprocess (``python -m bench.instrumented NAME``) that interleaves its own
arm A (uninstrumented) with arm C (``AnthropicInstrumentor().instrument()``), toggling
the patch between runs, outside the timed region. It prints one JSON object.

Install the instrumentations to get this arm (neither is a dependency of tracefork)::

    pip install --pre "opentelemetry-instrumentation-genai-anthropic>=1.3b0"   # OpenTelemetry's own
    pip install "opentelemetry-instrumentation-anthropic>=0.62"                # Traceloop OpenLLMetry

Both keep their defaults: OTel's captures no message content unless
``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``; OpenLLMetry captures
prompts and completions unless ``TRACELOOP_TRACE_CONTENT=false``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from bench import overhead, tracing, workload
from bench.timing import interleave, now_ns


@dataclass(frozen=True)
class Instrumentation:
    """One instrumentation package and how to install it."""

    name: str
    module: str
    distribution: str
    requirement: str
    content_default: str


INSTRUMENTATIONS = (
    Instrumentation(
        "otel-genai",
        "opentelemetry.instrumentation.genai.anthropic",
        "opentelemetry-instrumentation-genai-anthropic",
        'pip install --pre "opentelemetry-instrumentation-genai-anthropic>=1.3b0"',
        "content capture off (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT unset)",
    ),
    Instrumentation(
        "openllmetry",
        "opentelemetry.instrumentation.anthropic",
        "opentelemetry-instrumentation-anthropic",
        'pip install "opentelemetry-instrumentation-anthropic>=0.62"',
        "content capture on (its default; TRACELOOP_TRACE_CONTENT unset)",
    ),
)


def _create() -> Any:
    from anthropic.resources.messages import Messages

    return Messages.__dict__["create"]


_ORIGINAL_CREATE = _create()


def _run_instrumented(instrumentor: Any, steps: int) -> dict[str, float]:
    instrumentor.instrument()
    try:
        script = workload.script(steps)
        t0 = now_ns()
        http = httpx2.Client(transport=httpx2.MockTransport(script.handler()))
        client = workload.make_client(http)
        t1 = now_ns()
        exchanges = workload.run_agent(client, steps)
        t2 = now_ns()
        http.close()
        t3 = now_ns()
    finally:
        instrumentor.uninstrument()
    if _create() is not _ORIGINAL_CREATE:
        raise RuntimeError("uninstrument() left Messages.create patched; arm A would run instrumented")
    return {"exchanges": exchanges, "agent_ns": t2 - t1, "total_ns": t3 - t0, "exit_ns": t3 - t2}


def child(name: str, rounds: int, warmup: int) -> dict[str, Any]:
    """Body of the subprocess: interleave A and C for each step size."""
    spec = next(i for i in INSTRUMENTATIONS if i.name == name)
    with tempfile.TemporaryDirectory(prefix="tfbench-c-") as tmp:
        tr = tracing.configure(Path(tmp) / "home")
        instrumentor = importlib.import_module(spec.module).AnthropicInstrumentor()
        arms: dict[str, Any] = {}
        for steps in overhead.STEP_SIZES:
            arms[f"A{steps}"] = lambda steps=steps: overhead.run_plain(steps)
            arms[f"C{steps}"] = lambda steps=steps: _run_instrumented(instrumentor, steps)
        tr.spans()
        overhead.run_plain(10)
        spans_a = tr.spans()
        _run_instrumented(instrumentor, 10)
        spans_c = tr.spans()
        samples = interleave(arms, rounds, warmup)
    return {
        "available": True,
        "name": spec.name,
        "distribution": spec.distribution,
        "version": importlib.metadata.version(spec.distribution),
        "content_default": spec.content_default,
        "spans_per_10_step_run": {"A": spans_a, "C": spans_c},
        "by_steps": {
            str(steps): {"C_vs_A": overhead.compare(samples[f"A{steps}"], samples[f"C{steps}"])}
            for steps in overhead.STEP_SIZES
        },
    }


def measure(rounds: int, warmup: int = 2, timeout_s: float = 240.0) -> list[dict[str, Any]]:
    """Arm C for every known instrumentation: measured in a subprocess, or why not."""
    results: list[dict[str, Any]] = []
    for spec in INSTRUMENTATIONS:
        base = {"name": spec.name, "distribution": spec.distribution, "requirement": spec.requirement}
        if importlib.util.find_spec(spec.module.rsplit(".", 1)[0]) is None or not _importable(spec.module):
            results.append({**base, "available": False, "reason": f"{spec.distribution} is not installed"})
            continue
        cmd = [sys.executable, "-m", "bench.instrumented", spec.name, "--rounds", str(rounds), "--warmup", str(warmup)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_root()), os.environ.get("PYTHONPATH")]))}
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, env=env, check=False)
        except subprocess.TimeoutExpired:
            results.append({**base, "available": False, "reason": f"timed out after {timeout_s:.0f} s"})
            continue
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            results.append({**base, "available": False, "reason": f"subprocess failed: {last}"})
            continue
        results.append({**base, **json.loads(done.stdout)})
    return results


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _root() -> Path:
    return Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instrumented")
    parser.add_argument("name", choices=[i.name for i in INSTRUMENTATIONS])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    json.dump(child(args.name, args.rounds, args.warmup), sys.stdout)


if __name__ == "__main__":
    main()
