"""A concatenation-conditioned residual MLP point decoder: the simplest conditioning, for comparison."""

from __future__ import annotations

import torch
from torch import nn


class ConcatDecoder(nn.Module):
    """Concatenation-conditioned MLP: [p, z] -> residual FC blocks -> logits. (B, M, 3), (B, D) -> (B, M, C)."""

    def __init__(self, latent_dim: int, out_channels: int = 1, hidden: int = 256, blocks: int = 5):
        super().__init__()
        self.out_channels = out_channels
        self.fc_p = nn.Linear(3, hidden)
        self.fc_z = nn.Linear(latent_dim, hidden)
        self.fcs = nn.ModuleList([nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
                                  for _ in range(blocks)])
        self.fc_out = nn.Linear(hidden, out_channels)

    def forward(self, points: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        net = self.fc_p(points) + self.fc_z(z).unsqueeze(1)  # (B, M, H): concat then linear == sum of linears
        for fc in self.fcs:
            net = net + fc(net)
        return self.fc_out(torch.relu(net))
