"""The `bench` command: a root typer app with one sub-app per concern. No torch import at start-up."""

from __future__ import annotations

import typer

from bench import __version__
from bench.cli import compare, data, encoders, export, leaderboard, plugins, prepare, probe, report, robustness, run
from bench.cli._common import print_versions

app = typer.Typer(
    name="bench",
    help="Benchmark implicit 3D shape encoders: does the latent code carry more than shape?",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print_versions()
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Show bench, torch and numpy versions and the device, then exit."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks instead of one-line errors."),
) -> None:
    """Benchmark implicit 3D shape encoders (Costain & Prisacariu): reconstruction, classification, parts."""


# One module per command group; each only reads arguments and prints what bench/reports (or bench/training,
# bench/data) computes.
for module in (run, plugins, encoders, prepare, data, leaderboard, compare, report, export, robustness, probe):
    app.add_typer(module.app)


def main() -> None:
    app()


__all__ = ["app", "main", "__version__"]
