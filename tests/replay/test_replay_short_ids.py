"""Short trace ids: a unique prefix works wherever a trace id does (as git takes a short hash)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from replay_support import CliResult, Recording

from tracefork_otel.demo import run
from tracefork_otel.spanmodel import SpanKind, SpanRecord
from tracefork_otel.spanstore import SpanStore

Record = Callable[..., Recording]
DEMO = "tracefork_otel.demo.agent:run"


def test_a_unique_prefix_works_in_show_replay_and_export(
    record: Record, local_store: Callable[[Recording], None], tfotel: Callable[..., CliResult], tmp_path: Path
) -> None:
    recording = record(run)
    local_store(recording)
    short = recording.trace_id[:7]

    shown = tfotel("show", short, "--json")
    assert shown.code == 0, shown.err
    assert json.loads(shown.out)["trace_id"] == recording.trace_id
    replayed = tfotel("replay", short, "--agent", DEMO)
    assert replayed.code == 0 and f"replay {recording.trace_id}: bit-exact" in replayed.out
    assert tfotel("export", short, "-o", str(tmp_path / "run.tftape")).code == 0


def _stored(trace_id: str) -> SpanRecord:
    return SpanRecord(trace_id, "1" * 16, None, "handle", SpanKind.SERVER, 1, 2)


def test_an_ambiguous_or_unknown_prefix_is_one_line(spans: object, tfotel: Callable[..., CliResult]) -> None:
    store = SpanStore.default()
    store.write([_stored("abcd" + "0" * 27 + "1"), _stored("abcd" + "0" * 27 + "2")])
    store.close()

    ambiguous = tfotel("show", "abcd").only_error_line()
    assert ambiguous.startswith("tfotel: error: trace id 'abcd' is ambiguous in local store ")
    assert ambiguous.endswith(f": it starts {'abcd' + '0' * 27 + '1'}, {'abcd' + '0' * 27 + '2'}; give more digits")
    unknown = tfotel("show", "ffff").only_error_line()
    assert unknown.startswith("tfotel: error: trace ffff not found in local store ")
    assert tfotel("show", "abc").only_error_line().startswith("tfotel: error: bad trace id 'abc'")  # too short


@pytest.mark.parametrize("source", ["tempo:http://127.0.0.1:9", "jaeger:http://127.0.0.1:9"])
def test_a_short_id_for_a_remote_backend_asks_for_the_whole_id(
    source: str, spans: object, tfotel: Callable[..., CliResult]
) -> None:
    line = tfotel("show", "4bf92f35", "--source", source).only_error_line()
    assert line.startswith("tfotel: error: a short trace id ('4bf92f35') is looked up in the local store only")
