"""Our suites next to the paper's tables, one setup at a time, and comparisons of runs with paired intervals."""

from __future__ import annotations

import sys
from importlib import resources
from typing import Any

import pandas as pd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench.errors import BenchError, did_you_mean
from bench.results import CLASS_MEAN, RunResult

PAPER_METRICS = ("iou", "chamfer_l1", "miou", "accuracy")


def paper_tables() -> dict[str, Any]:
    """The paper's Tables 1-8 as recorded in bench/paper_tables.toml."""
    text = resources.files("bench").joinpath("paper_tables.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def _metric(results: dict[str, RunResult], run: str | None, metric: str) -> float | None:
    """A run's ``metric`` averaged as the paper averages its summary numbers: the category mean (Table 6's
    mIoU is Table 7's Mean column); the instance mean only for results that predate category means."""
    r = results.get(run or "")
    if r is None:
        return None
    for values in r.metrics.values():
        for key in (metric + CLASS_MEAN, metric):
            if values.get(key) is not None:
                return float(values[key])
    return None


def paper_comparison(results: list[RunResult], table: str, suite: str | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of the paper's table with our value (category mean, the paper's averaging) beside each paper
    value; and the table's dataset.

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
        if "values" in row:  # per-class rows (Table 7): bench.paper_classes.per_class_comparison
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
    import re

    ours = sorted({r.dataset.get("name", "?") for r in results})
    words = [w for w in re.findall(r"[a-z0-9]+", paper_dataset.lower()) if len(w) >= 4 and w != "classes"]
    same = bool(ours) and all(any(w in o.lower().replace("-", "") for w in words) for o in ours)
    return (f"The paper's numbers are on {paper_dataset}; ours are on {', '.join(ours) or 'nothing yet'}. "
            + ("" if same or not ours else "These are different datasets: compare trends (which protocol wins), not values."))


# Suite -> the runs playing (baseline recon, joint recon+cls, classification baseline, frozen probe), so that
# a suite other than a table's own (e.g. default against table2) can be set beside that table.
FINDING_RUNS = {
    "default": ("onet", "joint-all", None, "cls-probe-onet"),
    "table2": ("onet-baseline", "joint-classification-onet", "classification-baseline", "classification-w-onet-encoder"),
    "table6": ("onet-baseline", "joint-seg-cls-onet", "classification-baseline", None),
    "table8": ("onet-baseline", "recon-cls", None, "classification-w-onet-encoder"),
}


def select_results(results: list[RunResult], suite: str, dataset: str | None = None,
                   profile: str | None = None, precision: str | None = None) -> list[RunResult]:
    """The suite's runs of one dataset revision, one profile and one precision (all their seeds); refuses to
    mix others (a bf16 run and an fp32 run differ by more than seed noise can hide)."""
    rs = [r for r in results if r.suite == suite
          and (dataset is None or r.dataset.get("name") == dataset)
          and (profile is None or r.config.get("profile", "") == profile)
          and (precision is None or r.precision == precision)]
    groups = sorted({(r.dataset.get("name", "?"), str(r.dataset.get("revision")), r.config.get("profile", ""), r.precision)
                     for r in rs if r.status == "complete"})
    if len(groups) > 1:
        listing = "; ".join(f"dataset {d} (revision {rev}), profile '{p or 'none'}', {prec}" for d, rev, p, prec in groups)
        raise BenchError(f"suite '{suite}' has runs of {len(groups)} different setups, which a report must not mix: "
                         f"{listing}. Pick one with --dataset NAME, --profile NAME and/or --precision bf16|fp32.")
    return rs


def check_same_precision(results: list[RunResult], allow_mixed: bool = False) -> str:
    """'' when every run trained in one precision; else a BenchError, or (``allow_mixed``) the note that the
    verdicts then carry."""
    kinds = {f"{r.suite}/{r.run_name}": r.precision for r in results}
    if len(set(kinds.values())) <= 1:
        return ""
    listing = ", ".join(f"{name} {p}" for name, p in kinds.items())
    if not allow_mixed:
        raise BenchError(f"these runs trained in different precisions ({listing}): their difference mixes the "
                         "precision's effect with the runs'. Compare runs of one precision (bench run --amp / --no-amp), "
                         "or pass --mixed-precision to compare them anyway (the verdicts then say so).")
    return f"mixed precision: {listing}"


def compare_frame(results: list[RunResult], directions: dict[str, str],
                  scores: list[pd.DataFrame | None] | None = None, n_boot: int = 2000,
                  allow_mixed_precision: bool = False) -> pd.DataFrame:
    """Metrics of runs side by side (the first is the reference), the difference of each other run from it
    with its paired-bootstrap 95 % interval over the shapes both scored (``scores``: each run's scores.csv),
    and a verdict per metric: better / worse / no significant difference (or why there is none).
    Runs of different precisions are refused unless ``allow_mixed_precision``; then each verdict says so."""
    from bench.evaluation.uncertainty import paired_bootstrap_diff, verdict

    if len(results) < 2:
        raise BenchError("compare needs at least two runs")
    mixed = check_same_precision(results, allow_mixed_precision)
    scores = scores or [None] * len(results)
    names = [f"{r.suite}/{r.run_name}" for r in results]
    metrics = []
    for r in results:
        for task, values in r.metrics.items():
            metrics += [(task, m) for m in values if (task, m) not in metrics]
    rows = []
    for task, m in metrics:
        vals = [r.metrics.get(task, {}).get(m) for r in results]
        higher = directions.get(m, directions.get(f"{task}.{m}")) != "lower"
        row: dict[str, Any] = {"task": task, "metric": m, **dict(zip(names, vals))}
        for n, v, sc in zip(names[1:], vals[1:], scores[1:]):
            d = _paired(scores[0], sc, task, m, n_boot, paired_bootstrap_diff)
            row[f"delta {n}"] = None if vals[0] is None or v is None else v - vals[0]
            row[f"low {n}"], row[f"high {n}"] = (d.low, d.high) if d else (None, None)
            if vals[0] is None or v is None:
                row[f"verdict {n}"] = "– (no value)"
            elif d is None:
                row[f"verdict {n}"] = "– (no per-shape scores)"
            elif d.low is None:
                row[f"verdict {n}"] = "– (a category has one scored shape: no interval)"
            else:
                row[f"verdict {n}"] = verdict(d.low, d.high, higher) + (f" ({mixed})" if mixed else "")
        present = [(v, n) for v, n in zip(vals, names) if v is not None]
        if len(present) < 2:
            row["better"] = "–"
        elif len({v for v, _ in present}) == 1:
            row["better"] = "equal"
        else:
            row["better"] = (max if higher else min)(present)[1]
        row["direction"] = "higher" if higher else "lower"
        rows.append(row)
    return pd.DataFrame(rows)


def _paired(a: pd.DataFrame | None, b: pd.DataFrame | None, task: str, metric: str, n_boot: int, fn):
    """Paired bootstrap of B - A on the shapes both runs scored; None without per-shape scores."""
    base = metric.removesuffix(CLASS_MEAN)
    col = f"{task}.{base}"
    if a is None or b is None or col not in a or col not in b:
        return None
    merged = a[["shape", "category", col]].merge(b[["shape", col]], on="shape", suffixes=("_a", "_b"))
    statistic = "category" if metric.endswith(CLASS_MEAN) else "instance"
    return fn(merged[col + "_a"].to_numpy(float), merged[col + "_b"].to_numpy(float),
              merged["category"].tolist(), statistic, n_boot)
