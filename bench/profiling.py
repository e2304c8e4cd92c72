"""Where recording spends its time: cProfile of one recorded 50-step run.

Two profiles:

* **agent path**: the agent's thread only (cProfile hooks the thread that enables it),
  so this is what recording costs the agent directly; the background writer's work
  does not appear.
* **writer work**: the same run with ``strict=True``, which runs the background
  writer's job (hashing, zstd, blob writes, span attributes, span end) inline on the
  agent's thread, so one profile shows it.

For each: the top tracefork functions by cumulative time, and the functions of other
packages (zstandard, fsspec, the OTel SDK, the stdlib) that run *only* for tracefork,
by self time. "Only for tracefork" is a fixpoint over the call graph: a function
belongs to tracefork when it is tracefork's own or every caller of it does. The sum of
the self time of everything that belongs to tracefork is recording's exclusive cost
(inflated by the profiler, so compare it between runs, not with wall-clock numbers).
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
from pathlib import Path
from typing import Any

import httpx2

from bench import workload
from tracefork_otel.record import record_run

PACKAGE_MARK = "tracefork_otel"


def _label(key: tuple[str, int, str]) -> str:
    filename, line, func = key
    if PACKAGE_MARK in filename:
        module = filename[filename.rindex(PACKAGE_MARK) :].removesuffix(".py").replace("/", ".")
        return f"{module}:{func}"
    if filename == "~":
        return func
    parts = Path(filename).parts
    tail = "/".join(parts[-2:]) if len(parts) >= 2 else filename
    return f"{tail}:{line}({func})"


def _rows(stats: pstats.Stats, exchanges: int, *, only_ours: bool, limit: int) -> list[dict[str, Any]]:
    entries = stats.stats  # type: ignore[attr-defined]
    rows = []
    for key, (_cc, ncalls, tottime, cumtime, _callers) in entries.items():
        if only_ours and PACKAGE_MARK not in key[0]:
            continue
        rows.append(
            {
                "function": _label(key),
                "calls": ncalls,
                "cum_ms": cumtime * 1000,
                "self_ms": tottime * 1000,
                "cum_us_per_exchange": cumtime * 1e6 / exchanges,
            }
        )
    rows.sort(key=lambda row: row["cum_ms"], reverse=True)
    return rows[:limit]


def _boundary(key: tuple[str, int, str]) -> bool:
    """The wrapped transport and the workload: called through tracefork, but not tracefork's cost."""
    filename, _, func = key
    return func in {"handle_request", "handle_async_request"} or "/bench/" in filename


def _owned(entries: dict[Any, Any]) -> set[Any]:
    """Keys of functions that are tracefork's or called only from functions that are."""
    owned = {key for key in entries if PACKAGE_MARK in key[0]}
    changed = True
    while changed:
        changed = False
        for key, (*_, callers) in entries.items():
            if key in owned or _boundary(key):
                continue
            if callers and all(caller in owned for caller in callers):
                owned.add(key)
                changed = True
    return owned


def _owned_rows(stats: pstats.Stats, exchanges: int, limit: int) -> tuple[float, list[dict[str, Any]]]:
    entries = stats.stats  # type: ignore[attr-defined]
    owned = _owned(entries)
    exclusive_s = sum(entries[key][2] for key in owned)
    rows = [
        {
            "function": _label(key),
            "calls": entries[key][1],
            "self_ms": entries[key][2] * 1000,
            "self_us_per_exchange": entries[key][2] * 1e6 / exchanges,
        }
        for key in owned
        if PACKAGE_MARK not in key[0]
    ]
    rows.sort(key=lambda row: row["self_ms"], reverse=True)
    return exclusive_s, rows[:limit]


def profile_run(root: Path, steps: int = 50, *, strict: bool = False, limit: int = 5) -> dict[str, Any]:
    """Profile the agent loop of one recorded ``steps``-step run."""
    script = workload.script(steps)
    blobs = root / f"profile-blobs-{'strict' if strict else 'bg'}"
    profiler = cProfile.Profile()
    with record_run("bench-profile", blob_store=str(blobs), strict=strict) as run:
        http = run.wrap(httpx2.Client(transport=httpx2.MockTransport(script.handler())))
        client = workload.make_client(http)
        profiler.enable()
        exchanges = workload.run_agent(client, steps)
        profiler.disable()
        http.close()
    shutil.rmtree(blobs, ignore_errors=True)
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    exclusive_s, third_party = _owned_rows(stats, exchanges, limit)
    return {
        "steps": steps,
        "strict": strict,
        "profiled_ms": total * 1000,
        "exclusive_ms": exclusive_s * 1000,
        "exclusive_us_per_exchange": exclusive_s * 1e6 / exchanges,
        "top_tracefork": _rows(stats, exchanges, only_ours=True, limit=limit),
        "top_third_party_for_tracefork": third_party,
        "top_any": _rows(stats, exchanges, only_ours=False, limit=25),
    }


def measure(root: Path, steps: int = 50) -> dict[str, Any]:
    return {"agent_path": profile_run(root, steps), "writer_work": profile_run(root, steps, strict=True)}
