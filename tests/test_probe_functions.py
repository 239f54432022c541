"""The probe battery's pure functions: logistic and k-NN probes, few-shot episodes, retrieval scores,
normalised generality and paired differences, against hand-computed values and analytic conditions."""

import math

import numpy as np
import pytest

from bench.probe import classify
from bench.probe.classify import (
    Fold,
    LinearModel,
    few_shot_accuracy,
    few_shot_folds,
    fit_logistic,
    knn_predict,
    retrieval_scores,
)
from bench.probe.generality import Generality, PairedDifference, generality, normalise, paired_difference


def _two_clusters(rng, n=40, gap=3.0):
    """(2n, 2) points: class 0 around (+gap, 0), class 1 around (-gap, 0); separable by x0 = 0."""
    x = np.concatenate([rng.uniform(-1, 1, (n, 2)) + [gap, 0.0], rng.uniform(-1, 1, (n, 2)) - [gap, 0.0]])
    return x.astype(np.float32), np.repeat([0, 1], n)


def _objective_gradient(model: LinearModel, x, y, n_classes, l2):
    """Gradient of mean cross-entropy + l2/2 ||W||^2 at the model, by hand: dW = (P - Y)^T Z / N + l2 W."""
    z = (np.asarray(x, dtype=np.float64) - model.mean) / model.scale
    logits = z @ model.weight.T + model.bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    residual = p - np.eye(n_classes)[y]
    return residual.T @ z / len(y) + l2 * model.weight, residual.mean(axis=0)


def _angles(degrees, radii=None):
    """Points on circles: angle in degrees, radius (1 by default) -> (N, 2)."""
    t = np.deg2rad(np.asarray(degrees, dtype=np.float64))
    r = np.ones_like(t) if radii is None else np.asarray(radii, dtype=np.float64)
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


# --- fit_logistic ---------------------------------------------------------------------------------

def test_logistic_separates_a_linearly_separable_toy_set():
    rng = np.random.default_rng(0)
    x, y = _two_clusters(rng)
    model = fit_logistic(x, y, n_classes=2)
    assert model.converged and 0 < model.iterations < 500
    assert model.weight.shape == (2, 2) and model.bias.shape == (2,)
    assert (model.predict(x) == y).all()
    held_out, held_y = _two_clusters(np.random.default_rng(1))
    assert (model.predict(held_out) == held_y).all()
    # The standardisation is the training mean and (ddof 0) standard deviation.
    np.testing.assert_allclose(model.mean, x.astype(np.float64).mean(axis=0))
    np.testing.assert_allclose(model.scale, x.astype(np.float64).std(axis=0))
    assert model.logits(x).shape == (80, 2) and model.predict(x).dtype == np.int64


def test_logistic_gradient_is_zero_at_the_solution():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, 60)                              # overlapping classes: a finite optimum
    model = fit_logistic(x, y, n_classes=3, l2=0.1, tol=1e-10)
    assert model.converged
    g_w, g_b = _objective_gradient(model, x, y, 3, 0.1)
    assert np.abs(g_w).max() < 1e-6 and np.abs(g_b).max() < 1e-6
    # The starting point (W = 0, b = 0) is not optimal: the test would catch a fit that does not move.
    start = LinearModel(np.zeros((3, 4)), np.zeros(3), model.mean, model.scale, 0, False)
    assert np.abs(_objective_gradient(start, x, y, 3, 0.1)[0]).max() > 1e-2


def test_logistic_with_large_l2_shrinks_the_weights_towards_the_first_order_answer():
    rng = np.random.default_rng(3)
    x, y = _two_clusters(rng)
    norms = [np.linalg.norm(fit_logistic(x, y, 2, l2=l2).weight) for l2 in (1e-2, 1.0, 100.0)]
    assert norms[0] > norms[1] > norms[2]
    # For l2 -> inf, W -> -(P0 - Y)^T Z / (N l2) with P0 = (1/2, 1/2), the balanced classes' prior.
    l2 = 1e4
    model = fit_logistic(x, y, 2, l2=l2, tol=1e-12)
    z = (x.astype(np.float64) - model.mean) / model.scale
    expected = -(0.5 - np.eye(2)[y]).T @ z / (len(y) * l2)
    np.testing.assert_allclose(model.weight, expected, rtol=1e-3, atol=1e-9)
    assert np.linalg.norm(model.weight) < 1e-3 * norms[0]


def test_logistic_is_deterministic():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(50, 6)), rng.integers(0, 4, 50)
    a, b = fit_logistic(x, y, 4), fit_logistic(x.copy(), y.copy(), 4)
    assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
    assert a.iterations == b.iterations and a.converged == b.converged


def test_logistic_absent_class_gets_a_row_that_is_never_predicted():
    x, y = _two_clusters(np.random.default_rng(5))
    model = fit_logistic(x, y, n_classes=4)                 # classes 2 and 3 have no training shape
    assert model.weight.shape == (4, 2) and model.converged
    logits = model.logits(x)
    assert (logits[:, 2:].max(axis=1) < logits[:, :2].max(axis=1) - 5).all()
    assert set(model.predict(x)) == {0, 1}


def test_logistic_stops_at_max_iter_without_converging():
    x, y = _two_clusters(np.random.default_rng(6))
    model = fit_logistic(x, y, 2, max_iter=1)
    assert model.iterations == 1 and not model.converged


def test_logistic_constant_feature_is_floored_not_blown_up():
    x = np.array([[1.0, 5.0], [2.0, 5.0], [-1.0, 5.0], [-2.0, 5.0]])
    model = fit_logistic(x, np.array([0, 0, 1, 1]), 2)
    assert model.scale[1] == 1e-6 and np.all(model.weight[:, 1] == 0.0)  # never any gradient on it
    assert list(model.predict(np.array([[3.0, 7.0], [-3.0, 3.0]]))) == [0, 1]


@pytest.mark.parametrize("kwargs, message", [
    (dict(x=np.zeros((3, 2)), y=np.array([0, 1, 2]), n_classes=2), "outside 0..1"),
    (dict(x=np.zeros((3, 2)), y=np.array([0, 1]), n_classes=2), "one label per row of x"),
    (dict(x=np.array([[0.0, np.nan], [1.0, 1.0]]), y=np.array([0, 1]), n_classes=2), "NaN/inf"),
    (dict(x=np.zeros(3), y=np.array([0, 1, 1]), n_classes=2), "shape (N, D)"),
    (dict(x=np.zeros((2, 2)), y=np.array([0.5, 1.0]), n_classes=2), "integer class labels"),
])
def test_logistic_bad_input_is_one_clear_error(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fit_logistic(**kwargs)


# --- knn_predict ----------------------------------------------------------------------------------

def test_knn_euclidean_majority_and_tie_rules_by_hand():
    # 1-D training points (as (M, 1)): position -> label. The query sits at 0.
    train = np.array([[1.0], [-2.0], [2.5], [4.0], [-3.0]])
    labels = np.array([3, 7, 7, 3, 9])
    query = np.zeros((1, 1))
    # k=1: the nearest is 1.0 (label 3).
    assert knn_predict(train, labels, query, k=1, metric="euclidean")[0] == 3
    # k=3: 1.0 (3), -2.0 (7), 2.5 (7) -> label 7 has two votes.
    assert knn_predict(train, labels, query, k=3, metric="euclidean")[0] == 7
    # k=4: adds 4.0 (3): 2 votes each; summed similarity 3: -(1 + 4) = -5, 7: -(2 + 2.5) = -4.5 -> 7.
    assert knn_predict(train, labels, query, k=4, metric="euclidean")[0] == 7
    # Exact tie in votes and summed similarity: 3 at -(1 + 3) = -4, 8 at -(2 + 2) = -4 -> smallest label 3.
    train = np.array([[1.0], [2.0], [-2.0], [3.0]])
    assert knn_predict(train, np.array([3, 8, 8, 3]), query, k=4, metric="euclidean")[0] == 3
    assert knn_predict(train, np.array([8, 3, 3, 8]), query, k=4, metric="euclidean")[0] == 3


def test_knn_points_tied_with_the_kth_go_in_training_order():
    query = np.zeros((1, 1))
    train = np.array([[1.0], [-1.0]])                      # both at distance 1
    assert knn_predict(train, np.array([5, 2]), query, k=1, metric="euclidean")[0] == 5
    assert knn_predict(train[::-1], np.array([2, 5]), query, k=1, metric="euclidean")[0] == 2
    # k=2: one vote each, equal summed similarity -> the smaller label.
    assert knn_predict(train, np.array([5, 2]), query, k=2, metric="euclidean")[0] == 2
    # Four points tied for places 2..3 of k=3: the two lowest indices among them take the places.
    train = np.array([[0.5], [2.0], [-2.0], [2.0], [-2.0]])
    labels = np.array([1, 4, 6, 6, 6])
    # neighbours: index 0 (1), indices 1, 2 (4, 6) -> one vote each; summed -0.5, -2, -2 -> label 1.
    assert knn_predict(train, labels, query, k=3, metric="euclidean")[0] == 1
    # k=4: indices 0..3 -> label 6 has two votes (indices 2, 3).
    assert knn_predict(train, labels, query, k=4, metric="euclidean")[0] == 6


def test_knn_cosine_ignores_length_where_euclidean_does_not():
    # Training points at angles 0, 40, 90 degrees with lengths 10, 1, 1; query at 10 degrees, length 1.
    train = _angles([0, 40, 90], radii=[10, 1, 1])
    labels = np.array([0, 1, 2])
    query = _angles([10])
    assert knn_predict(train, labels, query, k=1, metric="cosine")[0] == 0       # 10 degrees away
    assert knn_predict(train, labels, query, k=1, metric="euclidean")[0] == 1    # 0.52 vs 9.0 away
    # Cosine, k=2: 0 (cos 10) and 1 (cos 30): a vote each; 0's similarity is larger -> 0.
    assert knn_predict(train, labels, query, k=2)[0] == 0
    # k larger than the training set is capped: all three vote once; the largest summed cosine is 0's.
    assert knn_predict(train, labels, query, k=50)[0] == 0


def test_knn_blocks_agree_with_a_brute_force_vote(monkeypatch):
    rng = np.random.default_rng(7)
    train, labels = rng.normal(size=(40, 3)), rng.integers(0, 4, 40) * 10   # labels 0, 10, 20, 30
    queries = rng.normal(size=(25, 3))
    unit = train / np.linalg.norm(train, axis=1, keepdims=True)
    sims = queries / np.linalg.norm(queries, axis=1, keepdims=True) @ unit.T
    expected = []
    for row in sims:
        nearest = np.argsort(-row, kind="stable")[:5]
        votes = {c: np.sum(labels[nearest] == c) for c in np.unique(labels)}
        top = max(votes.values())
        tied = [c for c in sorted(votes) if votes[c] == top]
        expected.append(max(tied, key=lambda c: (row[nearest][labels[nearest] == c].sum(), -c)))
    whole = knn_predict(train, labels, queries, k=5)
    monkeypatch.setattr(classify, "_BLOCK_ENTRIES", 40 * 3)    # blocks of 3 queries
    assert list(whole) == expected
    assert list(knn_predict(train, labels, queries, k=5)) == expected


def test_knn_bad_metric():
    with pytest.raises(ValueError, match="metric must be one of"):
        knn_predict(np.ones((2, 2)), np.array([0, 1]), np.ones((1, 2)), metric="manhattan")


# --- few-shot episodes ----------------------------------------------------------------------------

# Train labels: class 0 x4, 1 x3, 2 x2, 3 x5, 4 x1 (too few for 2-shot), 5 x3 (no test shape).
TRAIN_Y = np.array([0, 1, 2, 3, 0, 1, 3, 3, 2, 0, 4, 5, 5, 5, 1, 3, 0, 3])
TEST_Y = np.array([1, 0, 3, 2, 0, 4, 3, 1, 0, 2, 3])


def test_few_shot_folds_follow_the_rules():
    folds = few_shot_folds(TRAIN_Y, TEST_Y, n_way=3, k_shot=2, folds=12, seed=0)
    assert len(folds) == 12
    for fold in folds:
        assert fold.classes.shape == (3,) and len(set(fold.classes)) == 3
        assert set(fold.classes) <= {0, 1, 2, 3}               # 4 lacks train shapes, 5 test shapes
        assert list(fold.classes) == sorted(fold.classes)
        assert fold.support.shape == (6,) and len(set(fold.support)) == 6
        assert fold.support.min() >= 0 and fold.support.max() < len(TRAIN_Y)
        # k_shot per class, in the order of fold.classes.
        assert list(TRAIN_Y[fold.support]) == list(np.repeat(fold.classes, 2))
        # n_query = 0: every test shape of the episode's classes, in index order.
        assert list(fold.query) == list(np.flatnonzero(np.isin(TEST_Y, fold.classes)))
    assert len({tuple(f.classes) + tuple(f.support) for f in folds}) > 1   # episodes differ per fold


def test_few_shot_folds_depend_on_the_seed_and_fold_only():
    a = few_shot_folds(TRAIN_Y, TEST_Y, 3, 2, folds=10, seed=3)
    b = few_shot_folds(TRAIN_Y, TEST_Y, 3, 2, folds=10, seed=3)
    short = few_shot_folds(TRAIN_Y, TEST_Y, 3, 2, folds=4, seed=3)
    for x, y in zip(a, b):
        assert np.array_equal(x.classes, y.classes) and np.array_equal(x.support, y.support)
        assert np.array_equal(x.query, y.query)
    for x, y in zip(a[:4], short):                             # fold f is the same whatever `folds` is
        assert np.array_equal(x.support, y.support)
    # Fold f draws from default_rng([seed, n_way, k_shot, f]): its classes come first.
    rng = np.random.default_rng([3, 3, 2, 5])
    assert list(a[5].classes) == sorted(rng.choice(np.array([0, 1, 2, 3]), size=3, replace=False))
    other = few_shot_folds(TRAIN_Y, TEST_Y, 3, 2, folds=10, seed=4)
    assert any(not np.array_equal(x.support, y.support) for x, y in zip(a, other))


def test_few_shot_folds_cap_queries_per_class():
    for fold in few_shot_folds(TRAIN_Y, TEST_Y, 4, 1, folds=5, n_query=2):
        counts = np.bincount(TEST_Y[fold.query], minlength=6)
        # test shapes per class: 0 x3, 1 x2, 2 x2, 3 x3, 4 x1 (1-shot: class 4 qualifies) -> min(2, count).
        test_shapes = {0: 3, 1: 2, 2: 2, 3: 3, 4: 1}
        assert list(counts[fold.classes]) == [min(2, test_shapes[c]) for c in fold.classes]
        assert list(fold.query) == sorted(fold.query) and len(set(fold.query)) == counts.sum()


def test_few_shot_folds_too_few_classes_says_how_many_qualify():
    with pytest.raises(ValueError, match="5-way 2-shot .*; 4 qualify"):
        few_shot_folds(TRAIN_Y, TEST_Y, n_way=5, k_shot=2)
    with pytest.raises(ValueError, match="; 1 qualify"):          # only class 3 has 5 train shapes
        few_shot_folds(TRAIN_Y, TEST_Y, n_way=2, k_shot=5)


def test_few_shot_accuracy_is_one_on_perfect_clusters():
    rng = np.random.default_rng(8)
    centres = np.eye(6) * 10.0
    train_x = centres[TRAIN_Y] + rng.normal(0, 0.1, (len(TRAIN_Y), 6))
    test_x = centres[TEST_Y] + rng.normal(0, 0.1, (len(TEST_Y), 6))
    folds = few_shot_folds(TRAIN_Y, TEST_Y, 3, 2, folds=6)
    acc = few_shot_accuracy(train_x, TRAIN_Y, test_x, TEST_Y, folds)
    assert acc.shape == (6,) and np.array_equal(acc, np.ones(6))


def test_few_shot_accuracy_by_hand():
    # 2-way 1-shot on classes 4 and 9: supports at +1 and -1 on the line. Queries of class 4: three at
    # +1, one at -1 (misplaced); of class 9: four at -1. Right: 3 + 4 of 8 -> 7/8.
    train_x, train_y = np.array([[1.0], [-1.0]]), np.array([4, 9])
    test_x = np.array([[1.0], [1.1], [0.9], [-1.0], [-1.0], [-0.9], [-1.1], [-1.2]])
    test_y = np.array([4, 4, 4, 4, 9, 9, 9, 9])
    fold = Fold(classes=np.array([4, 9]), support=np.array([0, 1]), query=np.arange(8))
    assert few_shot_accuracy(train_x, train_y, test_x, test_y, [fold])[0] == 7 / 8


def test_few_shot_accuracy_refuses_folds_of_other_labels():
    fold = Fold(classes=np.array([0, 1]), support=np.array([0, 5]), query=np.array([0]))
    with pytest.raises(ValueError, match="support indices run outside"):
        few_shot_accuracy(np.zeros((2, 1)), np.array([0, 1]), np.zeros((1, 1)), np.array([0]), [fold])


# --- retrieval_scores -----------------------------------------------------------------------------

# Five shapes at angles 0, 10, 33, 60, 100 degrees (lengths differ: cosine ignores them), labels 0 1 0 0 1.
# Rankings of the others by angular distance (label in brackets; * = relevant):
#   q0   (0): 10 [1], 33 [0]*, 60 [0]*, 100 [1]  -> AP = (1/2 + 2/3) / 2 = 7/12,   P@3 = 2/3
#   q10  (1):  0 [0], 33 [0],  60 [0], 100 [1]*  -> AP = 1/4,                     P@3 = 0
#   q33  (0): 10 [1], 60 [0]*,  0 [0]*, 100 [1]  -> AP = (1/2 + 2/3) / 2 = 7/12,   P@3 = 2/3
#   q60  (0): 33 [0]*, 100 [1], 10 [1],  0 [0]*  -> AP = (1 + 2/4) / 2 = 3/4,      P@3 = 1/3
#   q100 (1): 60 [0],  33 [0],  10 [1]*, 0 [0]   -> AP = 1/3,                     P@3 = 1/3
RET_X = _angles([0, 10, 33, 60, 100], radii=[1.0, 2.0, 0.5, 3.0, 1.5])
RET_Y = np.array([0, 1, 0, 0, 1])


def test_retrieval_by_hand():
    ap, p3 = retrieval_scores(RET_X, RET_Y, k=3)
    np.testing.assert_allclose(ap, [7 / 12, 1 / 4, 7 / 12, 3 / 4, 1 / 3])
    np.testing.assert_allclose(p3, [2 / 3, 0, 2 / 3, 1 / 3, 1 / 3])
    # k beyond the gallery (4 others) is capped: the share of relevant items among all four.
    _, p10 = retrieval_scores(RET_X, RET_Y, k=10)
    np.testing.assert_allclose(p10, [2 / 4, 1 / 4, 2 / 4, 2 / 4, 1 / 4])


def test_retrieval_query_without_relevant_item_is_nan():
    # Labels 0 1 0 0 7: shapes 1 and 4 are alone in their category.
    ap, p2 = retrieval_scores(RET_X, np.array([0, 1, 0, 0, 7]), k=2)
    assert list(np.isnan(ap)) == [False, True, False, False, True]
    assert p2[1] == 0.0 and p2[4] == 0.0
    assert ap[0] == pytest.approx(7 / 12)                   # q0: 10 [1], 33 [0]*, 60 [0]*, 100 [7]


def test_retrieval_against_an_explicit_gallery_keeps_every_item():
    # Query at 4 degrees, label 0, against all five: 0 [0]*, 10 [1], 33 [0]*, 60 [0]*, 100 [1]
    # -> AP = (1 + 2/3 + 3/4) / 3 = 29/36, P@2 = 1/2. An identical copy in the gallery ranks first.
    ap, p2 = retrieval_scores(_angles([4, 0]), np.array([0, 1]), k=2, gallery_x=RET_X, gallery_y=RET_Y)
    assert ap[0] == pytest.approx(29 / 36) and p2[0] == 0.5
    # Query at 0 degrees, label 1: 0 [0], 10 [1]*, 33 [0], 60 [0], 100 [1]* -> AP = (1/2 + 2/5) / 2.
    assert ap[1] == pytest.approx((1 / 2 + 2 / 5) / 2) and p2[1] == 0.5


def test_retrieval_equal_similarities_keep_gallery_order():
    gallery = np.array([[1.0, 0.0], [2.0, 0.0]])           # the same direction
    query = np.array([[1.0, 0.0]])
    ap, _ = retrieval_scores(query, np.array([0]), gallery_x=gallery, gallery_y=np.array([1, 0]))
    assert ap[0] == 0.5                                      # the other label comes first
    ap, _ = retrieval_scores(query, np.array([0]), gallery_x=gallery, gallery_y=np.array([0, 1]))
    assert ap[0] == 1.0


def test_retrieval_perfect_clusters_give_ap_one():
    rng = np.random.default_rng(9)
    y = np.repeat([0, 1, 2], 6)
    x = np.eye(3)[y] * 5 + rng.normal(0, 0.01, (18, 3))
    ap, p5 = retrieval_scores(x, y, k=5)
    assert np.array_equal(ap, np.ones(18)) and np.array_equal(p5, np.ones(18))


def test_retrieval_blocks_exclude_the_right_query(monkeypatch):
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(23, 4)), rng.integers(0, 3, 23)
    whole = retrieval_scores(x, y, k=4)
    monkeypatch.setattr(classify, "_BLOCK_ENTRIES", 23 * 5)  # blocks of 5 queries
    for a, b in zip(whole, retrieval_scores(x, y, k=4)):
        np.testing.assert_array_equal(a, b)
    # Query 17 alone against the other 22: the same scores.
    keep = np.arange(23) != 17
    ap, pk = retrieval_scores(x[17:18], y[17:18], k=4, gallery_x=x[keep], gallery_y=y[keep])
    assert ap[0] == whole[0][17] and pk[0] == whole[1][17]


# --- normalise and generality ---------------------------------------------------------------------

def test_normalise_by_hand():
    assert normalise(0.7, 0.2, 0.7) == 1.0
    assert normalise(0.45, 0.2, 0.7) == pytest.approx(0.5)
    assert normalise(0.1, 0.2, 0.7) == pytest.approx(-0.2)  # below the zero reference: not clipped
    assert normalise(3.0, 4.0, 2.0) == pytest.approx(0.5)   # references may run downwards
    assert math.isnan(normalise(0.5, 0.3, 0.3))
    assert math.isnan(normalise(float("nan"), 0.0, 1.0)) and math.isnan(normalise(0.5, 0.0, float("nan")))


def test_generality_of_constant_units_is_exact_with_degenerate_intervals():
    units = {
        "linear": (np.full(5, 0.75), np.full(5, 0.5), np.full(5, 1.0)),       # (0.75 - 0.5) / 0.5 = 0.5
        "retrieval": (np.full(3, 0.375), np.full(3, 0.25), np.full(3, 0.75)),  # 0.125 / 0.5 = 0.25
    }
    result = generality(units, n_boot=200)
    assert isinstance(result, Generality)
    assert result.per_probe == {"linear": 0.5, "retrieval": 0.25}
    assert result.per_probe_interval == {"linear": (0.5, 0.5), "retrieval": (0.25, 0.25)}
    assert result.mean == 0.375 and result.interval == (0.375, 0.375)


def test_generality_encoder_equal_to_the_one_reference_scores_one():
    rng = np.random.default_rng(11)
    one = {"a": rng.uniform(0.5, 1, 30), "b": rng.uniform(0.5, 1, 7)}
    units = {p: (one[p].copy(), rng.uniform(0, 0.5, one[p].size), one[p]) for p in one}
    result = generality(units, n_boot=300)
    assert result.per_probe == {"a": 1.0, "b": 1.0} and result.mean == 1.0
    # Paired resampling: the encoder and the one reference always draw the same units.
    assert result.per_probe_interval == {"a": (1.0, 1.0), "b": (1.0, 1.0)} and result.interval == (1.0, 1.0)


def test_generality_two_units_by_hand():
    # Probe "a": encoder (0.5, 1.0), zero (0, 0.5), one (1, 1). Means: 0.75, 0.25, 1.0 -> 0.5 / 0.75 = 2/3
    # (not the mean of the per-unit normalised scores, 0.75). The resamples are unit 0 twice -> 0.5,
    # unit 1 twice -> (1 - 0.5) / (1 - 0.5) = 1, or one of each -> 2/3; each extreme has probability
    # 1/4, so the 2.5 % and 97.5 % quantiles are 0.5 and 1.
    # Probe "b": encoder equal to the zero reference -> 0 in every resample.
    units = {"a": (np.array([0.5, 1.0]), np.array([0.0, 0.5]), np.array([1.0, 1.0])),
             "b": (np.array([0.2, 0.4]), np.array([0.2, 0.4]), np.array([0.6, 0.8]))}
    result = generality(units, n_boot=1000, seed=0)
    assert result.per_probe["a"] == pytest.approx(2 / 3) and result.per_probe["b"] == 0.0
    assert result.per_probe_interval["a"] == pytest.approx((0.5, 1.0))
    assert result.per_probe_interval["b"] == (0.0, 0.0)
    assert result.mean == pytest.approx(1 / 3) and result.interval == pytest.approx((0.25, 0.5))


def test_generality_is_deterministic_and_probes_resample_independently():
    rng = np.random.default_rng(12)
    units = {p: (rng.uniform(0.3, 0.8, n), rng.uniform(0, 0.3, n), rng.uniform(0.8, 1, n))
             for p, n in (("linear", 40), ("knn", 25), ("few_shot", 10))}
    a, b = generality(units, seed=5), generality(units, seed=5)
    assert a == b
    assert generality(units, seed=6).interval != a.interval
    low, high = a.interval
    assert low < a.mean < high
    # A probe's resamples depend on its own name and the seed, not on the other probes.
    alone = generality({"knn": units["knn"]}, seed=5)
    assert alone.per_probe_interval["knn"] == a.per_probe_interval["knn"]
    assert a.mean == pytest.approx(np.mean(list(a.per_probe.values())))


@pytest.mark.filterwarnings("ignore:Mean of empty slice")   # a resample of the NaN unit alone: left out
def test_generality_drops_nan_units_and_flags_degenerate_references():
    units = {"retrieval": (np.array([np.nan, 0.5, 1.0]), np.array([np.nan, 0.0, 0.5]),
                           np.array([np.nan, 1.0, 1.0]))}
    result = generality(units, n_boot=500)
    assert result.per_probe["retrieval"] == pytest.approx(2 / 3)       # as the two-unit case above
    flat = generality({"x": (np.array([0.2, 0.4]), np.array([0.5, 0.5]), np.array([0.5, 0.5])),
                       "y": (np.ones(3), np.zeros(3), np.ones(3))}, n_boot=50)
    assert math.isnan(flat.per_probe["x"]) and all(math.isnan(v) for v in flat.per_probe_interval["x"])
    assert flat.per_probe["y"] == 1.0 and math.isnan(flat.mean) and all(math.isnan(v) for v in flat.interval)


def test_generality_with_a_median_statistic():
    units = {"p": (np.array([0.1, 0.5, 0.9]), np.array([0.0, 0.0, 0.0]), np.array([1.0, 1.0, 1.0]))}
    assert generality(units, n_boot=100, statistic=np.nanmedian).per_probe["p"] == 0.5


def test_generality_refuses_unpaired_units():
    with pytest.raises(ValueError, match="same units in the same order"):
        generality({"p": (np.zeros(3), np.zeros(2), np.ones(3))})
    with pytest.raises(ValueError, match="units is empty"):
        generality({})


# --- paired_difference ----------------------------------------------------------------------------

def test_paired_difference_of_a_constant_shift_is_that_shift():
    a = np.random.default_rng(13).integers(0, 16, 50) / 16.0   # dyadic: b - a is exactly 0.25
    diff = paired_difference(a, a + 0.25, n_boot=500)
    assert isinstance(diff, PairedDifference)
    assert (diff.low, diff.high, diff.n) == (0.25, 0.25, 50)     # every resample sees the same shift
    assert diff.mean == pytest.approx(0.25, abs=1e-12)          # a mean of b minus a mean of a: rounding
    assert diff.verdict() == "better" and diff.verdict(higher_is_better=False) == "worse"
    down = paired_difference(a, a - 0.25)
    assert (down.low, down.high) == (-0.25, -0.25)
    assert down.verdict() == "worse" and down.verdict(higher_is_better=False) == "better"


def test_paired_difference_drops_nan_pairs_and_straddling_is_no_difference():
    a = np.array([0.5, np.nan, 0.25, 0.75, 0.5])
    b = np.array([0.75, 0.5, np.nan, 0.5, 0.5])         # pairs kept: 0, 3, 4 -> differences 0.25, -0.25, 0
    diff = paired_difference(a, b, n_boot=1000, seed=0)
    assert diff.n == 3 and diff.mean == pytest.approx(0.0)
    assert diff.low < 0 < diff.high and diff.verdict() == "no significant difference"
    assert paired_difference(a, b, seed=0) == paired_difference(a, b, seed=0)
    empty = paired_difference(np.array([np.nan]), np.array([1.0]))
    assert empty.n == 0 and math.isnan(empty.mean) and empty.verdict() == "no significant difference"
    with pytest.raises(ValueError, match="same shapes"):
        paired_difference(np.zeros(3), np.zeros(4))
