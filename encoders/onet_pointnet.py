"""Occupancy Networks' ResNet-PointNet point-cloud encoder (im2mesh/encoder/pointnet.py: ResnetPointnet)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from implicit_bench_encoders._blocks import ResnetBlockFC


class ResNetPointNet(nn.Module):
    """ONet's ResNet-PointNet: residual FC blocks with max-pool concatenation (the paper's encoder)."""

    modality: ClassVar[str] = "pointcloud"

    def __init__(self, latent_dim: int = 512, hidden_dim: int = 512, n_blocks: int = 5):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc_pos = nn.Linear(3, 2 * hidden_dim)
        self.blocks = nn.ModuleList(
            [ResnetBlockFC(2 * hidden_dim, hidden_dim) for _ in range(n_blocks)]
        )
        self.fc_c = nn.Linear(hidden_dim, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) points -> (B, latent_dim)."""
        net = self.blocks[0](self.fc_pos(inputs))  # (B, N, H)
        for block in self.blocks[1:]:
            pooled = net.max(dim=1, keepdim=True).values.expand_as(net)  # (B, N, H)
            net = block(torch.cat([net, pooled], dim=2))  # (B, N, 2H) -> (B, N, H)
        return self.fc_c(torch.relu(net.max(dim=1).values))
