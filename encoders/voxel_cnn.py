"""Occupancy Networks' 3D-CNN voxel encoder (im2mesh/encoder/voxels.py: VoxelEncoder)."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn


class VoxelCNN(nn.Module):
    """ONet's voxel encoder: 3D convolutions with stride 2 on a 32^3 grid, then a linear layer to D."""

    modality: ClassVar[str] = "voxels"

    def __init__(self, latent_dim: int = 256, base_width: int = 32, resolution: int = 32):
        super().__init__()
        self.latent_dim = latent_dim
        w = base_width
        self.conv_in = nn.Conv3d(1, w, 3, padding=1)
        self.convs = nn.ModuleList([nn.Conv3d(w * 2**i, w * 2 ** (i + 1), 3, padding=1, stride=2) for i in range(4)])
        side = resolution // 16
        self.fc = nn.Linear(w * 16 * side**3, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, R, R, R) occupancy grid -> (B, latent_dim)."""
        net = self.conv_in(inputs.unsqueeze(1))  # (B, W, R, R, R)
        for conv in self.convs:
            net = conv(torch.relu(net))  # halves R, doubles W
        return self.fc(torch.relu(net.flatten(1)))
