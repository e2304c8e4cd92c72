"""The bench agent as ``tfotel`` loads agents, ``fn(client, nondet)``, for ``tfotel replay --agent bench.agents:…``.

Kept apart from the measuring modules so that loading the agent in a ``tfotel``
subprocess imports only the workload (the Anthropic SDK, httpx2), not the harness.
"""

from __future__ import annotations

from typing import Any

from bench import workload


def agent_10(client: Any, nondet: Any) -> int:
    """The 10-step bench run; returns the number of exchanges."""
    return workload.run_agent(client, 10)


def agent_50(client: Any, nondet: Any) -> int:
    """The 50-step bench run; returns the number of exchanges."""
    return workload.run_agent(client, 50)
