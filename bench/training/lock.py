"""A per-run-folder lock, so two `bench run` processes on the same results folder never train the same
run at once: the second waits, then finds the first one's result and reuses it."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks; runs still write atomically
    fcntl = None


@contextmanager
def run_lock(run_dir: Path, on_wait=None):
    """Hold an exclusive advisory lock on ``run_dir/.lock`` (released by the OS if the process dies)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(run_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
