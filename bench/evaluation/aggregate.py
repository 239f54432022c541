"""Per-shape scores -> a run's summary numbers: every metric's instance mean (over shapes) and category
mean (the unweighted mean of per-category means: the paper's summary numbers), overall and per category.
A score of None (undefined for that shape, e.g. a surface metric of a shape that was not meshed) is left
out of every mean."""

from __future__ import annotations

from typing import Any

import numpy as np

CLASS_MEAN = "_class_mean"  # suffix of a metric's category mean in result.json


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def aggregate(rows: list[dict[str, Any]], tasks: list[str]) -> tuple[dict[str, dict], dict[str, dict]]:
    """``rows``: one per shape, ``{"category": id, task: {metric: value | None}}``.

    Returns ``metrics[task] = {m: instance mean, m + "_class_mean": category mean}`` and
    ``per_category[task][category] = {m: mean over that category's shapes}``.
    """
    metrics: dict[str, dict[str, Any]] = {}
    per_category: dict[str, dict[str, dict[str, Any]]] = {}
    categories = sorted({r["category"] for r in rows})
    for task in tasks:
        names = list(dict.fromkeys(k for r in rows for k in r.get(task, {})))
        overall: dict[str, Any] = {}
        per_cat: dict[str, dict[str, Any]] = {c: {} for c in categories}
        for m in names:
            pairs = [(r["category"], r[task][m]) for r in rows if r.get(task, {}).get(m) is not None]
            overall[m] = _mean([v for _, v in pairs])
            for c in categories:
                per_cat[c][m] = _mean([v for cat, v in pairs if cat == c])
        for m in names:
            overall[m + CLASS_MEAN] = _mean([v[m] for v in per_cat.values() if v[m] is not None])
        metrics[task], per_category[task] = overall, per_cat
    return metrics, per_category


def metric_directions(info: dict[str, Any]) -> dict[str, str]:
    """A task's metric_info directions with its category means added (same direction)."""
    directions = dict(info.get("directions", {}))
    directions.update({m + CLASS_MEAN: d for m, d in list(directions.items()) if not m.endswith(CLASS_MEAN)})
    return directions
