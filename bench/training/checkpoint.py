"""Checkpoints: written atomically, loaded with weights_only=True (a pickled payload cannot run code)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from bench._io import atomic_write_bytes
from bench.errors import TrainingError

LAST = "last.pt"  # resumable training state
MODEL = "model.pt"  # the selected weights of a finished run


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError as exc:
        raise TrainingError(f"{path}: checkpoint not found.") from exc
    except Exception as exc:  # noqa: BLE001 - unpickling errors have many types; all mean the same to a user
        raise TrainingError(
            f"{path}: refused or unreadable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
            "bench loads checkpoints with weights_only=True and never executes pickled code; "
            "delete the file to retrain."
        ) from exc
