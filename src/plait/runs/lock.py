"""One writer per run directory: an OS lock (flock) on `<run>/.lock`, held by the process that trains.

The kernel releases a flock when its holder exits, however it exits (SIGKILL included), so the lock of a
dead process is simply taken by the next one; nothing stale needs cleaning up. The holder's pid is
written into the file so that a refused second writer can name it. A multi-process run is covered by
rank 0's lock: the other ranks only train into the folder rank 0 writes (plait.runs.ranks).

Checked: filelock's FileLock and portalocker wrap the same `fcntl.flock`, but neither says who holds a lock,
which is what the refusal line names; this is the dozen lines they would wrap, plus the pid.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from plait.errors import UserError

LOCK_FILE = ".lock"

_HELD: dict[Path, int] = {}
"""Locks this process holds: run directory -> open file descriptor (a flock belongs to its descriptor)."""


class RunLocked(UserError):
    """Another live process is writing the run directory."""


def holder(folder: Path) -> int | None:
    """The pid written in the lock file (the last holder's; it may have exited), or None."""
    try:
        return int((folder / LOCK_FILE).read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def acquire(folder: str | Path, what: str = "run") -> None:
    """Take the run directory's lock for this process (again: a no-op); RunLocked naming the holder's pid."""
    folder = Path(folder).resolve()
    if folder in _HELD:
        return
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise UserError(f"{folder}: cannot create its lock file ({err.strerror})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(fd)
        if err.errno not in (errno.EWOULDBLOCK, errno.EACCES):
            raise UserError(f"{folder}: cannot lock it ({err.strerror})") from None
        raise _refusal(folder, what) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _HELD[folder] = fd


def release(folder: str | Path) -> None:
    """Give up the lock (no-op when not held); the lock file stays, holding the last pid."""
    fd = _HELD.pop(Path(folder).resolve(), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def held(folder: str | Path) -> bool:
    """Whether this process holds the folder's lock."""
    return Path(folder).resolve() in _HELD


def refuse_if_held(folder: str | Path, what: str = "run") -> None:
    """RunLocked when a live process other than this one holds the folder's lock."""
    if locked_by_other(folder):
        raise _refusal(Path(folder).resolve(), what)


def _refusal(folder: Path, what: str) -> RunLocked:
    return RunLocked(f"{what} {folder}: another process (pid {holder(folder) or '?'}) is writing this run "
                     "directory; wait for it to end or stop it first")


def locked_by_other(folder: str | Path) -> bool:
    """Whether a live process other than this one holds the folder's lock (a probe: takes and drops it)."""
    folder = Path(folder).resolve()
    if folder in _HELD or not (folder / LOCK_FILE).exists():
        return False
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops a lock it took
    return False
