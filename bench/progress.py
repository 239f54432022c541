"""A rich progress bar that is quiet when disabled (tests, --quiet) or when output is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True) -> Iterator[Callable[..., None]]:
    """Yields ``advance(n=1, **fields)``; fields (e.g. loss=0.3) are shown after the bar."""
    if not enabled:
        yield lambda n=1, **fields: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    # markup off: the description holds run and dataset names, which may contain "[/x]" or "[bold]"
    columns = (TextColumn("{task.description}", style="bold", markup=False), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}", markup=False))
    with Progress(*columns, transient=False) as prog:
        task = prog.add_task(description, total=total, info="")

        def advance(n: int = 1, **fields: object) -> None:
            info = "  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in fields.items())
            prog.update(task, advance=n, **({"info": info} if fields else {}))

        yield advance
