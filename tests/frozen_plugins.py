"""Encoder plugins that bring their own trained weights, for the frozen-from-plugin tests (tests/test_frozen_sources.py)."""

import torch
from torch import nn


class _Tiny(nn.Module):
    """(B, N, 3) points -> (B, D): a shared linear layer with batch norm, then max-pool."""

    modality = "pointcloud"

    def __init__(self, latent_dim: int = 16, hidden: int = 8):
        super().__init__()
        self.latent_dim = latent_dim
        self.point = nn.Linear(3, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.out = nn.Linear(hidden, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        h = self.point(inputs)  # (B, N, H)
        h = torch.relu(self.norm(h.transpose(1, 2))).transpose(1, 2)
        return self.out(h.max(dim=1).values)


def fixed_state(module: nn.Module, seed: int = 1234) -> dict[str, torch.Tensor]:
    """What a pretrained encoder's file would hold: weights from a fixed seed, and batch-norm statistics that are
    not the defaults (so that a test sees whether buffers are kept)."""
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in module.state_dict().items():
        if value.is_floating_point():
            state[key] = torch.rand(value.shape, generator=gen) + (0.5 if key.endswith("running_var") else 0.0)
        else:
            state[key] = torch.full_like(value, 7)
    return state


class ProvidesWeights(_Tiny):
    """Loads its own 'trained' weights when built, and says so."""

    provides_weights = True

    def __init__(self, latent_dim: int = 16, hidden: int = 8):
        super().__init__(latent_dim, hidden)
        self.load_state_dict(fixed_state(self))


class DoesNotDeclare(ProvidesWeights):
    """The same weights, without the declaration."""

    provides_weights = False


class ClaimsButRandom(_Tiny):
    """Declares provides_weights but initialises at random: two builds give two encoders."""

    provides_weights = True
