"""`bench leaderboard`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from bench.cli._common import cli_errors, console

app = typer.Typer()


class Format(str, Enum):
    table = "table"
    csv = "csv"
    markdown = "markdown"


def render(results, fmt: Format = Format.table, sort: str | None = None, title: str = "leaderboard", **filters) -> None:
    from bench.leaderboard import leaderboard_frame, rich_table, to_csv, to_markdown

    frame = leaderboard_frame(results, sort=sort, **filters)
    if frame.empty:
        console.print("no results match (run `bench run` first)")
        return
    if fmt == Format.csv:
        print(to_csv(frame), end="")
    elif fmt == Format.markdown:
        print(to_markdown(frame))
    else:
        console.print(rich_table(frame, title))
        failed = frame[frame["error"].notna()] if "error" in frame else frame.iloc[0:0]
        for _, row in failed.iterrows():
            console.print(f"[red]{row['suite']}/{row['run']} failed:[/red] {row['error']}", highlight=False)


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
) -> None:
    """Print every run's metrics from the result files; unfinished runs are marked and never ranked."""
    from bench.results import scan_results

    render(scan_results(results_dir), fmt, sort, suite=suite, dataset=dataset, encoder=encoder, task=task)
