"""Generality of an encoder over the probe battery, and paired comparisons: pure functions, no I/O.

Each probe scores *units* (a test shape for most probes, an episode for few-shot) for three encoders on
the same units in the same order: the encoder under study, a zero reference (the score that means
"nothing learned", e.g. a random encoder) and a one reference (e.g. the best known encoder). A probe's
score is ``statistic`` (default ``np.nanmean``) over its units, normalised as
``(encoder - zero) / (one - zero)``; generality is the unweighted mean of the normalised scores over the
probes (every probe counts once, MTEB-style).

Intervals follow ``bench/evaluation/uncertainty.py``: a percentile bootstrap (the 2.5 % and 97.5 %
quantiles of the resampled statistic, ``np.quantile``'s linear interpolation) with a fixed seed, and
paired resampling (the same unit indices for every array scored on those units).
``paired_difference`` *is* ``uncertainty.paired_bootstrap_diff`` (instance mean, B - A) and its verdict
is ``uncertainty.verdict`` (strict bounds, "better" / "worse" / "no significant difference").
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.evaluation.uncertainty import paired_bootstrap_diff, verdict

# Quantiles of the percentile interval (95 %).
_QUANTILES = (0.025, 0.975)
# Resamples are drawn in blocks of rows so that a (rows, units) index block stays near this many entries.
_BLOCK_ENTRIES = 2_000_000


def normalise(score: float, zero: float, one: float) -> float:
    """``(score - zero) / (one - zero)``: 0 at the zero reference, 1 at the one reference.

    NaN when ``one == zero`` (the references do not tell anything apart) or when any input is NaN.
    Scores beyond the references give values below 0 or above 1; they are not clipped.
    """
    score, zero, one = float(score), float(zero), float(one)
    if math.isnan(score) or math.isnan(zero) or math.isnan(one) or one == zero:
        return math.nan
    return (score - zero) / (one - zero)


def _normalise_arrays(score: np.ndarray, zero: np.ndarray, one: np.ndarray) -> np.ndarray:
    """Element-wise ``normalise`` of equal-shape arrays."""
    span = one - zero
    out = np.full(np.shape(score), np.nan)
    ok = (span != 0) & ~np.isnan(score) & ~np.isnan(span)
    np.divide(score - zero, span, out=out, where=ok)
    return out


@dataclass(frozen=True)
class Generality:
    """Normalised probe scores and their mean, each with a 95 % paired bootstrap interval.

    ``per_probe[probe]`` = ``normalise(statistic(encoder), statistic(zero), statistic(one))``;
    ``mean`` = the unweighted mean of ``per_probe`` (NaN if any probe's score is NaN). Intervals are
    ``(low, high)``; ``(nan, nan)`` when the score itself is NaN or no resample gave a defined value.
    """

    per_probe: dict[str, float]
    per_probe_interval: dict[str, tuple[float, float]]
    mean: float
    interval: tuple[float, float]


def _units(probe: str, arrays) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A probe's (encoder, zero, one) per-unit scores as three equal-length 1-D float arrays."""
    if not (isinstance(arrays, (tuple, list)) and len(arrays) == 3):
        raise ValueError(f"units[{probe!r}] must be a tuple (encoder, zero_ref, one_ref) of per-unit scores")
    out = tuple(np.asarray(a, dtype=float) for a in arrays)
    shapes = [a.shape for a in out]
    if any(a.ndim != 1 for a in out) or len(set(shapes)) != 1:
        raise ValueError(f"units[{probe!r}]: encoder, zero_ref and one_ref must be 1-D arrays of the same "
                         f"units in the same order, got shapes {shapes}")
    if out[0].size == 0:
        raise ValueError(f"units[{probe!r}] has no units: leave a probe without scores out of units")
    return out  # type: ignore[return-value]


def _interval(values: np.ndarray, estimate: float) -> tuple[float, float]:
    """Percentile interval of resampled values; undefined (NaN) resamples are left out.

    An undefined ``estimate`` has an undefined interval, whatever some resamples gave.
    """
    values = values[~np.isnan(values)]
    if values.size == 0 or math.isnan(estimate):
        return (math.nan, math.nan)
    low, high = np.quantile(values, _QUANTILES)
    return (float(low), float(high))


def _resampled(encoder: np.ndarray, zero: np.ndarray, one: np.ndarray, statistic: Callable, n_boot: int,
               rng: np.random.Generator) -> np.ndarray:
    """(n_boot,) normalised scores of paired resamples: the same unit indices for the three arrays."""
    n = encoder.size
    out = np.empty(n_boot)
    rows = max(1, _BLOCK_ENTRIES // n)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        idx = rng.integers(0, n, size=(stop - start, n))                       # (rows, n)
        stats = [np.asarray(statistic(a[idx], axis=-1), dtype=float) for a in (encoder, zero, one)]
        out[start:stop] = _normalise_arrays(*stats)
    return out


def generality(units: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], n_boot: int = 1000, seed: int = 0,
               statistic=np.nanmean) -> Generality:
    """Normalised score of each probe, their mean, and 95 % paired bootstrap intervals.

    ``units[probe] = (encoder, zero_ref, one_ref)``: three (n_probe,) arrays of per-unit scores, paired
    by position. ``statistic`` is called as ``statistic(array, axis=-1)`` (``np.nanmean`` by default, so
    NaN units, e.g. the AP of a query with no relevant item, are dropped). Each bootstrap resample draws
    unit indices for every probe independently (probes have different unit counts) and uses the same
    indices for a probe's three arrays; it recomputes the normalised scores and their mean. A probe's
    draws come from ``np.random.default_rng([seed, crc32(probe name)])``, so its resamples do not change
    when probes are added or removed. Resamples in which a normalised score is undefined (the two
    references' statistics equal, or all units NaN) are left out of the interval they would enter.
    Deterministic for a given ``seed``.
    """
    if not units:
        raise ValueError("units is empty: pass at least one probe's (encoder, zero_ref, one_ref) scores")
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    per_probe: dict[str, float] = {}
    per_probe_interval: dict[str, tuple[float, float]] = {}
    resamples = np.empty((len(units), int(n_boot)))                            # (probes, n_boot)
    for row, (probe, arrays) in enumerate(units.items()):
        encoder, zero, one = _units(probe, arrays)
        per_probe[probe] = normalise(*(float(statistic(a, axis=-1)) for a in (encoder, zero, one)))
        rng = np.random.default_rng([int(seed), zlib.crc32(str(probe).encode("utf-8"))])
        resamples[row] = _resampled(encoder, zero, one, statistic, int(n_boot), rng)
        per_probe_interval[probe] = _interval(resamples[row], per_probe[probe])
    mean = float(np.mean(list(per_probe.values())))
    return Generality(per_probe=per_probe, per_probe_interval=per_probe_interval, mean=mean,
                      interval=_interval(resamples.mean(axis=0), mean))


@dataclass(frozen=True)
class PairedDifference:
    """Mean of ``b - a`` over the paired units, its 95 % paired bootstrap interval and the pair count.

    All three floats are NaN when no pair is left (``n == 0``).
    """

    mean: float
    low: float
    high: float
    n: int

    def verdict(self, higher_is_better: bool = True) -> str:
        """B against A: ``"better"``, ``"worse"`` or ``"no significant difference"``.

        With ``higher_is_better`` (accuracy, AP): ``"better"`` if ``low > 0`` (B is higher),
        ``"worse"`` if ``high < 0`` (B is lower). With ``higher_is_better=False`` the sides swap:
        ``"better"`` if ``high < 0`` (B is lower), ``"worse"`` if ``low > 0``. Strict bounds: an
        interval touching 0, or an undefined one, is ``"no significant difference"``
        (``bench.evaluation.uncertainty.verdict`` with tolerance 0).
        """
        return verdict(self.low, self.high, higher_is_better)


def paired_difference(a: np.ndarray, b: np.ndarray, n_boot: int = 1000, seed: int = 0) -> PairedDifference:
    """(n,) scores of A and of B on the same units -> mean of ``b - a`` with a 95 % paired bootstrap interval.

    A unit that is NaN in either array is dropped from both. Each resample draws one set of unit
    indices for both arrays (``uncertainty.paired_bootstrap_diff``, instance mean, seed ``seed``).
    All differences equal to ``d`` -> ``(d, d, d)``; no pair left -> NaN with ``n = 0``.
    Different lengths -> ValueError.
    """
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = paired_bootstrap_diff(a_arr, b_arr, n_boot=n_boot, confidence=0.95, seed=seed)
    n = int(np.count_nonzero(~(np.isnan(a_arr) | np.isnan(b_arr))))

    def _float(value: float | None) -> float:
        return math.nan if value is None else float(value)

    return PairedDifference(mean=_float(diff.diff), low=_float(diff.low), high=_float(diff.high), n=n)
