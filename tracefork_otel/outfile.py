"""Writing a file the user named (``-o PATH``): atomic for regular files, through for anything else.

One function, :func:`write_output`, for every command that writes a path it was given
(``report -o``, ``export -o``, ``validate --write-reference``):

- ``-`` is standard output.
- A regular file (or a new one) is written to a temporary file beside it and renamed
  over it, so a reader never sees half a file. The file keeps its mode (a new one gets
  ``0666`` minus the umask, as any program would make it) and, when we are allowed to,
  its owner. A symlink to a regular file stays a link: its target is replaced.
- Anything else that exists (a device such as ``/dev/null``, a FIFO, a terminal, or a
  symlink such as ``/dev/stdout`` to one of them) is written through, never replaced.
- A folder, or a path whose folder does not exist, is refused.

Hard links to a replaced regular file keep the old content: the rename gives the path
a new inode, as every atomic writer (editors, package managers) does.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from pathlib import Path
from typing import Final

from tracefork_otel.errors import ConfigError

STDOUT: Final = "-"
"""The path that means standard output."""


def write_output(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to the file the user named (see the module docstring for how).

    Raises:
        ConfigError: the path is a folder, its folder does not exist, or writing failed
            (the message says which; a regular file is then left as it was).
    """
    if os.fspath(path) == STDOUT:
        _write_through_stream(data)
        return
    shown = Path(path)
    target = Path(os.path.realpath(Path(path).expanduser()))
    try:
        st: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise ConfigError(f"cannot write {shown}: {exc.strerror or exc}") from exc
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"cannot write {shown}: it is a folder")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_through(shown, target, data)
        return
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {shown}: folder {target.parent} does not exist")
    _replace_atomically(shown, target, data, st)


def _write_through_stream(data: bytes) -> None:
    try:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    except OSError as exc:
        raise ConfigError(f"cannot write to standard output: {exc.strerror or exc}") from exc


def _write_through(shown: Path, target: Path, data: bytes) -> None:
    """Write into an existing non-regular file (device, FIFO, terminal) without replacing it."""
    try:
        with open(target, "wb", buffering=0) as handle:
            view = memoryview(data)
            while view:
                written = handle.write(view)
                view = view[written or 0 :]
    except OSError as exc:
        raise ConfigError(f"cannot write {shown}: {exc.strerror or exc}") from exc


def _replace_atomically(shown: Path, target: Path, data: bytes, st: os.stat_result | None) -> None:
    tmp = target.parent / f".{target.name}.{secrets.token_hex(4)}.tmp"
    try:
        # 0o666 minus the umask for a new file, as open(2) makes it; an existing file's mode below.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                if st is not None:
                    with contextlib.suppress(OSError):  # only root may give a file away; keep ours then
                        os.fchown(handle.fileno(), st.st_uid, st.st_gid)
                    os.fchmod(handle.fileno(), stat.S_IMODE(st.st_mode))  # after chown, which clears setuid
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigError(f"cannot write {shown}: {exc.strerror or exc}") from exc
