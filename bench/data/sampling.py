"""Category-stratified samples of shapes: the same count from every category, chosen by a fixed seed, so a
subset (validation shapes, meshed test shapes) never covers only the first categories of a split (splits
are stored in category order)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SAMPLE_SEED = 2024  # fixed: every run of every encoder evaluates the same subset


def stratified_sample(categories: Sequence, n: int, seed: int = SAMPLE_SEED) -> np.ndarray:
    """Sorted indices of ``ceil(n / K)`` shapes of each of the K categories (all of a smaller category);
    ``n`` <= 0 or ``n`` >= len(categories) -> every index. (S,) labels -> (<= max(n, K),) indices."""
    labels = np.asarray(categories)
    if n <= 0 or n >= len(labels):
        return np.arange(len(labels))
    uniq = list(dict.fromkeys(labels.tolist()))
    per_category = -(-n // len(uniq))
    rng = np.random.default_rng(seed)
    chosen = []
    for cat in uniq:
        members = np.flatnonzero(labels == cat)
        chosen.append(rng.choice(members, size=min(per_category, len(members)), replace=False))
    return np.sort(np.concatenate(chosen))


def category_of(shape_id: str) -> str:
    """Shape ids are ``<category>/<name>`` in the bench format."""
    return shape_id.split("/")[0]
