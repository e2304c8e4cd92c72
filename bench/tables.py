"""The table sections for the peer comparisons: replay (4), blame cost (5) and the exporter path (6)."""

from __future__ import annotations

import math
from typing import Any

from bench.report import _grid


def _n(x: float, spec: str = ",.0f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _med_iqr(d: dict[str, Any], spec: str = ",.0f") -> list[str]:
    return [_n(d["median"], spec), f"{_n(d['q1'], spec)}-{_n(d['q3'], spec)}"]


def replay(res: dict[str, Any]) -> list[str]:
    rp = res.get("replay")
    if not rp:
        return []
    ip, cli = rp["in_process"], rp["cli"]
    rows = [
        ["A  agent vs in-process endpoint (client setup + loop)", *_med_iqr(ip["A_total_us"])],
        ["R  load_run: spans from SQLite, tape rebuilt", *_med_iqr(ip["R_load_us"])],
        ["R  replay_run: blobs read + checked, clients, agent, receipt", *_med_iqr(ip["R_replay_us"])],
        ["R    of which the agent loop", *_med_iqr(ip["R_agent_us"])],
        ["R  load_run + replay_run", *_med_iqr(ip["R_total_us"])],
    ]
    ratio = ip["paired_ratio_replay_vs_A"]["median"]
    total = ip["paired_ratio_total_vs_A"]["median"]
    agent = ip["paired_ratio_agent_vs_A"]["median"]
    out = [
        "",
        f"4. REPLAY FROM THE LOCAL STORE  ({ip['steps']}-step run recorded with the local span store on; in process,",
        f"   {ip['rounds']} rounds interleaved A/R; µs per exchange)",
        *_grid(["arm", "median", "IQR"], rows),
        f"   paired R/A: replay_run {ratio:.2f}x, load+replay {total:.2f}x, agent loop {agent:.2f}x; "
        f"bit-exact: {'all' if ip['all_bit_exact'] else 'NOT ALL'} of {ip['replays']} replays",
    ]
    rows = [
        [cli["command"], *_med_iqr(cli["replay_ms"])],
        ["  replay_run inside it (the receipt's wall_time_s)", *_med_iqr(cli["replay_run_ms"])],
        ["tfotel --version  (interpreter start-up + CLI imports)", *_med_iqr(cli["version_ms"])],
        ['python -c "import anthropic"  (the SDK the agent needs)', *_med_iqr(cli["import_anthropic_ms"])],
        ["python -c pass  (bare interpreter)", *_med_iqr(cli["python_ms"])],
    ]
    verdict = "met" if cli["met"] else "MISSED"
    out += [
        f"   as a user runs it: subprocesses, {cli['rounds']} rounds interleaved; wall ms",
        *_grid(["command", "median", "IQR"], rows),
        f"   start-up + imports = {cli['startup_share']:.0%} of the replay's wall time (paired replay - version: "
        f"{cli['paired_replay_minus_version_ms']['median']:,.0f} ms); target < {cli['target_s']:.0f} s: {verdict}",
    ]
    return out


def blame(res: dict[str, Any]) -> list[str]:
    bl = res.get("blame")
    if not bl:
        return []
    rows = []
    for steps, d in bl["by_size"].items():
        a, f = d["adaptive"], d["fixed"]
        fixed_runs = _n(f["runs"]) + (" (n·k)" if f.get("by_construction") else "")
        rows.append(
            [
                steps,
                d["scenario"],
                f"{_n(a['runs'], ',.1f')} ({_n(a['runs_median'], ',.0f')}; {a['runs_min']}-{a['runs_max']})",
                fixed_runs,
                _n(d["runs_ratio"], ".3f"),
                _n(a["tokens"] / 1e6, ",.2f"),
                _n(f["tokens"] / 1e6, ",.2f"),
                _n(d["tokens_ratio"], ".3f"),
                _n(a["top1"], ".0%"),
                _n(f["top1"], ".0%"),
                f"{len(a['seeds'])}/{len(f['seeds'])}",
                _n(a["steps_estimated"], ".1f"),
            ]
        )
    g = bl["growth"]
    header = ["steps", "scenario", "adaptive runs (median; min-max)", "fixed runs", "runs a/f", "adaptive Mtok"]
    header += ["fixed Mtok", "tok a/f", "top-1 a", "top-1 f", "seeds a/f", "steps sampled a"]
    return [
        "",
        f"5. BLAME COST  (validation worlds, planted cause; adaptive = {bl['adaptive']}",
        f"   vs {bl['fixed']}; means over seeds; tokens = input+output the forks' live responses reported)",
        *_grid(header, rows),
        f"   growth 10→50 steps, adaptive runs: mean {g['runs_50_over_10']:.2f}x, median "
        f"{g['median_runs_50_over_10']:.2f}x  (log2(50)/log2(10) = "
        f"{g['log_ratio']:.2f}x, 50/10 = {g['linear_ratio']:.0f}x); runs at 20 steps ≤ 1/3 of fixed-k: "
        f"{'met' if bl['ratio_20_met'] else 'MISSED'}",
        f"   {len(bl['jobs'])} blame jobs in {bl['workers']} spawned processes, {bl['elapsed_s']:.0f} s wall",
    ]


def _protocol(exporters: list[str]) -> str:
    """``http`` or ``grpc`` from ``opentelemetry.exporter.otlp.proto.<protocol>.trace_exporter.OTLPSpanExporter``."""
    if not exporters:
        return "-"
    parts = exporters[0].split(".")
    return parts[4] if len(parts) > 4 else parts[-1]


def exporter(res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    ing = res.get("ingest")
    if ing:
        rows = [
            [
                writers,
                *_med_iqr(d["spans_per_s"]),
                _n(d["per_writer_spans_per_s"]["median"]),
                f"{d['scaling_vs_1']:.2f}x",
                str(len(d["errors"])),
            ]
            for writers, d in ing["by_writers"].items()
        ]
        out += [
            "",
            f"6. EXPORTER  a) local span store ingest: spawned writer processes x {ing['spans_per_writer']:,} spans "
            f"each, SpanStore.write in batches of {ing['batch']}",
            f"   into one SQLite file (spans cloned from a recorded run's {ing['template_spans']}), "
            f"{ing['rounds']} rounds interleaved",
            *_grid(["writers", "spans/s", "IQR", "per writer", "vs 1", "errors"], rows),
        ]
    ot = res.get("otlp")
    if ot:
        rows = []
        for arm, d in ot["arms"].items():
            rows.append(
                [
                    arm,
                    _protocol(d["otlp_exporters"]),
                    *_med_iqr(d["agent_us"]),
                    f"{d['paired_agent_ratio']['median']:.3f}x",
                    f"{d['paired_agent_added_us']['median']:+,.0f}",
                    _n(d["exit_ms"]["median"], ",.1f"),
                    f"{d['paired_exit_added_ms']['median']:+,.1f}",
                    str(d["log"]["export_failure_lines"]),
                ]
            )
        ok, slow = ot["receivers"]["ok"], ot["receivers"]["slow"]
        out += [
            f"   b) OTLP path, one long-lived process per arm (SDK BatchSpanProcessor defaults), {ot['steps']}-step "
            f"recorded runs, {ot['rounds']} rounds interleaved",
            f"      after {ot['warmup']} warm-up; agent path in µs per exchange, ratios paired with arm 'none' "
            "in the same round",
            *_grid(
                ["arm", "otlp", "agent µs", "IQR", "vs none", "added µs", "exit ms", "exit added", "export errs"],
                rows,
                indent="      ",
            ),
            f"      receivers got: ok {ok['requests']} requests ({ok['bytes'] / 1024:,.0f} KB), slow "
            f"({ot['slow_delay_s']:.0f} s per request) {slow['requests']} ({slow['bytes'] / 1024:,.0f} KB); "
            "export errs = exporter warnings in the arm's stderr",
        ]
    return out
