"""Our suites next to the paper's tables (bench/reports/paper_tables.toml), one setup at a time."""

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
from bench.results import RunResult

PAPER_METRICS = ("iou", "chamfer_l1", "miou", "accuracy")
TABLES_FILE = "paper_tables.toml"  # package data of bench.reports

# Suite -> the runs playing (baseline recon, joint recon+cls, classification baseline, frozen probe), so that
# a suite other than a table's own (e.g. default against table2) can be set beside that table.
FINDING_RUNS = {
    "default": ("onet", "joint-all", None, "cls-probe-onet"),
    "table2": ("onet-baseline", "joint-classification-onet", "classification-baseline", "classification-w-onet-encoder"),
    "table6": ("onet-baseline", "joint-seg-cls-onet", "classification-baseline", None),
    "table8": ("onet-baseline", "recon-cls", None, "classification-w-onet-encoder"),
}
SUITE_TABLES = {"default": "table2"}  # suites that are not one of the paper's tables -> the table they mirror


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


def _metric(results: dict[str, RunResult], run: str | None, metric: str) -> float | None:
    """A run's ``metric`` averaged as the paper averages its summary numbers: the category mean (Table 6's
    mIoU is Table 7's Mean column); the instance mean only for results that predate category means."""
    r = results.get(run or "")
    if r is None:
        return None
    for task in r.metrics:
        value = r.summary(task, metric, mean="category")
        if value is not None:
            return float(value)
    return None


def paper_comparison(results: list[RunResult], table: str, suite: str | None = None) -> tuple[pd.DataFrame, str]:
    """Rows of the paper's table with our value (category mean, the paper's averaging) beside each paper
    value; and the table's dataset.

    A suite other than the table's own (e.g. ``default`` against ``table2``) is matched through the roles
    of FINDING_RUNS: baseline, joint run, classification baseline, frozen probe.
    """
    spec = table_spec(table)
    by_run = {r.run_name: r for r in results if r.status == "complete"}
    if suite and suite != table and suite in FINDING_RUNS and table in FINDING_RUNS:
        for canonical, ours in zip(FINDING_RUNS[table], FINDING_RUNS[suite]):
            if canonical and ours and ours in by_run:
                by_run.setdefault(canonical, by_run[ours])
    rows = []
    for row in spec["rows"]:
        if "values" in row:  # per-class rows (Table 7): bench.reports.per_category.per_class_comparison
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
    ours = sorted({"?" if r.dataset.name is None else r.dataset.name for r in results})
    words = [w for w in re.findall(r"[a-z0-9]+", paper_dataset.lower()) if len(w) >= 4 and w != "classes"]
    same = bool(ours) and all(any(w in o.lower().replace("-", "") for w in words) for o in ours)
    return (f"The paper's numbers are on {paper_dataset}; ours are on {', '.join(ours) or 'nothing yet'}. "
            + ("" if same or not ours else "These are different datasets: compare trends (which protocol wins), not values."))
