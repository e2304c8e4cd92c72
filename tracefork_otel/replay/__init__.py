"""Replay: a recorded run served back to its agent bit-exact, forked at any step, compared field by field.

`ReplaySession` is the one place a run meets its tape (served, verified, overridden,
then live); `replay_run` turns a session into a `ReplayReceipt`, `fork_run` records a
forked session as a new linked run, and `rebuild_tape` turns a trace's spans back into
the tape.
"""

from __future__ import annotations

from tracefork_otel.replay.fork import ForkResult, fork_run, response_for_step
from tracefork_otel.replay.rebuild import rebuild_tape
from tracefork_otel.replay.runner import ReplayReceipt, replay_run
from tracefork_otel.replay.session import ReplaySession, SessionResult, find_divergence, load_blobs
from tracefork_otel.replay.transport import LIVE, CannedResponse
from tracefork_otel.replay.verify import first_difference

__all__ = [
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
]
