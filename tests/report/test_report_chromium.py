"""The report in a real headless Chromium: clicking a step shows that step's exchange.

Chromium is Debian's (``scripts/ensure_chromium.sh`` installs it with apt-get), driven
through Playwright's Python package with ``executable_path``; Playwright never
downloads a browser here. The page is opened from a ``file://`` URL, and any request
it makes to anything else fails the test. The screenshot goes to ``artifacts/report.png``
and, with ``TFOTEL_UPDATE_DOCS=1``, to ``docs/report.png`` too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cli_support import clean_env
from report_support import HOSTILE, TRACE, blame_outcome, demo_like_exchanges, embedded_data, export_blame_to, run_spans

from tracefork_otel import wire
from tracefork_otel.blame.report import BlameReport
from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.loading import load_run
from tracefork_otel.report import build_report, write_report
from tracefork_otel.sources.local import LocalSource
from tracefork_otel.spanstore import SpanStore

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.subprocess,  # a Chromium, and tfotel in child processes
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="chromium is not on PATH (bash scripts/ensure_chromium.sh installs Debian's package with apt-get)",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[test]'")

REPO = Path(__file__).resolve().parents[2]
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_AGENT = "tracefork_otel.demo.agent:run"
FORK_TEXT = "Refunded 99.00 USD for order A-1001; the rest goes back as store credit."


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium for the module (Playwright gives it a fresh temporary profile)."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Opened:
    """A report loaded in a page, with everything the page tried that it should not have."""

    page: Any
    requests: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def detail(self) -> str:
        return str(self.page.inner_text("#detail"))

    def offsite(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(("file:", "data:", "about:"))]


def open_report(browser: Any, path: Path) -> Opened:
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    opened = Opened(context.new_page())
    page = opened.page
    page.on("request", lambda request: opened.requests.append(request.url))
    page.on("console", lambda msg: opened.problems.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: opened.problems.append(f"page error: {exc}"))

    def on_dialog(dialog: Any) -> None:
        opened.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(path.as_uri())
    page.wait_for_selector("html[data-ready=true]", timeout=10_000)
    return opened


def _tfotel(home: Path, *args: str) -> str:
    """Run the real ``tfotel`` in a child process with ``TFOTEL_HOME`` at ``home``; its stdout."""
    command = [sys.executable, "-c", "from tracefork_otel.cli import main; main()", *args]
    proc = subprocess.run(command, env=clean_env(home), capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, f"tfotel {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def demo_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str, Path]:
    """The demo run recorded by ``tfotel demo``, blamed, forked at step 2 and written by ``tfotel report``.

    Returns the run's trace id, the fork's trace id and the report file.
    """
    home = tmp_path / "home"
    monkeypatch.setenv("TFOTEL_HOME", str(home))
    monkeypatch.delenv("TFOTEL_BLOBS", raising=False)
    trace_id = json.loads(_tfotel(home, "demo", "--json"))["trace_id"]

    store = SpanStore.default()
    try:
        run = load_run(trace_id, LocalSource(store))
        outcome = blame_outcome({0: (0.04, -0.12, 0.2), 1: (0.58, 0.36, 0.78), 2: (-0.06, -0.25, 0.12)})
        report = BlameReport(trace_id, outcome, perturb="resample", oracle="tracefork_otel.demo.agent:oracle")
        export_blame_to(store, report, run.tape)
    finally:
        store.close()

    alternative = tmp_path / "alternative.json"
    alternative.write_text(json.dumps(wire.message(text=FORK_TEXT, usage={"input_tokens": 412, "output_tokens": 21})))
    fork_id = _tfotel(
        home, "fork", trace_id, "--step", "2", "--response", str(alternative), "--agent", DEMO_AGENT,
        "--base-url", "http://127.0.0.1:9",  # never called: step 2 is the run's last
    ).strip()  # fmt: skip

    out = tmp_path / "report.html"
    _tfotel(home, "report", trace_id, "-o", str(out))
    return trace_id, fork_id, out


def test_clicking_a_step_shows_its_exchange(browser: Any, demo_report: tuple[str, str, Path]) -> None:
    trace_id, fork_id, path = demo_report
    data = embedded_data(path.read_text(encoding="utf-8"))
    streamed = data["steps"][2]
    assert streamed["stream"] is True
    final_text = streamed["response"]["doc"]["content"][0]["text"]
    assert final_text.startswith("Refunded 129.99 USD for order A-1001")

    opened = open_report(browser, path)
    page = opened.page

    first = opened.detail()
    assert "STEP 0" in first.upper() and "lookup_order" in first
    assert final_text not in first
    assert page.get_attribute('#timeline [data-step="0"]', "aria-selected") == "true"

    page.click('#timeline [data-step="2"]')  # a real mouse click on the streamed step's row

    page.wait_for_function("document.querySelector('#detail').innerText.toUpperCase().includes('STEP 2')")
    shown = opened.detail()
    assert "STEP 2" in shown.upper()
    assert final_text in shown  # the reassembled Message's text
    assert "SSE stream" in shown and "claude-sonnet-4-6" in shown
    assert f"Message reassembled from {streamed['response']['events']} SSE events" in shown
    assert "Raw SSE events" in shown
    assert "+0.58" not in shown  # step 2's own blame, not the top step's
    assert page.get_attribute('#timeline [data-step="2"]', "aria-selected") == "true"
    assert page.get_attribute('#timeline [data-step="0"]', "aria-selected") == "false"
    assert page.evaluate("location.hash") == "#step-2"

    assert page.is_visible("#blame")
    assert page.locator("#blame .blame-row").count() == 3
    assert page.locator("#blame .blame-row").first.get_attribute("data-step") == "1"
    assert page.is_visible("#forks")
    tree = str(page.inner_text("#forks"))
    assert fork_id in tree and trace_id in tree and "fork @ step 2" in tree

    page.click('#blame [data-step="1"]')  # the blame chart selects steps too
    page.wait_for_function("document.querySelector('#detail').innerText.toUpperCase().includes('STEP 1')")
    assert "issue_refund" in opened.detail()
    page.keyboard.press("ArrowDown")
    page.wait_for_function("document.querySelector('#detail').innerText.toUpperCase().includes('STEP 2')")

    assert opened.offsite() == []
    assert opened.problems == []  # no script error, no CSP violation
    assert opened.dialogs == []

    artifacts = REPO / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shot = artifacts / "report.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("TFOTEL_UPDATE_DOCS") == "1":
        (REPO / "docs").mkdir(exist_ok=True)
        shutil.copyfile(shot, REPO / "docs" / "report.png")


def test_hostile_content_stays_text_in_the_browser(browser: Any, tmp_path: Path) -> None:
    blobs = MemoryBlobStore()
    spans = run_spans(blobs, demo_like_exchanges(final_text=HOSTILE))
    path = tmp_path / "hostile.html"
    write_report(build_report(TRACE, spans, blobs), path)

    opened = open_report(browser, path)
    page = opened.page
    page.click('#timeline [data-step="2"]')
    page.wait_for_function("document.querySelector('#detail').innerText.toUpperCase().includes('STEP 2')")

    assert HOSTILE in opened.detail()  # shown, as text
    assert page.evaluate("document.images.length") == 0
    assert page.evaluate("document.scripts.length") == 2
    assert opened.dialogs == []
    assert opened.offsite() == []
    assert opened.problems == []
