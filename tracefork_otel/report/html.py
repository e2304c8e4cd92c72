"""The report as one self-contained HTML file: inline CSS and JS, the data as embedded JSON.

The page's fixed parts (header, timeline, blame chart, fork tree) are rendered here,
every value escaped; the script renders the selected exchange from the embedded JSON
and puts values in the page only as text. The JSON sits in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` written as
``\\u003c``-style escapes, so no body content can close that block. A
Content-Security-Policy allows exactly the page's own style and script (by hash) and
nothing else: no network, no inline event handlers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from html import escape
from importlib import resources
from typing import Any, Final

from tracefork_otel import __version__
from tracefork_otel.report.forks import ForkNode
from tracefork_otel.report.model import BlameSummary, Report, StepView

DATA_ELEMENT_ID: Final = "tfotel-data"


def _asset(name: str) -> str:
    return resources.files("tracefork_otel.report").joinpath("assets", name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _finite(value: Any) -> Any:
    """``value`` with NaN and infinities as strings (``JSON.parse`` knows none of them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def embed_json(doc: Any) -> str:
    """``doc`` as JSON that is safe between ``<script type="application/json">`` tags."""
    try:
        text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(doc), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.1f} ms"


def _signed(value: float) -> str:
    sign = "+" if value >= 0 else "\u2212"  # a true minus sign lines up with the plus
    return f"{sign}{abs(value):.2f}"


def _pill(text: str, cls: str = "") -> str:
    return f'<span class="pill {cls}">{_e(text)}</span>'


def _header(report: Report) -> str:
    tl = report.timeline
    totals = report.totals()
    state = _pill("partial", "warn") if tl.partial else _pill("complete", "ok")
    stats = [
        ("Started", _e(report.started or "—")),
        ("Duration", _e(_ms(tl.duration_ms))),
        ("Exchanges", str(len(report.steps))),
        ("Tokens in / out", f"{totals['input_tokens']:,} / {totals['output_tokens']:,}"),
        ("Tool calls", str(totals["tool_calls"])),
        ("Draws", str(tl.draws)),
    ]
    if report.blame is not None and report.blame.top_step is not None:
        stats.append(("Most blamed", f"step {report.blame.top_step}"))
    if tl.digest:
        stats.append(("Tape digest", f'<code title="{_e(tl.digest)}">{_e(tl.digest[:16])}…</code>'))
    if tl.outcome is not None:
        outcome = _pill("raised " + tl.outcome.error_type, "bad") if not tl.outcome.ok else _pill("ok", "ok")
        stats.append(("Outcome", f'{outcome} <span class="outcome">{_e(tl.outcome_text)}</span>'))
    if tl.entry is not None:
        stats.append(("Entry point", f"<code>{_e(tl.entry.describe())}</code>"))
    items = "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in stats)
    return (
        '<header class="top"><div class="top-inner"><div class="brand">tfotel report</div>'
        f'<div class="title-line"><h1>{_e(tl.name or "(unnamed run)")}</h1>'
        f"<code>{_e(tl.trace_id)}</code>{state}</div>"
        f'<dl class="stats">{items}</dl></div></header>'
    )


def _step_row(view: StepView, span_ms: float, report: Report) -> str:
    s = view.row
    if not s.is_model_step:
        title = _pill(s.endpoint, "aux")  # count_tokens, models…: replayed, never blamed
    elif s.tool_calls:
        title = "".join(_pill(t, "tool") for t in s.tool_calls)
    else:
        title = f"<span>{_e(s.finish_reason or 'exchange')}</span>"
    if s.error:
        title += _pill(s.error, "bad")
    cell = report.blame.cells.get(s.step) if report.blame is not None else None
    if cell is not None:
        title += _pill(f"blame {_signed(cell.score)} · #{cell.rank}", "warn" if cell.score > 0 else "")
    kind = "SSE" + (" (incomplete)" if s.incomplete else "") if s.stream else "JSON"
    finish = s.finish_reason if s.tool_calls else ""  # otherwise it is the row's title already
    meta = " · ".join(x for x in (s.model, kind, f"HTTP {s.status_code or '?'}", finish) if x)
    tokens = "—" if s.input_tokens is None else f"{s.input_tokens:,}"
    out = "—" if s.output_tokens is None else f"{s.output_tokens:,}"
    x = min(view.offset_ms / span_ms * 1000, 996.0)
    width = max(s.latency_ms / span_ms * 1000, 4.0)
    bar_cls = "bar err" if s.error or s.status_code >= 400 else ("bar sse" if s.stream else "bar")
    return (
        f'<button type="button" class="step" role="option" id="step-row-{s.step}" data-step="{s.step}"'
        f' aria-selected="false" title="step {s.step}">'
        f'<span class="num">{s.step}</span>'
        f'<span class="what"><span class="title">{title}</span><span class="meta">{_e(meta)}</span></span>'
        f'<span class="tok"><b>{tokens}</b> in · <b>{out}</b> out</span>'
        f'<span class="lat"><b>{_e(_ms(s.latency_ms))}</b></span>'
        '<svg class="gantt" viewBox="0 0 1000 8" preserveAspectRatio="none" aria-hidden="true">'
        '<rect class="track" x="0" y="0" width="1000" height="8" rx="0"/>'
        f'<rect class="{bar_cls}" x="{x:.1f}" y="0" width="{min(width, 1000 - x):.1f}" height="8"/></svg>'
        "</button>"
    )


def _timeline(report: Report) -> str:
    span_ms = max([report.timeline.duration_ms] + [v.offset_ms + v.row.latency_ms for v in report.steps] + [1e-3])
    rows = "".join(_step_row(v, span_ms, report) for v in report.steps)
    if not rows:
        rows = '<p class="legend">No model exchanges were recorded in this trace.</p>'
    return (
        '<section class="card" id="timeline" aria-labelledby="timeline-h">'
        f'<header><h2 id="timeline-h">Timeline</h2><span class="sub">{len(report.steps)} exchanges · '
        "select one to see its request and response</span></header>"
        f'<div class="card-body"><div class="rows" role="listbox" aria-label="Steps">{rows}</div>'
        f'<div class="axis"><span>0</span><span>{_e(_ms(span_ms / 2))}</span><span>{_e(_ms(span_ms))}</span></div>'
        "</div></section>"
    )


def _domain(blame: BlameSummary) -> tuple[float, float]:
    # Symmetric around 0, so the zero line sits under the axis's middle label.
    values = [abs(v) for c in blame.cells.values() for v in (c.score, c.ci_low, c.ci_high) if math.isfinite(v)]
    end = max(0.2, math.ceil(max(values, default=0.0) * 10) / 10)
    return -end, end


def _blame_row(step: int, cell: Any, lo: float, hi: float) -> str:
    def x(v: float) -> float:
        v = v if math.isfinite(v) else 0.0
        return max(0.0, min(1000.0, (v - lo) / (hi - lo) * 1000))

    x0, xs, xl, xh = x(0.0), x(cell.score), x(cell.ci_low), x(cell.ci_high)
    tone = "harm" if cell.score > 0 else "help"
    svg = (
        '<svg class="ci" viewBox="0 0 1000 22" preserveAspectRatio="none" aria-hidden="true">'
        f'<rect class="score {tone}" x="{min(x0, xs):.1f}" y="4" width="{max(abs(xs - x0), 2):.1f}" height="14"/>'
        f'<rect class="zero" x="{x0 - 1:.1f}" y="0" width="2" height="22"/>'
        f'<rect class="whisker" x="{xl:.1f}" y="10" width="{max(xh - xl, 1):.1f}" height="2"/>'
        f'<rect class="whisker" x="{xl - 1:.1f}" y="6" width="2.5" height="10"/>'
        f'<rect class="whisker" x="{xh - 1.5:.1f}" y="6" width="2.5" height="10"/>'
        f'<rect class="point {tone}" x="{xs - 3:.1f}" y="3" width="6" height="16"/></svg>'
    )
    return (
        f'<button type="button" class="blame-row" data-step="{step}" aria-selected="false"'
        f' title="step {step}: {_signed(cell.score)} [{_signed(cell.ci_low)}, {_signed(cell.ci_high)}]">'
        f'<span class="rank">#{cell.rank or "-"}</span><span class="label">step {step}</span>{svg}'
        f'<span class="val"><b>{_signed(cell.score)}</b> <span>[{_signed(cell.ci_low)}, {_signed(cell.ci_high)}]'
        f" n={cell.samples}</span></span></button>"
    )


def _blame(blame: BlameSummary) -> str:
    lo, hi = _domain(blame)
    rows = "".join(_blame_row(step, cell, lo, hi) for step, cell in blame.ranked())
    facts = []
    if blame.oracle:
        facts.append(f"oracle <b>{_e(blame.oracle)}</b>")
    if blame.perturb:
        facts.append(f"perturbation <b>{_e(blame.perturb)}</b>")
    if blame.agent_runs is not None:
        facts.append(f"<b>{blame.agent_runs}</b> agent runs")
    if blame.strategy:
        facts.append(_e(blame.strategy))
    facts.append(f"blame trace <code>{_e(blame.trace_id)}</code>")
    return (
        '<section class="card" id="blame" aria-labelledby="blame-h">'
        '<header><h2 id="blame-h">Blame</h2><span class="sub">harm = V(step) &minus; V(step + 1), with 95% intervals'
        "</span></header>"
        f'<div class="blame-meta">{" · ".join(facts)}</div>'
        f'<div class="card-body"><div class="rows">{rows}</div>'
        f'<div class="blame-axis"><span class="ends"><span>{_signed(lo)}</span><span>0</span>'
        f"<span>{_signed(hi)}</span></span></div>"
        '<p class="legend">Bars run from 0 to the score, whiskers span the 95% interval. A positive score: '
        "committing to that step's answer made success less likely.</p></div></section>"
    )


def _fork_node(node: ForkNode) -> str:
    if not node.found:
        inner = f'<div class="node missing">parent run <code>{_e(node.trace_id)}</code> · not in the local store</div>'
    else:
        parts = [f'<span class="name">{_e(node.name or "(unnamed)")}</span>']
        if node.current:
            parts.append(_pill("this run", "accent"))
        if node.fork_step is not None:
            parts.append(_pill(f"fork @ step {node.fork_step}", "sse"))
        parts.append(f"<code>{_e(node.trace_id)}</code>")
        if node.replayed is not None and node.recorded is not None:
            parts.append(f'<span class="when">{node.replayed} replayed · {node.recorded} live</span>')
        if node.start_time_unix_nano:
            parts.append(f'<span class="when">{_e(node.started)}</span>')
        inner = f'<div class="node{" current" if node.current else ""}">{"".join(parts)}</div>'
    children = "".join(_fork_node(c) for c in node.children)
    return f"<li>{inner}{f'<ul>{children}</ul>' if children else ''}</li>"


def _forks(tree: ForkNode) -> str:
    forks = sum(1 for n in tree.walk() if n.fork_step is not None)
    return (
        '<section class="card" id="forks" aria-labelledby="forks-h">'
        f'<header><h2 id="forks-h">Fork tree</h2><span class="sub">{forks} fork{"s" if forks != 1 else ""} · '
        "tfotel report ID -o FILE for any of them</span></header>"
        f'<div class="card-body"><ul class="tree">{_fork_node(tree)}</ul></div></section>'
    )


def render_html(report: Report) -> str:
    """The report page, complete and self-contained."""
    css, js = _asset("report.css"), _asset("report.js")
    csp = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; "
        "base-uri 'none'; form-action 'none'"
    )
    tl = report.timeline
    left = _timeline(report)
    if report.blame is not None:
        left += _blame(report.blame)
    if report.forks is not None:
        left += _forks(report.forks)
    footer = f"Generated by tracefork-otel {_e(__version__)}"
    if report.source:
        footer += f" · spans from {_e(report.source)}"
    if report.blob_store:
        footer += f" · bodies from {_e(report.blob_store)}"
    footer += " · self-contained: this file loads nothing from the network."
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="tracefork-otel {_e(__version__)}">'
        f"<title>{_e(tl.name or 'run')} · {_e(tl.trace_id[:12])} · tfotel report</title>"
        f"<style>{css}</style></head>\n<body>"
        f"{_header(report)}"
        f'<main class="layout"><div class="col">{left}</div>'
        '<section class="card detail" id="detail" aria-live="polite" aria-label="Selected exchange">'
        "<noscript><p>This report shows each exchange's request and response with JavaScript; "
        "the timeline, blame and fork tree above work without it.</p></noscript></section></main>"
        f"<footer>{footer}</footer>\n"
        f'<script type="application/json" id="{DATA_ELEMENT_ID}">{embed_json(report.to_json())}</script>\n'
        f"<script>{js}</script>\n</body></html>\n"
    )
