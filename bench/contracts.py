"""The plugin contracts of docs/design.md ("Plugin contracts") as code: what an encoder and a task must provide.

Encoder: any ``nn.Module`` with class attribute ``modality`` and instance attribute ``latent_dim`` whose
``forward(inputs) -> (B, latent_dim)``; subclassing ``Encoder`` is optional. Task: subclass ``Task``; it scores
one shape at a time from its ``ShapeView`` (task contract 2, ``CONTRACT_VERSION``).
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
CONTRACT_VERSION = 2
"""The task contract of this harness. Contract 1 (store and flat indices) is still called, with a
DeprecationWarning; bench/task_adapter.py is the one place that knows both."""


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


@dataclass(frozen=True)
class ShapeView:
    """One shape of an evaluation split, as a task scores it. The arrays are read-only views of the split's
    arrays (nothing is copied) and belong to this shape alone: index 0 is its first point.

    Query points: the first ``n_uniform`` are uniform in the box padded by 0.1 (the points IoU is measured
    on, ONet's ``points_iou``), the rest lie near the surface. Q query points, S surface points.
    """

    shape_id: str
    """``"<category id>/<shape>"``, as in result.json's rows."""
    category: int
    """Index into ``info.categories``."""
    index: int
    """Position of the shape in its split: the seed of per-shape draws that must be repeatable."""
    points: np.ndarray
    """(Q, 3) float16 query points."""
    occ: np.ndarray
    """(Q,) bool: inside the shape."""
    n_uniform: int
    """How many of ``points`` (the first ones) are uniform in the box; the rest are near-surface."""
    surface: np.ndarray
    """(S, 3) float16 points on the surface."""
    normals: np.ndarray
    """(S, 3) float16 unit normals of ``surface``."""
    labels: np.ndarray | None = None
    """(Q,) int16 global part index of each query point, -1 outside; None when the dataset has no parts."""
    surface_labels: np.ndarray | None = None
    """(S,) int16 part index of each surface point; None when the dataset has no parts."""

    def uniform_indices(self, limit: int | None = None) -> np.ndarray:
        """Indices of the uniform query points (the first ``limit`` of them when given)."""
        return np.arange(self.n_uniform if limit is None else min(self.n_uniform, limit))


def view_indices(picked: Any, view: ShapeView) -> np.ndarray:
    """What ``Task.eval_points`` gave, as (M,) int64 indices into ``view.points``: indices are kept in their
    order (repeats allowed), a (Q,) boolean mask becomes the indices it selects. ValueError otherwise."""
    a, n = np.asarray(picked), len(view.points)
    if a.dtype == bool:
        if a.shape != (n,):
            raise ValueError(f"a boolean mask must have one entry per query point of the view, ({n},); got {a.shape}")
        return np.flatnonzero(a)
    if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"expected a 1-D array of integer indices into view.points, got {a.dtype} {a.shape}")
    a = a.astype(np.int64, copy=False)
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"indices into view.points must lie in 0..{n - 1}; got {a.min()}..{a.max()}")
    return a


class Task(ABC):
    """A task reads the latent (``kind = "shape"``) or per-point logits of a point decoder (``"point"``),
    and owns all of its evaluation: which points of a shape it is scored on, its per-shape scores, and, for
    a task whose logits are an occupancy field (``scores_mesh``), the scores of the mesh extracted from it.

    The harness builds a task as ``cls(info, eval_cfg, **task_kwargs)``, where ``task_kwargs`` is the task's
    own ``[task_kwargs.NAME]`` table of bench.toml (empty when there is none); a task with settings takes them
    as keyword arguments of its ``__init__`` and calls ``super().__init__(info, eval_cfg)``. It aggregates
    per-shape scores (instance and category means) and never names a task.
    """

    name: ClassVar[str]
    kind: ClassVar[str]  # "point" | "shape"
    metrics: ClassVar[tuple[Metric, ...]]
    main_score: ClassVar[str]
    needs_parts: ClassVar[bool] = False
    scores_mesh: ClassVar[bool] = False
    """Point tasks only: ``occupancy_logits`` is a field the harness meshes (MISE) for ``mesh_scores``."""
    labels_points: ClassVar[bool] = False
    """Point tasks only: ``point_labels`` gives a label per point (exported meshes are coloured by it)."""
    contract_version: ClassVar[int] = 1
    """Set 2 (``CONTRACT_VERSION``) for the methods below that take a ``ShapeView``. 1, what a task written
    before contract 2 inherits: its store-and-index methods are called instead, with a DeprecationWarning."""

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

    # --- evaluation side (contract 2) -------------------------------------------------------------
    def eval_points(self, view: ShapeView) -> np.ndarray:
        """Point tasks: the query points the shape is scored on, as (M,) indices into ``view.points`` (or a
        (Q,) boolean mask over them); at most ``eval_cfg.n_iou_points`` of them."""
        raise NotImplementedError(f"{self.name} is not a point task")

    def shape_scores(self, logits: np.ndarray, view: ShapeView,
                     idx: np.ndarray | None = None) -> dict[str, float | None]:
        """Metrics of one shape. Point tasks: (M, C) logits at ``view.points[idx]``, ``idx`` the (M,) int64
        indices ``eval_points`` gave; shape tasks: (C,) logits, and no ``idx``."""
        raise NotImplementedError(f"{self.name} implements neither shape_scores nor the deprecated score_shape")

    def occupancy_logits(self, logits: np.ndarray) -> np.ndarray:
        """``scores_mesh`` tasks: (P, C) logits -> (P,) occupancy logits, meshed at eval.iou_threshold."""
        raise NotImplementedError(f"{self.name} does not score meshes")

    def mesh_scores(self, mesh: trimesh.Trimesh, view: ShapeView) -> dict[str, float | None]:
        """``scores_mesh`` tasks: metrics of the mesh extracted for the shape (merged into its scores)."""
        raise NotImplementedError(f"{self.name} does not score meshes")

    def point_labels(self, logits: np.ndarray, category: int) -> np.ndarray:
        """``labels_points`` tasks: (P, C) logits of points of a shape of ``category`` -> (P,) int labels."""
        raise NotImplementedError(f"{self.name} does not label points")

    def conventions(self) -> dict[str, Any]:
        """The conventions this task's metrics follow (recorded in result.json)."""
        return {}

    # --- contract 1 (deprecated) ------------------------------------------------------------------
    # What a contract-1 task overrides, and the harness calls on it. Here they answer from the contract-2
    # methods, so that a contract-1 subclass of a contract-2 task may still call them through super().
    def eval_indices(self, store: ShapeStore, i: int) -> np.ndarray:
        """Deprecated (contract 1): flat indices into ``store.points`` of the points shape i is scored on."""
        view = store.view(i)
        return int(store.p_off[i]) + view_indices(self.eval_points(view), view)

    def score_shape(self, logits: np.ndarray, store: ShapeStore, i: int, indices: np.ndarray | None) -> dict[str, float | None]:
        """Deprecated (contract 1): metrics of shape i; point tasks get (M, C) logits at flat ``indices``."""
        if indices is None:
            return self.shape_scores(logits, store.view(i))
        return self.shape_scores(logits, store.view(i), np.asarray(indices, np.int64) - int(store.p_off[i]))

    def score_mesh(self, mesh: trimesh.Trimesh, store: ShapeStore, i: int) -> dict[str, float | None]:
        """Deprecated (contract 1): metrics of the mesh extracted for shape i."""
        return self.mesh_scores(mesh, store.view(i))

    @classmethod
    def metric_info(cls) -> dict[str, Any]:
        """Main score, direction and label of every metric: what tables read to build their columns."""
        directions = {m.name: ("higher" if m.higher_is_better else "lower") for m in cls.metrics}
        labels = {m.name: m.label or m.name for m in cls.metrics}
        return {"main": cls.main_score, "directions": directions, "labels": labels, "kind": cls.kind,
                "scores_mesh": cls.scores_mesh, "labels_points": cls.labels_points}
