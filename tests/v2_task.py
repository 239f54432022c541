"""A task plugin written against task contract 2, with settings of its own from [task_kwargs.NAME]: the
occupancy accuracy of the near-surface query points (a boolean mask from eval_points), at a threshold."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench.contracts import Metric, ShapeView, Task


class NearSurfaceAccuracy(Task):
    """Occupancy accuracy near the surface: BCE on query points; share of near-surface points right."""

    name: ClassVar[str] = "near_accuracy"
    kind: ClassVar[str] = "point"
    main_score: ClassVar[str] = "near_accuracy"
    contract_version: ClassVar[int] = 2
    metrics: ClassVar[tuple[Metric, ...]] = (
        Metric("near_accuracy", True, "share of the near-surface query points classified right", "near acc"),
        Metric("near_points", True, "near-surface query points scored"),
    )

    def __init__(self, info, eval_cfg, threshold: float = 0.5, max_points: int = 0):
        super().__init__(info, eval_cfg)
        self.threshold, self.max_points = threshold, max_points

    def out_channels(self) -> int:
        return 1

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logits.squeeze(-1), batch["occ"].to(logits.dtype))

    def eval_points(self, view: ShapeView) -> np.ndarray:
        near = np.arange(len(view.points)) >= view.n_uniform  # a boolean mask over view.points
        if self.max_points:
            near &= np.cumsum(near) <= self.max_points
        return near

    def shape_scores(self, logits: np.ndarray, view: ShapeView, idx: np.ndarray) -> dict[str, float | None]:
        if len(idx) == 0:
            return {"near_accuracy": None, "near_points": 0.0}
        prob = 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))
        return {"near_accuracy": float(((prob >= self.threshold) == view.occ[idx]).mean()),
                "near_points": float(len(idx))}

    def conventions(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "max_points": self.max_points}
