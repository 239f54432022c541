"""Nearest-neighbour queries between point sets (pykdtree), shared by the Voronoi part labelling
(bench/geometry/voronoi.py) and the mesh metrics (bench/evaluation/mesh_metrics.py)."""

from __future__ import annotations

import numpy as np
from pykdtree.kdtree import KDTree


def nearest_indices(query: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, 3), (S, 3) -> distances (M,), indices (M,) of the nearest reference point (pykdtree)."""
    tree = KDTree(np.ascontiguousarray(reference, dtype=np.float32), leafsize=16)
    dist, idx = tree.query(np.ascontiguousarray(query, dtype=np.float32), k=1)
    return dist, idx.astype(np.int64)
