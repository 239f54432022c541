"""`bench data info`, `bench data check`, `bench data generate`, `bench data figure` (`bench datasets` lists the
registered datasets: bench/cli/plugins.py; `bench prepare` builds one: bench/cli/prepare.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from bench.checks import check_dataset
from bench.cli._common import ConfigOption, SetOption, cli_errors, console, load
from bench.config import DataConfig
from bench.data.format import read_dataset_info
from bench.reports.figures import parts_figure

app = typer.Typer()
data_app = typer.Typer(help="Inspect, validate and generate datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")


def _data_cfg(name: str | None, preset: str | None, path: str | None, config: Path | None, sets: list[str] | None):
    cfg, overrides = load(config, sets)
    extra = {k: v for k, v in (("name", name), ("preset", preset), ("path", path)) if v}
    if extra:
        overrides.setdefault("data", {}).update(extra)
    return cfg.with_overrides(overrides, "command line")


@data_app.command("info")
@cli_errors
def info_cmd(
    name: str = typer.Argument(None, help="Dataset name (default: data.name of the config)."),
    preset: str = typer.Option(None, help="Synthetic preset: tiny | small | large."),
    path: str = typer.Option(None, help="Folder of a prepared dataset."),
    config: Path = ConfigOption, sets: list[str] = SetOption,
) -> None:
    """Categories, parts, split sizes and part frequencies of a dataset (generating it if needed)."""
    from bench.data.dataset import ShapeStore, open_dataset  # torch

    cfg = _data_cfg(name, preset, path, config, sets)
    info = open_dataset(cfg.data)
    console.print(f"[bold]{escape(info.name)}[/bold]  revision {escape(str(info.revision))}  at {escape(str(info.root))}",
                  markup=True)
    console.print("splits: " + ", ".join(f"{s} {len(v)}" for s, v in info.splits.items()))
    counts = {}
    if info.has_parts and info.splits.get("train"):
        store = ShapeStore.load(info, "train", with_parts=True)
        for i in range(len(store)):
            present = np.unique(store.surface_labels[store.surf(i)])
            for p in present:  # per category: the two classes of a family share their part indices
                key = (info.categories[int(store.category[i])].id, int(p))
                counts[key] = counts.get(key, 0) + 1
        per_cat_n = {c: int((store.category == k).sum()) for k, c in enumerate(c.id for c in info.categories)}
    table = Table(title="categories")
    for col in ("category", "train shapes", "parts (share of train shapes that have the part)"):
        table.add_column(col)
    for cat in info.categories:
        n_train = sum(1 for s in info.splits.get("train", []) if s.split("/")[0] == cat.id)
        parts = ", ".join(
            f"{info.part_names[p].split('/')[-1]} {counts.get((cat.id, p), 0) / max(1, per_cat_n.get(cat.id, 0)):.0%}" if counts else
            info.part_names[p].split("/")[-1] for p in cat.parts)
        table.add_row(cat.name, str(n_train), parts or "–")
    console.print(table)


@data_app.command("check")
@cli_errors
def check_cmd(path: Path = typer.Argument(..., help="Dataset folder to validate.")) -> None:
    """Validate every shape of a dataset folder (points, surface, parts, and voxels and views where it has
    them) and report all broken ones, not just the first; exit code 1 if any."""
    info = read_dataset_info(path)
    ids, broken = check_dataset(info)
    if not broken:
        console.print(f"[green]{len(ids)} shapes OK[/green] ({escape(info.name)}, revision {escape(str(info.revision))})",
                      markup=True)
        return
    console.print(f"[red]{len({sid for sid, _ in broken})} broken shape(s) of {len(ids)}[/red]:", markup=True)
    # one line a problem, never wrapped: the messages hold long paths that one copies or greps;
    # markup off, as paths and messages may hold "[...]"
    for sid, msg in broken:
        console.print(f"  {sid}: {msg}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


@data_app.command("generate")
@cli_errors
def generate_cmd(
    preset: str = typer.Option("small", help="tiny | small | large."),
    data_dir: str = typer.Option(None, "--data-dir", help="Cache folder (default ~/.cache/implicit-bench)."),
    seed: int = typer.Option(0, help="Generator seed."),
) -> None:
    """Generate the synthetic dataset into the cache (bench run does this on first use)."""
    from bench.data.synthetic import SyntheticDataset  # trimesh: a second to import at every start

    ds = SyntheticDataset(DataConfig(preset=preset, data_dir=data_dir or ""), seed=seed)
    root = ds.prepare()
    console.print(f"synthetic-{preset} ready at {root}")


@data_app.command("figure")
@cli_errors
def figure_cmd(
    name: str = typer.Argument(None, help="Dataset name (default: data.name of the config)."),
    out: Path = typer.Option(Path("docs/synthetic.png"), "--out", "-o", help="PNG to write."),
    preset: str = typer.Option(None, help="Synthetic preset."),
    split: str = typer.Option("train", help="Split to draw shapes from."),
    config: Path = ConfigOption, sets: list[str] = SetOption,
) -> None:
    """Draw the first shape of each category with its surface points coloured by part (PNG)."""
    from bench.data.dataset import ShapeStore, open_dataset  # torch

    cfg = _data_cfg(name, preset, None, config, sets)
    info = open_dataset(cfg.data)
    store = ShapeStore.load(info, split, with_parts=info.has_parts)
    panels = []
    for k, cat in enumerate(info.categories):
        rows = [i for i in range(len(store)) if store.category[i] == k]
        if not rows:
            continue
        sl = store.surf(rows[0])
        labels = store.surface_labels[sl] if store.surface_labels is not None else np.full(sl.stop - sl.start, -1)
        parts = ", ".join(info.part_names[p].split("/")[-1] for p in cat.parts)
        panels.append((store.surface[sl], labels, f"{cat.name}: {parts}"))
    console.print(f"wrote {parts_figure(panels, out)}")

