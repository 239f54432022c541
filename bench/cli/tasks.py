"""`bench tasks`."""

from __future__ import annotations

import typer

from bench.cli._common import cli_errors
from bench.cli.encoders import list_plugins

app = typer.Typer()


@app.command("tasks")
@cli_errors
def tasks_cmd(check: bool = typer.Option(True, "--check/--no-check", help="Import each plugin to flag broken ones.")) -> None:
    """List the registered tasks (built-in and third-party), one line each."""
    list_plugins("task", check)
