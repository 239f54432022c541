"""The leaderboard: result files -> one row per run, direction-aware ranking, table / CSV / Markdown.

Runs that did not finish (failed) or were cut short by --max-steps are flagged and always listed
after the ranked ones; runs of different dataset revisions are never ranked against each other silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench._io import stable_hash
from bench.errors import BenchError, did_you_mean
from bench.results import CLASS_MEAN, RunResult

ID_COLUMNS = ("rank", "suite", "run", "encoder", "protocol", "tasks", "dataset", "flags")


@dataclass(frozen=True)
class MetricColumn:
    """One metric column, from the tasks' own metric_info in the result files (nothing is built in)."""

    task: str
    metric: str
    column: str  # the metric name, or "task.metric" where two tasks of the results share the metric name
    direction: str  # "higher" | "lower"
    label: str
    main: bool  # the task's main score (or its category mean)


def metric_columns(results: list[RunResult]) -> list[MetricColumn]:
    """Every metric of every task in ``results``, in the order the tasks declare them."""
    found: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for r in results:
        for task, info in r.metric_info.items():
            if not isinstance(info, dict):
                continue
            labels, main = info.get("labels", {}), info.get("main")
            for m, direction in info.get("directions", {}).items():
                base = m[: -len(CLASS_MEAN)] if m.endswith(CLASS_MEAN) else m
                label = labels.get(base, base) + (" (cls)" if m != base else "")
                found.setdefault((task, m), (direction, label, base == main))
        for task, values in r.metrics.items():  # metrics a task reported without metadata still show
            for m in values:
                found.setdefault((task, m), ("higher", m, False))
    tasks_of: dict[str, set[str]] = {}
    for task, m in found:
        tasks_of.setdefault(m, set()).add(task)
    return [MetricColumn(task, m, m if len(tasks_of[m]) == 1 else f"{task}.{m}", d, label, main)
            for (task, m), (d, label, main) in found.items()]


def metric_directions(results: list[RunResult]) -> dict[str, str]:
    """Column name -> "higher" | "lower" for every metric column of ``results``."""
    return {c.column: c.direction for c in metric_columns(results)}


def flags(result: RunResult) -> str:
    marks = []
    if result.status != "complete":
        marks.append(result.status)
    if result.step_limited:
        marks.append("step-limited")
    if result.dataset.get("skipped"):
        marks.append(f"{len(result.dataset['skipped'])} shapes skipped")
    return ", ".join(marks)


def _filtered_out(r: RunResult, suite, dataset, encoder, task) -> bool:
    return bool((suite and r.suite != suite) or (dataset and r.dataset.get("name") != dataset)
                or (encoder and r.encoder.get("name") != encoder) or (task and task not in r.tasks))


def seed_group(r: RunResult) -> str:
    """Runs that differ only by seed share this key (their stage-one runs differ by seed too)."""
    cfg = {k: v for k, v in r.config.items() if k not in ("run", "suite", "all_sections", "stage_one")}
    cfg["train"] = {k: v for k, v in cfg.get("train", {}).items() if k != "seed"}
    return stable_hash([r.suite, r.run_name, r.status, r.step_limited, r.dataset.get("revision"), cfg])


def _merge_seeds(frame: pd.DataFrame, results: list[RunResult]) -> pd.DataFrame:
    """One row per seed group: metric means, their standard deviations as ``<metric>_std``, ``seeds`` = n,
    and the 95 % Student-t interval over seeds as ``<metric>_low`` / ``_high`` (it replaces the
    per-shape intervals of the single runs)."""
    from bench.evaluation.uncertainty import seed_ci

    if frame.empty or not frame["seed_group"].duplicated().any():
        return frame
    metrics = sorted(set(metric_directions(results)) & set(frame.columns))
    merged = []
    for _, group in frame.groupby("seed_group", sort=False):
        row = group.iloc[0].copy()
        row["seeds"] = len(group)
        for m in metrics:
            values = group[m].dropna()
            row[m] = values.mean() if len(values) else None
            row[f"{m}_std"] = values.std(ddof=1) if len(values) > 1 else None
            if len(group) > 1:
                _, row[f"{m}_low"], row[f"{m}_high"] = seed_ci(values.tolist()) if len(values) else (None, None, None)
        merged.append(row)
    return pd.DataFrame(merged)


def leaderboard_frame(results: list[RunResult], sort: str | None = None, suite: str | None = None,
                      dataset: str | None = None, encoder: str | None = None, task: str | None = None) -> pd.DataFrame:
    """One row per run. ``sort`` is a metric name; ranked rows come first, best first by its direction."""
    rows: list[dict[str, Any]] = []
    kept = [r for r in results if not _filtered_out(r, suite, dataset, encoder, task)]
    columns = metric_columns(kept)
    for r in kept:
        row: dict[str, Any] = {
            "suite": r.suite, "run": r.run_name, "encoder": r.encoder.get("name", "?"), "protocol": r.protocol,
            "tasks": "+".join(r.tasks), "dataset": r.dataset.get("name", "?"),
            "revision": r.dataset.get("revision"), "flags": flags(r), "ranked": r.ranked,
            "params": r.encoder.get("params"), "train_s": r.timings.get("train_s"), "error": r.error,
        }
        for c in columns:
            row[c.column] = r.metrics.get(c.task, {}).get(c.metric)
            low, high = (r.intervals.get(c.task, {}).get(c.metric) or [None, None])[:2]
            row[f"{c.column}_low"], row[f"{c.column}_high"] = low, high
        row["seed_group"] = seed_group(r)
        row["seeds"] = 1
        rows.append(row)
    frame = _merge_seeds(pd.DataFrame(rows), kept)
    if frame.empty:
        return frame
    frame.attrs["metric_columns"] = columns
    directions = metric_directions(kept)
    if sort:
        if sort not in frame.columns:
            known = [c for c in frame.columns if c in directions]
            raise BenchError(f"--sort {sort}: no run has that metric.{did_you_mean(sort, known)} "
                             f"Metrics: {', '.join(known)}.")
        ascending = directions.get(sort, "higher") == "lower"
        frame = frame.sort_values(["ranked", sort], ascending=[False, ascending], na_position="last", kind="stable")
        ranked = frame["ranked"] & frame[sort].notna()
        # A rank only compares like with like: the same dataset revision.
        frame["rank"] = pd.NA
        for _, group in frame[ranked].groupby("revision", dropna=False, sort=False):
            frame.loc[group.index, "rank"] = range(1, len(group) + 1)
    else:
        frame = frame.sort_values(["ranked"], ascending=[False], kind="stable")
        frame["rank"] = pd.NA
    return frame.reset_index(drop=True)


def display_columns(frame: pd.DataFrame, with_std: bool = True, every_metric: bool = False) -> list[str]:
    """Identity columns, then each task's metrics (instance means, and the main score's category mean;
    ``every_metric``: every category mean too), then seeds, parameters and training time."""
    cols = [c for c in ID_COLUMNS if c in frame.columns]
    for c in frame.attrs.get("metric_columns", []):
        shown = every_metric or not c.metric.endswith(CLASS_MEAN) or c.main
        if shown and c.column in frame.columns and frame[c.column].notna().any():
            cols.append(c.column)
            if with_std and f"{c.column}_std" in frame.columns:
                cols.append(f"{c.column}_std")
            if with_std and frame.get(f"{c.column}_low", pd.Series(dtype=float)).notna().any():
                cols += [f"{c.column}_low", f"{c.column}_high"]
    if "seeds" in frame.columns and (frame["seeds"] > 1).any():
        cols.append("seeds")
    cols += [c for c in ("params", "train_s") if c in frame.columns]
    return cols


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not pd.isna(value)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.4g}"
    return str(value)


def to_markdown(frame: pd.DataFrame, columns: list[str] | None = None) -> str:
    """A Markdown table of ``columns`` (default: the leaderboard's display columns)."""
    cols = display_columns(frame) if columns is None else columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines)


def to_csv(frame: pd.DataFrame) -> str:
    return frame[display_columns(frame, every_metric=True)].to_csv(index=False)


def rich_table(frame: pd.DataFrame, title: str = "leaderboard"):
    """A rich Table; identity columns with one value for every row move to the caption to save width."""
    from rich.table import Table

    cols = display_columns(frame, with_std=False)
    constant = [c for c in ("suite", "encoder", "dataset", "protocol", "tasks") if c in cols and frame[c].nunique() == 1 and len(frame) > 1]
    if frame["rank"].isna().all():
        constant.append("rank")
    if "flags" in frame and (frame["flags"] == "").all():
        constant.append("flags")
    cols = [c for c in cols if c not in constant]
    caption = "  ".join(f"{c}: {frame[c].iloc[0]}" for c in constant if c not in ("rank", "flags"))
    notes = ["± = half-width of the 95 % interval (bootstrap over test shapes; Student-t over seeds)"]
    if frame["rank"].isna().all():
        notes.append("rank: pass --sort METRIC to rank runs")
    caption = "\n".join(filter(None, [caption, *notes]))
    table = Table(title=title, caption=caption or None)
    left = ("suite", "run", "encoder", "protocol", "tasks", "dataset", "flags")
    labels = {c.column: c.label if c.column == c.metric else f"{c.task} {c.label}" for c in frame.attrs.get("metric_columns", [])}
    for c in cols:
        table.add_column(labels.get(c, c), justify="left" if c in left else "right")
    for _, row in frame.iterrows():
        style = None if row.get("ranked", True) else "dim"
        cells = []
        for c in cols:
            low, high = row.get(f"{c}_low"), row.get(f"{c}_high")
            half = (high - low) / 2 if _number(low) and _number(high) else None
            cells.append(_fmt(row[c]) + (f" ± {half:.4f}" if half is not None else ""))
        table.add_row(*cells, style=style)
    return table
