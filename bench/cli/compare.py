"""`bench compare`."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli._common import cli_errors
from bench.cli._output import Format, compare_plot, print_comparison, print_frame
from bench.reports.compare import comparisons, forest_rows
from bench.reports.select import find_runs

app = typer.Typer()


@app.command("compare")
@cli_errors
def compare_cmd(
    items: list[str] = typer.Argument(..., help="Runs (suite/run, a run folder) or whole suites; the first is the reference."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r"),
    per_category: bool = typer.Option(False, "--per-category", help="Per-category main scores (the paper's Table 7 layout)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
    out: Path = typer.Option(None, "--out", "-o"),
    mixed_precision: bool = typer.Option(False, "--mixed-precision", help="Compare runs of different precisions (bf16 vs fp32) anyway; each verdict says so."),
    show_all: bool = typer.Option(False, "--all", help="Table: also the rows without a verdict (no value in a run, no interval); CSV / Markdown always have them."),
    plot: Path = typer.Option(None, "--plot", help="Also write the paired differences as a forest plot (PNG)."),
) -> None:
    """Metrics side by side with each run's difference from the first (paired 95 % interval) and a verdict."""
    groups = [find_runs(a, results_dir) for a in items]
    rows: list[dict] = []
    for label, frame in comparisons(groups, results_dir, per_category, allow_mixed_precision=mixed_precision):
        if per_category:
            print_frame(frame, f"compare: {label}", fmt, out)
            continue
        print_comparison(frame, f"compare: {label}", fmt, out, show_all)
        rows += forest_rows(frame, label)
    if plot is not None:
        if per_category:
            raise typer.BadParameter("--plot draws paired differences; it does not go with --per-category", param_hint="--plot")
        reference = sorted({r["run"].rsplit(" − ", 1)[-1] for r in rows})
        compare_plot(rows, plot, f"paired differences from {', '.join(reference) or items[0]}")
