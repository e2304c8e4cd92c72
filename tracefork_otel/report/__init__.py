"""The HTML report of one run: ``tfotel report TRACE_ID -o run.html``.

One self-contained file (inline CSS and JS, no network): the run's timeline, each
exchange's request and response (SSE streams reassembled into their Message, the raw
events alongside), the newest blame with its intervals, and the fork tree. ``model``
gathers what is shown, ``body`` bounds each body, ``forks`` walks the fork tree,
``html`` renders the page.
"""

from __future__ import annotations

import os

from tracefork_otel.outfile import write_output
from tracefork_otel.report.body import BODY_LIMIT, Body, body_from_bytes, read_body
from tracefork_otel.report.forks import ForkNode, fork_tree
from tracefork_otel.report.html import DATA_ELEMENT_ID, embed_json, render_html
from tracefork_otel.report.model import REPORT_SCHEMA, BlameSummary, Report, StepView, blame_summary, build_report

__all__ = [
    "BODY_LIMIT",
    "DATA_ELEMENT_ID",
    "REPORT_SCHEMA",
    "BlameSummary",
    "Body",
    "ForkNode",
    "Report",
    "StepView",
    "blame_summary",
    "body_from_bytes",
    "build_report",
    "embed_json",
    "fork_tree",
    "read_body",
    "render_html",
    "write_report",
]


def write_report(report: Report, path: str | os.PathLike[str]) -> int:
    """Render ``report`` to ``path`` (``-`` for stdout) as `write_output` writes files; return its size in bytes.

    Raises:
        ConfigError: the folder does not exist or the file cannot be written.
    """
    data = render_html(report).encode("utf-8")
    write_output(path, data)
    return len(data)
