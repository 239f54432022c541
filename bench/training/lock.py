"""A per-run-folder lock, so two `bench run` processes on the same results folder never train the same
run at once: the second waits, then finds the first one's result and reuses it."""

from __future__ import annotations

import errno
import os
import warnings
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs still write atomically
    fcntl = None

_WARNED_DEVICES: set[int] = set()  # filesystems already reported as lockless: one warning each per process


class UnlockedFolderWarning(UserWarning):
    """The results folder is on a filesystem without flock (some NFS, SMB and FUSE mounts)."""


def _open_lock_file(path: Path) -> int:
    """The lock file, created with the user's usual permissions (0o666 less the umask) so that colleagues
    sharing the folder can lock it too; a colleague's lock file we may not write is still lockable read-only."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return os.open(path, os.O_RDONLY)


def _warn_unlocked(run_dir: Path, exc: OSError) -> None:
    device = os.stat(run_dir).st_dev
    if device in _WARNED_DEVICES:
        return
    _WARNED_DEVICES.add(device)
    name = errno.errorcode.get(exc.errno, str(exc.errno))
    warnings.warn(
        f"{run_dir}: this filesystem does not support file locks (flock: {name}, {exc.strerror}), so "
        "concurrent bench processes on this results folder are not protected from training the same run at "
        "once. Run one bench process per results folder here, or put --results-dir on a local disk.",
        UnlockedFolderWarning, stacklevel=3)


def _try_lock(fd: int, run_dir: Path, on_wait) -> bool:
    """Take the lock (waiting for another process if need be); False where the filesystem has no locks."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if on_wait:
            on_wait()
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as exc:  # ENOLCK, EOPNOTSUPP/ENOTSUP, ENOSYS...: a lock is a safeguard, not a precondition
        _warn_unlocked(run_dir, exc)
        return False
    return True


@contextmanager
def run_lock(run_dir: Path, on_wait=None):
    """Hold an exclusive advisory lock on ``run_dir/.lock`` (released by the OS if the process dies)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = _open_lock_file(run_dir / ".lock")
    try:
        locked = _try_lock(fd, run_dir, on_wait)
        try:
            yield
        finally:
            if locked:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
