"""The paper's findings as claims checked on a suite's results, each with a verdict from a confidence
interval: reproduced, contradicted or inconclusive (bench/evaluation/uncertainty.py: claim_verdict).

A claim compares run B with run A on one metric, averaged as the paper averages (category means). The
interval of B - A is a paired bootstrap over the test shapes both runs scored (scores.csv) when the
suite ran with one seed, and a Student-t interval over seeds when it ran with several. Tolerances are
the smallest that the paper's own tables satisfy (e.g. joint training's IoU cost: 0.78 -> 0.77 in
Table 2, 0.73 -> 0.70 in Table 4, so 0.03).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.evaluation.uncertainty import claim_verdict, paired_bootstrap_diff, seed_ci
from bench.reports.select import scores_of
from bench.results import RunResult

N_BOOT = 2000


@dataclass(frozen=True)
class Claim:
    text: str
    a: str  # run name of the reference
    b: str  # run name the claim is about
    metric: str
    kind: str  # "not_worse" | "better": B is no more than ``tolerance`` worse than A | B is better than A
    tolerance: float = 0.0


_JOINT_IOU = "joint training costs no reconstruction IoU (Tables 2, 4, 6: within 0.03)"
_PROBE = "a frozen reconstruction-only encoder classifies worse than a jointly trained one (Tables 2, 4)"
_KEEPS_CLS = "joint training keeps the classification baseline's accuracy (Tables 2-5: within 0.02)"
_PARALLEL = "parallel decoders segment better than a joint decoder (Tables 6, 7)"

CLAIMS: dict[str, list[Claim]] = {
    "default": [Claim(_JOINT_IOU, "onet", "joint-all", "iou", "not_worse", 0.03),
                Claim(_PROBE, "cls-probe-onet", "joint-all", "accuracy", "better")],
    "table2": [Claim(_JOINT_IOU, "onet-baseline", "joint-classification-onet", "iou", "not_worse", 0.03),
               Claim(_PROBE, "classification-w-onet-encoder", "joint-classification-onet", "accuracy", "better"),
               Claim(_KEEPS_CLS, "classification-baseline", "joint-classification-onet", "accuracy", "not_worse", 0.02)],
    "table6": [Claim(_JOINT_IOU, "onet-baseline", "joint-seg-cls-onet", "iou", "not_worse", 0.03),
               Claim(_PARALLEL, "joint-seg-onet", "parallel-seg-onet", "miou", "better"),
               Claim(_PARALLEL + ", with classification", "joint-seg-cls-onet", "parallel-seg-cls-onet", "miou", "better"),
               Claim(_KEEPS_CLS, "classification-baseline", "joint-seg-cls-onet", "accuracy", "not_worse", 0.02)],
    "table8": [Claim("an encoder trained with segmentation classifies better when frozen than a "
                     "reconstruction-only one (Table 8)", "classification-w-onet-encoder",
                     "classification-w-seg-onet-encoder", "accuracy", "better"),
               Claim("an encoder trained with classification segments better when frozen than a "
                     "reconstruction-only one (Table 8)", "segmentation-w-onet-encoder",
                     "segmentation-w-cls-onet-encoder", "miou", "better")],
}
CLAIMS["table4"] = CLAIMS["table2"]
CLAIMS["table3"] = CLAIMS["table5"] = CLAIMS["table2"]
CLAIMS["table7"] = CLAIMS["table6"][1:3]


@dataclass
class Verdict:
    claim: Claim
    verdict: str  # reproduced | contradicted | inconclusive | n/a
    diff: float | None = None
    low: float | None = None
    high: float | None = None
    evidence: str = ""

    def line(self) -> str:
        if self.diff is None:
            return f"{self.claim.text}: {self.verdict} ({self.evidence})"
        ci = f" [{self.low:+.3f}, {self.high:+.3f}]" if self.low is not None and self.high is not None else ""
        return (f"{self.claim.text}: {self.verdict} ({self.claim.b} - {self.claim.a} {self.claim.metric} = "
                f"{self.diff:+.3f}{ci}, category means; {self.evidence})")


def _column(result: RunResult, metric: str) -> tuple[str, str] | None:
    """(task, metric) of the first task of the run that reports ``metric``."""
    return next(((t, metric) for t, values in result.metrics.items() if values.get(metric) is not None), None)


def _lower_is_better(result: RunResult, task: str, metric: str) -> bool:
    return result.task_info(task).direction(metric) == "lower"


def check_claim(claim: Claim, runs: dict[str, list[RunResult]], results_dir: Path | None) -> Verdict:
    """``runs``: run name -> its finished results, one per seed."""
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
    if len(pairs) > 1:
        diffs = [sign * (b.summary(cb[0], claim.metric) - a.summary(ca[0], claim.metric)) for a, b, ca, cb in pairs]
        mean, low, high = seed_ci(diffs)
        return _verdict(claim, sign, mean, low, high, f"{len(pairs)} seeds, Student-t over seeds")
    a, b, ca, cb = pairs[0]
    sa, sb = scores_of(a, results_dir), scores_of(b, results_dir)
    point = sign * (b.summary(cb[0], claim.metric) - a.summary(ca[0], claim.metric))
    if sa is None or sb is None:
        return Verdict(claim, "inconclusive", sign * point, evidence="1 seed; no per-shape scores to bound it")
    merged = sa.merge(sb, on=["shape", "category"], suffixes=("_a", "_b"))
    key = f"{ca[0]}.{claim.metric}"
    key_b = f"{cb[0]}.{claim.metric}"
    va = merged[key + "_a" if key + "_a" in merged else key].to_numpy(float)
    vb = merged[key_b + "_b" if key_b + "_b" in merged else key_b].to_numpy(float)
    d = paired_bootstrap_diff(sign * va, sign * vb, merged["category"].tolist(), "category", N_BOOT)
    return _verdict(claim, sign, d.diff, d.low, d.high, f"1 seed, paired bootstrap over {len(merged)} shapes")


def _verdict(claim: Claim, sign: float, diff, low, high, evidence: str) -> Verdict:
    verdict = claim_verdict(low, high, claim.kind, claim.tolerance) if low is not None else "inconclusive"
    # Report the difference in the metric's own direction (a Chamfer increase stays positive).
    if sign < 0:
        diff, low, high = -diff, (None if high is None else -high), (None if low is None else -low)
    return Verdict(claim, verdict, diff, low, high, evidence)


def check_claims(results: list[RunResult], suite: str, results_dir: Path | None = None) -> list[Verdict]:
    """The paper's claims that apply to ``suite``, checked on its finished runs."""
    runs: dict[str, list[RunResult]] = {}
    for r in results:
        if r.status == "complete":
            runs.setdefault(r.run_name, []).append(r)
    return [check_claim(c, runs, results_dir) for c in CLAIMS.get(suite, [])]

