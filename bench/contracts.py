"""The plugin contracts of DESIGN.md as code: what an encoder and a task must provide.

Encoder: any ``nn.Module`` with class attribute ``modality`` and instance attribute ``latent_dim`` whose
``forward(inputs) -> (B, latent_dim)``; subclassing ``Encoder`` is optional. Task: subclass ``Task``.
Letters: B batch, N input points, M query points, D latent, P parts, C classes/channels.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from bench.config import EvalConfig, ModelConfig
    from bench.data.dataset import ShapeStore
    from bench.data.format import DatasetInfo

MODALITIES = ("pointcloud", "image", "voxels")


class Encoder(nn.Module):
    """Optional base class for encoders."""

    modality: ClassVar[str]
    latent_dim: int

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """(B, N, 3) points | (B, 3, H, W) image | (B, R, R, R) voxels -> (B, latent_dim)."""
        raise NotImplementedError


@dataclass(frozen=True)
class Metric:
    name: str
    higher_is_better: bool
    description: str = ""


class Task(ABC):
    """A task reads the latent (``kind = "shape"``) or per-point logits of a point decoder (``"point"``)."""

    name: ClassVar[str]
    kind: ClassVar[str]  # "point" | "shape"
    metrics: ClassVar[tuple[Metric, ...]]
    main_score: ClassVar[str]
    needs_parts: ClassVar[bool] = False

    def __init__(self, info: DatasetInfo, eval_cfg: EvalConfig):
        self.info, self.eval_cfg = info, eval_cfg

    # --- model side -------------------------------------------------------------------------------
    def out_channels(self) -> int:
        """Point tasks: channels C of this task's slice of the decoder output."""
        raise NotImplementedError(f"{self.name} is not a point task")

    def build_head(self, latent_dim: int, model_cfg: ModelConfig) -> nn.Module:
        """Shape tasks: head (B, D) -> (B, C)."""
        raise NotImplementedError(f"{self.name} is not a shape task")

    @abstractmethod
    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Point: (B, M, C) logits; shape: (B, C) logits -> scalar loss."""

    # --- evaluation side --------------------------------------------------------------------------
    def eval_indices(self, store: ShapeStore, i: int) -> np.ndarray:
        """Point tasks: flat indices of the stored query points of shape i to evaluate on."""
        raise NotImplementedError(f"{self.name} is not a point task")

    @abstractmethod
    def score_shape(self, logits: np.ndarray, store: ShapeStore, i: int, indices: np.ndarray | None) -> dict[str, float]:
        """Metrics of one shape: point tasks get (M, C) logits at ``indices``, shape tasks (C,)."""

    def aggregate(self, per_shape: list[dict[str, float]], categories: list[str]) -> tuple[dict, dict]:
        """Mean over shapes (instance) for every metric, the main score's mean over categories as
        ``<main>_class_mean``, and per-category means."""
        overall: dict[str, float | None] = {}
        per_cat: dict[str, dict[str, float | None]] = {}
        names = sorted({k for d in per_shape for k in d})
        for name in names:
            values = [d[name] for d in per_shape if d.get(name) is not None]
            overall[name] = float(np.mean(values)) if values else None
        for cat in sorted(set(categories)):
            rows = [d for d, c in zip(per_shape, categories) if c == cat]
            per_cat[cat] = {n: (float(np.mean(v)) if (v := [d[n] for d in rows if d.get(n) is not None]) else None)
                            for n in names}
        cat_means = [v[self.main_score] for v in per_cat.values() if v.get(self.main_score) is not None]
        overall[f"{self.main_score}_class_mean"] = float(np.mean(cat_means)) if cat_means else None
        return overall, per_cat

    def conventions(self) -> dict[str, Any]:
        """The conventions this task's metrics follow (recorded in result.json)."""
        return {}

    @classmethod
    def metric_info(cls) -> dict[str, Any]:
        directions = {m.name: ("higher" if m.higher_is_better else "lower") for m in cls.metrics}
        directions[f"{cls.main_score}_class_mean"] = directions[cls.main_score]
        return {"main": cls.main_score, "directions": directions, "kind": cls.kind}
