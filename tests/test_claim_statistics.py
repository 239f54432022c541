"""The claims' p-values and the family-wise correction (bench/evaluation/uncertainty.py), against hand-computed
values: Student-t tails in closed form, Holm's step-down on a worked example, and bootstrap p-values that
agree with the very intervals they come beside."""

import math

import numpy as np
import pytest

from bench.evaluation.uncertainty import (
    bootstrap_claim_test,
    claim_threshold,
    claim_verdict,
    holm_adjusted,
    paired_bootstrap_diff,
    seed_ci,
    seed_claim_test,
    student_t_sf,
)


def test_student_t_tails_in_closed_form():
    assert student_t_sf(1.0, 1) == pytest.approx(0.25, abs=1e-12)        # Cauchy: 1/2 - atan(1)/pi
    assert student_t_sf(0.0, 7) == pytest.approx(0.5, abs=1e-12)
    for t in (0.5, 2.0, 4.3):                                              # df 2: 1/2 - t / (2 sqrt(t^2 + 2))
        assert student_t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(t * t + 2)), abs=1e-12)
        assert student_t_sf(-t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(t * t + 2)), abs=1e-12)
    assert student_t_sf(4.302652729911275, 2) == pytest.approx(0.025, abs=1e-9)  # t_{0.975, 2}
    assert student_t_sf(math.inf, 3) == 0.0 and student_t_sf(-math.inf, 3) == 1.0
    with pytest.raises(ValueError):
        student_t_sf(1.0, 0)


def test_claim_thresholds():
    assert claim_threshold("not_worse", 0.03) == -0.03 and claim_threshold("better", 0.02) == 0.02
    with pytest.raises(ValueError, match="claim must be"):
        claim_threshold("worse")
    with pytest.raises(ValueError, match="tolerance"):
        claim_threshold("better", -0.1)


def test_seed_test_is_the_student_t_the_seed_interval_inverts():
    test = seed_claim_test([0.01, 0.02, 0.03], "better")
    t = 0.02 / (0.01 / math.sqrt(3))                                        # 2 sqrt(3)
    assert test.p_holds == pytest.approx(0.5 - t / (2 * math.sqrt(t * t + 2)), abs=1e-12)  # 0.0371
    assert test.p == pytest.approx(2 * test.p_holds) and test.p_fails == pytest.approx(1 - test.p_holds)
    # "not worse" by 0.01 reads the same differences against -0.01: t = 0.03 / se
    t = 0.03 / (0.01 / math.sqrt(3))
    assert seed_claim_test([0.01, 0.02, 0.03], "not_worse", 0.01).p == pytest.approx(1 - t / math.sqrt(t * t + 2))
    # below the threshold: the evidence is on the failing side
    worse = seed_claim_test([-0.03, -0.02, -0.01], "better")
    assert worse.p_fails < worse.p_holds and worse.p == pytest.approx(test.p)
    # p < 0.05 exactly when the 95 % interval leaves the threshold out
    for values in ([0.01, 0.02, 0.03], [0.0, 0.02, 0.05], [0.001, 0.02, 0.06], [0.004, 0.006, 0.011]):
        s, p = seed_ci(values), seed_claim_test(values, "better").p
        assert (s.low > 0) == (p < 0.05), values
    assert seed_claim_test([0.02], "better") == (None, None, None)          # one seed: no spread, no test
    assert seed_claim_test([0.02, 0.02], "better") == (0.0, 0.0, 1.0)       # no spread at all: a constant
    assert seed_claim_test([0.0, 0.0], "better") == (0.0, 1.0, 0.0)         # on the threshold: "better" fails


def test_holm_step_down_on_a_worked_example():
    # sorted 0.01, 0.03, 0.04: 3 x 0.01 = 0.03; 2 x 0.03 = 0.06; max(0.06, 1 x 0.04) = 0.06
    assert holm_adjusted([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    # Holm's rule at 5 %: 0.01 <= 0.05/3 rejects, 0.03 > 0.05/2 stops: only the first
    assert [q <= 0.05 for q in holm_adjusted([0.01, 0.04, 0.03])] == [True, False, False]
    assert holm_adjusted([0.5, None, 0.01]) == [0.5, None, 0.02]            # None is not a test
    assert holm_adjusted([0.6, 0.9]) == [1.0, 1.0]  # 2 x 0.6 caps at 1
    assert holm_adjusted([]) == []
    with pytest.raises(ValueError):
        holm_adjusted([1.2])
    with pytest.raises(ValueError):
        holm_adjusted([float("nan")])


def test_bootstrap_p_value_is_the_share_of_resamples_beside_the_interval():
    rng = np.random.default_rng(3)
    a = rng.uniform(0.4, 0.9, 300)
    b = a + rng.normal(0.01, 0.04, 300)
    cats = [f"c{k % 5}" for k in range(300)]
    for statistic in ("instance", "category"):
        d = paired_bootstrap_diff(a, b, cats, statistic, 2000)
        # at the interval's own low end, the share of resamples at or below it is its quantile: 2.5 % (give or
        # take one resample of the interpolation), so the two-sided p-value is 5 %
        test = bootstrap_claim_test(b - a - d.low, "better", 0.0, cats, statistic, 2000)
        assert test.p_holds == pytest.approx(0.025, abs=1 / 2000) and test.p == pytest.approx(0.05, abs=2 / 2000)
        # a threshold inside the interval: no decision; outside it: a decision, on the side claim_verdict takes
        inside = bootstrap_claim_test(b - a, "better", max(0.0, (d.low + d.high) / 2), cats, statistic, 2000)
        assert inside.p > 0.05
        far = bootstrap_claim_test(b - a, "not_worse", 0.02, cats, statistic, 2000)
        assert far.p < 0.05 and far.p_holds < far.p_fails
        assert claim_verdict(d.low, d.high, "not_worse", 0.02) == "reproduced"


def test_bootstrap_p_value_of_a_two_point_sample():
    """Two shapes, differences 0 and 1: a resample's mean is 0 with probability 1/4 (both draws the 0), so the
    share at or below 0 is 1/4 and the two-sided p-value 1/2."""
    test = bootstrap_claim_test([0.0, 1.0], "better", 0.0, n_boot=40000, seed=1)
    assert test.p_holds == pytest.approx(0.25, abs=0.01) and test.p == pytest.approx(0.5, abs=0.02)
    # "not worse" at tolerance 0 counts the resamples at 0 as holding: nothing is below 0
    assert bootstrap_claim_test([0.0, 1.0], "not_worse", 0.0, n_boot=2000).p_holds == 0.0


def test_bootstrap_p_value_of_constants_and_undefined_intervals():
    assert bootstrap_claim_test([0.01] * 5, "better") == (0.0, 0.0, 1.0)
    assert bootstrap_claim_test([0.0] * 5, "better") == (0.0, 1.0, 0.0)    # on the threshold: fails, as the verdict
    assert claim_verdict(0.0, 0.0, "better") == "contradicted"
    assert bootstrap_claim_test([-0.03] * 5, "not_worse", 0.03) == (0.0, 0.0, 1.0)  # on it: holds, as the verdict
    assert claim_verdict(-0.03, -0.03, "not_worse", 0.03) == "reproduced"
    assert bootstrap_claim_test([None, float("nan")], "better") == (None, None, None)
    # a category of one shape has no spread to resample: the interval is undefined, so is the test
    assert bootstrap_claim_test([0.1, 0.2, 0.3], "better", categories=["a", "a", "b"], statistic="category") == (
        None, None, None)
    assert paired_bootstrap_diff([0, 0, 0], [0.1, 0.2, 0.3], ["a", "a", "b"], "category").low is None
