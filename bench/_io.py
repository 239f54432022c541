"""Atomic file writes and stable hashing: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
from pathlib import Path
from typing import Any


def _create_temp(path: Path) -> tuple[int, Path]:
    """A new, empty temp file beside ``path``, created the way open() creates a file: mode 0o666 less the
    umask. (tempfile.mkstemp makes 0o600 files, so a shared dataset cache or results folder read as corrupt
    to colleagues and a report card could not be served.) O_EXCL: never an existing file or a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:  # another writer drew the same name: draw again
            continue
    raise FileExistsError(f"{path.parent}: could not create a temporary file beside {path.name}")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file, fsync and os.replace, with the user's usual permissions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def to_json_safe(obj: Any) -> Any:
    """Map NaN/inf to None (JSON null) recursively, and numpy scalars to Python ones."""
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_json(path: Path, obj: Any) -> None:
    text = json.dumps(to_json_safe(obj), indent=2, allow_nan=False, sort_keys=False)
    atomic_write_text(path, text + "\n")


def stable_hash(obj: Any, length: int = 10) -> str:
    """Hash of a JSON-able object, independent of dict order."""
    text = json.dumps(to_json_safe(obj), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:length]
