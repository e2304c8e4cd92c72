"""End-to-end fixtures: the trace-backend stand-ins live next to the replay tests; make them importable here."""

from __future__ import annotations

import sys
from pathlib import Path

_REPLAY_TESTS = str(Path(__file__).resolve().parents[1] / "replay")
if _REPLAY_TESTS not in sys.path:
    sys.path.append(_REPLAY_TESTS)  # replay_backends: the Tempo and Jaeger stand-ins
