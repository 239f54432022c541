"""`bench leaderboard`."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli._common import cli_errors
from bench.cli._output import Format, render
from bench.results import reference_results_dir, scan_results

app = typer.Typer()


@app.command("leaderboard")
@cli_errors
def leaderboard_cmd(
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r", help="Folder of result files."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | csv | markdown."),
    sort: str = typer.Option(None, "--sort", help="Metric to rank by (direction-aware), e.g. iou, chamfer_l1."),
    suite: str = typer.Option(None, "--suite", help="Only this suite."),
    dataset: str = typer.Option(None, "--dataset", help="Only this dataset name."),
    encoder: str = typer.Option(None, "--encoder", help="Only this encoder."),
    task: str = typer.Option(None, "--task", help="Only runs that trained this task."),
    out: Path = typer.Option(None, "--out", "-o", help="Write csv/markdown/html to this file."),
    with_reference: bool = typer.Option(False, "--with-reference", help="Also list the reference results shipped with bench (results/reference of the checkout: the probe battery on the default suite's encoders); with --suite probe, only the probe results."),
    wide: bool = typer.Option(False, "--wide", help="Table: every metric and category mean, as wide as it takes (default: each task's main score with its ±, fitted to the terminal). CSV / Markdown always have every column."),
) -> None:
    """Print every run's metrics from the result files; unfinished runs are marked and never ranked."""
    results = scan_results(results_dir)
    if with_reference:
        seen = {Path(r.run_dir).resolve() for r in results}
        results += [r for r in scan_results(reference_results_dir()) if Path(r.run_dir).resolve() not in seen]
    render(results, fmt, sort, out=out, wide=wide, suite=suite, dataset=dataset, encoder=encoder,
           task=task)
