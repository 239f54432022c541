"""Shape classification from the latent code: a 2-layer MLP, cross-entropy; overall and class-mean accuracy."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.contracts import Metric, ShapeView, Task

from . import setting


class Classification(Task):
    """Classification: 2-layer MLP on the latent, cross-entropy; accuracy and class-mean accuracy."""

    name: ClassVar[str] = "classification"
    kind: ClassVar[str] = "shape"
    main_score: ClassVar[str] = "accuracy"
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("accuracy", True, "share of test shapes classified right", "accuracy"),)
    contract_version: ClassVar[int] = 2

    def __init__(self, info, eval_cfg, classifier_hidden: int | None = None):
        """``[task_kwargs.classification]``: ``classifier_hidden``, the hidden width of the MLP (256; until it is
        set there, the deprecated ``model.classifier_hidden`` gives it)."""
        super().__init__(info, eval_cfg)
        self.classifier_hidden = classifier_hidden

    def build_head(self, latent_dim: int, model_cfg) -> nn.Module:
        hidden = int(setting(self.name, "classifier_hidden", self.classifier_hidden,
                             getattr(model_cfg, "classifier_hidden", 256)))
        return nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, len(self.info.categories)))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits, batch["category"])

    def shape_scores(self, logits: np.ndarray, view: ShapeView, idx: None = None) -> dict[str, float]:
        return {"accuracy": float(int(np.argmax(logits)) == view.category)}
