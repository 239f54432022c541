"""Whether a shape's labelled points sit on its mesh (`bench prepare`).

ShapeNetPart's labelled points and ShapeNetCore's meshes come from different pipelines; `bench prepare`
aligns them by normalising each to the unit cube by its bounding box. That is right when both are the same
model in the same frame, and silently wrong otherwise (another model, another orientation, a part missing
from the mesh): the Voronoi rule would then give the mesh's query points the labels of points that are not
on it. So after the alignment each labelled point's distance to the mesh is measured, and a shape whose
labelled points are too far from it is refused (`bench prepare` logs it as a failure, with this reason).
"""

from __future__ import annotations

import numpy as np
from pykdtree.kdtree import KDTree

from bench.errors import DataError

LABEL_QUANTILE = 0.95
"""The share of the labelled points that must lie within the threshold: a few stray points (annotation noise)
are allowed, a misaligned shape is not."""
CANDIDATES = 8
"""Faces tried per labelled point: those of its nearest dense surface samples."""


class LabelAlignmentError(DataError):
    """A shape's labelled points do not sit on its mesh after the bounding-box alignment."""


def distances_to_mesh(points: np.ndarray, triangles: np.ndarray, surface: np.ndarray,
                      face_index: np.ndarray) -> np.ndarray:
    """(P, 3) points, (F, 3, 3) mesh triangles, (S, 3) surface samples of the mesh with (S,) the face each lies
    on -> (P,) distance of each point to the mesh.

    The exact distance to the nearest of the faces of the point's CANDIDATES nearest samples: an upper bound of
    the distance to the whole mesh, equal to it whenever the closest face has one of those samples (always, for
    a point on a densely sampled surface), and unlike the distance to the nearest sample it does not grow with
    the sample spacing."""
    import trimesh

    k = min(CANDIDATES, len(surface))
    tree = KDTree(np.ascontiguousarray(surface, dtype=np.float64), leafsize=16)
    _, nearest = tree.query(np.ascontiguousarray(points, dtype=np.float64), k=k)
    faces = np.asarray(face_index, dtype=np.int64)[nearest.reshape(len(points), k)]  # (P, k)
    closest = trimesh.triangles.closest_point(triangles[faces.reshape(-1)], np.repeat(points, k, axis=0))
    return np.linalg.norm(closest - np.repeat(points, k, axis=0), axis=1).reshape(len(points), k).min(1)


def check_label_alignment(shape_id: str, points: np.ndarray, triangles: np.ndarray, surface: np.ndarray,
                          face_index: np.ndarray, max_distance: float, source: str = "") -> np.ndarray:
    """Raise LabelAlignmentError when more than 1 - LABEL_QUANTILE of the (P, 3) aligned labelled ``points`` lie
    farther than ``max_distance`` (a share of the box side) from the mesh; returns the (P,) distances."""
    dist = distances_to_mesh(points, triangles, surface, face_index)
    q = float(np.quantile(dist, LABEL_QUANTILE))
    if q > max_distance:
        far = float((dist > max_distance).mean())
        raise LabelAlignmentError(
            f"{shape_id}: its labelled points do not sit on its mesh after the bounding-box alignment: "
            f"{far:.0%} of them lie farther than {max_distance:g} (box side) from it ({LABEL_QUANTILE:.0%} "
            f"quantile {q:.4f}, median {float(np.median(dist)):.4f}), so their part labels would be given to the "
            f"wrong places; the shape is skipped. The labelled points{f' ({source})' if source else ''} and the "
            "mesh are probably of different models or frames; PrepareParams.label_max_distance sets the "
            "threshold (0: no check).")
    return dist
