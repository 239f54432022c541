"""Metrics as pure functions (arrays in, numbers out); names and docstrings state the convention.
Degenerate inputs return documented values, never NaN from 0/0."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ABSENT_RULES = ("both", "gt")


def iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """Volumetric IoU of two boolean occupancy arrays (same points). Both empty -> 1.0 (they agree)."""
    pred, gt = np.asarray(pred, bool), np.asarray(gt, bool)
    union = np.count_nonzero(pred | gt)
    return 1.0 if union == 0 else np.count_nonzero(pred & gt) / union


def part_miou(pred: np.ndarray, gt: np.ndarray, parts: Sequence[int], absent: str = "both") -> float:
    """Mean part IoU of one shape over the parts of its category.

    ``absent="both"`` (PointNet's rule): a part absent from both truth and prediction scores 1; a part
    predicted but absent from the truth scores 0. ``absent="gt"`` (the paper's wording, 'no ground truth
    -> 1'): a part absent from the truth scores 1 whatever was predicted. No parts -> 1.0.
    """
    if absent not in ABSENT_RULES:
        raise ValueError(f"absent must be one of {ABSENT_RULES}, got {absent!r}")
    pred, gt = np.asarray(pred), np.asarray(gt)
    scores = []
    for p in parts:
        in_gt, in_pred = gt == p, pred == p
        n_gt = np.count_nonzero(in_gt)
        union = np.count_nonzero(in_gt | in_pred)
        if union == 0 or (absent == "gt" and n_gt == 0):
            scores.append(1.0)
        else:
            scores.append(np.count_nonzero(in_gt & in_pred) / union)
    return float(np.mean(scores)) if scores else 1.0


def accuracy(pred: np.ndarray, gt: np.ndarray) -> float:
    """Share of equal labels. Empty -> 0.0."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    return float(np.mean(pred == gt)) if len(gt) else 0.0


def class_mean_accuracy(pred: np.ndarray, gt: np.ndarray) -> float:
    """Accuracy per true class, averaged over the classes present in ``gt``. Empty -> 0.0."""
    pred, gt = np.asarray(pred), np.asarray(gt)
    classes = np.unique(gt)
    return float(np.mean([np.mean(pred[gt == c] == c) for c in classes])) if len(classes) else 0.0
