"""The leaderboard: result files -> one row per run, direction-aware ranking, table / CSV / Markdown.

Runs that did not finish (failed, partial) or were cut short by --max-steps are flagged and always listed
after the ranked ones; runs of different dataset revisions are never ranked against each other silently.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.errors import BenchError, did_you_mean
from bench.results import RunResult

SHOWN_METRICS = ("iou", "chamfer_l1", "normal_consistency", "fscore", "miou", "miou_class_mean", "accuracy",
                 "accuracy_class_mean")
ID_COLUMNS = ("rank", "suite", "run", "encoder", "protocol", "tasks", "dataset", "flags")


def _directions(results: list[RunResult]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in results:
        for info in r.metric_info.values():
            if isinstance(info, dict):
                out.update(info.get("directions", {}))
    return out


def flags(result: RunResult) -> str:
    marks = []
    if result.status != "complete":
        marks.append(result.status)
    if result.step_limited:
        marks.append("step-limited")
    if result.dataset.get("skipped"):
        marks.append(f"{len(result.dataset['skipped'])} shapes skipped")
    return ", ".join(marks)


def leaderboard_frame(results: list[RunResult], sort: str | None = None, suite: str | None = None,
                      dataset: str | None = None, encoder: str | None = None, task: str | None = None) -> pd.DataFrame:
    """One row per run. ``sort`` is a metric name; ranked rows come first, best first by its direction."""
    rows: list[dict[str, Any]] = []
    for r in results:
        if (suite and r.suite != suite) or (dataset and r.dataset.get("name") != dataset) or \
           (encoder and r.encoder.get("name") != encoder) or (task and task not in r.tasks):
            continue
        row: dict[str, Any] = {
            "suite": r.suite, "run": r.run_name, "encoder": r.encoder.get("name", "?"), "protocol": r.protocol,
            "tasks": "+".join(r.tasks), "dataset": r.dataset.get("name", "?"),
            "revision": r.dataset.get("revision"), "flags": flags(r), "ranked": r.ranked,
            "params": r.encoder.get("params"), "train_s": r.timings.get("train_s"), "error": r.error,
        }
        for metrics in r.metrics.values():
            for name, value in metrics.items():
                row[name] = value
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    directions = _directions(results)
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


def display_columns(frame: pd.DataFrame) -> list[str]:
    cols = [c for c in ID_COLUMNS if c in frame.columns]
    cols += [m for m in SHOWN_METRICS if m in frame.columns and frame[m].notna().any()]
    cols += [c for c in ("params", "train_s") if c in frame.columns]
    return cols


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.4g}"
    return str(value)


def to_markdown(frame: pd.DataFrame) -> str:
    cols = display_columns(frame)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(_fmt(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines)


def to_csv(frame: pd.DataFrame) -> str:
    return frame[display_columns(frame)].to_csv(index=False)


def rich_table(frame: pd.DataFrame, title: str = "leaderboard"):
    from rich.table import Table

    table = Table(title=title)
    cols = display_columns(frame)
    for c in cols:
        table.add_column(c, justify="right" if c not in ("suite", "run", "encoder", "protocol", "tasks", "dataset", "flags") else "left")
    for _, row in frame.iterrows():
        style = None if row.get("ranked", True) else "dim"
        table.add_row(*(_fmt(row[c]) for c in cols), style=style)
    return table
