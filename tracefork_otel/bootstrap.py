"""Running any command with tracefork on: the child's environment and its start-up hook.

``tfotel record -- python agent.py …`` runs the command with this package's
``_bootstrap`` folder first on ``PYTHONPATH``: every Python process the command starts
imports ``_bootstrap/sitecustomize.py``, which calls `start`. ``TFOTEL_BOOTSTRAP`` says
what to turn on (``record``: ``tracefork_otel.instrument()``; ``replay``: the tape in
``TFOTEL_REPLAY_TAPE`` served to the whole process, see ``replay/process.py``);
``TFOTEL_RUNS_FILE`` is where each sealed run appends its trace id, so the parent can print them.
"""

from __future__ import annotations

import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from tracefork_otel import environment_variables as env
from tracefork_otel.errors import ConfigError

logger = logging.getLogger(__name__)

BOOTSTRAP_DIR: Final = Path(__file__).parent / "_bootstrap"
MODE_RECORD: Final = "record"
MODE_REPLAY: Final = "replay"

_starters: dict[str, Callable[[], None]] = {}


def register(mode: str, starter: Callable[[], None]) -> None:
    """What `start` calls for ``TFOTEL_BOOTSTRAP=mode`` (replay registers its own)."""
    _starters[mode] = starter


def _start_recording() -> None:
    import tracefork_otel

    tracefork_otel.instrument()


def _start_replay() -> None:
    from tracefork_otel.replay.process import serve_this_process

    serve_this_process()


register(MODE_RECORD, _start_recording)
register(MODE_REPLAY, _start_replay)


def start() -> None:
    """Turn on what ``TFOTEL_BOOTSTRAP`` names; called by ``sitecustomize`` in the child. Never raises."""
    mode = os.environ.get(env.TFOTEL_BOOTSTRAP, "")
    if not mode:
        return
    try:
        _starters[mode]()
    except Exception:
        logger.warning("tracefork: could not start %r in this process; it runs without it", mode, exc_info=True)


def child_env(mode: str, extra: Mapping[str, str], base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a bootstrapped child: ``base`` (default ours), the bootstrap folder first on
    ``PYTHONPATH``, ``TFOTEL_BOOTSTRAP=mode`` and ``extra``."""
    child = dict(os.environ if base is None else base)
    path = child.get("PYTHONPATH")
    child["PYTHONPATH"] = os.pathsep.join([str(BOOTSTRAP_DIR), *([path] if path else [])])
    child[env.TFOTEL_BOOTSTRAP] = mode
    child.update(extra)
    return child


@dataclass(frozen=True)
class CommandResult:
    """What a bootstrapped command did."""

    exit_code: int
    trace_ids: tuple[str, ...]
    """The runs it sealed, in order."""


def run_command(argv: Sequence[str], mode: str, extra: Mapping[str, str] | None = None) -> CommandResult:
    """Run ``argv`` (stdin, stdout and stderr inherited) with ``mode`` on; wait for it.

    Raises:
        ConfigError: the command cannot be started (not found, not executable).
    """
    with tempfile.TemporaryDirectory(prefix="tfotel-") as scratch:
        runs_file = Path(scratch) / "runs"
        environment = child_env(mode, {env.TFOTEL_RUNS_FILE: str(runs_file), **(extra or {})})
        try:
            code = subprocess.call(list(argv), env=environment)
        except OSError as exc:
            raise ConfigError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
        ids = runs_file.read_text(encoding="utf-8").split() if runs_file.exists() else []
    return CommandResult(code, tuple(ids))
