"""`bench prepare`: raw meshes (ModelNet40, ShapeNetPart, a folder of meshes) -> the dataset format."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import typer
from rich.markup import escape

from bench.cli._common import cli_errors, console
from bench.config import DataConfig
from bench.errors import ConfigError
from bench.registry import DATASETS
from bench.shards import parse_shard

app = typer.Typer()
SOURCES = ("modelnet40", "shapenetpart", "meshes")


@app.command("prepare")
@cli_errors
def prepare_cmd(
    name: str = typer.Argument(..., help="modelnet40 | shapenetpart | meshes"),
    path: Path = typer.Option(..., "--path", help="Raw source folder."),
    mesh_path: Path = typer.Option(None, "--mesh-path", help="ShapeNetCore meshes (shapenetpart only)."),
    out: Path = typer.Option(None, "--out", help="Output folder (default: the cache, where bench run finds it)."),
    shard: str = typer.Option(None, "--shard", help="i/n: prepare every n-th shape starting at i (cluster job arrays)."),
    workers: int = typer.Option(0, "--workers", help="Processes (default: all cores)."),
    points: int = typer.Option(100_000, "--points", help="Query points per shape."),
    surface: int = typer.Option(100_000, "--surface", help="Surface points per shape."),
) -> None:
    """Turn raw meshes into the dataset format: normalise, winding-number occupancy, samples, Voronoi parts."""
    if name not in SOURCES:
        raise ConfigError(f"bench prepare {name}: choose modelnet40, shapenetpart or meshes.")
    adapter = DATASETS.load(name)(DataConfig(name=name, path=str(path), mesh_path=str(mesh_path or "")))
    adapter.set_params(replace(adapter.params, n_points=points, n_surface=surface))
    root = out or adapter.root
    report, info = adapter.build(root, workers=workers, shard=parse_shard(shard))
    console.print(f"{report.done} prepared, {report.skipped_existing} already done, {len(report.failed)} failed "
                  f"({report.method or 'nothing labelled'}) -> {root}")
    for sid, err in report.failed[:20]:
        console.print(f"[yellow]skipped[/yellow] {escape(str(sid))}: {escape(str(err))}", highlight=False, markup=True)
    if info is None:
        console.print("dataset.json not written yet: other shards are unfinished.")
    else:
        console.print(f"dataset.json written: {sum(len(v) for v in info.splits.values())} shapes, revision {info.revision}")
