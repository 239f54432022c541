"""Surfaces of signed distance functions: marching-cubes meshes and points sampled exactly on the surface."""

from __future__ import annotations

import numpy as np
import trimesh
from skimage.measure import marching_cubes

from bench.geometry.sdf import SDF, value_and_gradient


def grid_points(resolution: int, bound: float) -> np.ndarray:
    """Cell-corner grid over [-bound, bound]^3, ``(R^3, 3)`` float32, x slowest (C order)."""
    axis = np.linspace(-bound, bound, resolution, dtype=np.float32)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def voxel_centres(resolution: int) -> np.ndarray:
    """Centres of a resolution^3 voxel grid over the unit cube [-0.5, 0.5]^3, ``(R^3, 3)`` float32, x slowest."""
    c = (np.arange(resolution, dtype=np.float32) + 0.5) / resolution - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)


def query_points(surface: np.ndarray, n_points: int, near_share: float, sigmas: tuple[float, ...],
                 rng: np.random.Generator, bound: float = 0.55) -> tuple[np.ndarray, int]:
    """ONet-style query points: uniform in [-bound, bound]^3 first, then surface samples jittered by
    N(0, sigma) (sigmas taken in turn), clipped to the box. (S, 3) -> ((P, 3) float16, n_uniform).

    Returned as float16, the precision they are stored at, so that labels computed on them are exact.
    """
    n_uniform = int(round(n_points * (1 - near_share)))
    n_near = n_points - n_uniform
    uniform = rng.uniform(-bound, bound, size=(n_uniform, 3))
    sigma = np.resize(np.array(sigmas, dtype=np.float32), n_near)[:, None]
    surface = np.asarray(surface, dtype=np.float32)
    near = surface[rng.integers(0, len(surface), n_near)] + rng.standard_normal((n_near, 3), dtype=np.float32) * sigma
    return np.concatenate([uniform, np.clip(near, -bound, bound)]).astype(np.float16), n_uniform


def mesh_from_grid(values: np.ndarray, bound: float, level: float = 0.0) -> trimesh.Trimesh:
    """Marching cubes on a ``(R, R, R)`` grid of values spanning [-bound, bound]^3.

    ``values`` are "inside is larger than level" or SDF-like; the orientation of the faces is fixed
    afterwards so that normals point outwards either way. An empty surface gives an empty mesh.
    """
    res = values.shape[0]
    if not (values.min() < level < values.max()):
        return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), process=False)
    spacing = (2 * bound / (res - 1),) * 3
    verts, faces, _, _ = marching_cubes(values, level=level, spacing=spacing)
    verts = verts - bound
    mesh = trimesh.Trimesh(verts, faces, process=False)
    if mesh.volume < 0:  # marching cubes orients faces along the gradient, i.e. inwards here
        mesh.invert()
    return mesh


def mesh_from_sdf(f: SDF, resolution: int = 96, bound: float = 0.55) -> trimesh.Trimesh:
    """Zero level set of ``f`` by marching cubes (SDF convention: negative inside)."""
    values = f(grid_points(resolution, bound)).reshape((resolution,) * 3)
    # marching cubes on -sdf so that "inside" is the larger side, the same orientation as occupancy grids.
    return mesh_from_grid(-values, bound)


def project_to_surface(f: SDF, points: np.ndarray, iterations: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Newton steps ``p <- p - f(p) grad f / |grad f|^2`` onto the zero level set.

    (P, 3) -> points (P, 3) and unit normals (P, 3): the gradient of the last step, taken at most a
    fraction of a marching-cubes cell from the returned point (one SDF evaluation batch fewer).
    """
    p = points.astype(np.float64, copy=True)
    for _ in range(iterations):
        value, g = value_and_gradient(f, p, eps=1e-5)
        norm2 = np.maximum((g * g).sum(1), 1e-12)
        p -= (value / norm2)[:, None] * g
    g = g / np.sqrt(norm2)[:, None]
    return p.astype(np.float32), g.astype(np.float32)


def sample_sdf_surface(
    f: SDF, n: int, rng: np.random.Generator, resolution: int = 96, bound: float = 0.55
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the zero level set of ``f`` and their outward unit normals, ``(n, 3), (n, 3)``.

    Points are drawn area-uniformly from the marching-cubes mesh, then projected onto the true surface,
    so their accuracy does not depend on the grid resolution; normals are the SDF gradient.
    """
    mesh = mesh_from_sdf(f, resolution, bound)
    if len(mesh.faces) == 0:
        raise ValueError("the shape has no surface inside the box")
    points, _ = trimesh.sample.sample_surface(mesh, n, seed=rng)
    return project_to_surface(f, np.asarray(points, dtype=np.float64))
