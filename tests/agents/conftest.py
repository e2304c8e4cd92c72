"""Fixtures of the agents tests: the stochastic stand-in on 127.0.0.1 and a way to run programs under ``tfotel``.

The programs in ``programs/`` are ordinary agents, unmodified for tracefork: they read
``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` from the environment like any SDK user.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from standin import MultiplyModel

from tracefork_otel.demo import MessagesEndpoint

PROGRAMS = Path(__file__).parent / "programs"
FRAMEWORKS = ("quickstart_loop", "tool_runner", "streaming_thinking", "langgraph_agent", "pydantic_ai_agent")
"""One program per agent style of issue 11, by file name."""
MODEL_SEED = 11


@dataclass(frozen=True)
class Tfotel:
    """``tfotel`` in a child process, with the test's home and the stand-in's address."""

    env: dict[str, str]
    home: Path

    def __call__(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from tracefork_otel.cli import main; main()", *args]
        return subprocess.run(command, env=self.env, capture_output=True, text=True, timeout=timeout)

    def json(self, *args: str) -> Any:
        done = self(*args, "--json")
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    def record(self, program: str, *args: str) -> str:
        """Record ``python programs/PROGRAM.py ARGS`` with no code change; the one trace id it made."""
        done = self("record", "--", sys.executable, str(PROGRAMS / f"{program}.py"), *args)
        assert done.returncode == 0, done.stderr[-3000:]
        ids = [line for line in done.stdout.splitlines() if len(line) == 32]
        assert len(ids) == 1, done.stdout
        return ids[0]


@pytest.fixture
def model() -> MultiplyModel:
    return MultiplyModel(MODEL_SEED)


@pytest.fixture
def standin(model: MultiplyModel) -> Iterator[MessagesEndpoint]:
    with MessagesEndpoint(model) as endpoint:
        yield endpoint


@pytest.fixture
def tfotel(standin: MessagesEndpoint, tmp_path: Path, child_env: Callable[..., dict[str, str]]) -> Tfotel:
    home = tmp_path / "home"
    env = child_env(home, ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=standin.base_url)
    return Tfotel(env, home)
