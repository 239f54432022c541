"""A latent-set transformer encoder in the style of 3DShape2VecSet (Zhang et al. 2023, "3DShape2VecSet: A 3D
Shape Representation for Neural Fields and Generative Diffusion Models") and the Perceiver (Jaegle et al. 2021).

Each input point gets a Fourier embedding (3DShape2VecSet's PointEmbed); a set of learned query vectors
cross-attends to the points (their "learnable queries" variant); self-attention blocks mix the latent set;
the set is mean-pooled and projected to one latent vector, as the benchmark's contract asks.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn


class FourierEmbed(nn.Module):
    """(B, N, 3) -> (B, N, W): Linear([x, sin(2^i pi x), cos(2^i pi x)] for i < n_freqs, per axis)."""

    def __init__(self, width: int, n_freqs: int = 8):
        super().__init__()
        self.register_buffer("freqs", (2.0 ** torch.arange(n_freqs)) * math.pi, persistent=False)  # (F,)
        self.proj = nn.Linear(3 + 6 * n_freqs, width)

    def forward(self, xyz: torch.Tensor) -> torch.Tensor:
        angles = (xyz.unsqueeze(-1) * self.freqs).flatten(-2)  # (B, N, 3F)
        return self.proj(torch.cat([xyz, angles.sin(), angles.cos()], dim=-1))  # (B, N, 3 + 6F) -> (B, N, W)


class Attention(nn.Module):
    """Multi-head attention: (B, M, W) queries, (B, N, W) context -> (B, M, W); 4 W^2 + 4 W parameters."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(width, width)
        self.to_kv = nn.Linear(width, 2 * width)
        self.to_out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, m, w = x.shape
        q = self.to_q(x).view(b, m, self.heads, -1).transpose(1, 2)  # (B, h, M, W/h)
        k, v = self.to_kv(context).view(b, context.shape[1], 2, self.heads, -1).permute(2, 0, 3, 1, 4)  # (B, h, N, W/h)
        out = F.scaled_dot_product_attention(q, k, v)  # (B, h, M, W/h)
        return self.to_out(out.transpose(1, 2).reshape(b, m, w))


class Block(nn.Module):
    """Pre-norm transformer block: latents += attention(LN(latents), LN(context)); latents += MLP(LN(latents)).

    Cross-attention when built with ``cross=True`` (the context is the point features), else self-attention.
    (B, M, W) latents [, (B, N, W) context] -> (B, M, W).
    """

    def __init__(self, width: int, heads: int, mlp_ratio: int, cross: bool):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.norm_context = nn.LayerNorm(width) if cross else None
        self.attn = Attention(width, heads)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))

    def forward(self, latents: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        x = self.norm(latents)
        ctx = x if self.norm_context is None else self.norm_context(context)
        latents = latents + self.attn(x, ctx)
        return latents + self.mlp(self.norm_mlp(latents))


class LatentSetTransformer(nn.Module):
    """Latent-set transformer: Fourier point embedding, M learned queries cross-attend to the N points, `depth`
    self-attention blocks over the M latents, final LayerNorm, mean over the set, linear to D.

    Defaults are the paper-ish size of docs/models.md: 3DShape2VecSet's width 512, 8 heads, 512 latents and
    8 frequencies, with 8 self-attention blocks in the encoder.
    """

    modality: ClassVar[str] = "pointcloud"

    def __init__(self, latent_dim: int = 512, width: int = 512, heads: int = 8, num_latents: int = 512,
                 depth: int = 8, n_freqs: int = 8, mlp_ratio: int = 4):
        super().__init__()
        if width % heads:
            raise ValueError(f"LatentSetTransformer: width {width} must be divisible by heads {heads}")
        self.latent_dim = latent_dim
        self.embed = FourierEmbed(width, n_freqs)
        self.queries = nn.Parameter(torch.empty(num_latents, width))  # (M, W)
        nn.init.trunc_normal_(self.queries, std=0.02)
        self.cross = Block(width, heads, mlp_ratio, cross=True)
        self.blocks = nn.ModuleList([Block(width, heads, mlp_ratio, cross=False) for _ in range(depth)])
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, latent_dim)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, N, 3) points -> (B, latent_dim)."""
        points = self.embed(inputs)  # (B, N, W)
        latents = self.cross(self.queries.expand(inputs.shape[0], -1, -1), points)  # (B, M, W)
        for block in self.blocks:
            latents = block(latents)  # (B, M, W)
        return self.fc(self.norm(latents).mean(dim=1))  # (B, W) -> (B, D)
