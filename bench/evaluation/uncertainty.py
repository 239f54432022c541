"""Uncertainty of benchmark results as pure functions (arrays in, numbers out; no I/O, no global state).

Conventions, as the benchmark prints them:

- **Summary statistics.** ``instance_mean`` is the mean over shapes; ``category_mean`` is the unweighted
  mean of the per-category means (every category counts once, however many shapes it has: the paper's
  summary numbers). ``None`` and NaN scores are ignored everywhere; nothing left -> ``None``.
- **Percentile bootstrap over shapes** (``bootstrap_ci``). Shapes are resampled with replacement
  ``n_boot`` times, the statistic is computed on each resample, and the interval is the
  ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of those values (``np.quantile``,
  linear interpolation). For the category mean the resampling is *stratified*: each category's shapes
  are resampled among themselves, its size kept, so every category is present in every resample and
  the category weights never change; a category with a single shape has no spread to resample, so then
  the interval is undefined (``None``). The resamples are drawn from ``np.random.default_rng(seed)``:
  the same inputs and seed give the same interval.
- **Paired differences** (``paired_bootstrap_diff``). Runs A and B are scored on the same shapes in the
  same order; each resample takes the *same* shape indices for both, so shape difficulty, which both
  runs share, cancels. The difference is always ``B - A``. A shape whose score is missing in either
  run is dropped from both.
- **Seeds** (``seed_ci``). Runs repeated with different seeds are few, so their mean gets a Student-t
  interval, ``mean +- t_{(1 + confidence) / 2, k - 1} * sd / sqrt(k)`` with the sample sd (ddof 1);
  the t quantile is computed here (``student_t_quantile``), without scipy.
- **Verdicts** (``verdict``, ``claim_verdict``) read an interval of ``B - A``; their rules are in their
  docstrings. ``claim_verdict`` takes a higher-is-better difference: for a lower-is-better metric
  (Chamfer-L1) pass the negated interval, ``(-high, -low)``.
- **p-values of claims** (``bootstrap_claim_test``, ``seed_claim_test``) test the claim's threshold with
  the very resamples (or the very Student-t) its interval comes from, so that a p-value below 0.05 and a
  95 % interval wholly on one side of the threshold say the same thing. ``holm_adjusted`` corrects a
  family of them (Holm-Bonferroni): several claims on correlated runs are several tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

STATISTICS = ("instance", "category")
VERDICTS = ("better", "worse", "no significant difference")
CLAIMS = ("not_worse", "better")
CLAIM_VERDICTS = ("reproduced", "contradicted", "inconclusive")

# Bootstrap work is done in blocks of resamples so that the (rows, n) index block stays near this many
# entries (~16 MB of int64), whatever n is.
_BLOCK_ENTRIES = 2_000_000


class CI(NamedTuple):
    """A confidence interval; both ends ``None`` when there was nothing to resample."""

    low: float | None
    high: float | None


class DiffCI(NamedTuple):
    """Difference ``B - A`` of a statistic and its paired bootstrap interval (all ``None`` if no pairs)."""

    diff: float | None
    low: float | None
    high: float | None


class SeedCI(NamedTuple):
    """Mean over seeds and its Student-t interval (``low``/``high`` ``None`` for fewer than 2 seeds)."""

    mean: float | None
    low: float | None
    high: float | None


# ---------------------------------------------------------------------------------------------------
# Input handling


def _as_scores(values: Sequence[float | None] | np.ndarray) -> np.ndarray:
    """Scores as a 1-D float array, ``None`` -> NaN."""
    if not (isinstance(values, np.ndarray) and values.dtype != object):
        values = [np.nan if v is None else v for v in values]
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"scores must be one value per shape (1-D), got an array of shape {arr.shape}")
    return arr


def _category_codes(categories: Sequence, n: int) -> np.ndarray:
    """Categories (any hashable labels) -> integer codes 0..K-1 in order of first appearance."""
    if categories is None:
        raise ValueError("statistic='category' needs `categories` (one label per shape)")
    labels = list(categories)
    if len(labels) != n:
        raise ValueError(f"categories has {len(labels)} labels but there are {n} scores; "
                         "pass one category per shape, in the same order")
    index: dict = {}
    return np.fromiter((index.setdefault(c, len(index)) for c in labels), dtype=np.int64, count=n)


def _check_statistic(statistic: str, categories) -> None:
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    if statistic == "category" and categories is None:
        raise ValueError("statistic='category' needs `categories` (one label per shape)")


def _check_bootstrap_args(n_boot: int, confidence: float) -> None:
    if int(n_boot) != n_boot or n_boot < 1:
        raise ValueError(f"n_boot must be a positive integer, got {n_boot!r}")
    _check_confidence(confidence)


def _check_confidence(confidence: float) -> None:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be strictly between 0 and 1 (e.g. 0.95), got {confidence!r}")


# ---------------------------------------------------------------------------------------------------
# Summary statistics


def instance_mean(values: Sequence[float | None] | np.ndarray) -> float | None:
    """Mean over shapes of the per-shape scores. ``None``/NaN ignored; no values left -> ``None``."""
    arr = _as_scores(values)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else None


def category_mean(values: Sequence[float | None] | np.ndarray, categories: Sequence) -> float | None:
    """Unweighted mean of the per-category means (each category counts once, whatever its size).

    ``categories`` holds one label per score. ``None``/NaN scores are ignored; a category with no score
    left is left out (it has no mean). No values left -> ``None``.
    """
    arr = _as_scores(values)
    codes = _category_codes(categories, arr.size)
    keep = ~np.isnan(arr)
    if not keep.any():
        return None
    _, codes = np.unique(codes[keep], return_inverse=True)
    sums = np.bincount(codes, weights=arr[keep])
    counts = np.bincount(codes)
    return float(np.mean(sums / counts))


def _statistic_weights(codes: np.ndarray | None, n: int) -> np.ndarray:
    """(n,) weights w with statistic = sum(w * values) over a (stratified) sample laid out like the input.

    Instance mean: 1/n each. Category mean over K categories: 1 / (K * n_c) for a shape of category c.
    Both statistics are linear in the scores, which is why the paired difference of the statistic is
    the statistic of the per-shape differences.
    """
    if codes is None:
        return np.full(n, 1.0 / n)
    _, codes = np.unique(codes, return_inverse=True)
    counts = np.bincount(codes)
    return 1.0 / (counts.size * counts[codes])


# ---------------------------------------------------------------------------------------------------
# Bootstrap


def stratified_indices(codes: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) resample indices, stratified: column j only ever holds shapes of shape j's category.

    ``codes`` is (n,) category labels (any values ``np.unique`` can sort). Each row is one bootstrap
    resample: every category keeps its size and stays present. ``codes[idx] == codes`` row by row.
    """
    _, inverse = np.unique(np.asarray(codes), return_inverse=True)
    inverse = inverse.ravel()
    idx = np.empty((n_boot, inverse.size), dtype=np.int64)
    order = np.argsort(inverse, kind="stable")                # positions grouped by category
    for members in np.split(order, np.cumsum(np.bincount(inverse))[:-1]):
        idx[:, members] = members[rng.integers(0, members.size, size=(n_boot, members.size))]
    return idx


def _bootstrap_stats(values: np.ndarray, codes: np.ndarray | None, n_boot: int, seed: int) -> np.ndarray:
    """(n_boot,) statistic of each resample; plain resampling if ``codes`` is None, else stratified."""
    n = values.size
    weights = _statistic_weights(codes, n)
    rng = np.random.default_rng(seed)
    rows = max(1, _BLOCK_ENTRIES // n)
    out = np.empty(n_boot)
    for start in range(0, n_boot, rows):
        stop = min(n_boot, start + rows)
        if codes is None:
            idx = rng.integers(0, n, size=(stop - start, n))  # (rows, n)
        else:
            idx = stratified_indices(codes, stop - start, rng)  # (rows, n), column j keeps j's category
        out[start:stop] = values[idx] @ weights               # (rows, n) @ (n,) -> (rows,)
    return out


def _percentile_interval(stats: np.ndarray, confidence: float) -> CI:
    alpha = 1.0 - confidence
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return CI(float(low), float(high))


def _ci_of(values: np.ndarray, codes: np.ndarray | None, n_boot: int, confidence: float, seed: int) -> CI:
    """Percentile bootstrap CI of the (weighted) mean of ``values`` (NaN already dropped)."""
    if values.size == 0:
        return CI(None, None)
    if np.all(values == values[0]):                           # n == 1 or constant: every resample agrees
        return CI(float(values[0]), float(values[0]))
    if codes is not None and np.unique(codes, return_counts=True)[1].min() < 2:
        # A category of one shape is resampled into itself every time: the stratified bootstrap would show
        # no spread for it and a falsely narrow interval (zero-width with one shape per category).
        return CI(None, None)
    return _percentile_interval(_bootstrap_stats(values, codes, n_boot, seed), confidence)


def bootstrap_ci(
    values: Sequence[float | None] | np.ndarray,
    categories: Sequence | None = None,
    statistic: str = "instance",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> CI:
    """Percentile bootstrap interval ``(low, high)`` of the instance or category mean of the scores.

    ``statistic="instance"``: resample the n shapes with replacement. ``statistic="category"``
    (``categories`` required, one label per score): resample within each category (stratified), so
    every category is in every resample with its own size. ``low``/``high`` are the
    ``(1 -+ confidence) / 2`` quantiles of the ``n_boot`` resampled statistics. ``None``/NaN scores are
    ignored. No scores -> ``(None, None)``; one score, or all equal, ``v`` -> ``(v, v)``.
    Deterministic for a given ``seed``; vectorised, about a tenth of a second for n = 10k, n_boot = 1000.
    """
    _check_statistic(statistic, categories)
    _check_bootstrap_args(n_boot, confidence)
    arr = _as_scores(values)
    codes = _category_codes(categories, arr.size) if statistic == "category" else None
    keep = ~np.isnan(arr)
    return _ci_of(arr[keep], None if codes is None else codes[keep], int(n_boot), confidence, seed)


def paired_bootstrap_diff(
    a: Sequence[float | None] | np.ndarray,
    b: Sequence[float | None] | np.ndarray,
    categories: Sequence | None = None,
    statistic: str = "instance",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> DiffCI:
    """Difference ``B - A`` of the statistic of two runs scored on the same shapes, with a paired CI.

    ``a[i]`` and ``b[i]`` are the two runs' scores of shape i (same shapes, same order; ``categories[i]``
    its category). ``diff = statistic(b) - statistic(a)``; the interval is the percentile bootstrap in
    which each resample draws one set of shape indices and uses it for both runs (stratified by category
    for ``statistic="category"``). A shape missing (``None``/NaN) in either run is dropped from both.
    No pairs left -> ``DiffCI(None, None, None)``; one pair, or all differences equal, ``d`` ->
    ``DiffCI(d, d, d)``. Different lengths -> ``ValueError``.
    """
    _check_statistic(statistic, categories)
    _check_bootstrap_args(n_boot, confidence)
    a_arr, b_arr = _as_scores(a), _as_scores(b)
    if a_arr.size != b_arr.size:
        raise ValueError(f"paired scores must cover the same shapes: run A has {a_arr.size} scores, "
                         f"run B has {b_arr.size}; align both runs on the shape ids before comparing")
    codes = _category_codes(categories, a_arr.size) if statistic == "category" else None
    keep = ~(np.isnan(a_arr) | np.isnan(b_arr))
    a_arr, b_arr = a_arr[keep], b_arr[keep]
    codes = None if codes is None else codes[keep]
    if a_arr.size == 0:
        return DiffCI(None, None, None)
    weights = _statistic_weights(codes, a_arr.size)
    diff = float(b_arr @ weights - a_arr @ weights)
    # The statistics are linear, so statistic(b[idx]) - statistic(a[idx]) = statistic((b - a)[idx]):
    # resampling the per-shape differences *is* resampling the same indices for both runs.
    low, high = _ci_of(b_arr - a_arr, codes, int(n_boot), confidence, seed)
    return DiffCI(diff, low, high)


# ---------------------------------------------------------------------------------------------------
# Student-t interval over seeds


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes 6.4)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + aa / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _betacf(a, b, x) / a
    return 1.0 - math.exp(log_front) * _betacf(b, a, 1.0 - x) / b


def student_t_quantile(p: float, df: float) -> float:
    """Quantile ``t_{p, df}`` of Student's t distribution (``P(T <= t) = p``), for any ``df > 0``.

    Uses ``P(|T| > t) = I_{df / (df + t^2)}(df / 2, 1 / 2)`` (regularised incomplete beta) and solves it
    for t by bisection to double precision; no scipy. E.g. ``student_t_quantile(0.975, 2) = 4.3027``.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be strictly between 0 and 1, got {p!r}")
    if not df > 0:
        raise ValueError(f"df must be positive, got {df!r}")
    if p == 0.5:
        return 0.0
    tail = 2.0 * min(p, 1.0 - p)                              # two-sided tail P(|T| > |t|)
    # I_x(df/2, 1/2) rises from 0 to 1 as x = df / (df + t^2) goes from 0 (t = inf) to 1 (t = 0).
    lo, hi = 0.0, 1.0
    for _ in range(2000):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        if _betainc(df / 2.0, 0.5, mid) < tail:
            lo = mid
        else:
            hi = mid
    x = 0.5 * (lo + hi)
    t = math.sqrt(df * (1.0 - x) / x)
    return t if p > 0.5 else -t


def seed_ci(values: Sequence[float | None] | np.ndarray, confidence: float = 0.95) -> SeedCI:
    """Mean over seeds with the Student-t interval ``mean +- t_{(1+confidence)/2, k-1} * sd / sqrt(k)``.

    ``values``: one summary score per seed (k runs differing only in their seed); ``sd`` is the sample
    standard deviation (ddof 1). ``None``/NaN ignored. No values -> ``(None, None, None)``; one value
    ``v`` -> ``(v, None, None)``: one run says nothing about the spread, so the interval is undefined.
    """
    _check_confidence(confidence)
    arr = _as_scores(values)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return SeedCI(None, None, None)
    mean = float(arr.mean())
    if arr.size == 1:
        return SeedCI(mean, None, None)
    t = student_t_quantile((1.0 + confidence) / 2.0, arr.size - 1)
    half = t * float(arr.std(ddof=1)) / math.sqrt(arr.size)
    return SeedCI(mean, mean - half, mean + half)


# ---------------------------------------------------------------------------------------------------
# Verdicts


def _check_interval(low, high, tolerance: float) -> bool:
    """True if the interval is usable; False if it is undefined (``None``/NaN ends)."""
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 (a margin on the metric's scale), got {tolerance!r}")
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return False
    if low > high:
        raise ValueError(f"interval ends are reversed: low={low!r} > high={high!r}")
    return True


def verdict(diff_low: float | None, diff_high: float | None, higher_is_better: bool,
            tolerance: float = 0.0) -> str:
    """Compare run B against run A from the interval ``[diff_low, diff_high]`` of ``B - A``.

    With ``higher_is_better`` (IoU, accuracy):
      - ``"better"`` if ``diff_low > tolerance`` (the whole interval is above ``+tolerance``);
      - ``"worse"`` if ``diff_high < -tolerance`` (the whole interval is below ``-tolerance``);
      - ``"no significant difference"`` otherwise, and when the interval is undefined (``None``).
    With ``higher_is_better=False`` (Chamfer-L1) the sides swap: ``"better"`` if
    ``diff_high < -tolerance``, ``"worse"`` if ``diff_low > tolerance``.
    The bounds are strict: an interval touching ``+-tolerance`` (or 0 when ``tolerance`` is 0) is
    ``"no significant difference"``. ``tolerance`` >= 0 is on the metric's own scale.
    """
    if not _check_interval(diff_low, diff_high, tolerance):
        return "no significant difference"
    if not higher_is_better:                                  # orient so that positive is good
        diff_low, diff_high = -diff_high, -diff_low
    if diff_low > tolerance:
        return "better"
    if diff_high < -tolerance:
        return "worse"
    return "no significant difference"


def claim_verdict(diff_low: float | None, diff_high: float | None, claim: str,
                  tolerance: float = 0.0) -> str:
    """Check one of the paper's claims about B against A from the interval ``[diff_low, diff_high]``.

    The interval is of a *higher-is-better* difference ``B - A``; for a lower-is-better metric pass the
    negated interval ``(-diff_high, -diff_low)``. ``tolerance`` >= 0 is on the metric's own scale.
    Each claim is a statement "B - A is above a threshold"; the claim is ``"reproduced"`` when the whole
    interval is on the claim's side of the threshold, ``"contradicted"`` when the whole interval is on
    the other side, and ``"inconclusive"`` when the interval straddles the threshold or is undefined.

    ``claim="not_worse"`` (B is at most ``tolerance`` worse than A; threshold ``-tolerance``):
      - ``"reproduced"`` if ``diff_low >= -tolerance`` (the worse end is within the tolerance);
      - ``"contradicted"`` if ``diff_high < -tolerance`` (all of it is beyond the tolerance, worse side);
      - ``"inconclusive"`` otherwise.
    ``claim="better"`` (B is better than A by more than ``tolerance``; threshold ``+tolerance``):
      - ``"reproduced"`` if ``diff_low > tolerance`` (the whole interval is above ``+tolerance``; with
        ``tolerance`` 0: wholly > 0);
      - ``"contradicted"`` if ``diff_high <= tolerance``: no gain larger than the tolerance is plausible.
        This covers an interval wholly on the worse side and one entirely within ``+-tolerance``;
      - ``"inconclusive"`` otherwise.
    Example (paper Table 4, IoU: baseline 0.73, joint 0.70, claim "not worse"): an interval
    (-0.035, -0.025) is "reproduced" at tolerance 0.04, "contradicted" at 0.02, and "inconclusive" at
    0.03, since a point estimate sitting on the tolerance leaves the interval straddling it.
    """
    if claim not in CLAIMS:
        raise ValueError(f"claim must be one of {CLAIMS}, got {claim!r}")
    if not _check_interval(diff_low, diff_high, tolerance):
        return "inconclusive"
    if claim == "not_worse":
        if diff_low >= -tolerance:
            return "reproduced"
        if diff_high < -tolerance:
            return "contradicted"
        return "inconclusive"
    if diff_low > tolerance:
        return "reproduced"
    if diff_high <= tolerance:
        return "contradicted"
    return "inconclusive"


# ---------------------------------------------------------------------------------------------------
# p-values of claims, and the family-wise correction (Holm-Bonferroni)


class ClaimTest(NamedTuple):
    """A claim's test against its threshold ``t`` (``-tolerance`` for "not_worse", ``+tolerance`` for
    "better"), read from the same resamples (or the same Student-t) as its interval.

    ``p_holds``: the share of the evidence on the side where the claim fails (small: the claim holds);
    ``p_fails``: the share on the side where it holds (small: the claim fails); they add up to 1.
    ``p``: the two-sided p-value ``min(1, 2 * min(p_holds, p_fails))`` of "the difference is ``t``": below
    ``1 - confidence`` exactly when the ``confidence`` interval lies wholly on one side of ``t`` (for the
    bootstrap to within one resample: the interval's ends interpolate between resamples). All ``None``
    where the interval is undefined.
    """

    p: float | None
    p_holds: float | None
    p_fails: float | None


def claim_threshold(claim: str, tolerance: float = 0.0) -> float:
    """The threshold a claim's higher-is-better difference ``B - A`` is read against: ``-tolerance`` for
    "not_worse" (B at most ``tolerance`` worse), ``+tolerance`` for "better"."""
    if claim not in CLAIMS:
        raise ValueError(f"claim must be one of {CLAIMS}, got {claim!r}")
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0 (a margin on the metric's scale), got {tolerance!r}")
    return -float(tolerance) if claim == "not_worse" else float(tolerance)


def _claim_shares(samples: np.ndarray, claim: str, threshold: float) -> ClaimTest:
    """ClaimTest from samples of the difference. A sample on the threshold counts where ``claim_verdict``'s
    bounds put it: "not_worse" holds at ``>= threshold``, "better" only above it."""
    n = samples.size
    failing = np.count_nonzero(samples < threshold) if claim == "not_worse" else np.count_nonzero(samples <= threshold)
    p_holds = float(failing) / n
    p_fails = 1.0 - p_holds
    return ClaimTest(min(1.0, 2.0 * min(p_holds, p_fails)), p_holds, p_fails)


def bootstrap_claim_test(
    diffs: Sequence[float | None] | np.ndarray,
    claim: str,
    tolerance: float = 0.0,
    categories: Sequence | None = None,
    statistic: str = "instance",
    n_boot: int = 1000,
    seed: int = 0,
) -> ClaimTest:
    """The bootstrap test of a claim on the per-shape differences ``diffs[i] = b[i] - a[i]`` (higher is
    better; negate them for a lower-is-better metric), from the very resamples that
    ``paired_bootstrap_diff(a, b, categories, statistic, n_boot, seed=seed)`` draws for its interval.

    ``p_holds`` is the share of resampled statistics on the side where the claim fails (below
    ``-tolerance`` for "not_worse"; at or below ``+tolerance`` for "better"), ``p_fails`` the rest, ``p``
    the two-sided ``min(1, 2 * min(p_holds, p_fails))``. ``None``/NaN differences are dropped. No
    differences, or a category of one shape with ``statistic="category"`` (the interval is undefined
    there too) -> all ``None``; all differences equal (every resample agrees) -> ``p`` 0, the claim
    holding or failing by which side of the threshold that value is on.
    E.g. differences all +0.01, "better", tolerance 0: ``ClaimTest(0.0, 0.0, 1.0)``.
    """
    _check_statistic(statistic, categories)
    _check_bootstrap_args(n_boot, confidence=0.95)
    threshold = claim_threshold(claim, tolerance)
    arr = _as_scores(diffs)
    codes = _category_codes(categories, arr.size) if statistic == "category" else None
    keep = ~np.isnan(arr)
    values, codes = arr[keep], (None if codes is None else codes[keep])
    if values.size == 0:
        return ClaimTest(None, None, None)
    if np.all(values == values[0]):                           # every resample is this value
        return _claim_shares(values[:1], claim, threshold)
    if codes is not None and np.unique(codes, return_counts=True)[1].min() < 2:
        return ClaimTest(None, None, None)                    # as _ci_of: no honest spread to resample
    return _claim_shares(_bootstrap_stats(values, codes, int(n_boot), seed), claim, threshold)


def student_t_sf(t: float, df: float) -> float:
    """``P(T > t)`` for Student's t with ``df > 0`` degrees of freedom (``P(|T| > |t|) =
    I_{df / (df + t^2)}(df / 2, 1 / 2)``, halved). E.g. df 1 (Cauchy): ``student_t_sf(1, 1) = 0.25``;
    df 2: ``P(T > t) = 1/2 - t / (2 sqrt(t^2 + 2))``."""
    if not df > 0:
        raise ValueError(f"df must be positive, got {df!r}")
    if math.isnan(t):
        raise ValueError("t is NaN")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    upper = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return upper if t >= 0 else 1.0 - upper


def seed_claim_test(values: Sequence[float | None] | np.ndarray, claim: str, tolerance: float = 0.0) -> ClaimTest:
    """The Student-t test of a claim over seeds, the test ``seed_ci``'s interval inverts: ``values`` are
    the per-seed differences ``B - A`` (higher is better), ``t = (mean - threshold) / (sd / sqrt(k))``
    with the sample sd (ddof 1) and k - 1 degrees of freedom; ``p_holds = P(T >= t)``,
    ``p_fails = P(T <= t)``, ``p = P(|T| >= |t|)``. Fewer than 2 values -> all ``None``; all values equal
    (sd 0) -> read as the bootstrap reads a constant: on the side of the threshold where the value is.
    E.g. [0.01, 0.02, 0.03], "better", tolerance 0: t = 2 sqrt(3), df 2, p_holds = 0.0371, p = 0.0742.
    """
    threshold = claim_threshold(claim, tolerance)
    arr = _as_scores(values)
    arr = arr[~np.isnan(arr)]
    if arr.size < 2:
        return ClaimTest(None, None, None)
    sd = float(arr.std(ddof=1))
    mean = float(arr.mean())
    if sd == 0.0:
        return _claim_shares(arr[:1], claim, threshold)
    t = (mean - threshold) / (sd / math.sqrt(arr.size))
    p_holds = float(student_t_sf(t, arr.size - 1))
    p_fails = 1.0 - p_holds
    return ClaimTest(min(1.0, 2.0 * min(p_holds, p_fails)), p_holds, p_fails)


def holm_adjusted(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-Bonferroni adjusted p-values, in the input's order (``None`` stays ``None`` and is not counted).

    With the m p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value of the i-th is
    ``max_{j <= i} min(1, (m - j + 1) * p_(j))``; rejecting where the adjusted value is ``<= alpha`` is
    Holm's step-down test, which holds the family-wise error rate at ``alpha`` for any dependence between
    the tests. E.g. [0.01, 0.04, 0.03] -> [0.03, 0.06, 0.06].
    """
    indexed = [(p, i) for i, p in enumerate(p_values) if p is not None]
    for p, _ in indexed:
        if not 0.0 <= p <= 1.0:  # NaN fails this too
            raise ValueError(f"p-values must lie in [0, 1], got {p!r}")
    m = len(indexed)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(indexed)):
        running = max(running, min(1.0, (m - rank) * p))
        out[i] = running
    return out
