"""A store that cannot be written can still be read: a read-only mount (a CI artifact) and a full disk.

SQLite in WAL mode needs to create its ``-shm`` file even to read, so such a store used to
fail every read command with "unable to open database file". Each case runs the real
``tfotel`` in a child process inside a user+mount namespace (``unshare -rm``): a read-only
bind mount of the store's folder, or a full tmpfs holding a copy of it.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]

TFOTEL = Path(sys.executable).parent / "tfotel"
DEMO = "tracefork_otel.demo.agent:run"

MOUNTS = {
    "read-only bind": "mount --bind {home} {home} && mount -o remount,bind,ro {home}",
    "full disk": (
        "mkdir -p {full} && mount -t tmpfs -o size=4m tmpfs {full} && cp -a {home}/. {full}/"
        " && (dd if=/dev/zero of={full}/fill bs=4k 2>/dev/null; true)"
    ),
}


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, child_env: Callable[..., dict[str, str]]) -> tuple[Path, str]:
    """A home with one demo run, recorded by a process that has exited (its WAL checkpointed away)."""
    if not _namespaces_work():
        pytest.skip("needs unshare -rm (user and mount namespaces) to mount a read-only or full folder")
    home = tmp_path_factory.mktemp("unwritable") / "home"
    done = subprocess.run(
        [str(TFOTEL), "demo", "--json"], env=child_env(home), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert not (home / "spans.sqlite3-shm").exists()  # the hard case: reading must create it
    return home, str(json.loads(done.stdout)["trace_id"])


@pytest.mark.parametrize("case", MOUNTS)
def test_every_read_command_works_on_a_store_that_cannot_be_written(
    case: str, recorded: tuple[Path, str], child_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    home, trace_id = recorded
    full = tmp_path / "full"
    target = home if case == "read-only bind" else full
    commands = [["runs", "--json"], ["show", trace_id], ["replay", trace_id, "--agent", DEMO, "--json"]]
    script = " && ".join(
        [MOUNTS[case].format(home=shlex.quote(str(home)), full=shlex.quote(str(full)))]
        + [f"{shlex.quote(str(TFOTEL))} {shlex.join(c)} > {shlex.quote(str(tmp_path / c[0]))}" for c in commands]
    )
    env = child_env(target)
    result = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    (run,) = json.loads((tmp_path / "runs").read_text())["runs"]
    assert run["trace_id"] == trace_id and run["exchanges"] == 3
    assert f"run {trace_id}" in (tmp_path / "show").read_text()
    assert json.loads((tmp_path / "replay").read_text())["bit_exact"] is True
    if case == "read-only bind":
        assert not (home / "spans.sqlite3-shm").exists()  # nothing was written beside the store
