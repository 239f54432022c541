"""Classification probes on cached latents: pure functions, arrays in, arrays out (no I/O, no global state).

Latents are ``(N, D)`` float arrays of a frozen encoder; labels are ``(N,)`` integer arrays. Four probes:

- ``fit_logistic``: multinomial logistic regression on z-scored features, L-BFGS in float64 to
  convergence; a ``LinearModel`` that predicts.
- ``knn_predict``: k-nearest-neighbour majority vote (cosine or Euclidean), with a total tie rule.
- ``few_shot_folds`` / ``few_shot_accuracy``: n-way k-shot episodes that depend on the labels only, so
  every encoder is scored on the same episodes; a logistic probe per episode.
- ``retrieval_scores``: category retrieval by cosine similarity, per-query average precision and
  precision@k (per-query arrays, so that a paired bootstrap over shapes can use them).

Every result is deterministic: the same inputs (and seed) give the same output. Arguments that cannot be
right (shapes that disagree, labels out of range, NaN latents) raise ``ValueError`` naming the argument,
what is wrong and what to pass instead, as the other pure-function modules do
(``bench/evaluation/uncertainty.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

METRICS = ("cosine", "euclidean")

# Standard deviations below this are floored: a feature that is (nearly) constant on the training latents
# is not blown up into noise by the z-score.
MIN_SCALE = 1e-6
# Similarity blocks of (queries, gallery) are kept near this many entries (64 MB of float64) whatever the
# gallery size; with small galleries a block holds at most _MAX_CHUNK queries.
_BLOCK_ENTRIES = 2 ** 23
_MAX_CHUNK = 4096


# ---------------------------------------------------------------------------------------------------
# Input checks


def _latents(x, name: str) -> np.ndarray:
    """``x`` as a finite (N, D) float64 array, or a ValueError naming ``name``."""
    arr = np.ascontiguousarray(x, dtype=np.float64)     # torch.from_numpy refuses negative strides
    if arr.ndim != 2:
        raise ValueError(f"{name} must be latents of shape (N, D), got an array of shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.flatnonzero(bad.any(axis=1))[0])
        raise ValueError(f"{name} has NaN/inf values ({int(bad.any(axis=1).sum())} rows, the first is row "
                         f"{row}): the latents cache is broken; encode the shapes again")
    return arr


def _labels(y, n: int | None, name: str, of: str) -> np.ndarray:
    """``y`` as an (n,) int64 array of whole numbers (any length if ``n`` is None), or a ValueError."""
    arr = np.asarray(y)
    if arr.ndim != 1 or (n is not None and arr.shape[0] != n):
        raise ValueError(f"{name} must hold one label per {of} ({'any number' if n is None else n}), "
                         f"got an array of shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        as_int = arr.astype(np.int64) if np.issubdtype(arr.dtype, np.number) else None
        if as_int is None or not np.array_equal(as_int, arr):
            raise ValueError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
        arr = as_int
    return arr.astype(np.int64, copy=False)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _chunk_size(gallery: int) -> int:
    """Queries per block so that a (queries, gallery) block stays near _BLOCK_ENTRIES entries."""
    return max(1, min(_MAX_CHUNK, _BLOCK_ENTRIES // max(1, gallery)))


def _unit_rows(x: torch.Tensor) -> torch.Tensor:
    """(N, D) -> (N, D) rows scaled to unit L2 norm; a zero row stays zero (similarity 0 to everything)."""
    return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)


# ---------------------------------------------------------------------------------------------------
# Linear probe


@dataclass(frozen=True, eq=False)  # arrays inside: no element-wise ==, no hash of contents
class LinearModel:
    """A fitted multinomial logistic regression on z-scored features.

    ``logits(x) = ((x - mean) / scale) @ weight.T + bias``. ``weight`` (C, D), ``bias`` (C,), ``mean`` and
    ``scale`` (D,) (the standardisation fitted on the training latents), all float64. ``iterations`` is
    the number of L-BFGS iterations run, ``converged`` whether a stopping rule was met before
    ``max_iter``.
    """

    weight: np.ndarray
    bias: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    iterations: int
    converged: bool

    def logits(self, x: np.ndarray) -> np.ndarray:
        """(N, D) latents -> (N, C) float64 logits."""
        arr = _latents(x, "x")
        if arr.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x has {arr.shape[1]} features per row but the model was fitted on "
                             f"{self.mean.shape[0]}; pass latents of the same encoder")
        return ((arr - self.mean) / self.scale) @ self.weight.T + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N, D) latents -> (N,) int64 labels in 0..C-1 (the largest logit; the smaller label on a tie)."""
        return np.argmax(self.logits(x), axis=1).astype(np.int64)


def fit_standardisation(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) features -> their per-feature mean and standard deviation (D,) each, float64 (ddof 0, floored at
    MIN_SCALE): the z-score ``(x - mean) / scale`` every probe that standardises latents uses."""
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0), np.maximum(x.std(axis=0), MIN_SCALE)


def fit_logistic(x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-2, max_iter: int = 500,
                 tol: float = 1e-6) -> LinearModel:
    """Fit a multinomial logistic regression: (N, D) latents, (N,) labels in 0..n_classes-1 -> LinearModel.

    The features are z-scored with the training mean and standard deviation (ddof 0, floored at 1e-6).
    The objective is ``mean cross-entropy + l2 / 2 * ||W||^2`` (the bias is not penalised), minimised in
    float64 by ``torch.optim.LBFGS`` (strong Wolfe line search) on the full batch, from W = 0, b = 0.
    It stops when the gradient's largest absolute entry is below ``tol``, or when one iteration changes
    the objective by less than ``tol * max(1, |objective|)``; either sets ``converged``. ``max_iter``
    bounds the iterations (then ``converged`` is False). Classes absent from ``y`` still get a row; their
    bias is pushed down until the objective stops changing, so they are never predicted on training-like
    inputs. Deterministic: no random initialisation.
    """
    feats = _latents(x, "x")
    n, d = feats.shape
    if n == 0:
        raise ValueError("x has no rows: fit_logistic needs at least one training latent")
    n_classes = _positive_int(n_classes, "n_classes")
    labels = _labels(y, n, "y", "row of x")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"y holds labels from {labels.min()} to {labels.max()}, outside 0..{n_classes - 1} "
                         f"(n_classes={n_classes}); remap the labels to 0..n_classes-1")
    if not (l2 >= 0 and np.isfinite(l2)):
        raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
    max_iter = _positive_int(max_iter, "max_iter")
    if not tol > 0:
        raise ValueError(f"tol must be > 0, got {tol!r}")

    mean, scale = fit_standardisation(feats)
    z = torch.from_numpy((feats - mean) / scale)                      # (N, D) float64
    target = torch.from_numpy(labels)
    weight = torch.zeros(n_classes, d, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    # One L-BFGS iteration per step() keeps the curvature history in the optimiser's state while the
    # stopping rules stay ours; torch's own tolerances are switched off. max_eval gives that one
    # iteration's line search its 25 trials (torch's default, max_iter * 5 // 4, would leave it none).
    opt = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=1, max_eval=1 + 25, tolerance_grad=0.0,
                            tolerance_change=0.0, history_size=10, line_search_fn="strong_wolfe")
    fresh: list[torch.Tensor] = []                                    # loss whose gradients are in .grad

    def evaluate() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(z @ weight.T + bias, target) + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    def closure() -> torch.Tensor:
        # step() first asks for the objective at the current point, which the loop has just evaluated:
        # hand that over instead of computing it twice.
        return fresh.pop() if fresh else evaluate()

    iterations, converged, previous = 0, False, None
    while True:
        loss = evaluate()
        value = loss.item()
        grad_max = max(float(weight.grad.abs().max()), float(bias.grad.abs().max()))
        if grad_max < tol or (previous is not None and abs(previous - value) < tol * max(1.0, abs(value))):
            converged = True
            break
        if iterations == max_iter:
            break
        fresh[:] = [loss]
        opt.step(closure)
        fresh.clear()
        iterations += 1
        previous = value
    return LinearModel(weight=weight.detach().numpy().copy(), bias=bias.detach().numpy().copy(), mean=mean,
                       scale=scale, iterations=iterations, converged=converged)


# ---------------------------------------------------------------------------------------------------
# k nearest neighbours


def knn_predict(train_x: np.ndarray, train_y: np.ndarray, x: np.ndarray, k: int = 5,
                metric: str = "cosine") -> np.ndarray:
    """(M, D) training latents, (M,) labels, (N, D) queries -> (N,) int64 predicted labels.

    Majority vote among the k nearest training points (k capped at M). ``metric="cosine"``: cosine
    similarity of the L2-normalised vectors; ``"euclidean"``: similarity is minus the Euclidean distance.
    The rules are total, so no choice is left to the order in which a sort happens to return ties:

    - the k nearest are the k most similar; training points tied with the k-th take the remaining
      places in training-index order (the lower index first);
    - a tie in votes goes to the tied class whose neighbours have the larger summed similarity, and a
      tie in that to the smallest label.

    Computed in float64 with torch, in blocks of queries (at most 4096, fewer for large training sets so
    that a block's (queries, M) similarity matrix stays near 8M entries).
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    train = _latents(train_x, "train_x")
    queries = _latents(x, "x")
    if train.shape[0] == 0:
        raise ValueError("train_x has no rows: knn_predict needs at least one training latent")
    if queries.shape[1] != train.shape[1]:
        raise ValueError(f"x has {queries.shape[1]} features per row but train_x has {train.shape[1]}; "
                         "pass latents of the same encoder")
    labels = _labels(train_y, train.shape[0], "train_y", "row of train_x")
    k = min(_positive_int(k, "k"), train.shape[0])
    classes, codes = np.unique(labels, return_inverse=True)          # classes sorted: code order = label order
    train_codes = torch.from_numpy(codes.ravel().astype(np.int64))   # (M,) in 0..C-1

    gallery = torch.from_numpy(train)
    if metric == "cosine":
        gallery = _unit_rows(gallery)
    out = np.empty(queries.shape[0], dtype=np.int64)
    step = _chunk_size(train.shape[0])
    for start in range(0, queries.shape[0], step):
        q = torch.from_numpy(queries[start:start + step])
        if metric == "cosine":
            sim = _unit_rows(q) @ gallery.T                             # (c, M)
        else:
            sim = -torch.cdist(q, gallery)                              # (c, M)
        value, index = torch.topk(sim, k, dim=1)                       # (c, k) the k largest similarities
        kth = value[:, -1:]
        crowded = ((sim >= kth).sum(dim=1) > k).nonzero().squeeze(1)   # rows with ties across the k-th place
        if crowded.numel():
            # topk picks among tied points in no documented order: give the places left to the lowest indices.
            s, t = sim[crowded], kth[crowded]
            above, tied = s > t, s == t
            room = k - above.sum(dim=1, keepdim=True)
            chosen = above | (tied & (tied.cumsum(dim=1) <= room))      # exactly k per row
            index[crowded] = chosen.nonzero()[:, 1].view(-1, k)         # row-major: k column indices per row
            value[crowded] = s.gather(1, index[crowded])
        neighbour_codes = train_codes[index]                             # (c, k)
        votes = torch.zeros(len(q), classes.size, dtype=torch.float64).scatter_add_(
            1, neighbour_codes, torch.ones_like(value))                  # (c, C) neighbours per class
        summed = torch.zeros_like(votes).scatter_add_(1, neighbour_codes, value)   # (c, C) their similarity
        best = votes == votes.max(dim=1, keepdim=True).values
        score = torch.where(best, summed, torch.full_like(summed, -torch.inf))
        out[start:start + step] = classes[torch.argmax(score, dim=1).numpy()]   # first max: smallest label
    return out


# ---------------------------------------------------------------------------------------------------
# Few-shot episodes


@dataclass(frozen=True, eq=False)  # arrays inside: no element-wise ==, no hash of contents
class Fold:
    """One n-way k-shot episode.

    ``classes`` (n_way,): the episode's class labels, sorted (the classifier's label i is ``classes[i]``);
    ``support`` (n_way * k_shot,): indices into the train split, k_shot per class in the order of
    ``classes``; ``query``: indices into the test split, sorted, of the episode's test shapes.
    """

    classes: np.ndarray
    support: np.ndarray
    query: np.ndarray


def few_shot_folds(train_y: np.ndarray, test_y: np.ndarray, n_way: int, k_shot: int, folds: int = 10,
                   seed: int = 0, n_query: int = 0) -> list[Fold]:
    """(M,) train labels, (N,) test labels -> ``folds`` n-way k-shot episodes.

    A class qualifies if it has at least ``k_shot`` train shapes and at least one test shape. Episode
    ``f`` draws from ``np.random.default_rng([seed, n_way, k_shot, f])``, in this order: ``n_way``
    distinct qualifying classes (then sorted); for each class in that order, ``k_shot`` of its train
    shapes without replacement (sorted within the class); with ``n_query > 0``, for each class in that
    order, ``min(n_query, its test shapes)`` of its test shapes without replacement. ``n_query = 0``
    takes every test shape of the episode's classes. The episodes depend on the labels only, never on
    latents, so every encoder is scored on the same episodes; episode f does not depend on ``folds``.
    Fewer than ``n_way`` qualifying classes -> ValueError saying how many qualify.
    """
    train_labels = _labels(train_y, None, "train_y", "train shape")
    test_labels = _labels(test_y, None, "test_y", "test shape")
    n_way = _positive_int(n_way, "n_way")
    k_shot = _positive_int(k_shot, "k_shot")
    folds = _positive_int(folds, "folds")
    if isinstance(n_query, bool) or int(n_query) != n_query or n_query < 0:
        raise ValueError(f"n_query must be an integer >= 0 (0: every test shape of the episode's classes), "
                         f"got {n_query!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")

    train_classes, train_counts = np.unique(train_labels, return_counts=True)
    qualifying = np.intersect1d(train_classes[train_counts >= k_shot], test_labels)   # sorted
    if qualifying.size < n_way:
        raise ValueError(f"{n_way}-way {k_shot}-shot needs {n_way} classes with at least {k_shot} train "
                         f"shape(s) and one test shape; {qualifying.size} qualify")
    # Index lists per class, ascending, drawn from in a fixed order: the episodes only depend on the labels.
    train_members = {int(c): np.flatnonzero(train_labels == c) for c in qualifying}
    test_members = {int(c): np.flatnonzero(test_labels == c) for c in qualifying}
    out = []
    for fold in range(folds):
        rng = np.random.default_rng([int(seed), n_way, k_shot, fold])
        classes = np.sort(rng.choice(qualifying, size=n_way, replace=False))
        support = np.concatenate([np.sort(rng.choice(train_members[int(c)], size=k_shot, replace=False))
                                  for c in classes])
        if n_query == 0:
            query = np.concatenate([test_members[int(c)] for c in classes])
        else:
            query = np.concatenate([rng.choice(test_members[int(c)], size=min(int(n_query),
                                                                              test_members[int(c)].size),
                                               replace=False) for c in classes])
        out.append(Fold(classes=classes.astype(np.int64), support=support.astype(np.int64),
                        query=np.sort(query).astype(np.int64)))
    return out


def few_shot_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                      folds: list[Fold], l2: float = 1e-2) -> np.ndarray:
    """(M, D) train latents and labels, (N, D) test latents and labels, episodes -> (folds,) accuracies.

    Per episode: ``fit_logistic`` on the support latents (labels remapped to 0..n_way-1 in the order of
    ``fold.classes``), prediction of the query latents, accuracy = share of the queries predicted right.
    """
    train = _latents(train_x, "train_x")
    test = _latents(test_x, "test_x")
    if test.shape[1] != train.shape[1]:
        raise ValueError(f"test_x has {test.shape[1]} features per row but train_x has {train.shape[1]}; "
                         "pass latents of the same encoder")
    train_labels = _labels(train_y, train.shape[0], "train_y", "row of train_x")
    test_labels = _labels(test_y, test.shape[0], "test_y", "row of test_x")
    out = np.empty(len(folds))
    for i, fold in enumerate(folds):
        classes = np.asarray(fold.classes)
        support, query = np.asarray(fold.support), np.asarray(fold.query)
        for name, idx, size in (("support", support, train.shape[0]), ("query", query, test.shape[0])):
            if idx.size and (idx.min() < 0 or idx.max() >= size):
                raise ValueError(f"fold {i}: {name} indices run outside 0..{size - 1}; build the folds with "
                                 "few_shot_folds from these same splits' labels")
        sorted_classes = np.all(classes[:-1] < classes[1:])
        if (not sorted_classes or not np.isin(train_labels[support], classes).all()
                or not np.isin(test_labels[query], classes).all() or query.size == 0):
            raise ValueError(f"fold {i} does not match these labels (classes not sorted and distinct, a "
                             "support or query shape outside the episode's classes, or no query); build the "
                             "folds with few_shot_folds from these same splits' labels")
        model = fit_logistic(train[support], np.searchsorted(classes, train_labels[support]), classes.size, l2=l2)
        predicted = model.predict(test[query])
        out[i] = float(np.mean(predicted == np.searchsorted(classes, test_labels[query])))
    return out


# ---------------------------------------------------------------------------------------------------
# Retrieval


def retrieval_scores(x: np.ndarray, y: np.ndarray, k: int = 10, gallery_x: np.ndarray | None = None,
                     gallery_y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) query latents, (N,) labels -> per-query average precision (N,) and precision@k (N,).

    Each query ranks the gallery by cosine similarity, most similar first; equal similarities keep the
    gallery's order (the lower index first). Default gallery: the other shapes of ``x`` (the query
    itself left out, so the gallery has N - 1 items); otherwise ``gallery_x`` (G, D) with labels
    ``gallery_y`` (G,), nothing left out. Relevant = same label.

    - AP = the mean, over the relevant gallery items, of the precision at their rank
      (``relevant in the top r / r``); a query with no relevant item gets NaN.
    - P@k = the share of the k most similar gallery items that are relevant, k capped at the gallery size.
    """
    queries = _latents(x, "x")
    labels = _labels(y, queries.shape[0], "y", "row of x")
    k = _positive_int(k, "k")
    if (gallery_x is None) != (gallery_y is None):
        raise ValueError("pass both gallery_x and gallery_y, or neither (the gallery is then x itself)")
    own = gallery_x is None
    if own:
        gallery, gallery_labels = queries, labels
    else:
        gallery = _latents(gallery_x, "gallery_x")
        gallery_labels = _labels(gallery_y, gallery.shape[0], "gallery_y", "row of gallery_x")
        if gallery.shape[1] != queries.shape[1]:
            raise ValueError(f"gallery_x has {gallery.shape[1]} features per row but x has {queries.shape[1]}; "
                             "pass latents of the same encoder")
    size = gallery.shape[0] - 1 if own else gallery.shape[0]
    if size < 1:
        where = f"x has {queries.shape[0]} row(s)" if own else "gallery_x has no rows"
        raise ValueError(f"the gallery is empty ({where}): retrieval needs at least one gallery shape per query")
    k = min(k, size)
    g = _unit_rows(torch.from_numpy(gallery))
    g_labels = torch.from_numpy(gallery_labels)
    ranks = torch.arange(1, size + 1, dtype=torch.float64)
    ap = np.empty(queries.shape[0])
    p_at_k = np.empty(queries.shape[0])
    step = _chunk_size(gallery.shape[0])
    for start in range(0, queries.shape[0], step):
        stop = min(start + step, queries.shape[0])
        sim = _unit_rows(torch.from_numpy(queries[start:stop])) @ g.T                  # (c, G)
        if own:                                                  # the query ranks last, then is cut off
            rows = torch.arange(stop - start)
            sim[rows, rows + start] = -torch.inf
        order = torch.sort(-sim, dim=1, stable=True).indices[:, :size]                # (c, size) best first
        relevant = (g_labels[order] == torch.from_numpy(labels[start:stop])[:, None]).to(torch.float64)
        hits = relevant.cumsum(dim=1)                                                 # relevant in the top r
        n_relevant = hits[:, -1]
        precision_sum = (hits / ranks * relevant).sum(dim=1)
        ap[start:stop] = torch.where(n_relevant > 0, precision_sum / n_relevant.clamp_min(1),
                                     torch.full_like(n_relevant, torch.nan)).numpy()
        p_at_k[start:stop] = (hits[:, k - 1] / k).numpy()
    return ap, p_at_k
