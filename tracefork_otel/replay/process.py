"""Replaying a whole process: the recorded command run again, its clients and draws served from the tape.

A process run (``tfotel record -- python agent.py …``, ``opentelemetry-instrument``) records
its command line and working folder. `replay_process` runs that command (or the one the
user gives) as a bootstrapped child (``TFOTEL_BOOTSTRAP=replay``, see
``tracefork_otel.bootstrap``): the first Python process of the command reads the tape from
``TFOTEL_REPLAY_TAPE`` and, from start-up to exit, serves every Anthropic client and the
module-level seam from a `ReplaySession` (`serve_this_process`). At exit it writes what the
run did to ``TFOTEL_REPLAY_RECEIPT`` as JSON; the parent turns that into the same
`ReplayReceipt` an in-process replay gives. Later Python processes of the same command run
without replay (a tape is one process's run).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from tracefork_otel import environment_variables as env
from tracefork_otel.bootstrap import MODE_REPLAY, child_env
from tracefork_otel.errors import ConfigError, ReplayDivergence
from tracefork_otel.replay.runner import ReplayReceipt, receipt_of
from tracefork_otel.replay.session import ReplaySession, SessionResult
from tracefork_otel.tape import Tape, decode_bundle, encode_bundle

_CLAIMED: Final = ".claimed"
"""Suffix of the file the first process of the command creates to claim the replay."""


def replay_process(
    tape: Tape,
    blobs: Mapping[str, bytes],
    command: Sequence[str] | None = None,
    *,
    allow_partial: bool = False,
) -> ReplayReceipt:
    """Run the recorded command (or ``command``) against ``tape``; its stdin and stderr are inherited, its
    stdout is written to our stderr once it exits.

    Raises:
        ConfigError: the run recorded no command and none is given, the command cannot be started, or it
            exited without replaying (not a Python program, or it never started one).
    """
    entry = tape.entry
    argv = list(command or (entry.command if entry is not None else ()))
    if not argv:
        raise ConfigError(f"run {tape.trace_id} records no command line: give it after --")
    cwd = entry.cwd if entry is not None and entry.cwd and not command else None
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="tfotel-replay-") as scratch:
        tape_file, receipt_file = Path(scratch) / "run.tftape", Path(scratch) / "receipt.json"
        tape_file.write_bytes(encode_bundle(tape, blobs))
        extra = {
            env.TFOTEL_REPLAY_TAPE: str(tape_file),
            env.TFOTEL_REPLAY_RECEIPT: str(receipt_file),
            env.TFOTEL_REPLAY_ALLOW_PARTIAL: "true" if allow_partial else "false",
        }
        try:
            # The command's stdout goes to our stderr: our stdout is the receipt (``--json`` stays one document).
            done = subprocess.run(argv, env=child_env(MODE_REPLAY, extra), cwd=cwd, stdout=subprocess.PIPE)
        except OSError as exc:
            raise ConfigError(f"cannot run {argv[0]!r}: {exc.strerror or exc}") from exc
        sys.stderr.write(done.stdout.decode("utf-8", "replace"))
        code = done.returncode
        if not receipt_file.exists():
            raise ConfigError(
                f"{argv[0]!r} exited with {code} without replaying run {tape.trace_id}: no Python process of"
                " it started, or it was killed before it exited"
            )
        result = _result_from_json(json.loads(receipt_file.read_text(encoding="utf-8")), code)
    return receipt_of(tape, blobs, result, time.perf_counter() - started)


# --- the child ---------------------------------------------------------------------------------------


def serve_this_process() -> None:
    """Serve the tape named by ``TFOTEL_REPLAY_TAPE`` to this whole process, and write the receipt at exit.

    Called at start-up by the bootstrap; the first process of the command claims the replay, later ones
    (a subprocess of the agent) run without it.
    """
    receipt_path = Path(os.environ[env.TFOTEL_REPLAY_RECEIPT])
    try:
        Path(str(receipt_path) + _CLAIMED).touch(exist_ok=False)
    except FileExistsError:
        return
    bundle = decode_bundle(Path(os.environ[env.TFOTEL_REPLAY_TAPE]).read_bytes())
    session = ReplaySession(
        bundle.tape, bundle.blobs, allow_partial=env.parse_bool(env.TFOTEL_REPLAY_ALLOW_PARTIAL, False)
    )
    serving = contextlib.ExitStack()
    serving.enter_context(session.serving())
    failure: list[BaseException] = []
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], value: BaseException, tb: types.TracebackType | None) -> None:
        failure.append(value)
        previous_hook(kind, value, tb)

    def write_receipt() -> None:
        serving.close()
        result = session.result(None, failure[0] if failure else None)
        receipt_path.write_text(json.dumps(_result_to_json(result)), encoding="utf-8")

    sys.excepthook = excepthook
    atexit.register(write_receipt)


def _result_to_json(result: SessionResult) -> dict[str, Any]:
    d = result.divergence
    return {
        "served_steps": list(result.served_steps),
        "bytes_verified": result.bytes_verified,
        "draws_used": result.draws_used,
        "error_type": result.error_type,
        "agent_error": result.agent_error,
        "divergence": None if d is None else d.to_json(),
    }


def _result_from_json(doc: Mapping[str, Any], exit_code: int) -> SessionResult:
    d = doc.get("divergence")
    divergence = ReplayDivergence.from_json(d) if isinstance(d, dict) else None
    return SessionResult(
        outcome={"exit_code": exit_code},
        error=None,
        divergence=divergence,
        served_steps=tuple(doc["served_steps"]),
        bytes_verified=int(doc["bytes_verified"]),
        draws_used=int(doc["draws_used"]),
        error_type=doc.get("error_type"),
        agent_error=doc.get("agent_error"),
    )
