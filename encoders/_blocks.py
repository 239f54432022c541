"""Layers shared by the built-in encoders."""

from __future__ import annotations

import torch
from torch import nn


class ResnetBlockFC(nn.Module):
    """ONet's fully connected residual block: (..., size_in) -> (..., size_out)."""

    def __init__(self, size_in: int, size_out: int | None = None, size_h: int | None = None):
        super().__init__()
        size_out = size_out or size_in
        size_h = size_h or min(size_in, size_out)
        self.fc_0 = nn.Linear(size_in, size_h)
        self.fc_1 = nn.Linear(size_h, size_out)
        self.shortcut = None if size_in == size_out else nn.Linear(size_in, size_out, bias=False)
        nn.init.zeros_(self.fc_1.weight)  # ONet: each block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        net = self.fc_0(torch.relu(x))
        dx = self.fc_1(torch.relu(net))
        return (x if self.shortcut is None else self.shortcut(x)) + dx
