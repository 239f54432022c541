"""Robustness aggregates against hand-computed values."""

import numpy as np
import pytest

from bench.robustness.aggregate import (corruption_error, latent_shift, mean_corruption_error, paired_interval,
                                        severity_mean)


def test_severity_mean_counts_each_severity_once():
    scores = np.array([[1.0, 0.0], [0.5, np.nan]])  # severity 1: mean 0.5; severity 2: 0.5 (NaN ignored)
    assert severity_mean(scores) == pytest.approx(0.5)


def test_corruption_error_is_the_ratio_of_summed_errors():
    run = np.array([[0.9, 0.7], [0.6, 0.4]])  # errors 0.2, 0.5 -> sum 0.7
    base = np.array([[0.8, 0.8], [0.5, 0.3]])  # errors 0.2, 0.6 -> sum 0.8
    assert corruption_error(run, base, True) == pytest.approx(0.7 / 0.8)
    # lower-is-better: the score is the error
    assert corruption_error(np.array([[0.02, 0.04]]), np.array([[0.01, 0.01]]), False) == pytest.approx(3.0)
    assert mean_corruption_error(np.stack([run, run]), np.stack([base, run]), True) == pytest.approx((0.875 + 1) / 2)


def test_latent_shift_is_relative_to_the_spread_of_clean_latents():
    clean = np.array([[1.0, 0.0], [-1.0, 0.0]])  # spread: RMS distance from the mean = 1
    corrupted = clean + np.array([[0.0, 0.5], [0.0, 0.0]])
    assert latent_shift(clean, corrupted) == pytest.approx([0.5, 0.0])
    assert np.isnan(latent_shift(np.ones((3, 2)), np.ones((3, 2)))).all()  # no spread: undefined


def test_paired_interval_contains_the_statistic_and_is_repeatable():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 0.9, (5, 40))
    run = np.clip(base + 0.05, 0, 1)  # uniformly better: CE < 1 in every resample
    low, high = paired_interval(lambda r, b: corruption_error(r, b, True), (run, base), n_boot=200)
    assert low <= corruption_error(run, base, True) <= high < 1
    assert (low, high) == paired_interval(lambda r, b: corruption_error(r, b, True), (run, base), n_boot=200)
    assert paired_interval(np.mean, (np.ones((1, 1)),)) == (None, None)
