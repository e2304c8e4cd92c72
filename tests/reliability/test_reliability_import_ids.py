"""``tfotel import`` checks ids and never overwrites another run.

At f8a9b07 a tape claiming an existing trace id replaced that run's root and step
spans (the victim then replayed the intruder's bytes), and any string was accepted as
a trace id: empty, a path, 5,000 characters, escape sequences, upper-case hex.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import run_tfotel

from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.tape import Exchange, Tape, encode_bundle, tape_digest

VICTIM = "4bf92f3577b34da6a3ce929d0e0e4736"


def bundle(path: Path, trace_id: str, text: str, *, root_span_id: str = "00f067aa0ba902b7") -> Path:
    """A one-step ``.tftape`` whose response says ``text``."""
    request, response = b'{"model":"m","messages":[]}', json.dumps({"content": text}).encode()
    exchanges = (
        Exchange(
            step=0,
            request_sha256=sha256_hex(request),
            response_sha256=sha256_hex(response),
            span_id="53995c3f42cd8ad8",
        ),
    )
    tape = Tape(
        trace_id=trace_id,
        exchanges=exchanges,
        run_name=text,
        digest=tape_digest(exchanges, ()),
        root_span_id=root_span_id,
    )
    path.write_bytes(encode_bundle(tape, {sha256_hex(request): request, sha256_hex(response): response}))
    return path


def stored_response(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], trace_id: str) -> str:
    shown = run_tfotel(monkeypatch, capsys, "show", trace_id, "--json")
    assert shown.code == 0, shown.err
    return str(json.loads(shown.out)["steps"][0]["response_sha256"])


def listed(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> list[str]:
    result = run_tfotel(monkeypatch, capsys, "runs", "--json")
    return [r["trace_id"] for r in json.loads(result.out)["runs"]]


@pytest.mark.parametrize(
    "trace_id",
    ["", "../../../../etc/passwd", "a" * 5000, "\x1b]0;owned\x07" + "0" * 24, VICTIM.upper(), "0" * 32, VICTIM[:16]],
    ids=["empty", "path", "5000-chars", "escapes", "upper-case", "all-zero", "16-digits"],
)
def test_a_malformed_trace_id_is_refused_and_nothing_is_stored(
    trace_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_tfotel(monkeypatch, capsys, "import", str(bundle(tmp_path / "bad.tftape", trace_id, "x")))
    line = result.only_error_line()
    assert "32 lowercase hex digits" in line and "\x1b" not in line and len(line) < 300
    assert listed(monkeypatch, capsys) == []


def test_a_malformed_span_id_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = bundle(tmp_path / "bad.tftape", VICTIM, "x", root_span_id="'; DROP TABLE spans; --")
    assert "span id" in run_tfotel(monkeypatch, capsys, "import", str(path)).only_error_line()
    assert listed(monkeypatch, capsys) == []


def test_another_run_under_an_existing_id_is_refused_unless_forced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = bundle(tmp_path / "victim.tftape", VICTIM, "the real answer")
    assert run_tfotel(monkeypatch, capsys, "import", str(victim)).code == 0
    before = stored_response(monkeypatch, capsys, VICTIM)

    intruder = bundle(tmp_path / "intruder.tftape", VICTIM, "a forged answer")
    refused = run_tfotel(monkeypatch, capsys, "import", str(intruder))
    assert "already in the local store" in refused.only_error_line() and "--force" in refused.err
    assert stored_response(monkeypatch, capsys, VICTIM) == before
    replayable = run_tfotel(monkeypatch, capsys, "export", VICTIM, "-o", str(tmp_path / "again.tftape"))
    assert replayable.code == 0, replayable.err

    again = run_tfotel(monkeypatch, capsys, "import", str(victim))  # the same run again: a no-op
    assert again.code == 0 and again.out.strip() == VICTIM

    forced = run_tfotel(monkeypatch, capsys, "import", "--force", str(intruder))
    assert forced.code == 0, forced.err
    assert stored_response(monkeypatch, capsys, VICTIM) != before
    assert listed(monkeypatch, capsys) == [VICTIM]


def test_forcing_replaces_every_span_of_the_old_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_tfotel(monkeypatch, capsys, "import", str(bundle(tmp_path / "a.tftape", VICTIM, "a"))).code == 0
    other = bundle(tmp_path / "b.tftape", VICTIM, "b", root_span_id="1111111111111111")
    assert run_tfotel(monkeypatch, capsys, "import", "--force", str(other)).code == 0
    shown = json.loads(run_tfotel(monkeypatch, capsys, "show", VICTIM, "--json").out)
    assert shown["name"] == "b" and len(shown["steps"]) == 1
