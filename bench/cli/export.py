"""`bench export`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from bench.cli._common import ConfigOption, DataPathOption, TrustOption, cli_errors, console, user_config
from bench.errors import ResultError
from bench.reports.select import find_runs
from bench.results import locate_run_dir

app = typer.Typer()


@app.command("export")
@cli_errors
def export_cmd(
    run: str = typer.Argument(..., help="Run folder, or suite/run under --results-dir."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r"),
    shapes: int = typer.Option(4, "--shapes", "-n", help="How many test shapes to export."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder (default: <run folder>/export)."),
    figure: bool = typer.Option(True, "--figure/--no-figure", help="Also draw PNGs (needs matplotlib)."),
    trust_plugins: bool = TrustOption,
    data_path: Path = DataPathOption,
    config: Path = ConfigOption,
) -> None:
    """Predicted meshes as PLY, coloured by predicted parts when the run has a point-labelling head (e.g.
    segmentation), next to the ground-truth-coloured mesh, and a PNG per shape."""
    from bench.reports.export import export_shapes  # torch
    from bench.training.restore import restore_run  # torch

    (result,) = find_runs(run, results_dir)[:1]
    run_dir = locate_run_dir(result, results_dir)
    restored = restore_run(run_dir, trust_plugins=trust_plugins, user_cfg=user_config(config), data_path=data_path)
    report = export_shapes(restored, out or run_dir / "export", shapes, figure=figure)
    for p in report.written:
        console.print(str(p), highlight=False)
    if report.empty:
        console.print(f"[yellow]{len(report.empty)} shape(s) had no surface: the predicted occupancy never crosses "
                      f"the threshold (eval.iou_threshold) inside the box, so there was no mesh to write: "
                      f"{escape(', '.join(report.empty))}[/yellow]", highlight=False, markup=True)
    if not report.written:
        raise ResultError(f"{run_dir}: nothing was exported (no shape had a surface). An undertrained model predicts "
                          "empty space; train longer (more train.max_steps) and export again.")
