"""The benchmark's outputs: the environment it ran in, a plain-text table, and the JSON file."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

PACKAGES = (
    "tracefork-otel",
    "anthropic",
    "httpx2",
    "opentelemetry-sdk",
    "opentelemetry-api",
    "opentelemetry-exporter-otlp-proto-http",
    "opentelemetry-exporter-otlp-proto-grpc",
    "grpcio",
    "zstandard",
    "fsspec",
    "opentelemetry-instrumentation-genai-anthropic",
    "opentelemetry-instrumentation-anthropic",
)


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(root: Path) -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' (uncommitted changes)' if dirty else ''}"


def load() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def environment(root: Path) -> dict[str, Any]:
    """Machine, interpreter, package versions, source revision and time."""
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": platform.node(),
        "platform": platform.platform(),
        "arch": platform.machine(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "versions": {dist: _version(dist) for dist in PACKAGES},
        "git": _git(root),
        "load_start": load(),
    }


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


# --- table ---------------------------------------------------------------------------


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:,.2f} MB"


def _grid(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return indent + "  ".join(
            str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return [line(header), indent + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


def _peers(versions: dict[str, str]) -> str:
    names = ("opentelemetry-instrumentation-genai-anthropic", "opentelemetry-instrumentation-anthropic")
    return " · ".join(f"{name} {versions.get(name, 'not recorded')}" for name in names)


def _header(res: dict[str, Any]) -> list[str]:
    env = res["environment"]
    v = env["versions"]
    return [
        f"tracefork-otel benchmark · {env['date']} · mode {res['mode']} · {res['elapsed_s']:.0f} s",
        f"machine  {env['machine']} · {env['arch']} · {env['cpu']} · {env['cpu_count']} CPUs · {env['platform']}",
        f"load     1/5/15-min load average at start {env['load_start']} · at end {env.get('load_end')}",
        f"python   {env['implementation']} {env['python']} · anthropic {v['anthropic']} · httpx2 {v['httpx2']} · "
        f"opentelemetry-sdk {v['opentelemetry-sdk']} · zstandard {v['zstandard']} · fsspec {v['fsspec']}",
        f"otlp     exporter-otlp-proto-http {v.get('opentelemetry-exporter-otlp-proto-http')} · "
        f"-grpc {v.get('opentelemetry-exporter-otlp-proto-grpc')} · grpcio {v.get('grpcio')}",
        f"peers    {_peers(v)}",
        f"source   tracefork-otel {v['tracefork-otel']} at git {env['git']}",
        "sections " + " · ".join(f"{k} {t:.0f} s" for k, t in res.get("sections_s", {}).items()),
        "tracing  SDK TracerProvider + BatchSpanProcessor(no-op exporter), as in production: the Anthropic SDK's",
        "         own 'anthropic.messages.create' span is ON in every arm (global provider set).",
    ]


def _overhead(res: dict[str, Any]) -> list[str]:
    ov = res["overhead"]
    out = [
        "",
        f"1. RECORDING OVERHEAD PER EXCHANGE  (httpx2.MockTransport in-process, {ov['rounds']} rounds interleaved ABBA",
        f"   after {ov['warmup']} warm-up rounds; medians in µs per exchange)",
    ]
    spans = ov.get("spans_per_10_step_run", {})
    if spans:
        out.append(
            "   spans per 10-step run: "
            + " | ".join(
                f"{arm}: " + ", ".join(f"{k}={n}" for k, n in sorted(counts.items())) for arm, counts in spans.items()
            )
        )
    rows = []
    for steps, data in ov["by_steps"].items():
        for key, label in (("agent", "agent path"), ("total", "total incl. flush")):
            b, h = data["B_vs_A"][key], data["Bheld_vs_A"][key]
            rows.append(
                [
                    steps,
                    label,
                    f"{b['base_us']['median']:,.0f}",
                    f"{b['arm_us']['median']:,.0f}",
                    f"{b['added_us']:+,.0f}",
                    f"{b['ratio']:.2f}x",
                    f"{b['paired_added_us']['median']:+,.0f}",
                    f"{b['paired_ratio']['median']:.2f}x",
                    f"{h['arm_us']['median']:,.0f}",
                    f"{h['paired_added_us']['median']:+,.0f}",
                ]
            )
    header = ["steps", "time", "A plain", "B recorded", "B-A", "B/A", "paired B-A", "paired B/A"]
    out += _grid([*header, "B' writer held", "paired B'-A"], rows)
    out.append("   B-A, B/A compare the medians; paired = median over rounds of (B-A) and B/A within the round.")
    exits = ", ".join(
        f"{steps} steps {data['B_vs_A']['exit_ms']['median']:.1f} ms" for steps, data in ov["by_steps"].items()
    )
    out.append(f"   record_run exit (waits for the blob writer, flushes spans), median per run: {exits}")
    out.append("   B' parks the background writer during the loop (diagnostic): B'-A = recording's own cost on the")
    out.append("   agent thread; B-B' = the writer competing with the agent for the GIL (no model latency to hide in).")
    probe = ov.get("preread_probe")
    if probe:
        out.append(
            f"   probe: inner transport returning Response(content=...) (pre-read by httpx): "
            f"{probe['recorded']} of {probe['exchanges']} exchanges recorded"
        )
    for arm in res.get("instrumentations", []):
        name = f"C {arm['name']} ({arm['distribution']}"
        if not arm.get("available"):
            out.append(f"   {name}): not available — {arm['reason']}; install: {arm['requirement']}")
            continue
        out.append(f"   {name} {arm['version']}, own subprocess with its own A; {arm['content_default']}):")
        spans_c = arm["spans_per_10_step_run"]["C"]
        out.append("     spans per 10-step run: " + ", ".join(f"{k}={n}" for k, n in sorted(spans_c.items())))
        for steps, data in arm["by_steps"].items():
            parts = []
            for key, label in (("agent", "agent"), ("total", "total")):
                c = data["C_vs_A"][key]
                parts.append(
                    f"{label} A {c['base_us']['median']:,.0f} → C {c['arm_us']['median']:,.0f} µs "
                    f"({c['added_us']:+,.0f}, {c['ratio']:.2f}x; paired {c['paired_added_us']['median']:+,.0f}, "
                    f"{c['paired_ratio']['median']:.2f}x)"
                )
            out.append(f"     {steps:>3} steps: " + " · ".join(parts))
    return out


def _storage(res: dict[str, Any]) -> list[str]:
    rows = []
    for run in res["storage"]:
        wire = run["wire"]
        check = run["verify"]
        rows.append(
            [
                str(run["steps"]),
                _kb(wire["bytes"]),
                _kb(wire["last_request_bytes"]),
                f"{_kb(run['blob_bytes'])} ({run['blob_files']})",
                f"{_kb(run['span_store_bytes'])} ({run['spans']})",
                _kb(run["stored_bytes"]),
                f"{wire['bytes'] / run['stored_bytes']:.1f}x",
                _kb(run["per_body_zstd3_bytes"]),
                _kb(run["floor_zstd19_bytes"]),
                f"{run['blob_bytes'] / run['floor_zstd19_bytes']:.1f}x",
                f"{check['bit_exact']}/{check['checked']} {'ok' if check['ok'] else 'FAIL'}",
            ]
        )
    mean_resp = res["storage"][0]["wire"]["mean_response_bytes"] if res["storage"] else 0
    return [
        "",
        f"2. BYTES STORED PER RECORDED RUN  (wire = request+response bodies; mean response {mean_resp:,.0f} B)",
        *_grid(
            [
                "steps",
                "wire",
                "last req",
                "blobs (files)",
                "span store (spans)",
                "stored",
                "wire/stored",
                "per-body zstd3",
                "floor zstd19",
                "blobs/floor",
                "read-back",
            ],
            rows,
        ),
        "   floor = every body of the run in wire order, one zstd-19 frame; per-body zstd3 = no delta, the",
        "   store's level; read-back = blobs read through a fresh store (no cache), compared byte for byte with",
        "   what crossed the wire.",
    ]


def _stream(res: dict[str, Any]) -> list[str]:
    st = res["stream"]
    rows = []
    for key, label in (("ttfe_ms", "time to first event"), ("stream_ms", "time to last event")):
        d = st[key]
        rows.append(
            [
                label,
                f"{d['A']['median']:.2f}",
                f"{d['B']['median']:.2f}",
                f"{d['added']:+.2f}",
                f"{d['paired_added']['median']:+.2f}",
                f"{d['A']['q1']:.2f}-{d['A']['q3']:.2f}",
                f"{d['B']['q1']:.2f}-{d['B']['q3']:.2f}",
            ]
        )
    return [
        "",
        f"3. STREAMING  (real loopback MessagesEndpoint, {st['events']} SSE events "
        f"{st['chunk_delay_ms']:.0f} ms apart, {_kb(st['request_bytes'])} request, "
        f"{st['rounds']} rounds interleaved; ms)",
        *_grid(["", "A plain", "B recorded", "B-A", "paired B-A", "A IQR", "B IQR"], rows),
    ]


def _profile(res: dict[str, Any]) -> list[str]:
    prof = res.get("profile")
    if not prof:
        return []
    out = [""]
    titles = {
        "agent_path": "7. PROFILE, AGENT PATH  (cProfile on the agent thread, one 50-step recorded run; top tracefork "
        "functions by cumulative time, profiler-inflated)",
        "writer_work": "8. PROFILE, WRITER WORK  (same run with strict=True, so the background job runs inline)",
    }
    for key, title in titles.items():
        data = prof[key]
        out.append(title)
        rows = [
            [r["function"], str(r["calls"]), f"{r['cum_ms']:.1f}", f"{r['cum_us_per_exchange']:.0f}"]
            for r in data["top_tracefork"]
        ]
        out += _grid(["function", "calls", "cum ms", "µs/exchange"], rows)
        rows = [
            [r["function"], str(r["calls"]), f"{r['self_ms']:.1f}", f"{r['self_us_per_exchange']:.0f}"]
            for r in data["top_third_party_for_tracefork"]
        ]
        out += _grid(["other packages' functions run only for tracefork", "calls", "self ms", "µs/exchange"], rows)
        out.append(
            f"   exclusive recording cost {data['exclusive_ms']:.1f} ms = {data['exclusive_us_per_exchange']:.0f} µs "
            f"per exchange, of a profiled agent loop of {data['profiled_ms']:.0f} ms"
        )
    return out


def table(res: dict[str, Any]) -> str:
    from bench import tables  # it imports this module's helpers

    lines = _header(res) + _overhead(res) + _storage(res) + _stream(res)
    lines += tables.replay(res) + tables.blame(res) + tables.exporter(res) + _profile(res)
    if res.get("notes"):
        lines += ["", "NOTES", *(f"   - {n}" for n in res["notes"])]
    return "\n".join(lines)
