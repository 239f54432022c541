"""DGCNN (Wang et al. 2019): EdgeConv on a dynamic k-NN graph; a stronger modern point-cloud baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn


def knn(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, N) features -> (B, N, k) indices of each point's k nearest neighbours (itself included)."""
    sq = (x * x).sum(1)  # (B, N)
    dist = sq.unsqueeze(2) - 2 * torch.bmm(x.transpose(1, 2), x) + sq.unsqueeze(1)  # (B, N, N)
    return dist.topk(k, dim=-1, largest=False).indices


def edge_features(x: torch.Tensor, k: int) -> torch.Tensor:
    """(B, C, N) -> (B, 2C, N, k): [x_j - x_i, x_i] for the k neighbours j of each i."""
    b, c, n = x.shape
    idx = knn(x, k)  # (B, N, k)
    flat = (idx + torch.arange(b, device=x.device).view(-1, 1, 1) * n).reshape(-1)
    pts = x.transpose(1, 2).reshape(b * n, c)
    neigh = pts[flat].view(b, n, k, c)
    centre = x.transpose(1, 2).unsqueeze(2).expand(-1, -1, k, -1)
    return torch.cat([neigh - centre, centre], dim=3).permute(0, 3, 1, 2).contiguous()


class DGCNN(nn.Module):
    """DGCNN: EdgeConv layers (k-NN in feature space), concatenated, max+avg pooled, linear to D."""

    modality: ClassVar[str] = "pointcloud"

    def __init__(self, latent_dim: int = 512, k: int = 20, widths: Sequence[int] = (64, 64, 128, 256),
                 emb_dim: int = 1024):
        super().__init__()
        self.latent_dim, self.k = latent_dim, k
        self.edge_convs = nn.ModuleList()
        c_in = 3
        for w in widths:
            self.edge_convs.append(nn.Sequential(nn.Conv2d(2 * c_in, w, 1, bias=False), nn.BatchNorm2d(w),
                                                 nn.LeakyReLU(0.2)))
            c_in = w
        self.embed = nn.Sequential(nn.Conv1d(sum(widths), emb_dim, 1, bias=False), nn.BatchNorm1d(emb_dim),
                                   nn.LeakyReLU(0.2))
        self.fc = nn.Linear(2 * emb_dim, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) points -> (B, latent_dim)."""
        x = inputs.transpose(1, 2)  # (B, 3, N)
        k = min(self.k, x.shape[2])
        feats = []
        for conv in self.edge_convs:
            x = conv(edge_features(x, k)).max(dim=3).values  # (B, W, N)
            feats.append(x)
        emb = self.embed(torch.cat(feats, dim=1))  # (B, E, N)
        return self.fc(torch.cat([emb.max(dim=2).values, emb.mean(dim=2)], dim=1))
