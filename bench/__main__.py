"""``python -m bench``: run every measurement, print the table, write ``bench/results/latest.json``."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import report, tracing

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer rounds and seeds, no 200-step storage run, no FixedK at 50 steps (~3 min)",
    )
    parser.add_argument("--rounds", type=int, help="timed rounds per overhead comparison (default 25, quick 9)")
    parser.add_argument(
        "--stream-rounds", type=int, help="timed rounds of the streaming comparison (default 15, quick 7)"
    )
    parser.add_argument("--replay-rounds", type=int, help="in-process replay rounds (default 9, quick 7)")
    parser.add_argument("--cli-rounds", type=int, help="`tfotel replay` subprocess rounds (default 7, quick 5)")
    parser.add_argument("--blame-seeds", type=int, help="seeds per blame scenario (default 5, quick 2)")
    parser.add_argument(
        "--fixed-seeds-50", type=int, help="seeds of FixedK on the 50-step scenario (default 2, quick 0: n·k)"
    )
    parser.add_argument("--ingest-rounds", type=int, help="span store ingest rounds (default 5, quick 3)")
    parser.add_argument("--otlp-rounds", type=int, help="OTLP-path rounds (default 25, quick 7)")
    parser.add_argument("--no-blame", action="store_true", help="skip the blame-cost section (the slowest)")
    parser.add_argument("--no-instrumentations", action="store_true", help="skip the third-party arms C")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile sections")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"JSON output (default {RESULTS})")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (9 if args.quick else 25)
    args.stream_rounds = args.stream_rounds or (7 if args.quick else 15)
    args.replay_rounds = args.replay_rounds or (7 if args.quick else 9)
    args.cli_rounds = args.cli_rounds or (5 if args.quick else 7)
    args.blame_seeds = args.blame_seeds or (2 if args.quick else 5)
    if args.fixed_seeds_50 is None:
        args.fixed_seeds_50 = 0 if args.quick else 2
    args.ingest_rounds = args.ingest_rounds or (3 if args.quick else 5)
    args.otlp_rounds = args.otlp_rounds or (7 if args.quick else 25)
    if min(args.rounds, args.stream_rounds, args.replay_rounds, args.otlp_rounds) < 7:
        parser.error("at least 7 rounds are needed for a median worth reporting")
    if args.cli_rounds < 5:
        parser.error("at least 5 rounds of `tfotel replay` are needed")
    return args


_MARKS: list[tuple[str, float]] = []


def _step(label: str, message: str) -> None:
    """Announce a section on stderr and start its clock (``_sections`` reads them back)."""
    _MARKS.append((label, time.monotonic()))
    print(f"[bench] {label}: {message}", file=sys.stderr, flush=True)


def _sections(end: float) -> dict[str, float]:
    """Wall seconds per section, in run order (a label seen twice adds up)."""
    out: dict[str, float] = {}
    for (label, start), (_, stop) in zip(_MARKS, [*_MARKS[1:], ("end", end)], strict=True):
        out[label] = round(out.get(label, 0.0) + stop - start, 1)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    root_dir = Path(__file__).resolve().parent.parent
    with tempfile.TemporaryDirectory(prefix="tfbench-") as tmp_name:
        tmp = Path(tmp_name)
        trace_setup = tracing.configure(tmp / "home")
        # Imported after the provider is set, so nothing records before it.
        from bench import blame, ingest, instrumented, otlp, overhead, profiling, replay, storage, stream

        results: dict[str, Any] = {
            "mode": "quick" if args.quick else "full",
            "environment": report.environment(root_dir),
        }
        _step("overhead", f"arms A/B/B' x steps {overhead.STEP_SIZES}, {args.rounds} rounds")
        overhead.run_plain(10)  # imports and caches warm before anything is counted
        spans = overhead.spans_per_run(trace_setup, tmp)
        probe = overhead.preread_probe(tmp)
        results["overhead"] = {
            **overhead.measure(tmp, args.rounds),
            "spans_per_10_step_run": spans,
            "preread_probe": probe,
        }
        if args.no_instrumentations:
            results["instrumentations"] = []
        else:
            _step("instrumentations", "third-party instrumentations (arm C), one subprocess each")
            results["instrumentations"] = instrumented.measure(args.rounds)
        sizes = (10, 50) if args.quick else (10, 50, 200)
        _step("storage", f"recorded runs of {sizes} steps")
        results["storage"] = storage.measure(trace_setup, tmp, sizes)
        _step("stream", f"time to first event, {args.stream_rounds} rounds")
        results["stream"] = stream.measure(tmp, args.stream_rounds)
        _step(
            "replay",
            f"50-step run from the local store, {args.replay_rounds} rounds; `tfotel replay` x {args.cli_rounds}",
        )
        results["replay"] = replay.measure(
            trace_setup, tmp, args.replay_rounds, args.cli_rounds, 0 if args.quick else 1
        )
        _step("ingest", f"span store ingest from {ingest.WRITERS} writer processes, {args.ingest_rounds} rounds")
        results["ingest"] = ingest.measure(tmp, ingest.templates(trace_setup, tmp), args.ingest_rounds)
        _step("otlp", f"OTLP path with the collector down or slow, {args.otlp_rounds} rounds")
        results["otlp"] = otlp.measure(tmp, args.otlp_rounds)
        if not args.no_blame:
            _step(
                "blame",
                f"adaptive vs FixedK(10), {args.blame_seeds} seeds "
                f"({args.fixed_seeds_50} for FixedK at 50 steps), in spawned processes",
            )
            results["blame"] = blame.measure(args.blame_seeds, args.fixed_seeds_50)
        if not args.no_profile:
            _step("profile", "cProfile of a 50-step recorded run")
            results["profile"] = profiling.measure(tmp)
        trace_setup.provider.shutdown()
    results["environment"]["load_end"] = report.load()
    end = time.monotonic()
    results["elapsed_s"] = end - started
    results["sections_s"] = _sections(end)
    results["notes"] = _notes(results)
    return results


def _notes(results: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    env = results["environment"]
    cpus = env.get("cpu_count") or 1
    busiest = max(env.get("load_start", [0])[:1] + env.get("load_end", [0])[:1])
    if busiest > 0.5 * cpus:
        notes.append(
            f"the machine was busy (1-min load up to {busiest} on {cpus} CPUs): absolute times are noisy; "
            "arms are interleaved, so the comparisons hold better than the absolute numbers"
        )
    probe = results["overhead"].get("preread_probe") or {}
    if probe and probe.get("recorded") != probe.get("exchanges"):
        notes.append(
            f"recording kept {probe.get('recorded')} of {probe.get('exchanges')} exchanges when the inner "
            "transport returned an already-read Response(content=...): httpx reads and closes such a body "
            "at construction, so the tee sees no chunk and no close (the workload serves unread streams)"
        )
    for run in results.get("storage", []):
        if not run["verify"]["ok"]:
            notes.append(f"READ-BACK FAILED for the {run['steps']}-step run: {run['verify']}")
    blame = results.get("blame")
    if blame and blame["fixed_seeds_50"] < blame["seeds"]:
        notes.append(
            f"FixedK(k=10) at 50 steps is 500 agent runs per seed (~1 min each here): it ran "
            f"{blame['fixed_seeds_50']} seed(s), adaptive {blame['seeds']}"
            + (
                "; its runs are n·k by construction, its tokens and top-1 unmeasured"
                if not blame["fixed_seeds_50"]
                else ""
            )
        )
    for arm, data in (results.get("otlp") or {}).get("arms", {}).items():
        if arm != "none" and data["paired_agent_ratio"]["median"] > 1.1:
            notes.append(f"OTLP arm {arm}: the agent path was {data['paired_agent_ratio']['median']:.2f}x arm none's")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    results = run(args)
    report.write_json(results, args.out)
    print(report.table(results))
    print(f"\nJSON: {args.out}")
    replay_ok = all(results["replay"][part]["all_bit_exact"] for part in ("in_process", "cli"))
    return 0 if replay_ok and all(r["verify"]["ok"] for r in results["storage"]) else 1


if __name__ == "__main__":
    sys.exit(main())
