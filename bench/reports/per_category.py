"""The per-category Table 7 comparison: the paper's per-category table (Table 7) beside ours, one row per
table row that names a run, the paper's value and ours for every category column, and the Mean column
beside our category mean.

What each row compares is data, in bench/reports/paper_tables.toml: ``run`` (the run of our suite), ``task``
and ``metric`` (the per-category score of that run: ``per_category[task][category][metric]`` of its
result.json; Table 7 compares reconstruction ``iou`` in its first row and segmentation ``miou`` in the
others). The Mean column is compared with ``metrics[task][metric + "_class_mean"]`` (RunResult.summary): the
unweighted mean of the per-category means, which is how the paper averages (Table 7's Mean column is the
plain mean of its 16 category values, and Table 6's mIoU is that Mean).

Our categories are matched to the paper's column names case-insensitively, by id or by name; ShapeNetPart
categories are stored under their ShapeNet synset ids (bench/data/adapters.py), which are translated to
their names through SHAPENETPART_SYNSETS. A missing run, category or value is ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.reports.paper import paper_tables, table_spec
from bench.results import RunResult

MEAN_COLUMN = "mean"  # the paper's summary column (case-insensitive): compared with our category mean

# ShapeNetPart's synsetoffset2category.txt: the id our shapenetpart adapter stores each category under.
SHAPENETPART_SYNSETS = {
    "02691156": "Airplane", "02773838": "Bag", "02954340": "Cap", "02958343": "Car", "03001627": "Chair",
    "03261776": "Earphone", "03467517": "Guitar", "03624134": "Knife", "03636649": "Lamp", "03642806": "Laptop",
    "03790512": "Motorbike", "03797390": "Mug", "03948459": "Pistol", "04099429": "Rocket",
    "04225987": "Skateboard", "04379243": "Table",
}


def _key(name: str) -> str:
    return str(name).strip().casefold()


def category_column(category: str, columns: list[str], names: Mapping[str, str] | None = None) -> str | None:
    """The paper column a category of ours belongs to, or None: its id, or its name (``names``, else a
    ShapeNetPart synset's name), equal to a column name ignoring case."""
    by_key = {_key(c): c for c in columns if _key(c) != MEAN_COLUMN}
    for candidate in (category, (names or {}).get(category), SHAPENETPART_SYNSETS.get(str(category))):
        if candidate is not None and _key(candidate) in by_key:
            return by_key[_key(candidate)]
    return None


def _mean(values: list[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


def _ours(runs: list[RunResult], task: str, metric: str, columns: list[str],
          names: Mapping[str, str] | None) -> dict[str, float | None]:
    """Our value per paper column for one run (the mean over its seeds where there are several)."""
    collected: dict[str, list[float]] = {c: [] for c in columns}
    for r in runs:
        seen: set[str] = set()
        for category, values in (r.per_category.get(task) or {}).items():
            column = category_column(category, columns, names)
            value = (values or {}).get(metric)
            if column is None or column in seen or value is None:
                continue
            seen.add(column)
            collected[column].append(float(value))
        mean = r.summary(task, metric, mean="category")
        for column in columns:
            if _key(column) == MEAN_COLUMN and mean is not None:
                collected[column].append(float(mean))
    return {c: _mean(v) for c, v in collected.items()}


def _row_comparison(table: str, row: dict[str, Any], runs: list[RunResult], columns: list[str],
                    category_names: Mapping[str, str] | None) -> dict[str, Any]:
    """One row of the table that names a run: the paper's value and ours for every column."""
    task, metric = row.get("task"), row.get("metric")
    if not task or not metric:
        raise BenchError(f"paper table '{table}', row '{row['row']}': a row with a run needs `task` and "
                         "`metric` (the per-category score it compares) in bench/reports/paper_tables.toml.")
    values = row.get("values") or []
    if len(values) != len(columns):
        raise BenchError(f"paper table '{table}', row '{row['row']}': {len(values)} values for "
                         f"{len(columns)} columns.")
    ours = _ours(runs, task, metric, columns, category_names)
    out: dict[str, Any] = {"row": row["row"], "run": row["run"], "task": task, "metric": metric}
    for column, paper in zip(columns, values):
        out[f"{column} (paper)"] = paper
        out[f"{column} (ours)"] = ours[column]
    return out


def per_class_comparison(results: list[RunResult], table: str = "table7", suite: str | None = None,
                         category_names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The per-category rows of a paper table beside our runs' per-category scores.

    One row per table row with a ``run``: ``row``, ``run``, ``task``, ``metric``, then ``"<column> (paper)"``
    and ``"<column> (ours)"`` for each of the table's columns. Ours is ``per_category[task][category][metric]``
    of the run's complete result (category matched to the column case-insensitively), and for the Mean
    column its category mean (RunResult.summary: ``metrics[task][metric + "_class_mean"]``, the instance mean
    for results that predate category means); several seeds of a run are averaged. A run, category or
    value we do not have is ``None``. ``suite`` keeps only that suite's results; ``category_names`` maps
    category ids to names for datasets whose ids are not the paper's names. ``frame.attrs``: ``dataset`` (the
    paper's) and ``unmatched`` (our categories that match no column).
    """
    spec = table_spec(table)
    columns = list(spec.get("columns") or [])
    if not columns:
        per_class = [name for name, t in paper_tables().items() if t.get("columns")]
        raise BenchError(f"paper table '{table}' has no per-category columns; tables that do: {', '.join(per_class)}.")
    by_run: dict[str, list[RunResult]] = {}
    for r in results:
        if r.status == "complete" and (suite is None or r.suite == suite):
            by_run.setdefault(r.run_name, []).append(r)
    rows: list[dict[str, Any]] = []
    unmatched: set[str] = set()
    for row in spec["rows"]:
        if row.get("run"):
            runs = by_run.get(row["run"], [])
            rows.append(_row_comparison(table, row, runs, columns, category_names))
            unmatched |= {c for r in runs for c in (r.per_category.get(row["task"]) or {})
                          if category_column(c, columns, category_names) is None}
    order = ["row", "run", "task", "metric"] + [f"{c} ({who})" for c in columns for who in ("paper", "ours")]
    frame = pd.DataFrame(rows, columns=order, dtype=object)
    frame.attrs["dataset"] = spec.get("dataset", "")
    frame.attrs["unmatched"] = sorted(unmatched)
    return frame


def per_category_table(results: list[RunResult], table: str) -> pd.DataFrame | None:
    """The per-category comparison as a terminal reads it: one row per category, a paper / ours column pair
    per run; None for tables without per-category rows (all but Table 7)."""
    spec = paper_tables().get(table, {})
    if not any("values" in row for row in spec.get("rows", [])):
        return None
    wide = per_class_comparison(results, table)
    rows = []
    for column in spec.get("columns", []):
        out = {"category": column}
        for _, r in wide.iterrows():
            out[f"{r['run']} paper"] = r.get(f"{column} (paper)")
            out[f"{r['run']} ours"] = r.get(f"{column} (ours)")
        rows.append(out)
    return pd.DataFrame(rows)
