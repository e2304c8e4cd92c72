"""The report page: self-contained, its embedded JSON round-trips, and no content can break out of it."""

from __future__ import annotations

import dataclasses
import json
import re

from report_support import HOSTILE, TRACE, Exchange, demo_like_exchanges, embedded_data, run_spans

from tracefork_otel import semconv, wire
from tracefork_otel.blobstore import MemoryBlobStore
from tracefork_otel.report import REPORT_SCHEMA, body_from_bytes, build_report, read_body, render_html


def _page(exchanges: list[Exchange] | None = None) -> tuple[str, MemoryBlobStore]:
    store = MemoryBlobStore()
    spans = run_spans(store, exchanges if exchanges is not None else demo_like_exchanges())
    return render_html(build_report(TRACE, spans, store)), store


def test_page_loads_nothing_from_the_network() -> None:
    page, _ = _page()

    assert not re.search(r"""\b(?:src|href|action|srcset|poster)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert not re.search(r"https?://", page)  # not even in text: no CDN, font or image URL anywhere
    assert "<link" not in page and "@import" not in page and "url(" not in page
    csp = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', page)
    assert csp is not None
    assert csp.group(1).startswith("default-src 'none';")
    assert "'unsafe-inline'" not in csp.group(1)
    assert page.count("<script") == 2  # the data block and the page's own script, both inline


def test_embedded_json_round_trips() -> None:
    store = MemoryBlobStore()
    report = build_report(TRACE, run_spans(store, demo_like_exchanges()), store)

    data = embedded_data(render_html(report))

    assert data == json.loads(json.dumps(report.to_json()))
    assert data["schema"] == REPORT_SCHEMA
    assert data["run"]["trace_id"] == TRACE
    assert data["run"]["totals"]["tool_calls"] == 2
    assert [s["step"] for s in data["steps"]] == [0, 1, 2]
    assert [s["tool_calls"] for s in data["steps"]] == [["lookup_order"], ["issue_refund"], []]
    assert data["blame"] is None and data["forks"] is None


def test_streamed_response_is_reassembled_with_raw_events_alongside() -> None:
    store = MemoryBlobStore()
    exchanges = demo_like_exchanges("Refunded 129.99 USD, id rf_1.")
    data = embedded_data(render_html(build_report(TRACE, run_spans(store, exchanges), store)))

    response = data["steps"][2]["response"]
    assert response["kind"] == "sse"
    assert response["doc"]["content"] == [{"type": "text", "text": "Refunded 129.99 USD, id rf_1."}]
    assert response["doc"]["stop_reason"] == "end_turn"
    assert response["raw"] == wire.sse_body(exchanges[2].response).decode()
    assert response["events"] == len(wire.stream_events(exchanges[2].response))
    request = data["steps"][0]["request"]
    assert request["kind"] == "json" and request["doc"] == exchanges[0].request


def test_content_cannot_break_out_of_the_data_block_or_the_markup() -> None:
    exchanges = demo_like_exchanges(final_text=HOSTILE)
    exchanges[0] = Exchange(
        {**exchanges[0].request, "messages": [{"role": "user", "content": HOSTILE + " & <!-- \u2028"}]},
        wire.message(tool_use={"name": "<b>lookup</b>", "input": {"q": HOSTILE}}),
    )
    page, _ = _page(exchanges)

    assert HOSTILE not in page
    assert "<img" not in page.lower()
    assert "<b>lookup</b>" not in page
    assert "&lt;b&gt;lookup&lt;/b&gt;" in page  # the timeline row shows the tool name as text
    assert page.count("</script>") == 2
    data = embedded_data(page)  # the block ends where it should and parses
    assert data["steps"][0]["request"]["doc"]["messages"][0]["content"] == HOSTILE + " & <!-- \u2028"
    assert data["steps"][2]["response"]["doc"]["content"][0]["text"] == HOSTILE
    assert data["steps"][0]["tool_calls"] == ["<b>lookup</b>"]


def test_non_finite_numbers_still_embed_as_json() -> None:
    store = MemoryBlobStore()
    spans = run_spans(store, demo_like_exchanges())
    odd = b'{"type": "message", "content": [], "usage": {"input_tokens": NaN, "output_tokens": Infinity}}'
    spans[1] = dataclasses.replace(
        spans[1], attributes={**spans[1].attributes, semconv.RESPONSE_SHA256: store.put(odd)}
    )

    data = embedded_data(render_html(build_report(TRACE, spans, store)))

    assert data["steps"][0]["response"]["doc"]["usage"] == {"input_tokens": "nan", "output_tokens": "inf"}


def test_bodies_over_the_limit_are_cut_with_a_note() -> None:
    big = wire.dumps({"messages": [{"role": "user", "content": "x" * 5000}]})
    body = body_from_bytes(big, stream=False, limit=1024)
    assert body.kind == "text" and body.truncated and body.size == len(big)
    assert body.raw == big[:1024].decode()
    assert "truncated" in body.note and "1 KiB" in body.note

    msg = wire.message(text="y" * 5000)
    streamed = body_from_bytes(wire.sse_body(msg), stream=True, limit=1024)
    assert streamed.kind == "sse" and streamed.truncated
    assert streamed.doc is None  # the Message itself is over the limit too
    assert streamed.raw is not None and len(streamed.raw.encode()) <= 1024
    assert "raw events" in streamed.note

    small = body_from_bytes(wire.sse_body(wire.message(text="ok")), stream=True, limit=1024 * 1024)
    assert not small.truncated and small.note == "" and small.doc is not None


def test_a_missing_blob_is_shown_as_missing_with_the_reason() -> None:
    store = MemoryBlobStore("elsewhere")
    body = read_body(store, "0" * 64, stream=False)
    assert body.kind == "missing" and "not found in memory://elsewhere" in body.note
    assert read_body(None, "0" * 64, stream=False).note == "no blob store given"

    spans = run_spans(MemoryBlobStore("recorded"), demo_like_exchanges())
    data = embedded_data(render_html(build_report(TRACE, spans, MemoryBlobStore("empty"))))
    assert {s["request"]["kind"] for s in data["steps"]} == {"missing"}
