"""Deliberately broken encoders, for the contract checks and the failure-recording tests."""

import torch
from torch import nn


class _Base(nn.Module):
    modality = "pointcloud"

    def __init__(self, latent_dim: int = 8):
        super().__init__()
        self.latent_dim = latent_dim
        self.fc = nn.Linear(3, latent_dim)


class WrongShape(_Base):
    """Returns one latent per point instead of one per shape."""

    def forward(self, x):
        return self.fc(x)


class ReturnsNaN(_Base):
    def forward(self, x):
        return self.fc(x).max(1).values * float("nan")


class BatchDependent(_Base):
    """Normalises with batch statistics even in eval mode."""

    def forward(self, x):
        z = self.fc(x).max(1).values
        return z - z.mean(0, keepdim=True)


class Raises(_Base):
    def forward(self, x):
        raise RuntimeError("kaboom inside the plugin")


class NoModality(nn.Module):
    def __init__(self, latent_dim: int = 8):
        super().__init__()
        self.latent_dim = latent_dim


class NaNGradient(_Base):
    """Finite forward and loss, NaN gradients from training step ``good_steps`` on: sqrt has an infinite
    derivative at 0, and 0 * inf = NaN (the value added is sqrt(0) = 0)."""

    good_steps = 2

    def __init__(self, latent_dim: int = 8):
        super().__init__(latent_dim)
        self.train_calls = 0

    def forward(self, x):
        z = self.fc(x).max(1).values
        if self.training:  # the contract check and validation run in eval mode: only training steps count
            self.train_calls += 1
            if self.train_calls > self.good_steps:
                return z + torch.sqrt(z * 0.0)
        return z


class NaNInEval(_Base):
    """Finite in training mode, NaN in eval mode (an eval-only branch gone wrong)."""

    def forward(self, x):
        z = self.fc(x).max(1).values
        return z if self.training else z * float("nan")
