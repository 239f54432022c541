"""Task plugins written against task contract 1, as a third party wrote them before contract 2: the built-in
tasks as they were (whole split store, flat indices into store.points, settings from [eval] / [model]),
under their own names. The harness must still train and score them, with a DeprecationWarning, and give the
numbers the built-in tasks (now contract 2) give."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.contracts import Metric, Task
from bench.evaluation.mesh_metrics import sample_mesh, surface_metrics
from bench.evaluation.metrics import iou, part_miou
from implicit_bench_tasks.reconstruction import Reconstruction


class OldReconstruction(Task):
    """Occupancy reconstruction, contract 1: IoU on uniform points, surface metrics on the mesh."""

    name: ClassVar[str] = "old_reconstruction"
    kind: ClassVar[str] = "point"
    main_score: ClassVar[str] = "iou"
    scores_mesh: ClassVar[bool] = True
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("iou", True, "volumetric IoU on uniform points", "IoU"),
        Metric("chamfer_l1", False, "Chamfer-L1", "Chamfer-L1"),
        Metric("normal_consistency", True, "normal consistency", "normals"),
        Metric("fscore", True, "F-score at tau", "F-score"),
    )

    def out_channels(self) -> int:
        return 1

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), batch["occ"].to(logits.dtype))

    def eval_indices(self, store, i: int) -> np.ndarray:
        sl = store.query(i, uniform_only=True)
        idx = np.arange(sl.start, sl.stop)
        return idx[: self.eval_cfg.n_iou_points]

    def score_shape(self, logits, store, i, indices) -> dict[str, float]:
        prob = 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))
        return {"iou": iou(prob >= self.eval_cfg.iou_threshold, store.occ[indices])}

    def occupancy_logits(self, logits: np.ndarray) -> np.ndarray:
        return logits[:, 0]

    def score_mesh(self, mesh, store, i: int) -> dict[str, float]:
        cfg = self.eval_cfg
        pred, pred_n = sample_mesh(mesh, cfg.n_surface_samples, seed=i)
        sl = store.surf(i)
        gt, gt_n = store.surface[sl].astype(np.float32), store.normals[sl].astype(np.float32)
        m = surface_metrics(pred, pred_n, gt, gt_n, tau=cfg.fscore_tau * 1.0)
        return {k: m[k] for k in ("chamfer_l1", "normal_consistency", "fscore")}

    def conventions(self) -> dict[str, Any]:
        return {"iou_threshold": self.eval_cfg.iou_threshold, "n_surface_samples": self.eval_cfg.n_surface_samples}


class OldSegmentation(Task):
    """Voronoi part segmentation, contract 1: mIoU on the IoU points inside the true shape."""

    name: ClassVar[str] = "old_segmentation"
    kind: ClassVar[str] = "point"
    main_score: ClassVar[str] = "miou"
    needs_parts: ClassVar[bool] = True
    labels_points: ClassVar[bool] = True
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("miou", True, "mean part IoU per shape", "part mIoU"),)

    def out_channels(self) -> int:
        return len(self.info.part_names)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["part"]
        if not (labels >= 0).any():
            return logits.sum() * 0.0
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-1)

    def eval_indices(self, store, i: int) -> np.ndarray:
        if self.eval_cfg.seg_points == "uniform":
            sl = store.query(i, uniform_only=True)
            idx = np.arange(sl.start, sl.stop)[: self.eval_cfg.n_iou_points]
        else:
            sl = store.query(i)
            idx = np.arange(sl.start, sl.stop)
        return idx[store.occ[idx]]

    def score_shape(self, logits, store, i, indices) -> dict[str, float]:
        parts = self.info.categories[int(store.category[i])].parts
        if len(indices) == 0:
            return {"miou": None}
        pred = self.point_labels(logits, int(store.category[i]))
        return {"miou": part_miou(pred, store.labels[indices], parts, self.eval_cfg.miou_absent)}

    def point_labels(self, logits: np.ndarray, category: int) -> np.ndarray:
        if self.eval_cfg.seg_argmax == "all":
            return np.argmax(logits, axis=1)
        parts = self.info.categories[category].parts
        return np.asarray(parts)[np.argmax(logits[:, parts], axis=1)]


class OldClassification(Task):
    """Classification, contract 1: a 2-layer MLP as wide as model.classifier_hidden; accuracy."""

    name: ClassVar[str] = "old_classification"
    kind: ClassVar[str] = "shape"
    main_score: ClassVar[str] = "accuracy"
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("accuracy", True, "share of shapes classified right"),)

    def build_head(self, latent_dim: int, model_cfg) -> nn.Module:
        return nn.Sequential(nn.Linear(latent_dim, model_cfg.classifier_hidden), nn.ReLU(),
                             nn.Linear(model_cfg.classifier_hidden, len(self.info.categories)))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits, batch["category"])

    def score_shape(self, logits, store, i, indices) -> dict[str, float]:
        return {"accuracy": float(int(np.argmax(logits)) == int(store.category[i]))}


class IoUFromContract1(Reconstruction):
    """A subclass of the built-in reconstruction written when it followed contract 1: its overrides take the
    store and call super() the contract-1 way (Task's contract-1 methods answer from the contract-2 ones)."""

    def eval_indices(self, store, i: int) -> np.ndarray:
        return super().eval_indices(store, i)

    def score_shape(self, logits, store, i, indices) -> dict[str, float]:
        return dict(super().score_shape(logits, store, i, indices))

    def score_mesh(self, mesh, store, i: int) -> dict[str, float]:
        return super().score_mesh(mesh, store, i)
