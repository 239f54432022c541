"""Our suites next to the paper's tables (bench/reports/paper_tables.toml), one setup at a time, averaged as
the paper averages: IoU, Chamfer-L1 and part mIoU as category means, accuracy as overall accuracy (the mean
over shapes; docs/metrics.md, "Comparing with the paper", has the evidence for both), and over the seeds of a
run. Runs cut short by --max-steps are left out; a folder holding several setups (bench/reports/select.py:
split_setups) gets one column of ours per setup."""

from __future__ import annotations

import re
import sys
from importlib import resources
from typing import Any

import pandas as pd

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from bench.errors import BenchError, did_you_mean
from bench.reports.select import split_setups
from bench.results import RunResult

PAPER_METRICS = ("iou", "chamfer_l1", "miou", "accuracy")
TABLES_FILE = "paper_tables.toml"  # package data of bench.reports
PER_CATEGORY_TABLE = "table7"  # the paper's per-category table: the classes per-category claims name
PAPER_MEANS = {"accuracy": "instance"}
"""How the paper averages a metric where it is not the category mean: accuracy is overall accuracy."""

# Suite -> the runs playing (baseline recon, joint recon+cls, classification baseline, frozen probe), so that
# a suite other than a table's own (e.g. default against table2) can be set beside that table.
FINDING_RUNS = {
    "default": ("onet", "joint-all", None, "cls-probe-onet"),
    "table2": ("onet-baseline", "joint-classification-onet", "classification-baseline", "classification-w-onet-encoder"),
    "table6": ("onet-baseline", "joint-seg-cls-onet", "classification-baseline", None),
    "table8": ("onet-baseline", "recon-cls", None, "classification-w-onet-encoder"),
}
SUITE_TABLES = {"default": "table2"}  # suites that are not one of the paper's tables -> the table they mirror


def paper_mean(metric: str) -> str:
    """"instance" or "category": how the paper averages ``metric`` over a test split (accuracy: overall, the mean
    over shapes; IoU, Chamfer-L1, part mIoU: the mean of the per-category means)."""
    return PAPER_MEANS.get(metric, "category")


def paper_tables() -> dict[str, Any]:
    """The paper's Tables 1-8 as recorded in bench/reports/paper_tables.toml."""
    text = resources.files("bench.reports").joinpath(TABLES_FILE).read_text(encoding="utf-8")
    return tomllib.loads(text)


def table_spec(table: str) -> dict[str, Any]:
    """One paper table, or a BenchError naming the tables there are."""
    tables = paper_tables()
    if table not in tables:
        raise BenchError(f"no paper table '{table}'.{did_you_mean(table, tables)} Tables: {', '.join(tables)}.")
    return tables[table]


def paper_table_for(suite: str, table: str | None = None) -> str:
    """The paper table a suite is set beside: ``table`` when given, else the suite's own (table2 is table2),
    else the table its runs mirror (default: Table 2), else the suite's name."""
    return table or (suite if suite in paper_tables() else SUITE_TABLES.get(suite, suite))


def our_names(suite: str, table: str) -> dict[str, str]:
    """The paper table's run names -> the runs of ``suite`` that play them (FINDING_RUNS); empty where the suite
    is the table's own, whose runs carry the table's names."""
    if suite == table or suite not in FINDING_RUNS or table not in FINDING_RUNS:
        return {}
    return {canonical: ours for canonical, ours in zip(FINDING_RUNS[table], FINDING_RUNS[suite]) if canonical and ours}


def _mean_over_seeds(runs: list[RunResult], metric: str) -> float | None:
    """The runs' (one run's seeds') ``metric`` averaged as the paper averages (``paper_mean``), then over the
    seeds; the instance mean only for results that predate category means."""
    values = []
    for r in runs:
        for task in r.metrics:
            value = r.summary(task, metric, mean=paper_mean(metric))
            if value is not None:
                values.append(float(value))
                break
    return float(sum(values) / len(values)) if values else None


def _by_run(results: list[RunResult], suite: str | None, table: str) -> dict[str, list[RunResult]]:
    """Run name (as the paper table names it) -> its results; a suite other than the table's own is matched
    through the roles of FINDING_RUNS."""
    by_run: dict[str, list[RunResult]] = {}
    for r in results:
        by_run.setdefault(r.run_name, []).append(r)
    for canonical, ours in our_names(suite or table, table).items():
        if ours in by_run:
            by_run.setdefault(canonical, by_run[ours])
    return by_run


def paper_comparison(results: list[RunResult], table: str, suite: str | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of the paper's table with our value beside each paper value (averaged as the paper averages, and
    over seeds); and the table's dataset.

    Complete runs only, none cut short by --max-steps. One setup: columns ``"<metric> (paper)"`` and
    ``"<metric> (ours)"``; several (bench/reports/select.py: split_setups): one ``"<metric> (ours, <setup>)"``
    column per setup. A suite other than the table's own (e.g. ``default`` against ``table2``) is matched
    through the roles of FINDING_RUNS: baseline, joint run, classification baseline, frozen probe.
    """
    spec = table_spec(table)
    setups = split_setups([r for r in results if r.status == "complete" and not r.step_limited], by_suite=False)
    columns = [("ours", list(s.results)) for s in setups] if len(setups) <= 1 else \
        [(f"ours, {s.label}", list(s.results)) for s in setups]
    columns = columns or [("ours", [])]
    by_setup = [(name, _by_run(rs, suite, table)) for name, rs in columns]
    rows = []
    for row in spec["rows"]:
        if "values" in row:  # per-class rows (Table 7): bench.reports.per_category.per_class_comparison
            continue
        out: dict[str, Any] = {"row": row["row"], "run": row.get("run", "")}
        for m in PAPER_METRICS:
            if m in row:
                source = row.get("metric_runs", {}).get(m, row.get("run"))
                out[f"{m} (paper)"] = row[m]
                for name, by_run in by_setup:
                    out[f"{m} ({name})"] = _mean_over_seeds(by_run.get(source or "", []), m)
        rows.append(out)
    return pd.DataFrame(rows), spec["dataset"]


def _paper_value(spec: dict, run: str, metric: str) -> float | None:
    """The paper's ``metric`` of the row whose run is ``run``: its summary value, or for a per-category table
    (Table 7) its Mean column."""
    for row in spec.get("rows", []):
        if "values" in row:
            columns = [str(c).casefold() for c in spec.get("columns", [])]
            if row.get("run") == run and row.get("metric") == metric and "mean" in columns:
                return float(row["values"][columns.index("mean")])
        elif metric in row and row.get("metric_runs", {}).get(metric, row.get("run")) == run:
            return float(row[metric])
    return None


def _paper_contrast(run: str, metric: str, named: tuple[str, ...]) -> float | None:
    """Table 7's row of ``run``: the mean of its other classes minus the mean of the ``named`` ones."""
    spec = table_spec(PER_CATEGORY_TABLE)
    columns = [str(c) for c in spec.get("columns", [])]
    for row in spec.get("rows", []):
        if row.get("run") == run and row.get("metric") == metric and "values" in row:
            pairs = [(c, float(v)) for c, v in zip(columns, row["values"]) if c.casefold() != "mean"]
            mine = [v for c, v in pairs if c in named]
            rest = [v for c, v in pairs if c not in named]
            if mine and rest:
                return round(sum(rest) / len(rest) - sum(mine) / len(mine), 6)
    return None


def paper_difference(claim, suite: str, table: str) -> float | None:
    """The paper's own difference for ``claim`` (bench/reports/claims.py: Claim) in the paper table the suite is
    set beside: B - A, or for a per-category claim its other classes' mean minus its named classes' (Table 7);
    None where the paper has no such pair of numbers."""
    try:
        if claim.kind == "worst":
            canonical = {ours: name for name, ours in our_names(suite, PER_CATEGORY_TABLE).items()}
            return _paper_contrast(canonical.get(claim.b, claim.b), claim.metric, tuple(claim.categories))
        spec = table_spec(table)
    except BenchError:
        return None
    canonical = {ours: name for name, ours in our_names(suite, table).items()}
    a = _paper_value(spec, canonical.get(claim.a, claim.a), claim.metric)
    b = _paper_value(spec, canonical.get(claim.b, claim.b), claim.metric)
    return None if a is None or b is None else round(b - a, 6)


def dataset_warning(results: list[RunResult], paper_dataset: str) -> str:
    ours = sorted({"?" if r.dataset.name is None else r.dataset.name for r in results})
    words = [w for w in re.findall(r"[a-z0-9]+", paper_dataset.lower()) if len(w) >= 4 and w != "classes"]
    same = bool(ours) and all(any(w in o.lower().replace("-", "") for w in words) for o in ours)
    return (f"The paper's numbers are on {paper_dataset}; ours are on {', '.join(ours) or 'nothing yet'}. "
            + ("" if same or not ours else "These are different datasets: compare trends (which protocol wins), not values."))
