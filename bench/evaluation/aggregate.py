"""Per-shape scores -> a run's summary numbers: every metric's instance mean (over shapes) and category
mean (the unweighted mean of per-category means: the paper's summary numbers), overall and per category,
each with a 95 % percentile-bootstrap interval over shapes (bench/evaluation/uncertainty.py). A score of
None (undefined for that shape, e.g. a surface metric of a shape that was not meshed) is left out."""

from __future__ import annotations

from typing import Any

from bench.evaluation.uncertainty import bootstrap_ci, category_mean, instance_mean
from bench.results import CLASS_MEAN
BOOTSTRAP_SEED = 0  # fixed, so the same scores always give the same interval


def aggregate(rows: list[dict[str, Any]], tasks: list[str], n_bootstrap: int = 0) -> tuple[dict, dict, dict]:
    """``rows``: one per shape, ``{"category": id, task: {metric: value | None}}``.

    Returns ``metrics[task] = {m: instance mean, m + "_class_mean": category mean}``,
    ``per_category[task][category] = {m: mean over that category's shapes}`` and, with ``n_bootstrap``,
    ``intervals[task] = {m: [low, high], m + "_class_mean": [low, high]}``.
    """
    metrics: dict[str, dict[str, Any]] = {}
    per_category: dict[str, dict[str, dict[str, Any]]] = {}
    intervals: dict[str, dict[str, list]] = {}
    categories = sorted({r["category"] for r in rows})
    for task in tasks:
        names = list(dict.fromkeys(k for r in rows for k in r.get(task, {})))
        overall: dict[str, Any] = {}
        ci: dict[str, list] = {}
        per_cat: dict[str, dict[str, Any]] = {c: {} for c in categories}
        class_means = {}
        for m in names:
            pairs = [(r["category"], r[task][m]) for r in rows if r.get(task, {}).get(m) is not None]
            values, cats = [v for _, v in pairs], [c for c, _ in pairs]
            overall[m] = instance_mean(values)
            class_means[m + CLASS_MEAN] = category_mean(values, cats) if values else None
            for c in categories:
                per_cat[c][m] = instance_mean([v for cat, v in pairs if cat == c])
            if n_bootstrap and values:
                ci[m] = list(bootstrap_ci(values, n_boot=n_bootstrap, seed=BOOTSTRAP_SEED))
                ci[m + CLASS_MEAN] = list(bootstrap_ci(values, cats, "category", n_bootstrap, seed=BOOTSTRAP_SEED))
        overall.update(class_means)  # after the instance means: result.json lists them in that order
        metrics[task], per_category[task] = overall, per_cat
        if n_bootstrap:
            intervals[task] = ci
    return metrics, per_category, intervals

