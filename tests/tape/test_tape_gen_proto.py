"""``scripts/gen_proto.py --check``: the committed generated code matches the schema."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "gen_proto.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tracefork_gen_proto_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.subprocess
def test_the_committed_code_is_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


@pytest.fixture
def copy_of_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, Path]:
    """The script, pointed at a copy of the generated package (the real tree is never touched)."""
    script = load_script()
    out = tmp_path / "_proto"
    shutil.copytree(script.OUT, out, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(script, "OUT", out)
    monkeypatch.setattr(sys, "argv", ["gen_proto.py", "--check"])
    return script, out


def test_the_check_passes_on_an_unchanged_copy(copy_of_generated: tuple[ModuleType, Path]) -> None:
    script, _ = copy_of_generated
    assert script.main() == 0


def test_an_edited_file_is_stale(
    copy_of_generated: tuple[ModuleType, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    script, out = copy_of_generated
    generated = out / "tracefork" / "v1" / "tape_pb2.py"
    generated.write_text(generated.read_text() + "\n# edited by hand\n")
    assert script.main() == 1
    assert "tracefork/v1/tape_pb2.py" in capsys.readouterr().out


def test_a_missing_file_is_stale(copy_of_generated: tuple[ModuleType, Path]) -> None:
    script, out = copy_of_generated
    (out / "tracefork" / "v1" / "tape_pb2.pyi").unlink()
    assert script.main() == 1
