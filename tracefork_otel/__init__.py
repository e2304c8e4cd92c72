"""tracefork-otel: a time-travel debugger for AI agents that lives inside OpenTelemetry.

Record a run::

    import tracefork_otel
    tracefork_otel.instrument()          # every Anthropic client records, made before or after

    @tracefork_otel.agent                # optional: each call is one run, replayable by trace id alone
    def main(question: str) -> str: ...

or, explicitly::

    with tracefork_otel.record_run("refund-agent") as run:
        client = anthropic.Anthropic(http_client=run.http_client())
        ...
    print(run.trace_id)                 # paste into `tfotel replay`
"""

from __future__ import annotations

from tracefork_otel.nondet import Nondet, new_id, now_iso, random
from tracefork_otel.record import Run, agent, instrument, record_run, shutdown, uninstrument

__version__ = "0.1.0"

__all__ = [
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
]
