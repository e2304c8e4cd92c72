"""Files the user names (``export -o``, ``report -o``): atomic for regular files, written through for the rest.

Real files, symlinks, a FIFO with a reader on the other end, device nodes made with
mknod (as root) and standard output. Each case failed at f8a9b07: the temp file was
renamed over the target (a device or a link became a regular file, a FIFO's reader
got nothing, a 0640 file became 0600) and ``-o -`` wrote a file named ``-``.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cli_support import run_tfotel

from tracefork_otel.blobstore import FsspecBlobStore, sha256_hex
from tracefork_otel.spanstore import SpanStore
from tracefork_otel.tape import Exchange, Tape, decode_bundle, encode_bundle, tape_digest
from tracefork_otel.transfer import import_bundle

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"

pytestmark = pytest.mark.usefixtures("stored_run")


@pytest.fixture
def stored_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tape:
    """One small run imported into this test's TFOTEL_HOME (its blobs in the default store)."""
    request, response = b'{"model":"m","messages":[]}', b'{"type":"message","content":[]}'
    exchanges = (Exchange(step=0, request_sha256=sha256_hex(request), response_sha256=sha256_hex(response)),)
    tape = Tape(trace_id=TRACE_ID, exchanges=exchanges, run_name="outputs", digest=tape_digest(exchanges, ()))
    bundle = tmp_path / "in.tftape"
    bundle.write_bytes(encode_bundle(tape, {sha256_hex(request): request, sha256_hex(response): response}))
    home = Path(os.environ["TFOTEL_HOME"])
    import_bundle(bundle, FsspecBlobStore(str(home / "blobs")), SpanStore(home / "spans.sqlite3"))
    monkeypatch.chdir(tmp_path)
    return tape


def _export(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: str) -> None:
    result = run_tfotel(monkeypatch, capsys, "export", TRACE_ID, "-o", target)
    assert result.code == 0, result.err


def test_an_existing_file_keeps_its_mode_and_gets_the_new_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "run.tftape"
    target.write_bytes(b"old")
    target.chmod(0o640)
    _export(monkeypatch, capsys, str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert decode_bundle(target.read_bytes()).tape.trace_id == TRACE_ID
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_new_file_gets_the_umask_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    old = os.umask(0o022)
    try:
        _export(monkeypatch, capsys, str(tmp_path / "new.tftape"))
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.tftape").stat().st_mode) == 0o644


def test_a_symlink_to_a_file_stays_a_link_and_its_target_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "real.html"
    real.write_text("old page")
    real.chmod(0o604)
    link = tmp_path / "latest.html"
    link.symlink_to(real)
    result = run_tfotel(monkeypatch, capsys, "report", TRACE_ID, "-o", str(link))
    assert result.code == 0, result.err
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().startswith("<!doctype html") and stat.S_IMODE(real.stat().st_mode) == 0o604


def test_a_fifo_is_written_through_to_its_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    _export(monkeypatch, capsys, str(fifo))
    reader.join(30)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert received and decode_bundle(received[0]).tape.trace_id == TRACE_ID


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root (the issue's report ran as root)")
def test_device_nodes_are_written_through_never_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    null, full = tmp_path / "null", tmp_path / "full"
    os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    assert run_tfotel(monkeypatch, capsys, "report", TRACE_ID, "-o", str(null)).code == 0
    refused = run_tfotel(monkeypatch, capsys, "export", TRACE_ID, "-o", str(full))
    assert "No space left on device" in refused.only_error_line()
    for node in (null, full):
        assert stat.S_ISCHR(node.lstat().st_mode), f"{node} was replaced"
    link = tmp_path / "stdout-like"
    link.symlink_to(null)
    assert run_tfotel(monkeypatch, capsys, "export", TRACE_ID, "-o", str(link)).code == 0
    assert link.is_symlink() and stat.S_ISCHR(null.lstat().st_mode)


def test_dash_writes_the_tape_to_stdout_and_the_summary_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    from tracefork_otel.cli import main

    monkeypatch.setattr("sys.argv", ["tfotel", "export", TRACE_ID, "-o", "-"])
    main()  # returns on success (exit 0)
    out, err = capfdbinary.readouterr()
    assert decode_bundle(out).tape.trace_id == TRACE_ID
    assert err.startswith(b"wrote -") and not (tmp_path / "-").exists()


def test_a_folder_or_a_missing_folder_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nowhere = run_tfotel(monkeypatch, capsys, "export", TRACE_ID, "-o", str(tmp_path / "no" / "x.tftape"))
    assert "does not exist" in nowhere.only_error_line()
    link = tmp_path / "to-dir"
    link.symlink_to(tmp_path)
    assert "folder" in run_tfotel(monkeypatch, capsys, "report", TRACE_ID, "-o", str(link)).only_error_line()
