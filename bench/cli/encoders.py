"""`bench encoders`, `bench decoders` and `bench check-encoder`."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli._common import ConfigOption, cli_errors, console

app = typer.Typer()


def list_plugins(kind: str, check_import: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from bench.registry import REGISTRIES

    registry = REGISTRIES[kind]
    table = Table(title=f"{kind}s")
    for col in ("name", "package", "description", *(("status",) if check_import else ())):
        table.add_column(col)
    for name, entry in registry.entries().items():
        status = ()
        if check_import:
            _, problem = registry.try_load(name)
            status = (Text("ok", style="green") if problem is None else Text("broken", style="red"),)
        # the console reads no markup, so a docstring's "[p, z]" or a package called "[/x]" stays text
        table.add_row(name, "built-in" if entry.builtin else entry.package, registry.describe(name), *status)
    console.print(table)


@app.command("encoders")
@cli_errors
def encoders_cmd(check: bool = typer.Option(True, "--check/--no-check", help="Import each plugin to flag broken ones.")) -> None:
    """List the registered encoders (built-in and third-party), one line each."""
    list_plugins("encoder", check)


@app.command("decoders")
@cli_errors
def decoders_cmd(check: bool = typer.Option(True, "--check/--no-check", help="Import each plugin to flag broken ones.")) -> None:
    """List the registered point decoders (model.decoder), built-in and third-party."""
    list_plugins("decoder", check)


@app.command("check-encoder")
@cli_errors
def check_encoder_cmd(
    name: str = typer.Argument(..., help="Registered encoder name or module:attr."),
    latent_dim: int = typer.Option(32, help="latent_dim to build it with."),
    config: Path = ConfigOption,
    cpu_only: bool = typer.Option(False, "--cpu-only", help="Skip the CUDA check even when a GPU is present."),
) -> None:
    """Run an encoder on a tiny batch and print a pass/fail table of its contract."""
    from rich.table import Table
    from rich.text import Text

    from bench.checks import check_encoder
    from bench.config import load_config

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
        console.print(f"[red]{len(failed)} check(s) failed[/red]: the encoder breaks the contract in DESIGN.md.",
                      markup=True)
        raise typer.Exit(1)
    console.print("[green]all checks passed[/green]", markup=True)
