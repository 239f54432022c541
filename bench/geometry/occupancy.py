"""Inside/outside of points against a triangle mesh by the generalized winding number.

Exact (Van Oosterom & Strackee solid angles summed over faces), robust on open and non-manifold meshes
(the number degrades gracefully to a fraction near holes), but O(points x faces): a correctness
reference and a labeller for small meshes, not a fast path for 50k-face meshes.
"""

from __future__ import annotations

import numpy as np


def winding_numbers(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray, budget: int = 4_000_000) -> np.ndarray:
    """(V, 3), (F, 3) int, (P, 3) -> (P,) winding numbers (~1 inside a closed outward mesh, ~0 outside)."""
    tri = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]  # (F, 3, 3)
    points = np.asarray(points, dtype=np.float64)
    out = np.empty(len(points))
    chunk = max(1, budget // max(1, len(tri)))
    for start in range(0, len(points), chunk):
        p = points[start:start + chunk]
        a, b, c = (tri[None, :, k, :] - p[:, None, :] for k in range(3))  # (p, F, 3)
        la, lb, lc = (np.linalg.norm(v, axis=2) for v in (a, b, c))
        det = np.einsum("pfi,pfi->pf", a, np.cross(b, c))
        den = la * lb * lc + np.einsum("pfi,pfi->pf", a, b) * lc + np.einsum("pfi,pfi->pf", b, c) * la \
            + np.einsum("pfi,pfi->pf", c, a) * lb
        out[start:start + chunk] = np.arctan2(det, den).sum(1) / (2 * np.pi)
    return out


def inside_mesh(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(P,) bool: winding number >= 0.5."""
    return winding_numbers(vertices, faces, points) >= 0.5


def winding_method() -> str:
    """Which inside/outside method fast_winding_numbers uses here (recorded by `bench prepare`)."""
    try:
        import igl  # noqa: F401
    except ImportError:
        return "exact winding number (numpy)"
    return "libigl fast winding number"


def fast_winding_numbers(vertices: np.ndarray, faces: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, str]:
    """Winding numbers by libigl's fast (Barill et al. 2018) approximation when installed, else exact.

    Returns (winding numbers (P,), the method used) so that callers can record it.
    """
    method = winding_method()
    if method.startswith("exact"):
        return winding_numbers(vertices, faces, points), method
    import igl

    w = igl.fast_winding_number(np.ascontiguousarray(vertices, dtype=np.float64),
                                np.ascontiguousarray(faces, dtype=np.int64),
                                np.ascontiguousarray(points, dtype=np.float64))
    return np.asarray(w), method
