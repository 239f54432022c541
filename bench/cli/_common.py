"""Helpers shared by the CLI modules: one-line errors, the console, config loading with overrides."""

from __future__ import annotations

import functools
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from bench.config import load_config, parse_set_options
from bench.errors import BenchError

# Piped output (CI logs, `| tee`) gets a wide console so that leaderboards are not cut to 80 columns, unless
# COLUMNS says how wide (rich reads it when the width is left to it).
# Markup is off: paths, run and category names and plugin messages reach these consoles (also inside
# tables), and Rich would read "[/x]" as a tag (MarkupError) or swallow "[bold]" as a style. A call that
# styles text passes markup=True and escapes (rich.markup.escape) every value it interpolates.
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else 180, markup=False)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() or os.environ.get("COLUMNS", "").isdigit() else 180,
                      markup=False)


def labelled(label: str, style: str, message: str) -> Text:
    """'label: message' with only the label styled; the message is never read as markup."""
    return Text.assemble((f"{label}:", style), " ", message)


def _debug() -> bool:
    """Whether the root `--debug` flag was given (typer >= 0.16 vendors click as typer._click)."""
    try:
        from typer._click.globals import get_current_context
    except ImportError:  # older typer depends on click itself
        from click import get_current_context
    ctx = get_current_context(silent=True)
    return bool(ctx and ctx.find_root().params.get("debug"))


def cli_errors(fn: Callable) -> Callable:
    """A BenchError becomes one red line and exit code 1 (``bench --debug`` re-raises it);
    plugin warnings are shown as yellow lines."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return fn(*args, **kwargs)
            except BenchError as exc:
                if _debug():
                    raise
                err_console.print(labelled("error", "red", str(exc)), highlight=False, soft_wrap=True)
                raise typer.Exit(1) from None
            finally:
                seen = set()
                for w in caught:
                    msg = str(w.message)
                    if msg not in seen:
                        seen.add(msg)
                        err_console.print(labelled("warning", "yellow", msg), highlight=False, soft_wrap=True)

    return wrapper


def print_versions() -> None:
    import numpy
    import torch

    from bench import __version__

    if torch.cuda.is_available():
        device = f"cuda ({torch.cuda.get_device_name(0)})"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        device = "mps"
    else:
        device = f"cpu ({torch.get_num_threads()} threads)"
    console.print(f"bench {__version__}\ntorch {torch.__version__}\nnumpy {numpy.__version__}\ndevice {device}",
                  highlight=False)


ConfigOption = typer.Option(None, "--config", "-c", help="bench.toml to use (default: ./bench.toml, else the shipped one).")
SetOption = typer.Option(None, "--set", help="Override one config value: section.key=value (repeatable).")


# Result folders are data from anywhere: code they name is imported only when the user says so, and the
# dataset is read where the user's bench.toml (or --data-path) keeps it, never where the file points.
TrustOption = typer.Option(False, "--trust-plugins", help="Restore runs whose result.json names a plugin as module:attr code (imports it; only for results you trust).")
DataPathOption = typer.Option(None, "--data-path", help="Folder of the run's dataset when it is not where bench.toml says (restoring never uses the path in result.json).")


def load(config: Path | None, sets: list[str] | None = None) -> tuple[Any, dict]:
    return load_config(config), parse_set_options(sets)


def user_config(path: Path | None):
    """The user's bench.toml: where datasets live when a run is restored (never the result file's paths)."""
    return load_config(path)

