"""The paper's findings as claims checked on a suite's results, each with a verdict from a confidence
interval: reproduced, contradicted or inconclusive (bench/evaluation/uncertainty.py: claim_verdict), and a
family-wise verdict over the suite's claims (Holm-Bonferroni at 5 %).

**Which runs a claim pairs.** A claim compares run B with run A of one suite; it reads only complete runs
that were not cut short (``--max-steps`` runs are left out), and it pairs them within one **setup**
(bench/reports/select.py: split_setups, whose docstring has the rule): the runs one invocation of the suite
made, every seed of it, and nothing else. Runs of another encoder, of other ``--set`` values, of another
profile or dataset are another setup, and a results folder holding several setups gets the claims once per
setup, each labelled (encoder first). Within a setup, A and B are paired seed by seed, in one precision.

**How it is averaged.** As the paper averages: IoU, Chamfer-L1 and part mIoU as category means (Table 7's
Mean column is the plain mean of its classes, and Table 6 prints it), accuracy as overall accuracy, the mean
over shapes (docs/metrics.md, "Comparing with the paper", has the evidence).

**The interval and the verdict.** With 3 seeds or more, the verdict is read from the Student-t interval of
the per-seed differences: it is the only one that sees training variance. With 1 or 2 seeds it is read from
a paired bootstrap over the test shapes both runs scored (scores.csv; with 2 seeds, of the scores averaged
over the seeds), and says that it ignores training variance (with 2 seeds the Student-t interval, on one
degree of freedom, is printed beside it). Tolerances are the smallest that the paper's own tables satisfy
(e.g. joint training's IoU cost: 0.78 -> 0.77 in Table 2, 0.73 -> 0.70 in Table 4, so 0.03); a "kept"
claim whose two values the paper prints equal gets 0.01, the tables' printed precision.

**Family-wise.** A suite's claims are several tests on correlated runs (one baseline serves several), so
each claim's p-value (from the same resamples or Student-t as its interval: uncertainty.bootstrap_claim_test,
seed_claim_test) is Holm-adjusted over the setup's tested claims; the family-wise verdict is the claim's
own where the adjusted p-value is at most 5 %, else inconclusive.

**Against the paper's difference.** A "better" claim tests only the sign of B - A; where the interval also
excludes the paper's own difference (from paper_tables.toml), the verdict says "smaller than the paper's" (or
larger).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.evaluation.uncertainty import (
    ClaimTest,
    bootstrap_ci,
    bootstrap_claim_test,
    category_mean,
    claim_verdict,
    holm_adjusted,
    paired_bootstrap_diff,
    seed_ci,
    seed_claim_test,
)
from bench.reports.paper import PER_CATEGORY_TABLE, paper_difference, paper_mean, paper_table_for, paper_tables
from bench.reports.per_category import category_column
from bench.reports.select import Setup, scores_of, split_setups
from bench.results import RunResult

N_BOOT = 2000
ALPHA = 0.05  # the family-wise error rate of the Holm correction
MIN_SEEDS = 3  # from this many seeds on, the verdict over seeds leads
KINDS = ("not_worse", "better", "worst")
PRE = "with pre-training"
SCRATCH = "without pre-training"


@dataclass(frozen=True)
class Claim:
    """One finding of the paper on two runs (or, for ``kind = "worst"``, on the classes of one run).

    ``kind``: "not_worse" (B at most ``tolerance`` worse than A), "better" (B better than A by more than
    ``tolerance``), or "worst" (run ``b``'s classes ``categories``, Table 7's column names, score below its
    other classes: the mean of the others' category means minus theirs is above 0; ``a`` is ``b``).
    ``column``: the column of a two-column paper table the claim belongs to (Tables 3 and 5: with or without
    ImageNet pre-training), "" elsewhere.
    """

    text: str
    a: str  # run name of the reference
    b: str  # run name the claim is about
    metric: str
    kind: str
    tolerance: float = 0.0
    column: str = ""
    categories: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim kind must be one of {KINDS}, got {self.kind!r}")


def _in(column: str, claim: Claim) -> Claim:
    """``claim`` as it reads in one column of Tables 3 / 5."""
    return Claim(f"{claim.text}, {column}", claim.a, claim.b, claim.metric, claim.kind, claim.tolerance, column,
                 claim.categories)


_JOINT_IOU = "joint training costs no reconstruction IoU (Tables 2, 4, 6: within 0.03)"
_PROBE = "a frozen reconstruction-only encoder classifies worse than a jointly trained one (Tables 2, 4)"
_KEEPS_CLS = "joint training keeps the classification baseline's accuracy (Tables 2-5: within 0.02)"
_PARALLEL = "parallel decoders segment better than a joint decoder (Tables 6, 7)"
_JOINT_CD = "joint training keeps the reconstruction's Chamfer-L1 (Tables 2, 4, 6: within 0.001)"
_PROBE_SHORT = ("a frozen reconstruction-only encoder classifies worse than the classification baseline "
                "(Tables 2, 4: 0.80 vs 0.92, 0.57 vs 0.82)")
_PARALLEL_KEEPS = "parallel decoders keep the segmentation baseline's mIoU (Tables 6, 7: 0.53 = 0.53, within 0.01)"
_THIN = "the thin-part classes (Earphone, Rocket) segment worse than the other classes (Table 7)"
THIN_PART_CLASSES = ("Earphone", "Rocket")  # the two lowest of every segmentation row of Table 7

_TABLE2 = [Claim(_JOINT_IOU, "onet-baseline", "joint-classification-onet", "iou", "not_worse", 0.03),
           Claim(_PROBE, "classification-w-onet-encoder", "joint-classification-onet", "accuracy", "better"),
           Claim(_KEEPS_CLS, "classification-baseline", "joint-classification-onet", "accuracy", "not_worse", 0.02),
           Claim(_PROBE_SHORT, "classification-w-onet-encoder", "classification-baseline", "accuracy", "better"),
           Claim(_JOINT_CD, "onet-baseline", "joint-classification-onet", "chamfer_l1", "not_worse", 0.001)]

# Tables 3 and 5: the pre-trained runs carry table2's names, the ones from scratch end in -scratch (bench.toml)
_IMAGE = [
    _in(PRE, Claim("joint training costs no reconstruction IoU (Tables 3, 5: within 0.03)", "onet-baseline",
                   "joint-classification-onet", "iou", "not_worse", 0.03)),
    _in(SCRATCH, Claim("joint training costs no reconstruction IoU (Tables 3, 5: within 0.03)",
                       "onet-baseline-scratch", "joint-classification-onet-scratch", "iou", "not_worse", 0.03)),
    _in(PRE, Claim("joint training keeps the reconstruction's Chamfer-L1 (Tables 3, 5: within 0.004)",
                   "onet-baseline", "joint-classification-onet", "chamfer_l1", "not_worse", 0.004)),
    _in(SCRATCH, Claim("joint training keeps the reconstruction's Chamfer-L1 (Tables 3, 5: within 0.004)",
                       "onet-baseline-scratch", "joint-classification-onet-scratch", "chamfer_l1", "not_worse", 0.004)),
    _in(PRE, Claim(_KEEPS_CLS, "classification-baseline", "joint-classification-onet", "accuracy", "not_worse", 0.02)),
    _in(SCRATCH, Claim("a frozen reconstruction-only encoder classifies worse than a jointly trained one "
                       "(Tables 3, 5: 0.63 vs 0.91, 0.51 vs 0.81)", "classification-w-onet-encoder",
                       "joint-classification-onet-scratch", "accuracy", "better")),
    Claim("ImageNet pre-training reconstructs better than training from scratch (Tables 3, 5)",
          "onet-baseline-scratch", "onet-baseline", "iou", "better"),
    Claim("ImageNet pre-training classifies better, jointly trained, than training from scratch (Tables 3, 5)",
          "joint-classification-onet-scratch", "joint-classification-onet", "accuracy", "better"),
]

_TABLE6 = [Claim(_JOINT_IOU, "onet-baseline", "joint-seg-cls-onet", "iou", "not_worse", 0.03),
           Claim(_PARALLEL, "joint-seg-onet", "parallel-seg-onet", "miou", "better"),
           Claim(_PARALLEL + ", with classification", "joint-seg-cls-onet", "parallel-seg-cls-onet", "miou", "better"),
           Claim(_KEEPS_CLS, "classification-baseline", "joint-seg-cls-onet", "accuracy", "not_worse", 0.02),
           Claim(_JOINT_CD, "onet-baseline", "joint-seg-cls-onet", "chamfer_l1", "not_worse", 0.001),
           Claim(_PARALLEL_KEEPS, "segmentation-baseline", "parallel-seg-onet", "miou", "not_worse", 0.01),
           Claim(_PARALLEL_KEEPS + ", with classification", "segmentation-baseline", "parallel-seg-cls-onet", "miou",
                 "not_worse", 0.01),
           Claim(_THIN, "segmentation-baseline", "segmentation-baseline", "miou", "worst", 0.0, "", THIN_PART_CLASSES)]

CLAIMS: dict[str, list[Claim]] = {
    "default": [Claim(_JOINT_IOU, "onet", "joint-all", "iou", "not_worse", 0.03),
                Claim(_PROBE, "cls-probe-onet", "joint-all", "accuracy", "better")],
    "table1": [Claim("the ONet encoder classifies close to PointNet (Table 1: 0.859 vs 0.871, within 0.015)",
                     "cls-pointnet", "cls-onet-encoder", "accuracy", "not_worse", 0.015),
               Claim("the ONet encoder segments close to PointNet (Table 1: 0.830 vs 0.837, within 0.01)",
                     "seg-pointnet", "seg-onet-encoder", "miou", "not_worse", 0.01)],
    "table2": _TABLE2,
    "table3": _IMAGE,
    "table4": _TABLE2,
    "table5": _IMAGE,
    "table6": _TABLE6,
    "table7": _TABLE6[1:3] + _TABLE6[5:8],
    "table8": [Claim("an encoder trained with segmentation classifies better when frozen than a "
                     "reconstruction-only one (Table 8)", "classification-w-onet-encoder",
                     "classification-w-seg-onet-encoder", "accuracy", "better"),
               Claim("an encoder trained with classification segments better when frozen than a "
                     "reconstruction-only one (Table 8)", "segmentation-w-onet-encoder",
                     "segmentation-w-cls-onet-encoder", "miou", "better"),
               Claim("a frozen reconstruction-only encoder segments worse than one trained with segmentation "
                     "(Table 8: 0.48 vs 0.53)", "segmentation-w-onet-encoder", "recon-seg", "miou", "better"),
               Claim("a frozen reconstruction-only encoder classifies worse than one trained with classification "
                     "(Table 8: 0.89 vs 0.96)", "classification-w-onet-encoder", "recon-cls", "accuracy", "better"),
               Claim("the hold-out probe of an encoder trained with segmentation classifies as well as one trained "
                     "with classification (Table 8: 0.95 vs 0.96, within 0.02)", "recon-cls",
                     "classification-w-seg-onet-encoder", "accuracy", "not_worse", 0.02),
               Claim("the hold-out probe of an encoder trained with classification segments as well as one trained "
                     "with segmentation (Table 8: 0.53 = 0.53, within 0.01)", "recon-seg",
                     "segmentation-w-cls-onet-encoder", "miou", "not_worse", 0.01)],
}


@dataclass
class Verdict:
    """A claim checked on one setup. ``diff``, ``low``, ``high``: B - A (or, for "worst", the other classes
    minus the named ones) in the metric's own direction, with its 95 % interval; ``p_value`` its two-sided
    p-value against the claim's threshold and ``p_adjusted`` that p-value Holm-adjusted over the setup's
    tested claims; ``family``: the family-wise verdict ("" for n/a); ``setup``: the setup's label where the
    results held several, else ""; ``paper_diff``: the paper's own difference, or None; ``seeds``: the seeds
    paired."""

    claim: Claim
    verdict: str  # reproduced | contradicted | inconclusive | n/a
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    evidence: str = ""
    p_value: float | None = None
    p_adjusted: float | None = None
    family: str = ""
    setup: str = ""
    paper_diff: float | None = None
    seeds: int = 0
    orientation: float = 1.0  # -1 for a lower-is-better metric: the claim reads its difference negated
    holds: bool | None = None  # the side the p-value's evidence is on (True: the claim's)

    @property
    def comparison(self) -> str:
        """What the difference is of, in words: "joint-all - onet iou"."""
        c = self.claim
        if c.kind == "worst":
            return f"{c.b}: other classes - {', '.join(c.categories)} {c.metric}"
        return f"{c.b} - {c.a} {c.metric}"

    def line(self) -> str:
        head = f"{self.claim.text}: {self.verdict}" + (f" (family-wise: {self.family})" if self.family else "")
        if self.diff is None:
            return f"{head} ({self.evidence})"
        ci = f" [{self.low:+.3f}, {self.high:+.3f}]" if self.low is not None and self.high is not None else ""
        return f"{head} ({self.comparison} = {self.diff:+.3f}{ci}, {averaging(self.claim.metric)}; {self.evidence})"


def averaging(metric: str) -> str:
    """How a claim on ``metric`` averages, in words."""
    return "overall accuracy (mean over shapes)" if paper_mean(metric) == "instance" else "category means"


def _column(result: RunResult, metric: str) -> tuple[str, str] | None:
    """(task, metric) of the first task of the run that reports ``metric``."""
    return next(((t, metric) for t, values in result.metrics.items() if values.get(metric) is not None), None)


def _lower_is_better(result: RunResult, task: str, metric: str) -> bool:
    return result.task_info(task).direction(metric) == "lower"


def check_claim(claim: Claim, runs: dict[str, list[RunResult]], results_dir: Path | None) -> Verdict:
    """``runs``: run name -> its finished results of one setup, one per seed."""
    if claim.kind == "worst":
        return _check_worst(claim, runs.get(claim.b, []), results_dir)
    a_runs, b_runs = runs.get(claim.a, []), runs.get(claim.b, [])
    # a pair is one seed in one precision: bf16 and fp32 runs of a seed are different experiments
    pairs = [(a, b) for a in a_runs for b in b_runs if a.seed == b.seed and a.precision == b.precision]
    if not pairs and any(a.seed == b.seed for a in a_runs for b in b_runs):
        mixed = ", ".join(sorted({f"{r.run_name} {r.precision}" for r in a_runs + b_runs}))
        return Verdict(claim, "n/a", evidence=f"runs of different precisions are not paired ({mixed}); "
                                              "run both in one precision")
    if len({a.precision for a, _ in pairs}) > 1:  # seeds of two precisions are not more seeds of one
        return Verdict(claim, "n/a", evidence="the runs come in more than one precision; report one "
                                              "(bench report --precision bf16|fp32)")
    cols = [(_column(a, claim.metric), _column(b, claim.metric)) for a, b in pairs]
    pairs = [(a, b, ca, cb) for (a, b), (ca, cb) in zip(pairs, cols) if ca and cb]
    if not pairs:
        return Verdict(claim, "n/a", evidence=f"needs finished runs '{claim.a}' and '{claim.b}' with {claim.metric}")
    sign = -1.0 if _lower_is_better(pairs[0][0], *pairs[0][2]) else 1.0  # claims read higher-is-better
    mean = paper_mean(claim.metric)
    per_seed = [sign * (b.summary(cb[0], claim.metric, mean=mean) - a.summary(ca[0], claim.metric, mean=mean))
                for a, b, ca, cb in pairs]
    k = len(pairs)
    if k >= MIN_SEEDS:
        s = seed_ci(per_seed)
        return _verdict(claim, sign, s.mean, s.low, s.high, f"{k} seeds, Student-t over seeds",
                        seed_claim_test(per_seed, claim.kind, claim.tolerance), k)
    shapes = _paired_scores(pairs, results_dir, claim.metric)
    if shapes is None:
        if k == 2:
            s = seed_ci(per_seed)
            return _verdict(claim, sign, s.mean, s.low, s.high, "2 seeds, Student-t over seeds (no per-shape "
                            "scores for a bootstrap; one degree of freedom)",
                            seed_claim_test(per_seed, claim.kind, claim.tolerance), k)
        return Verdict(claim, "inconclusive", per_seed[0] * sign, evidence="1 seed; no per-shape scores to bound it",
                       seeds=1, orientation=sign)
    va, vb, categories = shapes
    statistic = "instance" if mean == "instance" else "category"
    d = paired_bootstrap_diff(sign * va, sign * vb, categories, statistic, N_BOOT)
    test = bootstrap_claim_test(sign * vb - sign * va, claim.kind, claim.tolerance, categories, statistic, N_BOOT)
    basis = (f"1 seed, paired bootstrap over {len(va)} shapes" if k == 1 else
             f"2 seeds, paired bootstrap over {len(va)} shapes of the seed means")
    basis += " (ignores training variance; --seeds 3 for a verdict over seeds)"
    if k == 2:
        s = seed_ci(per_seed)
        low, high = (s.low, s.high) if sign > 0 else (-s.high, -s.low)
        basis += f"; Student-t over the 2 seeds: [{low:+.3f}, {high:+.3f}]"
    return _verdict(claim, sign, d.diff, d.low, d.high, basis, test, k)


def _paired_scores(pairs, results_dir: Path | None, metric: str):
    """(A's scores, B's scores, categories) per shape that both runs of every pair scored, averaged over the
    pairs (seeds); None where a run has no scores.csv."""
    frames = []
    for a, b, ca, cb in pairs:
        sa, sb = scores_of(a, results_dir), scores_of(b, results_dir)
        if sa is None or sb is None:
            return None
        merged = sa.merge(sb, on=["shape", "category"], suffixes=("_a", "_b"))
        key, key_b = f"{ca[0]}.{metric}", f"{cb[0]}.{metric}"
        if key + "_a" not in merged and key not in merged or key_b + "_b" not in merged and key_b not in merged:
            return None
        frames.append(pd.DataFrame({
            "shape": merged["shape"], "category": merged["category"],
            "a": merged[key + "_a" if key + "_a" in merged else key].to_numpy(float),
            "b": merged[key_b + "_b" if key_b + "_b" in merged else key_b].to_numpy(float)}))
    both = pd.concat(frames).groupby(["shape", "category"], sort=False)
    # a shape counts where every seed scored it in both runs (NaN, a missing score, drops it)
    mean = both[["a", "b"]].mean()[both["a"].count().eq(len(frames)) & both["b"].count().eq(len(frames))]
    mean = mean.reset_index()
    return mean["a"].to_numpy(float), mean["b"].to_numpy(float), mean["category"].tolist()


def _verdict(claim: Claim, sign: float, diff, low, high, evidence: str, test: ClaimTest, seeds: int) -> Verdict:
    kind = "better" if claim.kind == "worst" else claim.kind
    verdict = claim_verdict(low, high, kind, claim.tolerance) if low is not None else "inconclusive"
    # Report the difference in the metric's own direction (a Chamfer increase stays positive).
    if sign < 0:
        diff, low, high = -diff, (None if high is None else -high), (None if low is None else -low)
    holds = None if test.p is None else test.p_holds < test.p_fails
    return Verdict(claim, verdict, diff, low, high, evidence, p_value=test.p, seeds=seeds, orientation=sign,
                   holds=holds)


# ---------------------------------------------------------------------------------------------------
# Per-category claims: some classes of one run score below its others


def _class_weights(categories: list[str], named: tuple[str, ...]) -> dict[str, float] | None:
    """Category -> weight s with ``category_mean(s * v) = mean of the other classes' means - mean of the named
    ones'``: K / |others| for the others, -K / |named| for the named (K classes). None without both."""
    columns = [c for c in paper_tables()[PER_CATEGORY_TABLE]["columns"] if c.casefold() != "mean"]
    cats = list(dict.fromkeys(categories))
    is_named = {c: category_column(c, columns) in named for c in cats}
    n_named = sum(is_named.values())
    n_other = len(cats) - n_named
    if not n_named or not n_other:
        return None
    return {c: -len(cats) / n_named if is_named[c] else len(cats) / n_other for c in cats}


def _contrast(result: RunResult, task: str, metric: str, named: tuple[str, ...]) -> float | None:
    """The run's other classes' mean minus its named classes' mean, from its per-category means."""
    values = {c: v.get(metric) for c, v in (result.per_category.get(task) or {}).items()
              if (v or {}).get(metric) is not None}
    weights = _class_weights(list(values), named)
    if weights is None:
        return None
    return float(sum(weights[c] * v for c, v in values.items()) / len(values))


def _category_ids(column: pd.Series, result: RunResult, task: str) -> list[str]:
    """scores.csv's categories as the result's ids: a CSV reader turns an all-digit id (a ShapeNet synset,
    "02691156") into a number and drops its leading zero, which the result's per-category ids keep."""
    known = {str(k).lstrip("0") or "0": str(k) for k in (result.per_category.get(task) or {})}
    return [known.get(str(c).lstrip("0") or "0", str(c)) for c in column]


def _check_worst(claim: Claim, runs: list[RunResult], results_dir: Path | None) -> Verdict:
    runs = [r for r in runs if _column(r, claim.metric)]
    if not runs:
        return Verdict(claim, "n/a", evidence=f"needs a finished run '{claim.b}' with {claim.metric}")
    if len({r.precision for r in runs}) > 1:
        return Verdict(claim, "n/a", evidence="the runs come in more than one precision; report one "
                                              "(bench report --precision bf16|fp32)")
    task = _column(runs[0], claim.metric)[0]
    per_seed = [_contrast(r, task, claim.metric, claim.categories) for r in runs]
    if any(c is None for c in per_seed):
        return Verdict(claim, "n/a", evidence=f"needs classes {', '.join(claim.categories)} and others among the "
                                              f"run's categories ({PER_CATEGORY_TABLE}'s names)")
    k = len(runs)
    if k >= MIN_SEEDS:
        s = seed_ci(per_seed)
        return _verdict(claim, 1.0, s.mean, s.low, s.high, f"{k} seeds, Student-t over seeds",
                        seed_claim_test(per_seed, "better"), k)
    frames = []
    for r in runs:
        scores = scores_of(r, results_dir)
        key = f"{task}.{claim.metric}"
        if scores is None or key not in scores:
            return Verdict(claim, "inconclusive", float(np.mean(per_seed)), seeds=k,
                           evidence=f"{k} seed{'s' if k > 1 else ''}; no per-shape scores to bound it")
        frames.append(scores[["shape", "category", key]].rename(columns={key: "v"}))
    grouped = pd.concat(frames).groupby(["shape", "category"], sort=False)["v"]
    mean = grouped.mean()[grouped.count().eq(k)].reset_index()
    categories = _category_ids(mean["category"], runs[0], task)
    weights = _class_weights(categories, claim.categories)
    if weights is None:
        return Verdict(claim, "n/a", evidence=f"needs scored shapes of {', '.join(claim.categories)} and of others")
    values = mean["v"].to_numpy(float) * np.array([weights[c] for c in categories])
    ci = bootstrap_ci(values, categories, "category", N_BOOT)
    test = bootstrap_claim_test(values, "better", 0.0, categories, "category", N_BOOT)
    columns = [c for c in paper_tables()[PER_CATEGORY_TABLE]["columns"] if c.casefold() != "mean"]
    named = sorted({category_column(c, columns) for c in weights if weights[c] < 0})
    basis = (f"{', '.join(named)} against {len(weights) - len(named)} other classes; "
             f"{k} seed{'s' if k > 1 else ''}, stratified bootstrap over {len(values)} shapes"
             + (" of the seed means" if k > 1 else "")
             + " (ignores training variance; --seeds 3 for a verdict over seeds)")
    return _verdict(claim, 1.0, category_mean(values, categories), ci.low, ci.high, basis, test, k)


# ---------------------------------------------------------------------------------------------------
# A suite's claims: per setup, with the family-wise verdict and the paper's difference


def _p_text(p: float) -> str:
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _family(verdicts: list[Verdict], alpha: float = ALPHA) -> None:
    """Each tested claim's Holm-adjusted p-value and family-wise verdict, in its evidence too."""
    tested = [v for v in verdicts if v.p_value is not None and v.verdict != "n/a"]
    for v, q in zip(tested, holm_adjusted([v.p_value for v in tested])):
        v.p_adjusted = q
        significant = q <= alpha
        v.family = v.verdict if significant and v.verdict in ("reproduced", "contradicted") else "inconclusive"
        v.evidence += (f"; p {'= ' if v.p_value >= 0.001 else ''}{_p_text(v.p_value)} (Holm-adjusted over "
                       f"{len(tested)} claim{'s' if len(tested) > 1 else ''}: {_p_text(q)}, "
                       f"{'significant' if significant else 'not significant'} at 5 % family-wise)")
    for v in verdicts:
        if v.verdict != "n/a" and v.p_value is None:
            v.family = "inconclusive"
            v.evidence += "; no p-value, not in the family-wise test"


def _against_paper(v: Verdict) -> None:
    """A "better" claim's interval against the paper's own difference: smaller or larger than the paper's."""
    if v.claim.kind == "not_worse" or v.paper_diff is None or v.low is None or v.high is None:
        return
    low, high = sorted((v.orientation * v.low, v.orientation * v.high))
    paper = v.orientation * v.paper_diff
    if high < paper:
        v.evidence += f"; smaller than the paper's {v.paper_diff:+.3f}"
    elif low > paper:
        v.evidence += f"; larger than the paper's {v.paper_diff:+.3f}"


def check_setup(setup: Setup | None, claims: list[Claim], results_dir: Path | None, suite: str,
                table: str, label: str = "", cut_short: set[str] = frozenset()) -> list[Verdict]:
    """``claims`` on one setup's runs (None: on no runs), the family-wise verdicts over them, and each against
    the paper's own difference in ``table``. ``cut_short``: runs left out for being step-limited, which an n/a
    verdict names."""
    runs: dict[str, list[RunResult]] = {}
    for r in setup.results if setup is not None else ():
        runs.setdefault(r.run_name, []).append(r)
    verdicts = [check_claim(c, runs, results_dir) for c in claims]
    for v in verdicts:
        limited = sorted({v.claim.a, v.claim.b} & set(cut_short) - set(runs))
        if v.verdict == "n/a" and limited:
            v.evidence = (f"{' and '.join(limited)} only cut short by --max-steps (step-limited), which no claim "
                          f"reads; {v.evidence}")
        v.setup = label
        v.paper_diff = paper_difference(v.claim, suite, table)
        _against_paper(v)
    _family(verdicts)
    if label:
        for v in verdicts:
            v.evidence = f"setup {label}; {v.evidence}"
    return verdicts


def claim_results(results: list[RunResult]) -> list[RunResult]:
    """The results claims may read: complete, and not cut short by --max-steps."""
    return [r for r in results if r.status == "complete" and not r.step_limited]


def check_claims(results: list[RunResult], suite: str, results_dir: Path | None = None,
                 table: str | None = None) -> list[Verdict]:
    """The paper's claims that apply to ``suite``, checked on its complete, full-length runs, once per setup
    (in the order of the setups' labels; each verdict's ``setup`` names it where there are several).
    ``table``: the paper table whose differences the verdicts are set against (default: the suite's)."""
    claims = CLAIMS.get(suite, [])
    if not claims:
        return []
    setups = split_setups(claim_results(results))
    cut_short = {r.run_name for r in results if r.status == "complete" and r.step_limited}
    table = paper_table_for(suite, table)
    if len(setups) <= 1:
        return check_setup(setups[0] if setups else None, claims, results_dir, suite, table, cut_short=cut_short)
    return [v for s in setups for v in check_setup(s, claims, results_dir, suite, table, s.label, cut_short)]


def family_summary(verdicts: list[Verdict]) -> list[str]:
    """One line per setup: how many of its claims hold family-wise (Holm-Bonferroni at 5 %)."""
    lines = []
    for setup in dict.fromkeys(v.setup for v in verdicts):
        mine = [v for v in verdicts if v.setup == setup and v.family]
        if not mine:
            continue
        counts = {w: sum(v.family == w for v in mine) for w in ("reproduced", "contradicted", "inconclusive")}
        where = f" (setup {setup})" if setup else ""
        tested = sum(v.p_adjusted is not None for v in mine)
        lines.append(f"family-wise{where}, Holm-Bonferroni at 5 % over {tested} tested claim"
                     f"{'s' if tested != 1 else ''}: " + ", ".join(f"{n} {w}" for w, n in counts.items()))
    return lines
