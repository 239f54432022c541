"""`bench encoders`, `bench decoders`, `bench tasks`, `bench datasets`: the registered plugins, one line each."""

from __future__ import annotations

import typer
from rich.table import Table
from rich.text import Text

from bench.cli._common import cli_errors, console
from bench.registry import REGISTRIES

app = typer.Typer()
CheckOption = typer.Option(True, "--check/--no-check", help="Import each plugin to flag broken ones.")


def list_plugins(kind: str, check_import: bool) -> None:
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
def encoders_cmd(check: bool = CheckOption) -> None:
    """List the registered encoders (built-in and third-party), one line each."""
    list_plugins("encoder", check)


@app.command("decoders")
@cli_errors
def decoders_cmd(check: bool = CheckOption) -> None:
    """List the registered point decoders (model.decoder), built-in and third-party."""
    list_plugins("decoder", check)


@app.command("tasks")
@cli_errors
def tasks_cmd(check: bool = CheckOption) -> None:
    """List the registered tasks (built-in and third-party), one line each."""
    list_plugins("task", check)


@app.command("datasets")
@cli_errors
def datasets_cmd(check: bool = CheckOption) -> None:
    """List the registered datasets (built-in and third-party), one line each."""
    list_plugins("dataset", check)
