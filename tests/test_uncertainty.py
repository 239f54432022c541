"""Uncertainty of results: hand-computed means, analytic bootstrap widths, t intervals and verdict rules."""

import math

import numpy as np
import pytest

from bench.evaluation.uncertainty import (
    bootstrap_ci,
    category_mean,
    claim_verdict,
    instance_mean,
    paired_bootstrap_diff,
    seed_ci,
    stratified_indices,
    student_t_quantile,
    verdict,
)

Z975 = 1.959964  # standard normal 0.975 quantile


# --- means -------------------------------------------------------------------------------------------

def test_category_mean_unbalanced_differs_from_instance_mean():
    values = [1.0, 1.0, 1.0, 0.0]  # three shapes of "chair" scoring 1, one "lamp" scoring 0
    cats = ["chair", "chair", "chair", "lamp"]
    assert instance_mean(values) == pytest.approx(3 / 4)
    assert category_mean(values, cats) == pytest.approx((1.0 + 0.0) / 2)


def test_category_mean_three_categories_by_hand():
    values = np.array([0.2, 0.4, 0.9, 0.1, 0.3, 0.5])
    cats = np.array([2, 2, 7, 5, 5, 5])
    # category 2: 0.3; category 7: 0.9; category 5: 0.3 -> (0.3 + 0.9 + 0.3) / 3 = 0.5
    assert category_mean(values, cats) == pytest.approx(0.5)
    assert instance_mean(values) == pytest.approx(2.4 / 6)


def test_means_ignore_missing_and_empty_is_none():
    assert instance_mean([1.0, None, float("nan"), 3.0]) == pytest.approx(2.0)
    # "b" has only a missing score: it has no mean and is left out, not counted as 0
    assert category_mean([1.0, None, 3.0, 5.0], ["a", "b", "c", "c"]) == pytest.approx((1.0 + 4.0) / 2)
    assert instance_mean([]) is None
    assert instance_mean([None, float("nan")]) is None
    assert category_mean([], []) is None
    assert category_mean([None], ["a"]) is None
    with pytest.raises(ValueError, match="categories"):
        category_mean([1.0, 2.0], ["a"])


# --- bootstrap ---------------------------------------------------------------------------------------

def test_bootstrap_constant_single_and_empty():
    assert bootstrap_ci(np.full(50, 0.7)) == (0.7, 0.7)
    assert bootstrap_ci(np.full(50, 0.7), ["a"] * 20 + ["b"] * 30, statistic="category") == (0.7, 0.7)
    assert bootstrap_ci([0.3]) == (0.3, 0.3)
    assert bootstrap_ci([0.3, None]) == (0.3, 0.3)
    assert bootstrap_ci([]) == (None, None)
    assert bootstrap_ci([None]) == (None, None)


def test_bootstrap_normal_width_matches_theory():
    n = 4000
    values = np.random.default_rng(123).normal(loc=0.5, scale=1.0, size=n)
    low, high = bootstrap_ci(values, n_boot=1000, seed=0)
    expected = 2 * Z975 / math.sqrt(n)  # 2 * 1.96 * sigma / sqrt(n)
    assert (high - low) == pytest.approx(expected, rel=0.15)
    assert low < 0.5 < high
    assert low < values.mean() < high


def test_bootstrap_confidence_and_seed():
    values = np.random.default_rng(5).normal(size=2000)
    w95 = np.subtract(*bootstrap_ci(values, confidence=0.95)[::-1])
    w50 = np.subtract(*bootstrap_ci(values, confidence=0.50)[::-1])
    # normal quantiles: 0.75 -> 0.6745, 0.975 -> 1.96
    assert w50 / w95 == pytest.approx(0.6745 / Z975, rel=0.15)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(values, confidence=95)
    with pytest.raises(ValueError, match="statistic"):
        bootstrap_ci(values, statistic="median")
    with pytest.raises(ValueError, match="categories"):
        bootstrap_ci(values, statistic="category")


def test_stratified_indices_keep_every_category():
    cats = np.array(["plane"] * 7 + ["lamp"] + ["chair"] * 3 + ["sofa"] * 2)
    rng = np.random.default_rng(0)
    idx = stratified_indices(cats, 500, rng)
    assert idx.shape == (500, cats.size)
    assert (cats[idx] == cats[None, :]).all()  # every column stays in its category: sizes kept
    assert (idx[:, cats == "lamp"] == np.flatnonzero(cats == "lamp")[0]).all()
    assert len(np.unique(idx[:, cats == "plane"])) > 1  # it does resample


def test_category_bootstrap_never_drops_a_category():
    # Two shapes of category "rare" score 100; 998 shapes of "common" score N(0, 1).
    # Stratified: "rare" is in every resample, so the category mean is 50 + (common mean) / 2 ~ 50 +- 0.06.
    # An unstratified resample drops both rare shapes 13 % of the time (statistic ~ 0) or doubles them.
    values = np.concatenate([[100.0, 100.0], np.random.default_rng(1).normal(size=998)])
    cats = ["rare"] * 2 + ["common"] * 998
    low, high = bootstrap_ci(values, cats, statistic="category")
    assert 49.5 < low < high < 50.5
    assert high - low == pytest.approx(2 * Z975 * 0.5 / math.sqrt(998), rel=0.15)


def test_category_interval_is_undefined_with_a_single_shape_in_a_category():
    # One shape per category: every stratified resample is the sample itself, a zero-width interval that
    # would call any difference significant. The interval is undefined instead; the instance one is not.
    values, cats = [0.2, 0.5, 0.9, 0.4], ["a", "b", "c", "d"]
    assert bootstrap_ci(values, cats, statistic="category") == (None, None)
    assert paired_bootstrap_diff(values, [0.3, 0.5, 0.7, 0.6], cats, "category").low is None
    low, high = bootstrap_ci(values, statistic="instance")
    assert low < high


def test_category_bootstrap_width_matches_stratified_theory():
    rng = np.random.default_rng(7)
    values = np.concatenate([rng.normal(0.0, 1.0, 2000), rng.normal(3.0, 1.0, 500)])
    cats = [0] * 2000 + [1] * 500
    # var of (m0 + m1) / 2 = (1/2000 + 1/500) / 4 -> sd 0.025
    low, high = bootstrap_ci(values, cats, statistic="category")
    assert high - low == pytest.approx(2 * Z975 * 0.025, rel=0.15)
    assert low < category_mean(values, cats) < high
    assert low < 1.5 < high


def test_bootstrap_fast_for_ten_thousand_shapes():
    rng = np.random.default_rng(0)
    values = rng.normal(size=10_000)
    cats = rng.integers(0, 55, size=10_000)
    low, high = bootstrap_ci(values, cats, statistic="category", n_boot=1000)
    assert low < high


# --- paired differences ------------------------------------------------------------------------------

def _noisy_scores(seed, n=500):
    return np.random.default_rng(seed).uniform(0.3, 0.9, size=n)  # per-shape IoU, large shape variance


def test_paired_exact_shift_is_tight_and_better():
    a = _noisy_scores(0)
    b = a + 0.05
    res = paired_bootstrap_diff(a, b)
    assert res.diff == pytest.approx(0.05, abs=1e-12)
    # Paired, every resample has B - A = 0.05; an unpaired bootstrap would be about +-0.03 wide here.
    assert res.low == pytest.approx(0.05, abs=1e-9) and res.high == pytest.approx(0.05, abs=1e-9)
    assert verdict(res.low, res.high, higher_is_better=True) == "better"


def test_paired_shift_with_small_noise_width_is_that_of_the_differences():
    a = _noisy_scores(1, n=2000)
    b = a + 0.01 + np.random.default_rng(2).normal(0.0, 0.02, size=a.size)
    res = paired_bootstrap_diff(a, b)
    # width of a mean of differences with sd 0.02, not of the scores (sd 0.17)
    assert res.high - res.low == pytest.approx(2 * Z975 * 0.02 / math.sqrt(2000), rel=0.15)
    assert res.diff == pytest.approx(np.mean(b - a))
    assert res.low < res.diff < res.high
    assert res.diff == pytest.approx(0.01, abs=4 * 0.02 / math.sqrt(2000))  # within 4 standard errors
    assert verdict(res.low, res.high, True) == "better"


def test_paired_independent_same_distribution_no_difference():
    a, b = _noisy_scores(10), _noisy_scores(11)
    res = paired_bootstrap_diff(a, b)
    assert res.low < 0 < res.high
    assert verdict(res.low, res.high, higher_is_better=True) == "no significant difference"
    assert verdict(res.low, res.high, higher_is_better=False) == "no significant difference"


def test_paired_shift_down_is_worse_and_lower_is_better_flips():
    a = _noisy_scores(3)
    res = paired_bootstrap_diff(a, a - 0.05)
    assert res.diff == pytest.approx(-0.05)
    assert verdict(res.low, res.high, higher_is_better=True) == "worse"
    # Same numbers read as Chamfer-L1 (lower is better): B is better.
    assert verdict(res.low, res.high, higher_is_better=False) == "better"
    chamfer_a = _noisy_scores(4) / 100
    res = paired_bootstrap_diff(chamfer_a, chamfer_a + 0.001)
    assert verdict(res.low, res.high, higher_is_better=False) == "worse"
    # claim_verdict takes a higher-is-better interval: negate and swap a lower-is-better one.
    assert claim_verdict(-res.high, -res.low, "not_worse", tolerance=0.002) == "reproduced"
    assert claim_verdict(-res.high, -res.low, "not_worse", tolerance=0.0005) == "contradicted"


def test_paired_category_statistic():
    a = np.array([0.5, 0.5, 0.5, 0.2, 0.4])
    b = np.array([0.6, 0.6, 0.6, 0.2, 0.4])  # category x gains 0.1, category y gains 0
    cats = ["x", "x", "x", "y", "y"]
    res = paired_bootstrap_diff(a, b, cats, statistic="category", n_boot=200)
    assert res.diff == pytest.approx((0.1 + 0.0) / 2)  # instance mean would say 0.3 / 5 = 0.06
    # every stratified resample has the same per-category gains: the interval collapses on 0.05
    assert res.low == pytest.approx(0.05) and res.high == pytest.approx(0.05)
    assert paired_bootstrap_diff(a, b).diff == pytest.approx(0.06)


def test_paired_missing_lengths_and_degenerate():
    assert paired_bootstrap_diff([0.5, None, 0.7], [0.6, 0.9, None]) == pytest.approx((0.1, 0.1, 0.1))
    assert paired_bootstrap_diff([], []) == (None, None, None)
    with pytest.raises(ValueError, match="same shapes"):
        paired_bootstrap_diff([0.1, 0.2], [0.1, 0.2, 0.3])


# --- seeds -------------------------------------------------------------------------------------------

def test_seed_ci_hand_computed_t_interval():
    mean, low, high = seed_ci([1.0, 2.0, 3.0])
    half = 4.303 * 1.0 / math.sqrt(3)  # t_{0.975, 2} = 4.303, sd = 1
    assert mean == 2.0
    assert low == pytest.approx(2 - half, abs=1e-3)
    assert high == pytest.approx(2 + half, abs=1e-3)
    # 5 seeds, sd of [1, 2, 3, 4, 5] = sqrt(2.5), t_{0.975, 4} = 2.776
    mean, low, high = seed_ci([1, 2, 3, 4, 5])
    assert high - mean == pytest.approx(2.776 * math.sqrt(2.5) / math.sqrt(5), abs=1e-3)


def test_seed_ci_degenerate():
    assert seed_ci([0.7]) == (0.7, None, None)
    assert seed_ci([0.7, None]) == (0.7, None, None)
    assert seed_ci([]) == (None, None, None)
    assert seed_ci([0.7, 0.7]) == (0.7, 0.7, 0.7)


@pytest.mark.parametrize(("p", "df", "table"), [
    (0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 4, 2.776), (0.975, 9, 2.262), (0.975, 29, 2.045),
    (0.95, 1, 6.314), (0.95, 5, 2.015), (0.995, 3, 5.841), (0.975, 100_000, 1.960), (0.025, 2, -4.303),
])
def test_student_t_quantile_table(p, df, table):
    assert student_t_quantile(p, df) == pytest.approx(table, abs=1e-3)


def test_student_t_quantile_closed_forms():
    for p in (0.6, 0.9, 0.975, 0.9999):
        assert student_t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)  # Cauchy
        assert student_t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)
    assert student_t_quantile(0.5, 3) == 0.0


# --- verdicts ----------------------------------------------------------------------------------------

def test_verdict_rules():
    assert verdict(0.01, 0.03, True) == "better"
    assert verdict(-0.03, -0.01, True) == "worse"
    assert verdict(-0.01, 0.03, True) == "no significant difference"
    assert verdict(0.0, 0.03, True) == "no significant difference"  # touching 0 is not "wholly above"
    assert verdict(0.01, 0.03, True, tolerance=0.02) == "no significant difference"
    assert verdict(0.03, 0.05, True, tolerance=0.02) == "better"
    assert verdict(-0.05, -0.03, True, tolerance=0.02) == "worse"
    assert verdict(0.01, 0.03, False) == "worse"
    assert verdict(-0.03, -0.01, False) == "better"
    assert verdict(None, None, True) == "no significant difference"
    with pytest.raises(ValueError, match="reversed"):
        verdict(0.03, 0.01, True)
    with pytest.raises(ValueError, match="tolerance"):
        verdict(0.01, 0.03, True, tolerance=-0.1)


def test_claim_not_worse_paper_table4():
    # Table 4 (ModelNet40, point clouds): IoU baseline 0.73, joint 0.70 -> B - A = -0.03.
    ci = (-0.035, -0.025)
    assert claim_verdict(*ci, "not_worse", tolerance=0.04) == "reproduced"  # worse end -0.035 >= -0.04
    assert claim_verdict(*ci, "not_worse", tolerance=0.02) == "contradicted"  # all of it below -0.02
    # A drop equal to the tolerance leaves the interval straddling -0.03: it cannot be reproduced.
    assert claim_verdict(*ci, "not_worse", tolerance=0.03) == "inconclusive"


def test_claim_not_worse_branches():
    # worse end exactly on the boundary counts as within the tolerance
    assert claim_verdict(-0.01, 0.02, "not_worse", tolerance=0.01) == "reproduced"
    assert claim_verdict(0.01, 0.02, "not_worse", tolerance=0.0) == "reproduced"  # B better is not worse
    assert claim_verdict(-0.05, -0.02, "not_worse", tolerance=0.01) == "contradicted"
    assert claim_verdict(-0.05, -0.01, "not_worse", tolerance=0.01) == "inconclusive"  # high on the boundary
    assert claim_verdict(-0.02, 0.02, "not_worse", tolerance=0.01) == "inconclusive"
    assert claim_verdict(None, None, "not_worse", tolerance=0.01) == "inconclusive"


def test_claim_better_branches():
    # Table 4's classification: frozen ONet encoder vs joint training, a large gain.
    assert claim_verdict(0.30, 0.40, "better", tolerance=0.0) == "reproduced"
    assert claim_verdict(0.03, 0.05, "better", tolerance=0.02) == "reproduced"
    assert claim_verdict(-0.05, -0.01, "better", tolerance=0.0) == "contradicted"  # wholly worse
    assert claim_verdict(-0.01, 0.01, "better", tolerance=0.02) == "contradicted"  # within +-tolerance
    # a real gain, but no more than the tolerance
    assert claim_verdict(0.005, 0.015, "better", tolerance=0.02) == "contradicted"
    assert claim_verdict(-0.01, 0.03, "better", tolerance=0.0) == "inconclusive"
    assert claim_verdict(0.01, 0.05, "better", tolerance=0.02) == "inconclusive"  # straddles +0.02
    assert claim_verdict(0.0, 0.05, "better", tolerance=0.0) == "inconclusive"  # touching 0 is not wholly > 0
    with pytest.raises(ValueError, match="claim"):
        claim_verdict(0.0, 0.1, "equal", tolerance=0.0)
