"""Dataset caching, in one place: where cached datasets live, when a cached shape or dataset counts as
complete, the per-shape worker wrapper (a failing shape is reported with its id, never stops the batch),
and the loop that renders the views a dataset still lacks. The synthetic generator and the `bench
prepare` adapters both build on it, so the two cannot drift apart."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bench.config import DataConfig
from bench.data.format import DATASET_FILE, DatasetInfo, _load_npz
from bench.errors import DataError

CACHE_ENV = "IMPLICIT_BENCH_CACHE"
# write_shape writes this file last and write_views writes only this one: each one's presence means the
# earlier writes are complete (every file is written atomically).
COMPLETE_MARKER = "points.npz"
VIEWS_FILE = "views.npz"


def cache_dir(cfg: DataConfig) -> Path:
    """The folder that holds every cached dataset: ``data.data_dir``, else ``$IMPLICIT_BENCH_CACHE``,
    else ``~/.cache/implicit-bench``."""
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "implicit-bench"


def dataset_complete(root: Path) -> bool:
    """Whether ``root`` holds a finished dataset: dataset.json is written after every shape."""
    return (Path(root) / DATASET_FILE).is_file()


def shape_complete(root: Path, shape_id: str) -> bool:
    """Whether shape ``shape_id`` under ``root`` is fully written (a crash mid-shape leaves it incomplete)."""
    return (Path(root) / shape_id / COMPLETE_MARKER).is_file()


def incomplete_shapes(root: Path, shape_ids: Iterable[str]) -> list[str]:
    """The shapes of ``shape_ids`` that still have to be written, in the given order."""
    return [sid for sid in shape_ids if not shape_complete(root, sid)]


def shapes_missing_views(root: Path, shape_ids: Iterable[str], n_views: int, size: int) -> list[str]:
    """The shapes whose views.npz is missing, has fewer than ``n_views`` views or another image size."""
    missing = []
    for sid in shape_ids:
        path = Path(root) / sid / VIEWS_FILE
        if not path.is_file():
            missing.append(sid)
            continue
        try:
            images = _load_npz(path, ("images",))["images"]
        except DataError:  # unreadable views are rendered again, like missing ones
            missing.append(sid)
            continue
        if images.ndim != 4 or images.shape[0] < n_views or images.shape[1] != size:
            missing.append(sid)
    return missing


def guarded(job: tuple[Callable[..., Any], str, tuple]) -> tuple[str, str | None]:
    """Run ``fn(*args)`` of the job ``(fn, shape_id, args)``: ``(shape_id, None)`` on success, else
    ``(shape_id, "ErrorType: message")``, so one bad shape is reported by id and the batch goes on.
    Module-level (and ``fn`` too) so that spawned worker processes can unpickle it."""
    fn, shape_id, args = job
    try:
        fn(*args)
        return shape_id, None
    # SystemExit too: raised in a worker it would travel back and end the whole batch (Ctrl-C still does)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - reported with the shape id; the batch goes on
        return shape_id, f"{type(exc).__name__}: {exc}"


def run_shape_jobs(fn: Callable[..., Any], jobs: list[tuple[str, tuple]], description: str, progress: bool = True,
                   workers: int = 0) -> list[tuple[str, str]]:
    """``fn(*args)`` for every ``(shape_id, args)`` of ``jobs`` in worker processes; the ``(shape_id, error)``
    of the shapes that failed. ``fn`` must be a module-level function (it travels to the workers by name).
    A shape whose worker process dies is one of those failures ('WorkerDied: ...'); the others go on."""
    if not jobs:
        return []
    from bench.parallel import run_parallel

    return run_parallel(guarded, [(fn, sid, args) for sid, args in jobs], description, progress, workers,
                        id_of=_job_id)


def _job_id(job: tuple[Callable[..., Any], str, tuple]) -> str:
    return job[1]


def failure_summary(failures: list[tuple[str, str]], what: str, limit: int = 10) -> str:
    """'N shapes failed to <what>:' and the first ``limit`` of them, one per line."""
    lines = "\n".join(f"  {sid}: {err}" for sid, err in failures[:limit])
    more = f"\n  ... and {len(failures) - limit} more" if len(failures) > limit else ""
    return f"{len(failures)} shape(s) failed to {what}:\n{lines}{more}"


def render_missing_views(root: Path, info: DatasetInfo, n_views: int, size: int, fn: Callable[..., Any],
                         args_of: Callable[[str], tuple], progress: bool = True) -> list[str]:
    """Render ``n_views`` views of ``size`` pixels for every shape of ``info`` under ``root`` that lacks them,
    by ``fn(*args_of(shape_id))`` in worker processes (``fn`` writes views.npz); the shapes rendered.
    Raises DataError naming the shapes that failed."""
    ids = sorted({sid for split in info.splits.values() for sid in split})
    todo = shapes_missing_views(root, ids, n_views, size)
    failures = run_shape_jobs(fn, [(sid, args_of(sid)) for sid in todo], f"rendering {len(todo)} shapes", progress)
    if failures:
        raise DataError(f"{root}: {failure_summary(failures, 'render')}\nFix or remove those shapes' sources, "
                        "then run again: views already rendered are kept.")
    return todo
