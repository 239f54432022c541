"""Aggregates of scores under corruption, as pure functions on per-shape score arrays.

- **Mean over severities** of a corruption: the mean of its five per-severity means (each the instance mean
  over shapes), i.e. every severity counts once.
- **Corruption error** (ModelNet-C's CE, for any metric): a run's error summed over the severities of a
  corruption, divided by the baseline run's, ``CE = sum_s E_run(s) / sum_s E_base(s)``, where the error is
  ``1 - score`` for a higher-is-better score in [0, 1] (IoU, mIoU, accuracy) and the score itself for a
  lower-is-better one (Chamfer-L1). ``mCE`` is the mean CE over corruptions. Below 1: more robust than
  the baseline.
- **Intervals**: a paired percentile bootstrap over shapes (both runs were scored on the very same
  corrupted inputs, shape by shape): each resample takes the same shape indices for the run and the
  baseline, at every severity and corruption, and recomputes the statistic; 95 % = the 2.5 / 97.5 %
  quantiles. ``np.random.default_rng(seed)``: same inputs, same interval.
- **Latent stability**: ``||z_corrupted - z_clean|| / spread``, per shape, where ``spread`` is the root mean
  square distance of the clean latents from their mean (how far apart shapes' latents are): 0 = the latent
  did not move, 1 = it moved as far as a typical shape is from the average shape.
"""

from __future__ import annotations

import numpy as np

CONFIDENCE = 0.95


def error_of(scores: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Per-shape error: ``1 - score`` (higher-is-better scores in [0, 1]) or the score itself."""
    return 1.0 - scores if higher_is_better else scores


def latent_shift(clean: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """(S, D) clean and corrupted latents of the same shapes -> (S,) shift relative to the latents' spread."""
    clean, corrupted = np.asarray(clean, np.float64), np.asarray(corrupted, np.float64)
    spread = float(np.sqrt(((clean - clean.mean(0)) ** 2).sum(1).mean()))
    shift = np.linalg.norm(corrupted - clean, axis=1)
    return shift / spread if spread > 0 else np.full(len(clean), np.nan)


def severity_mean(scores: np.ndarray) -> float:
    """(K severities, S shapes) -> the mean of the per-severity means (NaN scores ignored)."""
    return float(np.nanmean(np.nanmean(scores, axis=1)))


def corruption_error(run: np.ndarray, base: np.ndarray, higher_is_better: bool) -> float:
    """(K, S) scores of a run and of the baseline on the same shapes -> CE (sum of errors over severities of
    the per-severity mean errors, run over baseline)."""
    e_run = np.nanmean(error_of(run, higher_is_better), axis=1).sum()
    e_base = np.nanmean(error_of(base, higher_is_better), axis=1).sum()
    return float(e_run / e_base) if e_base > 0 else float("nan")


def mean_corruption_error(run: np.ndarray, base: np.ndarray, higher_is_better: bool) -> float:
    """(C corruptions, K, S) -> mCE, the mean CE over corruptions."""
    return float(np.mean([corruption_error(r, b, higher_is_better) for r, b in zip(run, base)]))


def paired_interval(fn, arrays: tuple[np.ndarray, ...], n_boot: int = 1000, seed: int = 0,
                    confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of ``fn(*arrays)`` resampling the last axis (shapes) of every array with
    the same indices; (None, None) with fewer than two shapes."""
    n = arrays[0].shape[-1]
    if n < 2 or n_boot < 1:
        return None, None
    rng = np.random.default_rng(seed)
    stats = np.array([fn(*(a[..., idx] for a in arrays)) for idx in rng.integers(0, n, (n_boot, n))])
    stats = stats[np.isfinite(stats)]
    if not len(stats):
        return None, None
    q = (1 - confidence) / 2
    return float(np.quantile(stats, q)), float(np.quantile(stats, 1 - q))
