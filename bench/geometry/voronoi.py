"""The paper's segmentation rule (Sec. 3.2): a point inside the shape takes the label of the nearest
labelled surface point, i.e. a Voronoi partition of the interior; points outside are background (-1)."""

from __future__ import annotations

import numpy as np

from bench.geometry.nearest import nearest_indices

BACKGROUND = -1


def voronoi_labels(
    query: np.ndarray, surface: np.ndarray, surface_labels: np.ndarray, inside: np.ndarray | None = None
) -> np.ndarray:
    """(M, 3), (S, 3), (S,) int, optional (M,) bool -> (M,) int64 labels; BACKGROUND where not inside."""
    if len(surface) == 0:
        raise ValueError("voronoi_labels: no labelled surface points")
    _, idx = nearest_indices(query, surface)
    labels = np.asarray(surface_labels, dtype=np.int64)[idx]
    if inside is not None:
        labels = np.where(inside, labels, BACKGROUND)
    return labels
