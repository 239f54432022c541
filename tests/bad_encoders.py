"""Deliberately broken encoders, for the contract checks and the failure-recording tests."""

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
