"""Printing what bench/reports computed: the output formats, the leaderboard, any frame, files written."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import pandas as pd
from rich.markup import escape
from rich.table import Table

from bench._io import atomic_write_text
from bench.cli._common import console
from bench.reports.html import page, scrolling, table_html
from bench.reports.leaderboard import build_leaderboard, format_cell, markdown_table
from bench.reports.select import run_images
from bench.results import RunResult

LEFT = ("task", "metric", "better", "direction", "run", "our run", "row")  # text columns of a compared frame


class Format(str, Enum):
    table = "table"
    csv = "csv"
    markdown = "markdown"
    html = "html"


def emit(text: str, out: Path | None) -> None:
    """``text`` to stdout, or written to ``out`` (atomically) with a line saying so."""
    if out is None:
        print(text, end="")
        return
    atomic_write_text(out, text)
    console.print(f"wrote {out}")


def print_table(table, wide: bool = False) -> None:
    """A rich table on the console: fitted to its width, or (``wide``) as wide as the table is (lines longer
    than the terminal: pipe them into ``less -S``)."""
    if not wide:
        console.print(table)
        return
    from rich.measure import Measurement

    natural = Measurement.get(console, console.options.update_width(100_000), table).maximum
    width = console.width
    try:
        console.width = max(width, natural)
        console.print(table, crop=False)
    finally:
        console.width = width


def render(results: list[RunResult], fmt: Format = Format.table, sort: str | None = None,
           title: str = "leaderboard", out: Path | None = None, wide: bool = False, **filters) -> None:
    """The leaderboard of ``results`` in ``fmt`` (filters: suite, dataset, encoder, task); the table fits the
    terminal with one main score per task, or (``wide``) shows every metric."""
    board = build_leaderboard(results, sort=sort, **filters)
    if board.empty:
        console.print("no results match (run `bench run` first)")
        return
    if fmt == Format.table:
        print_table(board.rich_table(title, wide=wide, width=None if wide else console.width), wide)
        frame = board.frame
        failed = frame[frame["error"].notna()] if "error" in frame else frame.iloc[0:0]
        for _, row in failed.iterrows():
            console.print(f"[red]{escape(str(row['suite']))}/{escape(str(row['run']))} failed:[/red] "
                          f"{escape(str(row['error']))}", highlight=False, markup=True)
        return
    if fmt == Format.csv:
        text = board.to_csv()
    elif fmt == Format.markdown:
        text = board.to_markdown() + "\n"
    else:
        images = sorted(p for r in results for p in run_images(r))
        text = page(title, [("runs", scrolling(table_html(board.frame[board.display_columns()])))], images=images)
    emit(text, out)


def print_comparison(frame: pd.DataFrame, title: str, fmt: Format, out: Path | None, show_all: bool = False) -> None:
    """A compare frame: CSV, Markdown and HTML have every row and column; the table names the runs A, B, ...
    (the caption says which), puts each difference and its interval in one cell and, unless ``show_all``,
    leaves out the rows without a verdict (no value, no scores, no interval)."""
    if fmt != Format.table:
        print_frame(frame, title, fmt, out)
        return
    from rich.text import Text

    from bench.reports.compare import metric_heading, run_names, says_something

    names = run_names(frame)
    keep = frame if show_all else frame[says_something(frame)]
    letters = [chr(ord("A") + k) if k < 26 else f"R{k}" for k in range(len(names))]
    notes = ["  ".join(f"{x}: {n}" + (" (the reference)" if k == 0 else "") for k, (x, n) in enumerate(zip(letters, names))),
             "Δ: the difference from A with its paired-bootstrap 95 % interval over the shapes both runs scored"]
    hidden = len(frame) - len(keep)
    if hidden:
        notes.append(f"{hidden} rows without a verdict left out (no value in a run, no per-shape scores, or a "
                     "category with one scored shape: no interval); --all shows them")
    table = Table(title=title, caption="\n".join(notes))
    table.add_column("task", overflow="fold")
    table.add_column("metric", overflow="fold")
    for x in letters:
        table.add_column(x, justify="right", no_wrap=True)
    for x in letters[1:]:
        table.add_column(Text(f"Δ {x} − A [95 % CI]", no_wrap=False), justify="right", no_wrap=True)
        table.add_column(f"{x} vs A", overflow="fold")
    for _, row in keep.iterrows():
        cells = [str(row["task"]), metric_heading(str(row["metric"]), str(row.get("direction", "")))]
        cells += [format_cell(row[n]) for n in names]
        for n in names[1:]:
            delta, low, high = row.get(f"delta {n}"), row.get(f"low {n}"), row.get(f"high {n}")
            ci = f" [{format_cell(low)}, {format_cell(high)}]" if not (pd.isna(low) or pd.isna(high)) else ""
            cells += [format_cell(delta) + ci, str(row[f"verdict {n}"])]
        table.add_row(*cells)
    console.print(table)


def compare_plot(rows: list[dict], path: Path, title: str) -> None:
    """The paired differences as a forest plot (PNG, written atomically), with a line saying so."""
    from bench.reports.figures import forest_plot

    forest_plot(rows, path, title)
    console.print(f"wrote {path}")


def print_frame(frame: pd.DataFrame, title: str, fmt: Format, out: Path | None) -> None:
    """Any report frame (a comparison, the paper's table) as a table, CSV, Markdown or an HTML page."""
    if fmt == Format.table:
        table = Table(title=title)
        for c in frame.columns:
            table.add_column(str(c), justify="left" if c in LEFT else "right")
        for _, row in frame.iterrows():
            table.add_row(*(format_cell(v) for v in row))
        console.print(table)
    elif fmt == Format.csv:
        emit(frame.to_csv(index=False), out)
    elif fmt == Format.markdown:
        emit(markdown_table(frame, list(frame.columns)) + "\n", out)
    else:
        emit(page(title, [(title, table_html(frame))]), out)
