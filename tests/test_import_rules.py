"""The arrows of DESIGN.md, checked on the source: which part may import which.

Read with ``ast`` (imports inside functions included), so a lazy import cannot hide an arrow
that points the wrong way.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracefork_otel

ROOT = Path(tracefork_otel.__file__).parent

RECORDS = frozenset(
    {
        "tracefork_otel/__init__.py",  # the public API re-exports record_run, instrument, agent
        "tracefork_otel/replay/fork.py",  # a fork records its tail as a new run
        "tracefork_otel/validate/runs.py",  # a scenario records its failed run
        "tracefork_otel/demo/session.py",  # the demo records its run
        "tracefork_otel/cli/record.py",  # tfotel record
    }
)
"""The modules outside ``record/`` that record, so may import it."""

LOWER = {
    "tracefork_otel/tape": {"record", "replay", "blame", "validate", "cli", "report", "sources", "spanstore"},
    "tracefork_otel/blobstore": {"record", "replay", "blame", "validate", "cli", "report", "tape", "sources"},
    "tracefork_otel/nondet.py": {"record", "replay", "blame", "validate", "cli", "report", "demo"},
    "tracefork_otel/semconv.py": {"record", "replay", "blame", "validate", "cli", "report", "tape", "spanmodel"},
    "tracefork_otel/spanmodel.py": {"record", "replay", "blame", "validate", "cli", "report", "tape"},
    "tracefork_otel/sources": {"record", "replay", "blame", "validate", "cli", "report", "tape"},
    "tracefork_otel/report": {"record", "replay", "blame", "validate", "cli"},
    "tracefork_otel/timeline.py": {"record", "replay", "blame", "validate", "cli"},
    "tracefork_otel/replay": {"blame", "validate", "cli", "report"},
    "tracefork_otel/blame": {"cli"},
    "tracefork_otel/validate": {"cli"},
}
"""Parts and the parts they must not import (nothing below imports anything above it)."""


def _modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "_proto" not in p.parts)


def _imported_parts(path: Path) -> set[str]:
    """The top-level parts of tracefork_otel that ``path`` imports (``record``, ``semconv`` …)."""
    parts: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            bits = name.split(".")
            if bits[0] == "tracefork_otel" and len(bits) > 1:
                parts.add(bits[1])
    return parts


def _rel(path: Path) -> str:
    return path.relative_to(ROOT.parent).as_posix()


def test_only_code_that_records_imports_record() -> None:
    offenders = [
        _rel(p)
        for p in _modules()
        if "record" in _imported_parts(p)
        and not _rel(p).startswith("tracefork_otel/record/")
        and _rel(p) not in RECORDS
    ]
    assert not offenders, f"modules outside record/ that import it but do not record: {offenders}"


@pytest.mark.parametrize("part", sorted(LOWER))
def test_a_part_never_imports_the_parts_above_it(part: str) -> None:
    paths = [p for p in _modules() if _rel(p) == part or _rel(p).startswith(part + "/")]
    assert paths, f"no module at {part}"
    wrong = {_rel(p): sorted(_imported_parts(p) & LOWER[part]) for p in paths}
    assert not {k: v for k, v in wrong.items() if v}, f"{part} imports parts above it: {wrong}"


def test_the_rules_can_fail(tmp_path: Path) -> None:
    """The checker sees an arrow pointing the wrong way, lazy imports and ``from x import y`` included."""
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from tracefork_otel import record\n    import tracefork_otel.cli._output\n")
    assert _imported_parts(sample) == {"record", "cli"}
