"""Mesh extraction from an occupancy function: multiresolution iso-surface extraction (MISE, as in
Occupancy Networks) and a dense grid for comparison, both followed by marching cubes (scikit-image).

``query(points (P, 3) float32) -> (P,) logits`` is any batched occupancy function (a decoder bound to
one latent, or an analytic shape). Thresholds are in probability; the grid spans the padded box.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import trimesh

from bench.geometry.box import BOX_BOUND
from bench.geometry.surface import mesh_from_grid

Query = Callable[[np.ndarray], np.ndarray]
BOUND = BOX_BOUND  # the unit cube padded by 0.1 (ONet's query box)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return float(np.log(p / (1 - p)))


def _grid_coords(index: np.ndarray, resolution: int, bound: float) -> np.ndarray:
    """(P, 3) integer grid indices on a (resolution + 1)^3 corner grid -> coordinates in [-bound, bound]."""
    return (index.astype(np.float32) / resolution * 2 - 1) * bound


@dataclass
class Extraction:
    mesh: trimesh.Trimesh
    n_queries: int  # network queries spent
    resolution: int


def _upsample_axis(a: np.ndarray, axis: int) -> np.ndarray:
    """Linear 2x upsampling of a corner grid along one axis: n + 1 -> 2n + 1 samples."""
    a = np.moveaxis(a, axis, 0)
    out = np.empty((2 * a.shape[0] - 1, *a.shape[1:]), dtype=a.dtype)
    out[0::2] = a
    out[1::2] = 0.5 * (a[:-1] + a[1:])
    return np.moveaxis(out, 0, axis)


def _evaluate(query: Query, index: np.ndarray, resolution: int, bound: float) -> np.ndarray:
    return np.asarray(query(_grid_coords(index, resolution, bound)), dtype=np.float32).reshape(-1)


def extract_dense(query: Query, resolution: int = 128, threshold: float = 0.5, bound: float = BOUND) -> Extraction:
    """Evaluate every corner of a resolution^3 grid, then marching cubes."""
    n = resolution + 1
    index = np.stack(np.meshgrid(*(np.arange(n),) * 3, indexing="ij"), -1).reshape(-1, 3)
    values = _evaluate(query, index, resolution, bound).reshape(n, n, n)
    return Extraction(mesh_from_grid(values, bound, level=_logit(threshold)), len(index), resolution)


SUB_CORNERS = np.stack(np.meshgrid(*(np.arange(3),) * 3, indexing="ij"), -1).reshape(-1, 3)  # (27, 3)


def new_sub_corners(cells: np.ndarray, half: int, known: np.ndarray) -> np.ndarray:
    """(A, 3) lower corners of cells 2 ``half`` wide, (n, n, n) known mask -> (Q, 3) grid indices of their
    27 sub-corners that are not known yet, each once, in C (lexicographic) order.

    Deduplicated on a mask of the grid: ``np.unique(axis=0)`` on the (27 A, 3) rows sorts them as
    structured records and took a third of a final evaluation (tests/benchmarks: test_mise_sub_corners).
    """
    wanted = np.zeros_like(known)
    for offset in SUB_CORNERS * half:
        wanted[tuple((cells + offset).T)] = True
    return np.argwhere(wanted & ~known)


def mise_grid(query: Query, resolution0: int = 32, upsampling_steps: int = 2, threshold: float = 0.5,
              bound: float = BOUND) -> tuple[np.ndarray, int]:
    """MISE: evaluate a coarse grid, then refine only the cells whose corners straddle the threshold.

    Returns the (R + 1)^3 logit grid at R = resolution0 * 2^steps (points never queried are filled by
    linear interpolation from the coarser level, as ONet's MISE does) and the number of queries.
    """
    level = _logit(threshold)
    stride = 2**upsampling_steps
    final = resolution0 * stride
    n = final + 1
    values = np.zeros((n, n, n), np.float32)
    known = np.zeros((n, n, n), bool)
    coarse = np.stack(np.meshgrid(*(np.arange(0, n, stride),) * 3, indexing="ij"), -1).reshape(-1, 3)
    values[tuple(coarse.T)] = _evaluate(query, coarse, final, bound)
    known[tuple(coarse.T)] = True
    n_queries = len(coarse)
    while stride > 1:
        grid = values[::stride, ::stride, ::stride]  # all known at this level
        inside = grid >= level
        corners = [inside[i:i + grid.shape[0] - 1, j:j + grid.shape[1] - 1, k:k + grid.shape[2] - 1]
                   for i in (0, 1) for j in (0, 1) for k in (0, 1)]
        active = np.logical_or.reduce(corners) & ~np.logical_and.reduce(corners)  # cells the surface crosses
        half = stride // 2
        cells = np.argwhere(active) * stride  # (A, 3) lower corners in final-grid indices
        if len(cells):
            new = new_sub_corners(cells, half, known)
            if len(new):
                values[tuple(new.T)] = _evaluate(query, new, final, bound)
                known[tuple(new.T)] = True
                n_queries += len(new)
        # Fill the rest of the finer level by interpolating this one, so the next level is all known.
        up = grid
        for axis in range(3):
            up = _upsample_axis(up, axis)
        finer = (slice(None, None, half),) * 3
        fill = ~known[finer]
        values[finer][fill] = up[fill]
        known[finer] = True
        stride = half
    return values, n_queries


def extract_mise(query: Query, resolution0: int = 32, upsampling_steps: int = 2, threshold: float = 0.5,
                 bound: float = BOUND) -> Extraction:
    """MISE (32^3 -> 128^3 by default) + marching cubes at ``threshold`` (probability)."""
    values, n_queries = mise_grid(query, resolution0, upsampling_steps, threshold, bound)
    return Extraction(mesh_from_grid(values, bound, level=_logit(threshold)), n_queries,
                      resolution0 * 2**upsampling_steps)
