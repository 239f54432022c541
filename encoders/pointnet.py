"""The classic PointNet global feature (Qi et al. 2017), for the paper's Table 1 comparison."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn


class PointNet(nn.Module):
    """Classic PointNet: shared MLP (64, 64, 64, 128, 1024) with batch norm, max-pool, linear to D."""

    modality: ClassVar[str] = "pointcloud"

    def __init__(self, latent_dim: int = 512, widths: Sequence[int] = (64, 64, 64, 128, 1024)):
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        c_in = 3
        for w in widths:
            layers += [nn.Conv1d(c_in, w, 1), nn.BatchNorm1d(w), nn.ReLU()]
            c_in = w
        self.mlp = nn.Sequential(*layers)
        self.fc = nn.Linear(c_in, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) points -> (B, latent_dim)."""
        feats = self.mlp(inputs.transpose(1, 2))  # (B, W, N)
        return self.fc(feats.max(dim=2).values)
