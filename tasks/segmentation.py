"""The paper's Voronoi part segmentation (Sec. 3.2): one channel per part of the dataset; cross-entropy
over query points inside the shape only; instance and category mIoU on points inside the true shape."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench.contracts import Metric, Task
from bench.evaluation.metrics import part_miou


class Segmentation(Task):
    """Voronoi part segmentation: CE over interior query points; instance and category mIoU."""

    name: ClassVar[str] = "segmentation"
    kind: ClassVar[str] = "point"
    main_score: ClassVar[str] = "miou"
    needs_parts: ClassVar[bool] = True
    labels_points: ClassVar[bool] = True
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("miou", True, "mean part IoU per shape", "part mIoU"),)

    def out_channels(self) -> int:
        return len(self.info.part_names)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        labels = batch["part"]  # (B, M), -1 outside: ignored, as the paper trains on interior points only
        if not (labels >= 0).any():
            return logits.sum() * 0.0
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-1)

    def eval_indices(self, store, i: int) -> np.ndarray:
        if self.eval_cfg.seg_points == "uniform":  # the paper: the IoU points, kept where inside the shape
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
        # ShapeNetPart's protocol: the argmax runs over the parts of the shape's category.
        parts = self.info.categories[category].parts
        return np.asarray(parts)[np.argmax(logits[:, parts], axis=1)]

    def conventions(self) -> dict[str, Any]:
        cfg = self.eval_cfg
        points = ("the IoU points (uniform in the padded box) inside the true shape" if cfg.seg_points == "uniform"
                  else "every stored query point inside the true shape (uniform + near-surface)")
        return {"absent_part_rule": cfg.miou_absent, "points": points, "n_iou_points": cfg.n_iou_points,
                "argmax_over": "parts of the shape's true category" if cfg.seg_argmax == "category" else "all parts",
                "miou": "mean over the parts of the shape's category, per shape"}
