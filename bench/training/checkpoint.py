"""Checkpoints: written atomically, loaded with weights_only=True (a pickled payload cannot run code).
Model weights are stored under the plain module's keys, whether the model was compiled or not."""

from __future__ import annotations

import io
from collections import OrderedDict
from pathlib import Path
from typing import Any

import torch

from bench._io import atomic_write_bytes
from bench.errors import TrainingError

LAST = "last.pt"  # resumable training state
MODEL = "model.pt"  # the selected weights of a finished run
COMPILED_PREFIX = "_orig_mod."  # torch.compile's wrapper (OptimizedModule) nests the module's keys under it


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


def _plain(key: str) -> str:
    """A state-dict key (or a module prefix of its metadata) without torch.compile's wrapper level."""
    key = key.replace(COMPILED_PREFIX, "")
    wrapper = COMPILED_PREFIX[:-1]
    return "" if key == wrapper else key[:-len(wrapper) - 1] if key.endswith("." + wrapper) else key


def _rekeyed(state_dict: dict[str, Any], key_map, module_map) -> OrderedDict:
    """``state_dict`` with its keys mapped; its ``_metadata`` (module versions, which load_state_dict reads,
    e.g. batch norm's) is kept, under the mapped module prefixes."""
    out = OrderedDict((key_map(k), v) for k, v in state_dict.items())
    meta = getattr(state_dict, "_metadata", None)
    if meta is not None:
        out._metadata = OrderedDict((module_map(k), v) for k, v in meta.items())
    return out


def plain_keys(state_dict: dict[str, Any]) -> OrderedDict:
    """``state_dict`` with torch.compile's wrapper prefix taken out of every key, so that a checkpoint reads
    the same whether the model that wrote it was compiled or not (train.compile is not part of a run's
    identity: toggling it must not break a resume)."""
    return _rekeyed(state_dict, _plain, _plain)


def load_model_state(module: torch.nn.Module, state_dict: dict[str, Any], strict: bool = True):
    """Load weights saved from a compiled or a plain model into ``module``, compiled or plain: both sides'
    keys are matched without the wrapper prefix."""
    keys = {_plain(k): k for k in module.state_dict()}
    prefixes = {_plain(name): name for name, _ in module.named_modules()}
    plain = plain_keys(state_dict)
    mapped = _rekeyed(plain, lambda k: keys.get(k, k), lambda k: prefixes.get(k, k))
    return module.load_state_dict(mapped, strict=strict)
