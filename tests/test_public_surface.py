"""The public surface, pinned: what ``import tracefork_otel`` and each part export (as httpx pins its own)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

import tracefork_otel

PINNED = {
    "tracefork_otel": [
        "Nondet",
        "Run",
        "__version__",
        "agent",
        "instrument",
        "new_id",
        "now_iso",
        "random",
        "record_run",
        "shutdown",
        "uninstrument",
    ],
    "tracefork_otel.record": [
        "AnthropicRecordingInstrumentor",
        "RecordingNondet",
        "Run",
        "agent",
        "instrument",
        "record_run",
        "recording_transport",
        "shutdown",
        "uninstrument",
        "wrap_client",
    ],
    "tracefork_otel.replay": [
        "LIVE",
        "CannedResponse",
        "ForkResult",
        "ReplayReceipt",
        "ReplaySession",
        "SessionResult",
        "find_divergence",
        "first_difference",
        "fork_run",
        "load_blobs",
        "rebuild_tape",
        "replay_run",
        "response_for_step",
    ],
    "tracefork_otel.tape": [
        "SCHEMA_VERSION",
        "Bundle",
        "Draw",
        "DrawKind",
        "Exchange",
        "Tape",
        "decode_bundle",
        "encode_bundle",
        "tape_digest",
    ],
}


@pytest.mark.parametrize("module_name", sorted(PINNED))
def test_each_part_exports_exactly_what_is_pinned(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert sorted(module.__all__) == sorted(PINNED[module_name])
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names {name!r}, which it does not define"


def test_every_part_is_a_package_with_an_all() -> None:
    root = Path(tracefork_otel.__file__).parent
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))):
        if folder.name == "__pycache__":
            continue
        init = folder / "__init__.py"
        assert init.is_file(), f"{folder.name}/ has no __init__.py"
        module = importlib.import_module(f"tracefork_otel.{folder.name}")
        assert isinstance(getattr(module, "__all__", None), list), f"tracefork_otel.{folder.name} has no __all__"


def test_the_package_ships_its_type_hints() -> None:
    assert (Path(tracefork_otel.__file__).parent / "py.typed").is_file()
