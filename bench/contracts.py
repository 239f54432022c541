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
    import trimesh

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
    """One metric a task reports: its key in result.json, its direction, and how tables label it."""

    name: str
    higher_is_better: bool
    description: str = ""
    label: str = ""
    """Short column heading (default: the name)."""


class Task(ABC):
    """A task reads the latent (``kind = "shape"``) or per-point logits of a point decoder (``"point"``),
    and owns all of its evaluation: which points it is scored on, its per-shape scores, and, for a task
    whose logits are an occupancy field (``scores_mesh``), the scores of the mesh extracted from it.

    The harness aggregates per-shape scores (instance and category means) and never names a task.
    """

    name: ClassVar[str]
    kind: ClassVar[str]  # "point" | "shape"
    metrics: ClassVar[tuple[Metric, ...]]
    main_score: ClassVar[str]
    needs_parts: ClassVar[bool] = False
    scores_mesh: ClassVar[bool] = False
    """Point tasks only: ``occupancy_logits`` is a field the harness meshes (MISE) for ``score_mesh``."""
    labels_points: ClassVar[bool] = False
    """Point tasks only: ``point_labels`` gives a label per point (exported meshes are coloured by it)."""

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
        """Point tasks: flat indices (into ``store.points``) of the query points shape i is scored on."""
        raise NotImplementedError(f"{self.name} is not a point task")

    @abstractmethod
    def score_shape(self, logits: np.ndarray, store: ShapeStore, i: int, indices: np.ndarray | None) -> dict[str, float | None]:
        """Metrics of one shape: point tasks get (M, C) logits at ``indices``, shape tasks (C,)."""

    def occupancy_logits(self, logits: np.ndarray) -> np.ndarray:
        """``scores_mesh`` tasks: (P, C) logits -> (P,) occupancy logits, meshed at eval.iou_threshold."""
        raise NotImplementedError(f"{self.name} does not score meshes")

    def score_mesh(self, mesh: trimesh.Trimesh, store: ShapeStore, i: int) -> dict[str, float | None]:
        """``scores_mesh`` tasks: metrics of the mesh extracted for shape i (merged into its scores)."""
        raise NotImplementedError(f"{self.name} does not score meshes")

    def point_labels(self, logits: np.ndarray, category: int) -> np.ndarray:
        """``labels_points`` tasks: (P, C) logits of points of a shape of ``category`` -> (P,) int labels."""
        raise NotImplementedError(f"{self.name} does not label points")

    def conventions(self) -> dict[str, Any]:
        """The conventions this task's metrics follow (recorded in result.json)."""
        return {}

    @classmethod
    def metric_info(cls) -> dict[str, Any]:
        """Main score, direction and label of every metric: what tables read to build their columns."""
        directions = {m.name: ("higher" if m.higher_is_better else "lower") for m in cls.metrics}
        labels = {m.name: m.label or m.name for m in cls.metrics}
        return {"main": cls.main_score, "directions": directions, "labels": labels, "kind": cls.kind,
                "scores_mesh": cls.scores_mesh, "labels_points": cls.labels_points}
