"""`bench check-encoder` (the registered encoders are listed by `bench encoders`, bench/cli/plugins.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from bench.checks import check_encoder
from bench.cli._common import ConfigOption, cli_errors, console
from bench.config import load_config

app = typer.Typer()


@app.command("check-encoder")
@cli_errors
def check_encoder_cmd(
    name: str = typer.Argument(..., help="Registered encoder name or module:attr."),
    latent_dim: int = typer.Option(32, help="latent_dim to build it with."),
    config: Path = ConfigOption,
    cpu_only: bool = typer.Option(False, "--cpu-only", help="Skip the CUDA check even when a GPU is present."),
) -> None:
    """Run an encoder on a tiny batch and print a pass/fail table of its contract."""
    cfg = load_config(config)
    kwargs = cfg.encoder_kwargs.get(name, {})
    checks = check_encoder(name, latent_dim, kwargs, devices=() if cpu_only else None)
    table = Table(title=f"check-encoder {name}")
    table.add_column("check")
    table.add_column("result")
    table.add_column("detail")
    for c in checks:
        mark = Text("pass", style="green") if c.passed else (Text("FAIL", style="red") if c.passed is False else "info")
        table.add_row(c.name, mark, c.detail)  # a plugin's error text in c.detail is never read as markup
    console.print(table)
    failed = [c for c in checks if c.passed is False]
    if failed:
        console.print(f"[red]{len(failed)} check(s) failed[/red]: the encoder breaks the contract in docs/plugins.md.",
                      markup=True)
        raise typer.Exit(1)
    console.print("[green]all checks passed[/green]", markup=True)
