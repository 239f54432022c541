"""Shape classification from the latent code: a 2-layer MLP, cross-entropy; overall and class-mean accuracy."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.contracts import Metric, Task


class Classification(Task):
    """Classification: 2-layer MLP on the latent, cross-entropy; accuracy and class-mean accuracy."""

    name: ClassVar[str] = "classification"
    kind: ClassVar[str] = "shape"
    main_score: ClassVar[str] = "accuracy"
    metrics: ClassVar[tuple[Metric, ...]] = (Metric("accuracy", True, "share of test shapes classified right", "accuracy"),)

    def build_head(self, latent_dim: int, model_cfg) -> nn.Module:
        return nn.Sequential(nn.Linear(latent_dim, model_cfg.classifier_hidden), nn.ReLU(),
                             nn.Linear(model_cfg.classifier_hidden, len(self.info.categories)))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits, batch["category"])

    def score_shape(self, logits, store, i, indices) -> dict[str, float]:
        return {"accuracy": float(int(np.argmax(logits)) == int(store.category[i]))}
