"""Our suites next to the paper's tables, direction-aware comparisons of runs, and plain-language findings."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from importlib import resources
from typing import Any

import pandas as pd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench.errors import BenchError, did_you_mean
from bench.results import RunResult

PAPER_METRICS = ("iou", "chamfer_l1", "miou", "accuracy")


def paper_tables() -> dict[str, Any]:
    """The paper's Tables 1-8 as recorded in bench/paper_tables.toml."""
    text = resources.files("bench").joinpath("paper_tables.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _metric(results: dict[str, RunResult], run: str | None, metric: str) -> float | None:
    r = results.get(run or "")
    if r is None:
        return None
    for values in r.metrics.values():
        if values.get(metric) is not None:
            return float(values[metric])
    return None


def paper_comparison(results: list[RunResult], table: str, suite: str | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of the paper's table with our value beside each paper value; and the table's dataset.

    A suite other than the table's own (e.g. ``default`` against ``table2``) is matched through the roles
    of FINDING_RUNS: baseline, joint run, classification baseline, frozen probe.
    """
    tables = paper_tables()
    if table not in tables:
        raise BenchError(f"no paper table '{table}'.{did_you_mean(table, tables)} Tables: {', '.join(tables)}.")
    spec = tables[table]
    by_run = {r.run_name: r for r in results if r.status == "complete"}
    if suite and suite != table and suite in FINDING_RUNS and table in FINDING_RUNS:
        for canonical, ours in zip(FINDING_RUNS[table], FINDING_RUNS[suite]):
            if canonical and ours and ours in by_run:
                by_run.setdefault(canonical, by_run[ours])
    rows = []
    for row in spec["rows"]:
        if "values" in row:  # per-class table (7): not mapped to runs
            continue
        out: dict[str, Any] = {"row": row["row"], "run": row.get("run", "")}
        for m in PAPER_METRICS:
            if m in row:
                source = row.get("metric_runs", {}).get(m, row.get("run"))
                out[f"{m} (paper)"] = row[m]
                out[f"{m} (ours)"] = _metric(by_run, source, m)
        rows.append(out)
    return pd.DataFrame(rows), spec["dataset"]


def dataset_warning(results: list[RunResult], paper_dataset: str) -> str:
    ours = sorted({r.dataset.get("name", "?") for r in results})
    return (f"The paper's numbers are on {paper_dataset}; ours are on {', '.join(ours) or 'nothing yet'}. "
            + ("These are different datasets: compare trends (which protocol wins), not values."
               if not any(paper_dataset.split()[0].lower() in o.lower() for o in ours) else ""))


@dataclass
class Finding:
    claim: str
    holds: bool | None  # None: the runs needed are missing
    detail: str

    def line(self) -> str:
        verdict = {True: "yes", False: "no", None: "n/a"}[self.holds]
        return f"{self.claim}: {verdict} ({self.detail})"


def _finding(claim: str, a: float | None, b: float | None, test, detail) -> Finding:
    if a is None or b is None:
        return Finding(claim, None, "runs missing or unfinished")
    return Finding(claim, bool(test(a, b)), detail(a, b))


# Suite -> (baseline recon run, joint recon+cls run, classification baseline, frozen probe)
FINDING_RUNS = {
    "default": ("onet", "joint-all", None, "cls-probe-onet"),
    "table2": ("onet-baseline", "joint-classification-onet", "classification-baseline", "classification-w-onet-encoder"),
    "table6": ("onet-baseline", "joint-seg-cls-onet", "classification-baseline", None),
    "table8": ("onet-baseline", "recon-cls", None, "classification-w-onet-encoder"),
}


def findings(results: list[RunResult], suite: str) -> list[Finding]:
    """The paper's claims, checked on this suite's results."""
    if suite not in FINDING_RUNS:
        return []
    base, joint, cls_base, probe = FINDING_RUNS[suite]
    by_run = {r.run_name: r for r in results if r.status == "complete"}
    iou_b, iou_j = _metric(by_run, base, "iou"), _metric(by_run, joint, "iou")
    acc_j = _metric(by_run, joint, "accuracy")
    acc_ref = _metric(by_run, cls_base, "accuracy") if cls_base else acc_j
    acc_p = _metric(by_run, probe, "accuracy") if probe else None
    out = [
        _finding("joint training kept reconstruction IoU within 0.01 of the baseline", iou_j, iou_b,
                 lambda j, b: j >= b - 0.01, lambda j, b: f"joint {j:.3f} vs baseline {b:.3f}"),
    ]
    if probe:
        out.append(_finding("a classifier on the frozen reconstruction-only encoder is less accurate than with "
                            "joint training", acc_p, acc_j, lambda p, j: p < j,
                            lambda p, j: f"frozen probe {p:.3f} vs joint {j:.3f}"))
    if cls_base:
        out.append(_finding("joint training recovers the classification baseline's accuracy (within 0.01)", acc_j,
                            acc_ref, lambda j, r: j >= r - 0.01, lambda j, r: f"joint {j:.3f} vs baseline {r:.3f}"))
    if suite == "table8":
        seg_p = _metric(by_run, "segmentation-w-onet-encoder", "miou")
        seg_c = _metric(by_run, "segmentation-w-cls-onet-encoder", "miou")
        out.append(_finding("an encoder trained with classification segments better when frozen than a "
                            "reconstruction-only one", seg_c, seg_p, lambda c, p: c > p,
                            lambda c, p: f"{c:.3f} vs {p:.3f}"))
    return out


def compare_frame(results: list[RunResult], directions: dict[str, str]) -> pd.DataFrame:
    """Metrics of runs side by side (first is the reference) with deltas and the better run per metric."""
    if len(results) < 2:
        raise BenchError("compare needs at least two runs")
    names = [f"{r.suite}/{r.run_name}" for r in results]
    metrics = []
    for r in results:
        for task, values in r.metrics.items():
            metrics += [(task, m) for m in values if (task, m) not in metrics]
    rows = []
    for task, m in metrics:
        vals = [r.metrics.get(task, {}).get(m) for r in results]
        row: dict[str, Any] = {"task": task, "metric": m}
        row.update({n: v for n, v in zip(names, vals)})
        ref = vals[0]
        for n, v in zip(names[1:], vals[1:]):
            row[f"delta {n}"] = None if ref is None or v is None else v - ref
        present = [(v, n) for v, n in zip(vals, names) if v is not None]
        lower = directions.get(m) == "lower"
        if len(present) > 1 and len({v for v, _ in present}) > 1:
            row["better"] = (min if lower else max)(present)[1]
        else:
            row["better"] = "tie" if present else ""
        row["direction"] = "lower" if lower else "higher"
        rows.append(row)
    return pd.DataFrame(rows)
