"""The probes that read the cached latents alone (no training loop, no decoder): ``linear``, ``knn``,
``fewshot`` and ``retrieval``. Each takes the latents of the train and test splits, (K, S, D) float32,
and the shapes' category labels, and gives a ``ProbeOutcome``: per test shape (few-shot: per episode)
scores, their means and 95 % bootstrap intervals. The arithmetic is ``bench.probe.classify``'s.

With ``spec.standardise`` the latents are first z-scored with the mean and standard deviation of the train
latents (every draw): cosine similarities (k-NN, retrieval) then do not depend on an offset or a scale
that every latent shares (a random encoder's ReLU features are all positive).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.data.dataset import ShapeStore
from bench.evaluation.aggregate import BOOTSTRAP_SEED, aggregate
from bench.evaluation.uncertainty import bootstrap_ci
from bench.probe import classify
from bench.probe.battery import MAIN_METRIC, BatterySpec, fewshot_metric
from bench.probe.outcome import ProbeOutcome
from bench.results import metric_directions

def standardised(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """(K, S, D) train latents and any others -> all of them z-scored with the train latents' per-feature
    mean and standard deviation (over every draw and shape; ``classify.fit_standardisation``)."""
    mean, scale = classify.fit_standardisation(train.reshape(-1, train.shape[-1]))
    return [((z - mean) / scale).astype(np.float32) for z in (train, *others)]


def info(probe: str, metrics: dict[str, tuple[str, str]], conventions: dict[str, Any]) -> dict[str, Any]:
    """A probe's metric info, shaped as a task's (``Task.metric_info``): ``metrics`` maps each metric to
    (direction, label)."""
    base = {"main": MAIN_METRIC[probe], "directions": {m: d for m, (d, _) in metrics.items()},
            "labels": {m: label for m, (_, label) in metrics.items()}, "kind": "probe",
            "scores_mesh": False, "labels_points": False}
    return {**base, "directions": metric_directions(base), "conventions": conventions}


def _shape_outcome(probe: str, store: ShapeStore, scores: dict[str, np.ndarray], n_bootstrap: int,
                   metric_info: dict[str, Any], t0: float) -> ProbeOutcome:
    """Per-shape ``scores`` {metric: (S,)} (NaN: undefined for that shape) -> the probe's outcome, aggregated
    as bench aggregates a task's scores (instance and category means, bootstrap intervals)."""
    rows = []
    for i, sid in enumerate(store.ids):
        values = {m: (None if np.isnan(v[i]) else float(v[i])) for m, v in scores.items()}
        rows.append({"shape": sid, "category": store.info.categories[int(store.category[i])].id, probe: values})
    metrics, per_category, intervals = aggregate(rows, [probe], n_bootstrap)
    flat = [{"shape": r["shape"], "category": r["category"], **r[probe]} for r in rows]
    return ProbeOutcome(probe, metrics=metrics[probe], per_category=per_category[probe],
                        intervals=intervals.get(probe, {}), metric_info=metric_info, rows=flat,
                        seconds=time.time() - t0)


def linear_probe(train: np.ndarray, test: np.ndarray, train_store: ShapeStore, test_store: ShapeStore,
                 spec: BatterySpec) -> ProbeOutcome:
    """Multinomial logistic regression on the train latents of every draw, stacked ((K * S_train, D));
    a test shape's accuracy is the share of its K draws predicted right."""
    t0 = time.time()
    n_classes = len(train_store.info.categories)
    draws = train.shape[0]
    model = classify.fit_logistic(train.reshape(-1, train.shape[-1]), np.tile(train_store.category, draws),
                                  n_classes, l2=spec.linear_l2, max_iter=spec.linear_max_iter)
    right = np.stack([model.predict(test[d]) == test_store.category for d in range(test.shape[0])])
    conventions = {"features": "z-scored latents", "train": f"{draws} draws x {len(train_store)} shapes",
                   "l2": spec.linear_l2, "max_iter": spec.linear_max_iter, "iterations": model.iterations,
                   "converged": model.converged, "score": f"per test shape: accuracy over its {test.shape[0]} draws"}
    metric_info = info("linear", {"accuracy": ("higher", "linear accuracy")}, conventions)
    return _shape_outcome("linear", test_store, {"accuracy": right.mean(0)}, spec.n_bootstrap, metric_info, t0)


def knn_probe(train: np.ndarray, test: np.ndarray, train_store: ShapeStore, test_store: ShapeStore,
              spec: BatterySpec) -> ProbeOutcome:
    """k-NN majority vote with the train latents of every draw as the gallery; a test shape's accuracy is
    the share of its K draws predicted right."""
    t0 = time.time()
    gallery = train.reshape(-1, train.shape[-1])
    labels = np.tile(train_store.category, train.shape[0])
    right = np.stack([classify.knn_predict(gallery, labels, test[d], k=spec.knn_k, metric=spec.knn_metric)
                      == test_store.category for d in range(test.shape[0])])
    conventions = {"k": spec.knn_k, "metric": spec.knn_metric,
                   "gallery": f"{train.shape[0]} draws x {len(train_store)} train shapes",
                   "score": f"per test shape: accuracy over its {test.shape[0]} draws"}
    metric_info = info("knn", {"accuracy": ("higher", f"{spec.knn_k}-NN accuracy")}, conventions)
    return _shape_outcome("knn", test_store, {"accuracy": right.mean(0)}, spec.n_bootstrap, metric_info, t0)


def retrieval_probe(test: np.ndarray, test_store: ShapeStore, spec: BatterySpec) -> ProbeOutcome:
    """Category retrieval among the test shapes (draw 0), by cosine similarity: per query shape its average
    precision (``map``: their mean) and precision@k (``p_at_<k>``). A query whose category has no other test
    shape has no average precision (left out of the mean)."""
    t0 = time.time()
    ap, p_at_k = classify.retrieval_scores(test[0], test_store.category, k=spec.retrieval_k)
    p_name = f"p_at_{spec.retrieval_k}"
    conventions = {"queries": "every test shape (draw 0)", "gallery": "the other test shapes (draw 0)",
                   "similarity": "cosine", "relevant": "same category", "k": spec.retrieval_k}
    metric_info = info("retrieval", {"map": ("higher", "retrieval mAP"),
                                     p_name: ("higher", f"precision@{spec.retrieval_k}")}, conventions)
    return _shape_outcome("retrieval", test_store, {"map": ap, p_name: p_at_k}, spec.n_bootstrap, metric_info, t0)


def fewshot_probe(train: np.ndarray, test: np.ndarray, train_store: ShapeStore, test_store: ShapeStore,
                  spec: BatterySpec) -> ProbeOutcome:
    """n-way k-shot episodes on the draw-0 latents, for every (way, shot) of the battery: support from the
    train split, queries from the test split, a logistic probe per episode. Metrics ``<w>way_<s>shot`` (mean
    over folds) and ``<w>way_<s>shot_std`` (their standard deviation, ddof 0); ``accuracy``: the mean over
    every episode of the settings the dataset supports. A setting it cannot support (too few classes with
    enough train shapes) is null, with the reason in the conventions. Units: the episodes."""
    t0 = time.time()
    metrics: dict[str, float | None] = {}
    intervals: dict[str, list[float | None]] = {}
    unsupported: dict[str, str] = {}
    episodes: list[dict[str, Any]] = []
    labels: dict[str, tuple[str, str]] = {"accuracy": ("higher", "few-shot accuracy (mean over settings)")}
    for way, shot in spec.fewshot_settings():
        name = fewshot_metric(way, shot)
        labels[name] = ("higher", f"{way}-way {shot}-shot accuracy")
        labels[f"{name}_std"] = ("lower", f"{way}-way {shot}-shot std over folds")
        try:
            folds = classify.few_shot_folds(train_store.category, test_store.category, way, shot,
                                            folds=spec.fewshot_folds, seed=spec.seed, n_query=spec.fewshot_query)
        except ValueError as exc:
            metrics[name] = metrics[f"{name}_std"] = None
            unsupported[name] = str(exc)
            continue
        acc = classify.few_shot_accuracy(train[0], train_store.category, test[0], test_store.category, folds,
                                         l2=spec.fewshot_l2)
        metrics[name], metrics[f"{name}_std"] = float(acc.mean()), float(acc.std())
        intervals[name] = list(bootstrap_ci(acc, n_boot=spec.n_bootstrap, seed=BOOTSTRAP_SEED))
        episodes += [{"unit": f"{name}/{f}", "setting": name, "fold": f, "accuracy": float(a)}
                     for f, a in enumerate(acc)]
    values = [e["accuracy"] for e in episodes]
    metrics = {"accuracy": float(np.mean(values)) if values else None, **metrics}
    if values:
        intervals = {"accuracy": list(bootstrap_ci(values, n_boot=spec.n_bootstrap, seed=BOOTSTRAP_SEED)), **intervals}
    queries = f"{spec.fewshot_query} a class" if spec.fewshot_query else "every shape of the episode's classes"
    conventions = {"latents": "draw 0", "support": "train split", "queries": f"test split, {queries}",
                   "folds": spec.fewshot_folds, "l2": spec.fewshot_l2, "unit": "episode", "unsupported": unsupported}
    return ProbeOutcome("fewshot", metrics=metrics, intervals=intervals,
                        metric_info=info("fewshot", labels, conventions), episodes=episodes, seconds=time.time() - t0)
