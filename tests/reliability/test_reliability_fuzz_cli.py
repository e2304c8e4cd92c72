"""``tfotel import`` of a fuzzed file: exit 2 with one ``tfotel: error:`` line, and nothing written.

Through click's ``CliRunner`` for volume, and in a real process for a decompression bomb.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from cli_support import clean_env
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import one_error_line, rle_bomb, tfotel_command

from tracefork_otel.blobstore import sha256_hex
from tracefork_otel.cli import cli
from tracefork_otel.errors import TapeError
from tracefork_otel.tape import Exchange, Tape, decode_bundle, encode_bundle
from tracefork_otel.tape.codec import MAGIC

EXAMPLES = {"fuzzed files": 600}
"""Cases of the fuzz test below (docs/guarantees.md quotes the total)."""


def _valid() -> bytes:
    bodies = [b'{"model":"m","messages":[]}', b'{"id":"msg_1"}']
    d = [sha256_hex(b) for b in bodies]
    tape = Tape(trace_id="4bf92f3577b34da6a3ce929d0e0e4736", exchanges=(Exchange(0, d[0], d[1]),)).sealed()
    return encode_bundle(tape, dict(zip(d, bodies, strict=True)))


VALID = _valid()


@st.composite
def files(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=512))
    if kind == 1:
        return MAGIC + zstandard.ZstdCompressor().compress(draw(st.binary(max_size=256)))
    data = bytearray(VALID)
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data) - 1))
        if draw(st.booleans()):
            data[at] ^= 1 << draw(st.integers(0, 7))
        else:
            del data[at:]
            if not data:
                break
    return bytes(data)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("import-fuzz")


@pytest.mark.slow
@given(files())
@settings(deadline=None, database=None, suppress_health_check=list(HealthCheck), max_examples=EXAMPLES["fuzzed files"])
def test_import_of_a_fuzzed_file_is_one_line_and_exit_2(workdir: Path, data: bytes) -> None:
    try:
        decode_bundle(data)
    except TapeError:
        valid = False
    else:
        valid = True  # damage the frame shrugs off (a flipped bit in an unused header field)
    home = workdir / f"home-{uuid.uuid4().hex}"
    path = workdir / "fuzz.tftape"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["import", str(path)], env={"TFOTEL_HOME": str(home), "TFOTEL_BLOBS": None})
    if valid:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    one_error_line(result.stderr)
    assert result.stdout == ""
    assert not home.exists() or not any(home.rglob("*")), "a refused import wrote something"


@pytest.mark.subprocess
def test_import_of_a_bomb_in_a_real_process(tmp_path: Path) -> None:
    """A 64 KiB file that expands to 2 GiB: the real ``tfotel`` refuses it in one line."""
    path = tmp_path / "bomb.tftape"
    path.write_bytes(MAGIC + rle_bomb(2 << 30))
    home = tmp_path / "home"
    done = subprocess.run(
        tfotel_command("import", str(path)), env=clean_env(home), capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "over the limit" in one_error_line(done.stderr)
    assert done.stdout == ""
    assert not home.exists() or not any(home.rglob("*"))
