"""Occupancy reconstruction (ONet): one channel, BCE with logits; IoU on uniform points, and surface
metrics (Chamfer-L1, normal consistency, F-score) on the mesh the harness extracts from its field."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench.contracts import Metric, ShapeView, Task
from bench.evaluation.metrics import iou
from bench.evaluation.mesh_metrics import sample_mesh, surface_metrics

from . import setting


class Reconstruction(Task):
    """Occupancy reconstruction: BCE on query points; IoU, Chamfer-L1, normal consistency, F-score."""

    name: ClassVar[str] = "reconstruction"
    kind: ClassVar[str] = "point"
    main_score: ClassVar[str] = "iou"
    scores_mesh: ClassVar[bool] = True
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("iou", True, "volumetric IoU on uniform points in the padded box", "IoU"),
        Metric("chamfer_l1", False, "0.5 * (accuracy + completeness), Euclidean, 100k points", "Chamfer-L1"),
        Metric("normal_consistency", True, "mean |cos| between normals of nearest points, both ways", "normals"),
        Metric("fscore", True, "F-score at tau (fraction of the box side)", "F-score"),
    )
    contract_version: ClassVar[int] = 2

    def __init__(self, info, eval_cfg, fscore_tau: float | None = None, n_surface_samples: int | None = None):
        """``[task_kwargs.reconstruction]``: ``fscore_tau``, the F-score threshold as a fraction of the box side
        (0.01); ``n_surface_samples``, the points sampled on each mesh for the surface metrics (100000)."""
        super().__init__(info, eval_cfg)
        self.fscore_tau = float(setting(self.name, "fscore_tau", fscore_tau, getattr(eval_cfg, "fscore_tau", 0.01)))
        self.n_surface_samples = int(setting(self.name, "n_surface_samples", n_surface_samples,
                                             getattr(eval_cfg, "n_surface_samples", 100000)))

    def out_channels(self) -> int:
        return 1

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), batch["occ"].to(logits.dtype))

    def eval_points(self, view: ShapeView) -> np.ndarray:
        return view.uniform_indices(self.eval_cfg.n_iou_points)  # ONet: IoU on uniform points only

    def shape_scores(self, logits: np.ndarray, view: ShapeView, idx: np.ndarray) -> dict[str, float]:
        prob = 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))
        return {"iou": iou(prob >= self.eval_cfg.iou_threshold, view.occ[idx])}

    def occupancy_logits(self, logits: np.ndarray) -> np.ndarray:
        return logits[:, 0]

    def mesh_scores(self, mesh, view: ShapeView) -> dict[str, float]:
        pred, pred_n = sample_mesh(mesh, self.n_surface_samples, seed=view.index)
        gt, gt_n = view.surface.astype(np.float32), view.normals.astype(np.float32)
        m = surface_metrics(pred, pred_n, gt, gt_n, tau=self.fscore_tau * 1.0)  # box side is 1 (unit cube)
        return {k: m[k] for k in ("chamfer_l1", "normal_consistency", "fscore")}

    def conventions(self) -> dict[str, Any]:
        cfg = self.eval_cfg
        return {"iou_threshold": cfg.iou_threshold, "iou_points": "uniform in the box padded by 0.1",
                "n_iou_points": cfg.n_iou_points, "fscore_tau": self.fscore_tau,
                "mesh": {"method": "MISE + marching cubes", "start_resolution": cfg.mise_resolution,
                         "upsampling_steps": cfg.mise_upsampling, "threshold": cfg.iou_threshold,
                         "surface_samples": self.n_surface_samples, "shapes": cfg.mesh_shapes}
                if cfg.eval_mesh else None}
