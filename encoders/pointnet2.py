"""PointNet++ with single-scale grouping (Qi et al. 2017, "PointNet++: Deep Hierarchical Feature Learning on
Point Sets in a Metric Space", the SSG classification network), in plain torch: no custom kernels, runs on CPUs.

Farthest point sampling and ball query follow the reference CUDA kernels (charlesq34/pointnet2,
tf_ops/sampling and tf_ops/grouping): FPS starts from point 0, so it is deterministic, and a ball with
fewer than K points is padded with its first neighbour (the points are taken in index order).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn


def farthest_point_sample(xyz: torch.Tensor, k: int) -> torch.Tensor:
    """(B, N, 3) points -> (B, k) indices of k points chosen by farthest point sampling, k <= N.

    Starts from point 0 and repeatedly adds the point farthest from those chosen so far (ties: the lowest
    index), as PointNet++'s kernel does: deterministic, and each batch element is sampled independently.
    """
    b, n, _ = xyz.shape
    if not 0 < k <= n:
        raise ValueError(f"farthest_point_sample: k={k} must be in 1..{n} (the number of points)")
    xyz = xyz.detach()
    batch = torch.arange(b, device=xyz.device)
    idx = torch.empty(b, k, dtype=torch.long, device=xyz.device)
    min_sq = torch.full((b, n), float("inf"), dtype=xyz.dtype, device=xyz.device)  # (B, N) to the chosen set
    farthest = torch.zeros(b, dtype=torch.long, device=xyz.device)
    for i in range(k):
        idx[:, i] = farthest
        sq = (xyz - xyz[batch, farthest].unsqueeze(1)).square().sum(-1)  # (B, N)
        min_sq = torch.minimum(min_sq, sq)
        farthest = min_sq.argmax(dim=1)  # the first maximum: chosen points have 0 and are never picked again
    return idx


def ball_query(xyz: torch.Tensor, centres: torch.Tensor, radius: float, k: int) -> torch.Tensor:
    """(B, N, 3) points, (B, S, 3) centres -> (B, S, k) indices of up to k points within `radius` of each centre.

    The points in a ball are taken in index order (the first k, not the k nearest); a ball holding fewer
    than k points is padded with its first neighbour (PointNet++'s query_ball_point). A ball holding no
    point at all (possible only when a centre is not one of the points) gets the nearest point instead.
    """
    n = xyz.shape[1]
    centres, xyz = centres.detach(), xyz.detach()
    sq = sum((centres[:, :, j, None] - xyz[:, None, :, j]).square() for j in range(3))  # (B, S, N); 4x faster than a (B, S, N, 3) sum
    idx = torch.where(sq > radius * radius, n, torch.arange(n, device=xyz.device))  # n: outside the ball
    idx = idx.topk(min(k, n), dim=-1, largest=False).values  # (B, S, min(k, N)): ball members first
    if idx.shape[-1] < k:
        idx = torch.cat([idx, idx.new_full((*idx.shape[:-1], k - idx.shape[-1]), n)], dim=-1)  # (B, S, k)
    first = idx[..., :1]
    first = torch.where(first == n, sq.argmin(dim=-1, keepdim=True), first)  # (B, S, 1)
    return torch.where(idx == n, first.expand_as(idx), idx)


def gather(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """(B, N, C) values, (B, ...) indices into N -> (B, ..., C)."""
    batch = torch.arange(x.shape[0], device=x.device).view(-1, *([1] * (idx.dim() - 1)))
    return x[batch, idx]


class SharedMLP(nn.Module):
    """PointNet's shared MLP (a 1x1 convolution): Linear (no bias) + BatchNorm + ReLU per layer.

    (..., C_in) -> (..., widths[-1]); written with Linear on channels-last tensors, which is faster on a
    CPU than Conv2d on (B, C, S, K) and computes the same function.
    """

    def __init__(self, c_in: int, widths: Sequence[int]):
        super().__init__()
        self.linears = nn.ModuleList()
        self.norms = nn.ModuleList()
        for w in widths:
            self.linears.append(nn.Linear(c_in, w, bias=False))  # the batch norm's shift is the bias
            self.norms.append(nn.BatchNorm1d(w))
            c_in = w
        self.out_channels = c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])  # (L, C): batch norm over every point of every group
        for linear, norm in zip(self.linears, self.norms):
            x = torch.relu(norm(linear(x)))
        return x.view(*lead, -1)


class SetAbstraction(nn.Module):
    """One set-abstraction level: FPS centres, ball-query groups, shared MLP on [relative xyz, features], max-pool.

    forward: (B, N, 3) points, (B, N, C) features or None -> (B, S, 3) centres, (B, S, C') features, with
    S = min(npoint, N). With ``npoint=None`` it is PointNet++'s group-all level: one group of every point,
    absolute coordinates (the centre is the origin), S = 1.
    """

    def __init__(self, npoint: int | None, radius: float | None, nsample: int | None, c_in: int,
                 widths: Sequence[int]):
        super().__init__()
        self.npoint, self.radius, self.nsample = npoint, radius, nsample
        self.mlp = SharedMLP(c_in + 3, widths)
        self.out_channels = self.mlp.out_channels

    def forward(self, xyz: torch.Tensor, feats: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        if self.npoint is None:
            centres = xyz.new_zeros(xyz.shape[0], 1, 3)  # (B, 1, 3)
            grouped = xyz.unsqueeze(1)  # (B, 1, N, 3)
            if feats is not None:
                grouped = torch.cat([grouped, feats.unsqueeze(1)], dim=-1)  # (B, 1, N, 3 + C)
        else:
            centres = gather(xyz, farthest_point_sample(xyz, min(self.npoint, xyz.shape[1])))  # (B, S, 3)
            idx = ball_query(xyz, centres, self.radius, self.nsample)  # (B, S, K)
            grouped = gather(xyz, idx) - centres.unsqueeze(2)  # (B, S, K, 3) relative coordinates
            if feats is not None:
                grouped = torch.cat([grouped, gather(feats, idx)], dim=-1)  # (B, S, K, 3 + C)
        return centres, self.mlp(grouped).max(dim=2).values  # (B, S, C')


class PointNet2(nn.Module):
    """PointNet++ SSG: set-abstraction levels (FPS + ball query + shared MLP + max-pool), a group-all level,
    linear to D.

    Paper (ModelNet, 1024 points in the unit sphere): npoints 512-128, radii 0.2-0.4, K 32-64,
    MLPs (64, 64, 128), (128, 128, 256), group-all (256, 512, 1024). The defaults keep the MLPs, radii and K
    and scale the centres to our 300-point inputs (docs/models.md). No features besides xyz are used.
    """

    modality: ClassVar[str] = "pointcloud"

    def __init__(self, latent_dim: int = 512, npoints: Sequence[int] = (128, 32),
                 radii: Sequence[float] = (0.2, 0.4), nsamples: Sequence[int] = (32, 64),
                 mlps: Sequence[Sequence[int]] = ((64, 64, 128), (128, 128, 256)),
                 global_mlp: Sequence[int] = (256, 512, 1024)):
        super().__init__()
        if not len(npoints) == len(radii) == len(nsamples) == len(mlps):
            raise ValueError(f"PointNet2: npoints, radii, nsamples and mlps need one entry per level, got "
                             f"{len(npoints)}, {len(radii)}, {len(nsamples)} and {len(mlps)}")
        self.latent_dim = latent_dim
        self.levels = nn.ModuleList()
        c_in = 0
        for npoint, radius, nsample, widths in zip(npoints, radii, nsamples, mlps):
            self.levels.append(SetAbstraction(int(npoint), float(radius), int(nsample), c_in, widths))
            c_in = self.levels[-1].out_channels
        self.levels.append(SetAbstraction(None, None, None, c_in, global_mlp))
        self.fc = nn.Linear(self.levels[-1].out_channels, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) points -> (B, latent_dim)."""
        xyz, feats = inputs, None
        for level in self.levels:
            xyz, feats = level(xyz, feats)  # (B, S, 3), (B, S, C); the last level: S = 1
        return self.fc(feats.squeeze(1))
