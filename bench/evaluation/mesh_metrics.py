"""Mesh metrics (ONet conventions) as pure functions: Chamfer-L1, normal consistency, F-score.

Chamfer-L1 = 0.5 * (accuracy + completeness), each the mean *unsquared* Euclidean distance to the
nearest neighbour (pykdtree) — not pytorch3d's sum of squared distances.
"""

from __future__ import annotations

import warnings

import numpy as np
import trimesh

from bench.geometry.nearest import nearest_indices

# Worst-case values for an empty predicted mesh, as im2mesh/eval.py does (distances = the diagonal of the
# unit cube); normal consistency and F-score get their lower bound 0.
EMPTY_CHAMFER = float(np.sqrt(3.0))
EMPTY_SURFACE_METRICS = {"chamfer_l1": EMPTY_CHAMFER, "accuracy": EMPTY_CHAMFER, "completeness": EMPTY_CHAMFER,
                         "normal_consistency": 0.0, "fscore": 0.0, "precision": 0.0, "recall": 0.0}


def chamfer_l1(pred: np.ndarray, gt: np.ndarray) -> float:
    """ONet Chamfer-L1 of two point sets (P, 3), (Q, 3) -> float. Empty pred or gt -> EMPTY_CHAMFER."""
    if len(pred) == 0 or len(gt) == 0:
        return EMPTY_CHAMFER
    accuracy = nearest_indices(pred, gt)[0].mean()
    completeness = nearest_indices(gt, pred)[0].mean()
    return float(0.5 * (accuracy + completeness))


def surface_metrics(pred: np.ndarray, pred_normals: np.ndarray | None, gt: np.ndarray, gt_normals: np.ndarray | None,
                    tau: float = 0.011) -> dict[str, float]:
    """Chamfer-L1, accuracy, completeness, normal consistency, F-score/precision/recall at ``tau``.

    (P, 3), (P, 3) | None, (Q, 3), (Q, 3) | None -> dict. ``tau`` is an absolute distance. An empty
    prediction returns EMPTY_SURFACE_METRICS with a warning, never a crash.
    """
    if len(pred) == 0:
        warnings.warn("empty predicted mesh: surface metrics set to their worst-case values", stacklevel=2)
        return dict(EMPTY_SURFACE_METRICS)
    d_acc, i_acc = nearest_indices(pred, gt)  # pred -> gt
    d_comp, i_comp = nearest_indices(gt, pred)  # gt -> pred
    out = {"accuracy": float(d_acc.mean()), "completeness": float(d_comp.mean())}
    out["chamfer_l1"] = 0.5 * (out["accuracy"] + out["completeness"])
    precision, recall = float((d_acc <= tau).mean()), float((d_comp <= tau).mean())
    out.update(precision=precision, recall=recall,
               fscore=0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    if pred_normals is not None and gt_normals is not None:
        pn = _unit(pred_normals)
        gn = _unit(gt_normals)
        nc_acc = np.abs((pn * gn[i_acc]).sum(1)).mean()
        nc_comp = np.abs((gn * pn[i_comp]).sum(1)).mean()
        out["normal_consistency"] = float(0.5 * (nc_acc + nc_comp))
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def sample_mesh(mesh: trimesh.Trimesh, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n area-uniform points on a mesh and their face normals, (n, 3), (n, 3); empty mesh -> empty arrays."""
    if len(mesh.faces) == 0 or mesh.area <= 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.float32)
    points, face_idx = trimesh.sample.sample_surface(mesh, n, seed=np.random.default_rng(seed))
    return np.asarray(points, np.float32), np.asarray(mesh.face_normals[face_idx], np.float32)
