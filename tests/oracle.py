"""An analytic oracle for the evaluation: spheres whose parts are split by the plane z = 0, written in the
bench dataset format, and a point decoder (a ``bench.decoders`` plugin given as module:attr) whose logits
are a known sphere of radius ``radius`` with the same plane split. Every metric then has a closed form."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from bench.data.format import Category, DatasetInfo, write_shape

BOUND = 0.55  # the unit cube padded by 0.1: ONet's query box
PARTS = {"big": (0, 1), "small": (2, 3)}  # (top z > 0, bottom z < 0) part ids of each category


class SphereOracle(nn.Module):
    """Joint-layout logits for tasks (reconstruction, segmentation): channel 0 is the occupancy of a sphere of
    ``radius``; channel 1 + c is part c, and the argmax over any category's parts picks its first part above
    the plane z = 0 and its last part below. (B, M, 3), (B, D) -> (B, M, C)."""

    def __init__(self, latent_dim: int, out_channels: int, hidden: int = 0, blocks: int = 0, radius: float = 0.35):
        super().__init__()
        self.radius, self.out_channels = radius, out_channels
        self.gain = nn.Parameter(torch.tensor(100.0))  # trained with lr 0: it stays 100

    def forward(self, points: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        occ = self.gain * (self.radius - points.norm(dim=-1, keepdim=True)) + 0.0 * z.sum(-1)[:, None, None]
        c = torch.arange(self.out_channels - 1, dtype=points.dtype)
        parts = -torch.sign(points[..., 2:3]) * c  # above: lower ids win; below: higher ids win
        return torch.cat([occ, parts], dim=-1)


def grid_points(n: int = 32) -> np.ndarray:
    """Cell centres of an n^3 grid over the box: uniform points, none on the plane z = 0 (n even)."""
    axis = -BOUND + (np.arange(n) + 0.5) * (2 * BOUND / n)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def sphere_shape(radius: float, category: str, n_surface: int = 20000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = grid_points().astype(np.float16)  # stored as float16: labels are computed at stored coordinates
    p32 = points.astype(np.float32)
    occ = np.linalg.norm(p32, axis=1) < radius
    top, bottom = PARTS[category]
    labels = np.where(occ, np.where(p32[:, 2] > 0, top, bottom), -1)
    normals = rng.normal(size=(n_surface, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    surface = normals * radius
    surface_labels = np.where(surface[:, 2] > 0, top, bottom)
    return dict(points=points, occupancies=occ, surface=surface, normals=normals, n_uniform=len(points),
                labels=labels, surface_labels=surface_labels)


def write_sphere_dataset(root, radii: dict[str, float], test_counts: dict[str, int]) -> DatasetInfo:
    """Categories 'big' and 'small' of spheres of ``radii``; unbalanced test splits (``test_counts``)."""
    splits: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    k = 0
    for cat, radius in radii.items():
        for split, n in (("train", 2), ("val", 1), ("test", test_counts[cat])):
            for i in range(n):
                sid = f"{cat}/{split}{i}"
                write_shape(root / sid, **sphere_shape(radius, cat, seed=k))
                splits[split].append(sid)
                k += 1
    info = DatasetInfo(name="spheres", revision="oracle-1",
                       categories=[Category(c, c, list(PARTS[c])) for c in radii],
                       part_names=["big/top", "big/bottom", "small/top", "small/bottom"], splits=splits)
    info.write(root)
    return info
