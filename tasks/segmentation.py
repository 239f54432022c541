"""The paper's Voronoi part segmentation (Sec. 3.2): one channel per part of the dataset; cross-entropy
over query points inside the shape only; instance and category mIoU on points inside the true shape."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench.contracts import Metric, ShapeView, Task
from bench.evaluation.metrics import part_miou

from . import setting


class Segmentation(Task):
    """Voronoi part segmentation: CE over interior query points; instance and category mIoU."""

    name: ClassVar[str] = "segmentation"
    kind: ClassVar[str] = "point"
    main_score: ClassVar[str] = "miou"
    needs_parts: ClassVar[bool] = True
    labels_points: ClassVar[bool] = True
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("miou", True, "mean part IoU per shape", "part mIoU"),)
    contract_version: ClassVar[int] = 2

    def __init__(self, info, eval_cfg, seg_points: str | None = None, seg_argmax: str | None = None,
                 miou_absent: str | None = None):
        """``[task_kwargs.segmentation]``:

        - ``seg_points``: the points part mIoU is scored on: ``"uniform"`` (default) -> the IoU points inside
          the true shape (the paper's 'same sample points'); ``"all"`` -> every stored query point inside
          (uniform + near-surface).
        - ``seg_argmax``: the predicted part: ``"category"`` (default) -> argmax over the parts of the shape's
          true category (ShapeNetPart's protocol; it reads the test label); ``"all"`` -> argmax over every part
          (the paper profile: the paper does not say it restricts).
        - ``miou_absent``: a part with no ground-truth points: ``"gt"`` (default) -> scores 1 (the paper);
          ``"both"`` -> 1 only if also not predicted (PointNet's rule; a predicted absent part scores 0).
        """
        super().__init__(info, eval_cfg)
        self.seg_points = setting(self.name, "seg_points", seg_points, getattr(eval_cfg, "seg_points", "uniform"),
                                  ("uniform", "all"))
        self.seg_argmax = setting(self.name, "seg_argmax", seg_argmax, getattr(eval_cfg, "seg_argmax", "category"),
                                  ("category", "all"))
        self.miou_absent = setting(self.name, "miou_absent", miou_absent, getattr(eval_cfg, "miou_absent", "gt"),
                                   ("gt", "both"))

    def out_channels(self) -> int:
        return len(self.info.part_names)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["part"]  # (B, M), -1 outside: ignored, as the paper trains on interior points only
        if not (labels >= 0).any():
            return logits.sum() * 0.0
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-1)

    def eval_points(self, view: ShapeView) -> np.ndarray:
        if self.seg_points == "uniform":  # the paper: the IoU points, kept where inside the shape
            idx = view.uniform_indices(self.eval_cfg.n_iou_points)
        else:
            idx = np.arange(len(view.points))
        return idx[view.occ[idx]]

    def shape_scores(self, logits: np.ndarray, view: ShapeView, idx: np.ndarray) -> dict[str, float | None]:
        parts = self.info.categories[view.category].parts
        if len(idx) == 0:
            return {"miou": None}
        pred = self.point_labels(logits, view.category)
        return {"miou": part_miou(pred, view.labels[idx], parts, self.miou_absent)}

    def point_labels(self, logits: np.ndarray, category: int) -> np.ndarray:
        if self.seg_argmax == "all":
            return np.argmax(logits, axis=1)
        # ShapeNetPart's protocol: the argmax runs over the parts of the shape's category.
        parts = self.info.categories[category].parts
        return np.asarray(parts)[np.argmax(logits[:, parts], axis=1)]

    def conventions(self) -> dict[str, Any]:
        points = ("the IoU points (uniform in the padded box) inside the true shape" if self.seg_points == "uniform"
                  else "every stored query point inside the true shape (uniform + near-surface)")
        return {"absent_part_rule": self.miou_absent, "points": points, "n_iou_points": self.eval_cfg.n_iou_points,
                "argmax_over": "parts of the shape's true category" if self.seg_argmax == "category" else "all parts",
                "miou": "mean over the parts of the shape's category, per shape"}
