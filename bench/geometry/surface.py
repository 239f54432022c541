"""Surfaces of signed distance functions: marching-cubes meshes and points sampled exactly on the surface."""

from __future__ import annotations

import numpy as np
import trimesh
from skimage.measure import marching_cubes

from bench.geometry.box import BOX_BOUND
from bench.geometry.sdf import CULL_MARGIN, SDF, value_and_gradient

# The ellipsoid's distance is an approximation, not a bound: narrow-band culling keeps a margin for it.
_CULL_SAFETY = 1.5


def grid_points(resolution: int, bound: float) -> np.ndarray:
    """Cell-corner grid over [-bound, bound]^3, ``(R^3, 3)`` float32, x slowest (C order)."""
    axis = np.linspace(-bound, bound, resolution, dtype=np.float32)
    return np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)


def voxel_centres(resolution: int) -> np.ndarray:
    """Centres of a resolution^3 voxel grid over the unit cube [-0.5, 0.5]^3, ``(R^3, 3)`` float32, x slowest."""
    c = (np.arange(resolution, dtype=np.float32) + 0.5) / resolution - 0.5
    return np.stack(np.meshgrid(c, c, c, indexing="ij"), -1).reshape(-1, 3)


def query_points(surface: np.ndarray, n_points: int, near_share: float, sigmas: tuple[float, ...],
                 rng: np.random.Generator, bound: float = BOX_BOUND) -> tuple[np.ndarray, int]:
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


def mesh_from_grid(values: np.ndarray, bound: float, level: float = 0.0,
                   mask: np.ndarray | None = None) -> trimesh.Trimesh:
    """Marching cubes on a ``(R, R, R)`` grid of values spanning [-bound, bound]^3.

    ``values`` are "inside is larger than level" or SDF-like; the orientation of the faces is fixed
    afterwards so that normals point outwards either way. An empty surface gives an empty mesh.
    ``mask`` (R, R, R) bool: only the cells whose first corner is True are polygonised (a speed-up
    where the caller knows the surface is elsewhere absent).
    """
    res = values.shape[0]
    if not (values.min() < level < values.max()):
        return trimesh.Trimesh(np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64), process=False)
    spacing = (2 * bound / (res - 1),) * 3
    verts, faces, _, _ = marching_cubes(values, level=level, spacing=spacing, mask=mask)
    verts = verts - bound
    mesh = trimesh.Trimesh(verts, faces, process=False)
    if mesh.volume < 0:  # marching cubes orients faces along the gradient, i.e. inwards here
        mesh.invert()
    return mesh


def _band_radius(cell: float, block: int) -> float:
    """Radius of the ball around a block's centre that holds its nodes and every cell touching them."""
    return float(np.sqrt(3.0) * (cell * (block - 1) / 2 + cell))


def sdf_grid(f: SDF, resolution: int, bound: float, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``f`` on the cell-corner grid of grid_points, evaluated only in a narrow band around the surface.

    The grid is cut into blocks of ``block``^3 nodes and ``f`` is first evaluated at the block centres:
    a block whose centre is farther from the surface than the ball holding its nodes and every cell
    that touches them cannot contain a sign change, so its nodes just take the centre's value (right
    sign, magnitude beyond the band). This relies on ``|f|`` not exceeding the distance to the surface,
    true of exact SDFs and of their unions, intersections and differences; ``_CULL_SAFETY`` covers the
    ellipsoid's approximation. Marching cubes on the result equals marching cubes on the full grid.
    ``block`` defaults to the largest of 4, 2 whose band lies within the exact range of culled unions
    (sdf.CULL_MARGIN: beyond it their distances are clamped, too small for the test); on grids too
    coarse for either, every node is evaluated.
    Returns values ``(R, R, R)`` float32 and the mask of evaluated nodes ``(R, R, R)`` bool.
    """
    cell = np.float32(2 * bound / (resolution - 1))
    if block is None:
        fits = [b for b in (4, 2) if _CULL_SAFETY * _band_radius(cell, b) < CULL_MARGIN]
        if not fits:
            values = f(grid_points(resolution, bound)).reshape((resolution,) * 3).astype(np.float32)
            return values, np.ones(values.shape, dtype=bool)
        block = fits[0]
    nb = -(-resolution // block)
    padded = nb * block
    # grid_points' node coordinates exactly, then nodes past the grid that only fill the last blocks
    axis = np.concatenate([np.linspace(-bound, bound, resolution, dtype=np.float32),
                           np.float32(bound) + cell * np.arange(1, padded - resolution + 1, dtype=np.float32)])
    centre_1d = axis[np.arange(nb) * block] + cell * (block - 1) / 2
    centres = np.stack(np.meshgrid(centre_1d, centre_1d, centre_1d, indexing="ij"), -1).reshape(-1, 3)
    at_centre = f(centres)
    active = np.flatnonzero(np.abs(at_centre) <= _CULL_SAFETY * _band_radius(cell, block))
    blocks = np.empty((nb**3, block**3), dtype=np.float32)
    blocks[:] = at_centre[:, None]
    if len(active):
        bi, bj, bk = np.unravel_index(active, (nb, nb, nb))
        oi, oj, ok = (o.reshape(-1) for o in np.meshgrid(*(np.arange(block),) * 3, indexing="ij"))
        nodes = np.stack([axis[(bi * block)[:, None] + oi], axis[(bj * block)[:, None] + oj],
                          axis[(bk * block)[:, None] + ok]], -1).reshape(-1, 3)
        blocks[active] = f(nodes).reshape(len(active), block**3)
    evaluated = np.zeros(nb**3, dtype=bool)
    evaluated[active] = True

    def ungrouped(a: np.ndarray) -> np.ndarray:
        a = a.reshape(nb, nb, nb, block, block, block).transpose(0, 3, 1, 4, 2, 5).reshape(padded, padded, padded)
        return np.ascontiguousarray(a[:resolution, :resolution, :resolution])

    mask = np.repeat(evaluated, block**3).reshape(nb**3, block**3)
    return ungrouped(blocks), ungrouped(mask)


def mesh_from_sdf(f: SDF, resolution: int = 96, bound: float = BOX_BOUND) -> trimesh.Trimesh:
    """Zero level set of ``f`` by marching cubes (SDF convention: negative inside)."""
    values, mask = sdf_grid(f, resolution, bound)
    # marching cubes on -sdf so that "inside" is the larger side, the same orientation as occupancy grids.
    return mesh_from_grid(-values, bound, mask=mask)


def project_to_surface(f: SDF, points: np.ndarray, tol: float = 5e-5,
                       max_iterations: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Newton steps ``p <- p - f(p) grad f / |grad f|^2`` onto the zero level set, in float32.

    (P, 3) -> points (P, 3), unit normals (P, 3) and whether each point converged, ``|f| <= tol`` (P,).
    One step takes marching-cubes vertices onto a smooth surface; the few points near creases (where
    parts meet, where the gradient jumps) take more steps, each no longer than ``max_step``, and may fail.
    A normal is the gradient of a point's last step, taken at most a fraction of a marching-cubes cell
    away (one SDF evaluation batch fewer than a fresh gradient). float32 leaves an error far below the
    float16 the points are stored at (~2.4e-4 near 0.5); the difference step 1e-4 keeps the gradient's
    rounding error near 1e-3, that of float16 normals.
    """
    max_step = np.float32(0.02)
    p = np.array(points, dtype=np.float32)
    normals = np.empty_like(p)
    todo = np.arange(len(p))
    for _ in range(max_iterations):
        value, g = value_and_gradient(f, p[todo], eps=1e-4)
        norm = np.maximum(np.sqrt(np.einsum("ij,ij->i", g, g)), np.float32(1e-6))
        normals[todo] = g / norm[:, None]
        dist = np.clip(value / norm, -max_step, max_step)
        p[todo] -= dist[:, None] * normals[todo]
        todo = todo[np.abs(f(p[todo])) > tol]
        if not len(todo):
            break
    converged = np.ones(len(p), dtype=bool)
    converged[todo] = False
    return p, normals, converged


def sample_triangles(verts: np.ndarray, faces: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points drawn area-uniformly from the triangles ``verts[faces]``, ``(n, 3)`` float32."""
    tri = np.asarray(verts, dtype=np.float32)[np.asarray(faces)]
    a, ab, ac = tri[:, 0], tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    area = np.linalg.norm(np.cross(ab, ac), axis=1).astype(np.float64)
    # Sorted uniforms make the CDF lookup a forward scan (several times faster than random probes);
    # the per-point order is then restored by a permutation so that any prefix is a uniform sample.
    u = np.sort(rng.random(n)) * area.sum()
    face = np.minimum(np.searchsorted(np.cumsum(area), u, side="right"), len(area) - 1)[rng.permutation(n)]
    r1, r2 = rng.random((2, n), dtype=np.float32)
    # (1 - sqrt(r1), sqrt(r1) (1 - r2), sqrt(r1) r2) is uniform over a triangle (Osada et al. 2002).
    s = np.sqrt(r1)
    return a[face] + (s * (1 - r2))[:, None] * ab[face] + (s * r2)[:, None] * ac[face]


def sample_sdf_surface(
    f: SDF, n: int, rng: np.random.Generator, resolution: int = 96, bound: float = BOX_BOUND
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the zero level set of ``f`` and their outward unit normals, ``(n, 3), (n, 3)``.

    Points are drawn area-uniformly from the marching-cubes mesh, then projected onto the true surface,
    so their accuracy does not depend on the grid resolution; normals are the SDF gradient.
    """
    values, mask = sdf_grid(f, resolution, bound)
    if not (values.min() < 0 < values.max()):
        raise ValueError("the shape has no surface inside the box")
    # No trimesh mesh: sampling needs neither the faces' orientation nor anything else it computes.
    verts, faces, _, _ = marching_cubes(values, level=0.0, spacing=(2 * bound / (resolution - 1),) * 3, mask=mask)
    # A few more samples than asked for replace the ones the projection cannot settle (~0.1 %, at creases).
    spare = n // 50 + 16
    points, normals, ok = project_to_surface(f, sample_triangles(verts - np.float32(bound), faces, n + spare, rng))
    keep = np.flatnonzero(ok)[:n]
    if len(keep) < n:
        raise ValueError(f"only {int(ok.sum())} of {n + spare} surface samples could be projected onto the surface")
    return points[keep], normals[keep]
