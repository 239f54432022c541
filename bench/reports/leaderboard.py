"""The leaderboard: result files -> one row per run, direction-aware ranking, table / CSV / Markdown.

Runs that did not finish (failed) or were cut short by --max-steps are flagged and always listed
after the ranked ones; runs of different dataset revisions are never ranked against each other silently.
A ``Leaderboard`` is its frame and the metric columns the frame was built with (computed once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench._io import stable_hash
from bench.errors import BenchError, did_you_mean
from bench.reports.select import seed_identity
from bench.results import CLASS_MEAN, RunResult, metric_directions

ID_COLUMNS = ("rank", "suite", "run", "encoder", "protocol", "tasks", "dataset", "flags")
CATEGORY_MEAN_LABEL = " (cat. mean)"  # a metric's unweighted mean of per-category means, in table headings


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
            for m, direction in metric_directions(info).items():
                base = m[: -len(CLASS_MEAN)] if m.endswith(CLASS_MEAN) else m
                label = info.labels.get(base, base) + (CATEGORY_MEAN_LABEL if m != base else "")
                found.setdefault((task, m), (direction, label, base == info.main))
        for task, values in r.metrics.items():  # metrics a task reported without metadata still show
            for m in values:
                found.setdefault((task, m), ("higher", m, False))
    tasks_of: dict[str, set[str]] = {}
    for task, m in found:
        tasks_of.setdefault(m, set()).add(task)
    return [MetricColumn(task, m, m if len(tasks_of[m]) == 1 else f"{task}.{m}", d, label, main)
            for (task, m), (d, label, main) in found.items()]


def flags(result: RunResult) -> str:
    marks = []
    if result.status != "complete":
        marks.append(result.status)
    if result.step_limited:
        marks.append("step-limited")
    if result.dataset.skipped:
        marks.append(f"{len(result.dataset.skipped)} shapes skipped")
    return ", ".join(marks)


def _filtered_out(r: RunResult, suite, dataset, encoder, task) -> bool:
    return bool((suite and r.suite != suite) or (dataset and r.dataset.name != dataset)
                or (encoder and r.encoder.name != encoder) or (task and task not in r.tasks))


def seed_group(r: RunResult) -> str:
    """Runs that differ only by seed share this key (their stage-one runs differ by seed too): the seeds of one
    run as bench/reports/select.py defines them (seed_identity), which its setups are made of."""
    return stable_hash([r.suite, r.run_name, r.status, r.step_limited, r.dataset.revision, seed_identity(r)])


def _known(value: Any) -> Any:
    """A name the result records, or "?"."""
    return "?" if value is None else value


def _row(r: RunResult, columns: list[MetricColumn]) -> dict[str, Any]:
    """The leaderboard row of one run: its identity, flags, every metric and its interval."""
    row: dict[str, Any] = {
        "suite": r.suite, "run": r.run_name, "encoder": _known(r.encoder.name), "protocol": r.protocol,
        "tasks": "+".join(r.tasks), "dataset": _known(r.dataset.name),
        "revision": r.dataset.revision, "flags": flags(r), "ranked": r.ranked,
        "params": r.encoder.params, "train_s": r.timings.get("train_s"), "error": r.error,
    }
    for c in columns:
        row[c.column] = r.metrics.get(c.task, {}).get(c.metric)
        low, high = (r.intervals.get(c.task, {}).get(c.metric) or [None, None])[:2]
        row[f"{c.column}_low"], row[f"{c.column}_high"] = low, high
    row["seed_group"] = seed_group(r)
    row["seeds"] = 1
    return row


def _merge_seeds(frame: pd.DataFrame, columns: list[MetricColumn]) -> pd.DataFrame:
    """One row per seed group: metric means, their standard deviations as ``<metric>_std``, ``seeds`` = n,
    and the 95 % Student-t interval over seeds as ``<metric>_low`` / ``_high`` (it replaces the
    per-shape intervals of the single runs)."""
    from bench.evaluation.uncertainty import seed_ci

    if frame.empty or not frame["seed_group"].duplicated().any():
        return frame
    metrics = sorted({c.column for c in columns} & set(frame.columns))
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


def _rank(frame: pd.DataFrame, sort: str | None, directions: dict[str, str]) -> pd.DataFrame:
    """Ranked rows first, best first by ``sort``'s direction; a rank only within one dataset revision."""
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


@dataclass
class Leaderboard:
    """One row per run (or per seed group) and the metric columns the rows hold."""

    frame: pd.DataFrame
    columns: list[MetricColumn]

    @property
    def empty(self) -> bool:
        return self.frame.empty

    @property
    def directions(self) -> dict[str, str]:
        """Column name -> "higher" | "lower" for every metric column."""
        return {c.column: c.direction for c in self.columns}

    @property
    def labels(self) -> dict[str, str]:
        """Column name -> its heading in a table: the task's label, with the task where names clash."""
        return {c.column: c.label if c.column == c.metric else f"{c.task} {c.label}" for c in self.columns}

    def display_columns(self, with_std: bool = True, every_metric: bool = False) -> list[str]:
        return display_columns(self, with_std, every_metric)

    def to_markdown(self) -> str:
        return markdown_table(self.frame, self.display_columns())

    def to_csv(self) -> str:
        return self.frame[self.display_columns(every_metric=True)].to_csv(index=False)

    def main_columns(self) -> list[str]:
        return main_columns(self)

    def rich_table(self, title: str = "leaderboard", wide: bool = False, width: int | None = None):
        return rich_table(self, title, wide, width)


def build_leaderboard(results: list[RunResult], sort: str | None = None, suite: str | None = None,
                      dataset: str | None = None, encoder: str | None = None, task: str | None = None) -> Leaderboard:
    """One row per run. ``sort`` is a metric name; ranked rows come first, best first by its direction."""
    kept = [r for r in results if not _filtered_out(r, suite, dataset, encoder, task)]
    columns = metric_columns(kept)
    frame = _merge_seeds(pd.DataFrame([_row(r, columns) for r in kept]), columns)
    board = Leaderboard(frame, columns)
    if not frame.empty:
        board.frame = _rank(frame, sort, board.directions)
    return board


def display_columns(board: Leaderboard, with_std: bool = True, every_metric: bool = False) -> list[str]:
    """Identity columns, then each task's metrics (instance means, and the main score's category mean;
    ``every_metric``: every category mean too), then seeds, parameters and training time."""
    frame = board.frame
    cols = [c for c in ID_COLUMNS if c in frame.columns]
    for c in board.columns:
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


def format_cell(value: Any) -> str:
    """A table cell: "–" for no value, 4 decimals below 1, 4 significant digits above."""
    if value is None or (isinstance(value, float) and pd.isna(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1 else f"{value:.4g}"
    return str(value)


def markdown_table(frame: pd.DataFrame, columns: list[str]) -> str:
    """A Markdown table of ``columns`` of ``frame``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for _, row in frame.iterrows():
        lines.append("| " + " | ".join(format_cell(row[c]).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines)


def main_columns(board: Leaderboard) -> list[str]:
    """One column per task: its main score (the instance mean; its category mean where the instance mean has no
    value), else, for a task that reported no metadata, its first metric. Columns without any value are left out."""
    frame = board.frame
    has = {c.column for c in board.columns if c.column in frame.columns and frame[c.column].notna().any()}
    out: list[str] = []
    for task in dict.fromkeys(c.task for c in board.columns):
        own = [c for c in board.columns if c.task == task and c.column in has]
        ranked = ([c for c in own if c.main and not c.metric.endswith(CLASS_MEAN)]
                  + [c for c in own if c.main] + own)
        if ranked:
            out.append(ranked[0].column)
    return out


def _count(value: Any) -> str:
    """A parameter count, short: 3024, 45.1k, 1.23M."""
    if not _number(value):
        return "–"
    v = float(value)
    if abs(v) < 10_000:
        return f"{v:.0f}"
    if abs(v) < 1_000_000:
        return f"{v / 1e3:.1f}k"
    return f"{v / 1e6:.3g}M"


def _duration(value: Any) -> str:
    """Seconds, short: 0.2 s, 12.5 s, 3.4 min, 1.2 h."""
    if not _number(value):
        return "–"
    v = float(value)
    if v < 60:
        return f"{v:.1f} s"
    if v < 3600:
        return f"{v / 60:.1f} min"
    return f"{v / 3600:.1f} h"


def metric_cell(row: Any, column: str) -> str:
    """A metric with the half-width of its 95 % interval, "0.7983 ± 0.0244", in one cell."""
    low, high = row.get(f"{column}_low"), row.get(f"{column}_high")
    half = (high - low) / 2 if _number(low) and _number(high) else None
    return format_cell(row.get(column)) + (f" ± {half:.4f}" if half is not None and _number(row.get(column)) else "")


TEXT_COLUMNS = ("suite", "run", "encoder", "protocol", "tasks", "dataset", "flags")


def _table_columns(board: Leaderboard, wide: bool) -> tuple[list[str], list[str]]:
    """(columns shown, identity columns with one value for every row: they move to the caption)."""
    frame = board.frame
    if wide:
        cols = board.display_columns(with_std=False, every_metric=True)
    else:
        cols = [c for c in ID_COLUMNS if c in frame.columns and c != "tasks"] + board.main_columns()
        cols += [c for c in ("seeds", "params", "train_s") if c in board.display_columns(with_std=False)]
    constant = [c for c in ("suite", "encoder", "dataset", "protocol", "tasks") if c in cols and frame[c].nunique() == 1 and len(frame) > 1]
    if frame["rank"].isna().all():
        constant.append("rank")
    if "flags" in frame and (frame["flags"] == "").all():
        constant.append("flags")
    return [c for c in cols if c not in constant], constant


class _Layout:
    """Cell texts and widths of the leaderboard's terminal table: headings wrap between words, numbers never."""

    def __init__(self, board: Leaderboard, cols: list[str]):
        arrows = {"higher": " ↑", "lower": " ↓"}
        self.frame, self.directions = board.frame, board.directions
        self.headings = {c: {"train_s": "train time", "params": "params"}.get(c)
                         or board.labels.get(c, c) + arrows.get(self.directions.get(c, ""), "")
                         if c not in TEXT_COLUMNS else c for c in cols}

    def cell(self, row, c: str, with_pm: bool) -> str:
        if c == "params":
            return _count(row[c])
        if c == "train_s":
            return _duration(row[c])
        if c in self.directions:
            return metric_cell(row, c) if with_pm else format_cell(row[c])
        return format_cell(row[c])

    def longest(self, c: str, with_pm: bool) -> int:
        from rich.cells import cell_len

        return max([cell_len(self.cell(row, c, with_pm)) for _, row in self.frame.iterrows()] + [0])

    def word(self, c: str) -> int:  # headings wrap between words
        from rich.cells import cell_len

        return max(cell_len(w) for w in self.headings[c].split() or [""])

    def whole(self, c: str) -> int:
        from rich.cells import cell_len

        return cell_len(self.headings[c])

    def needed(self, columns: list[str], with_pm: bool, heading=None, fold: bool = False) -> int:
        """Characters the table takes (borders and padding: 3 a column, plus 1); ``fold``: text columns folded to 12."""
        heading = heading or self.word
        return 1 + sum(3 + (min(max(self.longest(c, with_pm), heading(c)), 12 if fold else 10**6) if c in TEXT_COLUMNS
                            else max(self.longest(c, with_pm), heading(c))) for c in columns)

    def fit(self, cols: list[str], width: int) -> tuple[list[str], bool, bool, list[str]]:
        """(columns, with ±, fold text, dropped headings): training time, parameters and seeds go first, then run
        names fold, then the ± go, until the table fits ``width``."""
        extras = [c for c in ("train_s", "params", "seeds") if c in cols]
        tries = [(pm, f, extras[:k]) for pm in (True, False) for f in (False, True) for k in range(len(extras) + 1)]
        with_pm, fold, gone = next(((pm, f, g) for pm, f, g in tries
                                    if self.needed([c for c in cols if c not in g], pm, fold=f) <= width), (False, True, extras))
        return [c for c in cols if c not in gone], with_pm, fold, [self.headings[c] for c in gone]


def _table_caption(frame: pd.DataFrame, constant: list[str], with_pm: bool, hidden: list[str], width, wide: bool) -> str:
    caption = "  ".join(f"{c}: {frame[c].iloc[0]}" for c in constant if c not in ("rank", "flags"))
    notes = ["± = half-width of the 95 % interval (bootstrap over test shapes; Student-t over seeds)" if with_pm else "",
             f"left out to fit {width} columns: {', '.join(hidden)} (a wider terminal shows them)" if hidden else ""]
    if not wide:
        notes.append("one main score per task; every metric and category mean: --wide")
    if frame["rank"].isna().all():
        notes.append("rank: pass --sort METRIC to rank runs")
    return "\n".join(filter(None, [caption, *notes]))


def rich_table(board: Leaderboard, title: str = "leaderboard", wide: bool = False, width: int | None = None):
    """A rich Table that fits a terminal ``width`` columns wide (None: any width): by default one main score per
    task with its ± in the same cell, seeds, parameters and training time; ``wide``: every metric. Identity
    columns with one value for every row move to the caption. Number cells never wrap or get cut: where the
    table would not fit, training time, parameters and seeds go first, then run names fold, then the ± go (the
    caption says what was left out)."""
    from rich.table import Table
    from rich.text import Text

    frame = board.frame
    cols, constant = _table_columns(board, wide)
    layout = _Layout(board, cols)
    with_pm, fold, dropped = True, False, []
    if width is not None and not wide:
        cols, with_pm, fold, dropped = layout.fit(cols, width)
    # headings wrap between words only where the table would not fit otherwise (--wide: never)
    fits_whole = wide or width is None or layout.needed(cols, with_pm, layout.whole, fold) <= width
    heading_width = layout.whole if fits_whole else layout.word
    hidden = ([] if with_pm else ["the ± of each score"]) + dropped
    caption = _table_caption(frame, constant, with_pm, hidden, width, wide)
    table = Table(title=title, caption=caption or None)
    for c in cols:
        heading = Text(layout.headings[c], no_wrap=False)  # a heading may wrap; the numbers under it never do
        if c in TEXT_COLUMNS:
            table.add_column(heading, justify="left", overflow="fold",
                             min_width=min(12, layout.longest(c, with_pm), layout.word(c)) or None)
        else:
            table.add_column(heading, justify="right", no_wrap=True,
                             width=max(layout.longest(c, with_pm), heading_width(c)))
    for _, row in frame.iterrows():
        style = None if row.get("ranked", True) else "dim"
        table.add_row(*(layout.cell(row, c, with_pm) for c in cols), style=style)
    return table
