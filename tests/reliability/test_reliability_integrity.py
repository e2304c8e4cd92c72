"""Integrity, where tests/replay and tests/tape leave a gap: every blob of a run, and tampering seen through the CLI.

tests/replay flips the first request and the final response; here each blob of a run in
turn. tests/replay rebuilds tampered span lists in memory; here the local span store
itself is tampered with (a step deleted, two steps swapped, a span spliced in from
another run) and ``tfotel replay`` must refuse with one line naming what is wrong. A
``.tftape`` whose digest does not match its exchanges is refused the same way.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export import SpanExportResult
from reliability_support import Trace, last_error_line, one_error_line
from trace_support import sdk_client

from tracefork_otel import record_run, semconv
from tracefork_otel.blobstore import FsspecBlobStore
from tracefork_otel.cli import cli
from tracefork_otel.demo import MessagesEndpoint, demo_policy
from tracefork_otel.demo import run as demo_agent
from tracefork_otel.errors import BlobIntegrityError
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.replay.runner import replay_run
from tracefork_otel.spanstore import LocalSpanExporter, SpanStore, span_record_from_readable
from tracefork_otel.tape import Tape
from tracefork_otel.tape.codec import MAGIC
from tracefork_otel.transfer import read_bundle_file

AGENT = "tracefork_otel.demo.agent:run"


def _record(endpoint: MessagesEndpoint, trace_of: Callable[[str], Trace], blobs: Path) -> tuple[Trace, Tape]:
    """The demo agent recorded into ``blobs``; its spans written to the local store; its tape."""
    with (
        record_run("integrity", blob_store=str(blobs)) as run,
        sdk_client(endpoint.base_url, run) as client,
    ):
        demo_agent(client, run.nondet)
    trace = trace_of(run.trace_id)
    exporter = LocalSpanExporter(SpanStore.default())
    try:
        assert exporter.export(trace.spans) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    tape = rebuild_tape(run.trace_id, [span_record_from_readable(s) for s in trace.spans], FsspecBlobStore(str(blobs)))
    return trace, tape


@pytest.fixture
def recorded(
    serve: Callable[..., MessagesEndpoint], trace_of: Callable[[str], Trace], tmp_path: Path
) -> tuple[Trace, Tape, Path]:
    trace, tape = _record(serve(demo_policy), trace_of, tmp_path / "blobs")
    return trace, tape, tmp_path / "blobs"


def test_a_flipped_byte_in_any_blob_of_a_run_is_caught(
    recorded: tuple[Trace, Tape, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    trace, tape, blobs = recorded
    digests = tape.blob_digests()
    assert len(digests) == 2 * len(tape.exchanges) == 6
    monkeypatch.setenv("TFOTEL_HOME", str(tmp_path / "home"))
    for index, digest in enumerate(digests):
        damaged = tmp_path / f"damaged-{index}"
        shutil.copytree(blobs, damaged)
        path = damaged / digest[:2] / digest
        data = bytearray(path.read_bytes())
        data[-1] ^= 0x01  # inside the zstd frame: the blob's content, not its header
        path.write_bytes(bytes(data))
        calls: list[Any] = []

        with pytest.raises(BlobIntegrityError) as caught:
            replay_run(tape, FsspecBlobStore(str(damaged)), calls.append)
        assert caught.value.digest == digest, f"blob {index} ({digest[:12]}) named {caught.value.digest[:12]}"
        assert calls == []  # refused before the agent ran

        result = CliRunner().invoke(cli, ["verify", trace.trace_id, "--agent", AGENT, "--blobs", str(damaged)])
        assert result.exit_code == 2, result.output
        assert f"blob {digest[:16]}… in {damaged} is corrupt" in last_error_line(result.stderr)


def _tamper(db: Path, sql: str, *params: Any) -> None:
    with sqlite3.connect(db) as conn:
        assert conn.execute(sql, params).rowcount >= 1


STEP_OF = f"json_extract(attributes, '$.\"{semconv.STEP}\"')"


@pytest.mark.parametrize("how", ["missing step", "reordered steps", "spliced from another run", "spliced, relabelled"])
def test_a_tampered_span_store_is_refused_by_replay_with_one_line(
    how: str,
    serve: Callable[..., MessagesEndpoint],
    trace_of: Callable[[str], Trace],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TFOTEL_HOME", str(tmp_path / "home"))
    endpoint = serve(demo_policy)
    victim, _ = _record(endpoint, trace_of, tmp_path / "blobs")
    donor, _ = _record(endpoint, trace_of, tmp_path / "blobs")
    db = tmp_path / "home" / "spans.sqlite3"
    a, b = victim.trace_id, donor.trace_id
    if how == "missing step":
        _tamper(db, f"DELETE FROM spans WHERE trace_id = ? AND {STEP_OF} = 1", a)
        expected = f"step 1 is missing from trace {a} (next is 2)"
    elif how == "reordered steps":
        swap = (
            f"UPDATE spans SET attributes = json_set(attributes, '$.\"{semconv.STEP}\"', ?)"
            f" WHERE trace_id = ? AND {STEP_OF} = ?"
        )
        _tamper(db, swap, 99, a, 0)
        _tamper(db, swap, 0, a, 1)
        _tamper(db, swap, 1, a, 99)
        expected = "the spans do not reproduce the recorded tape digest"
    elif how == "spliced from another run":  # the donor's step 2 (its own refund id), beside the victim's
        _tamper(db, f"UPDATE spans SET trace_id = ? WHERE trace_id = ? AND {STEP_OF} = 2", a, b)
        expected = "step 2 appears twice with different content"
    else:  # the victim's own step 2 replaced by the donor's
        _tamper(db, f"DELETE FROM spans WHERE trace_id = ? AND {STEP_OF} = 2", a)
        _tamper(db, f"UPDATE spans SET trace_id = ? WHERE trace_id = ? AND {STEP_OF} = 2", a, b)
        expected = "a span was altered, dropped or spliced in"

    result = CliRunner().invoke(cli, ["replay", a, "--agent", AGENT, "--blobs", str(tmp_path / "blobs")])
    assert result.exit_code == 2, result.output
    assert expected in one_error_line(result.stderr)


def test_a_tape_whose_digest_does_not_match_is_refused(recorded: tuple[Trace, Tape, Path], tmp_path: Path) -> None:
    """A .tftape with its exchanges reordered (steps renumbered) but the original digest kept."""
    trace, _, blobs = recorded
    good = tmp_path / "good.tftape"
    exported = CliRunner().invoke(cli, ["export", trace.trace_id, "-o", str(good), "--blobs", str(blobs)])
    assert exported.exit_code == 0, exported.output
    read, blob_map = read_bundle_file(good)
    first, second = read.exchanges[0], read.exchanges[1]
    swapped = (dataclasses.replace(second, step=0), dataclasses.replace(first, step=1), *read.exchanges[2:])
    tampered = dataclasses.replace(read, exchanges=swapped)  # the digest of the recorded order
    bad = tmp_path / "bad.tftape"
    bad.write_bytes(_raw_bundle(tampered, blob_map))
    for args in (["verify", str(bad), "--agent", AGENT], ["import", str(bad)]):
        result = CliRunner().invoke(cli, args, env={"TFOTEL_HOME": str(tmp_path / "other")})
        assert result.exit_code == 2, result.output
        line = one_error_line(result.stderr)
        assert line == f"tfotel: error: {bad}: tape digest does not match its exchanges (tampered or reordered)"
    assert not (tmp_path / "other").exists()
    assert json.loads(CliRunner().invoke(cli, ["verify", str(good), "--agent", AGENT, "--json"]).stdout)["bit_exact"]


def _raw_bundle(tape: Tape, blobs: dict[str, bytes]) -> bytes:
    """A .tftape around any tape, without the encoder's own checks."""
    import zstandard

    from tracefork_otel._proto.tracefork.v1 import tape_pb2
    from tracefork_otel.tape.codec import BUNDLE_MAGIC

    msg = tape_pb2.Bundle(magic=BUNDLE_MAGIC, tape=tape.to_proto())
    for digest, data in blobs.items():
        msg.blobs.append(tape_pb2.Blob(sha256=digest, data=data))
    return MAGIC + zstandard.ZstdCompressor().compress(msg.SerializeToString())
