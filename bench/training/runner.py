"""Running a suite: reuse finished runs, train the rest in order, record failures (MTEB-style) and go on."""

from __future__ import annotations

import errno
import os
import traceback
from contextlib import ExitStack
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bench import __version__, _io
from bench.errors import BenchError
from bench.results import (RESULT_FILE, SCORES_FILE, DatasetInfo, EncoderInfo, RunResult, git_info, read_result,
                           write_result)
from bench.training import distributed as D
from bench.training.checkpoint import LAST, MODEL
from bench.training.lock import run_lock
from bench.training.plan import ResolvedRun, find_cached

DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def failed_result(run: ResolvedRun, error: str) -> RunResult:
    from bench.training.trainer import encoder_from  # torch is imported only once a run is tried

    cfg = run.cfg
    return RunResult(
        suite=run.suite, run_name=run.name, config_hash=run.config_hash, config=run.full_config(), status="failed",
        protocol=run.spec.protocol, tasks=list(run.spec.tasks), encoder=EncoderInfo.named(cfg.model.encoder),
        dataset=DatasetInfo.named(cfg.data.name), error=error, encoder_from=encoder_from(run), seed=cfg.train.seed,
        step_limited=run.step_limited,
        git=git_info(), bench_version=__version__, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def describe_failure(run: ResolvedRun, exc: BaseException) -> str:
    """The error of a failed run: a full disk says where and what to do; anything else says where it was
    raised (a plugin bug must not take the suite down, but its author needs the line)."""
    if isinstance(exc, OSError) and exc.errno in DISK_FULL:
        what = f" writing {exc.filename}" if exc.filename else ""
        return (f"disk full{what} ({exc.strerror or os.strerror(exc.errno)}); the run's folder is {run.run_dir}. "
                "Free space on that disk (or on the dataset cache's), or give another --results-dir, and run again: "
                "the run resumes from its last checkpoint.")
    if isinstance(exc, BenchError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = next((f"{f.filename}:{f.lineno}" for f in reversed(frames)), "?")
    return f"{type(exc).__name__}: {exc} (at {where})"


def current_revision(run: ResolvedRun) -> str | None:
    """The revision of the dataset the run would train on now. Read from the prepared folder's dataset.json
    when it is there, so that reusing a run never builds a dataset; otherwise the dataset is prepared (as
    retraining would need it anyway). None when it cannot be opened here."""
    from bench.data.cache import dataset_complete
    from bench.data.dataset import open_dataset
    from bench.data.format import read_dataset_info
    from bench.registry import DATASETS

    cfg = run.cfg.data
    try:
        root = getattr(DATASETS.load(cfg.name)(cfg, seed=0), "root", None)  # seed 0: as build_run opens it
        if root is not None and dataset_complete(Path(root)):
            return read_dataset_info(root).revision
        return open_dataset(cfg, progress=False).revision
    except Exception:  # noqa: BLE001 - a dataset that cannot be opened here cannot be checked (nor retrained)
        return None


def dataset_changed(run: ResolvedRun, result: RunResult, log) -> bool:
    """Whether the finished ``result`` was trained on another revision of the dataset than the one on disk
    now (the revision is not in the config hash: the same config on changed data is a different run)."""
    now = current_revision(run)
    if now is None:
        log(f"[{run.name}] dataset {run.cfg.data.name} cannot be opened here to check its revision; "
            "reusing the finished run as it is")
        return False
    trained = result.dataset.get("revision")
    if trained == now:
        return False
    log(f"[{run.name}] not reusing the finished run: it was trained on revision {trained} of dataset "
        f"{run.cfg.data.name}, which is now at revision {now}; retraining")
    return True


def copy_atomic(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` atomically (bench/_io.py), so that a full disk leaves no half file. In memory:
    a model.pt was built in memory when it was saved, too."""
    _io.atomic_write_bytes(dst, src.read_bytes())


def reuse(run: ResolvedRun, log=lambda message: None) -> RunResult | None:
    """The finished result with this config hash and the current dataset revision, copied into this suite's
    folder if it lives elsewhere."""
    found = find_cached(Path(run.cfg.output.results_dir), run.name, run.config_hash)
    if found is None:
        return None
    try:
        result = read_result(found / RESULT_FILE)
    except BenchError:
        return None
    if result.status != "complete" or dataset_changed(run, result, log):
        return None
    if found.resolve() != run.run_dir.resolve():
        run.run_dir.mkdir(parents=True, exist_ok=True)
        for name in (MODEL, SCORES_FILE):
            if (found / name).is_file():
                copy_atomic(found / name, run.run_dir / name)
        result = replace(result, suite=run.suite, run_name=run.name)
        write_result(result, run.run_dir)
    return result


def _reuse_or_clear(run: ResolvedRun, rerun: bool, log) -> tuple[RunResult | None, str | None]:
    """Rank 0's decision before training: the reusable result (or, with --rerun, the old state deleted),
    and the error that stopped it (a full disk while copying a result), as plain values to broadcast."""
    try:
        if rerun:
            (run.run_dir / RESULT_FILE).unlink(missing_ok=True)
            (run.run_dir / LAST).unlink(missing_ok=True)
            return None, None
        return reuse(run, log), None
    except OSError as exc:
        return None, describe_failure(run, exc)


def record(run: ResolvedRun, result: RunResult, log) -> RunResult:
    """Write the run's result.json (rank 0). A finished run whose result cannot be written (a full disk)
    becomes a failed one; when even the failure cannot be written, one line says so and the suite goes on
    (nothing half-written is left: every write is atomic)."""
    from bench.training.trainer import finish

    if result.status == "complete":
        try:
            finish(run, result)
            return result
        except OSError as exc:
            result = failed_result(run, f"its result could not be written: {describe_failure(run, exc)}")
    try:
        write_result(result, run.run_dir)
    except OSError as exc:
        log(f"[{run.name}] FAILED: {result.error} The failure could not be recorded in {run.run_dir} either "
            f"({exc}); the run is tried again next time.")
        return result
    log(f"[{run.name}] FAILED: {result.error}")
    return result


def _run_one(run: ResolvedRun, results: dict[str, RunResult], rerun: bool, progress: bool, log,
             ctx: D.DistContext, error: str | None = None) -> RunResult:
    """Reuse, train or fail one run; ``error``: why it cannot even start (its lock could not be taken)."""
    from bench.training.trainer import Interrupted, train_and_evaluate

    cached = None
    if ctx.main and error is None:  # decisions that touch the disk are rank 0's, then broadcast
        cached, error = _reuse_or_clear(run, rerun, log)
    cached, error = D.broadcast((cached, error), ctx)
    if cached is not None:
        log(f"[{run.name}] reusing finished run {run.run_dir} (config {run.config_hash}); --rerun to retrain")
        return cached
    if error is not None:
        result = failed_result(run, error)
    elif run.stage_one is not None and results[run.stage_one.config_hash].status != "complete":
        result = failed_result(run, f"its stage-one run '{run.stage_one.name}' did not finish, so there is "
                                    "no encoder to probe")
    else:
        try:
            result = train_and_evaluate(run, progress=progress, log=log, ctx=ctx)
        except Interrupted:
            raise
        except Exception as exc:  # noqa: BLE001 - a plugin bug or a full disk must not take the suite down
            result = failed_result(run, describe_failure(run, exc))
    result = D.broadcast(result, ctx)
    if ctx.main:
        result = record(run, result, log)
    D.barrier(ctx)
    return result


def _lock(stack: ExitStack, run: ResolvedRun, log, ctx: D.DistContext) -> str | None:
    """Take the run folder's lock on rank 0 (held until ``stack`` closes); why it could not be taken (the
    folder cannot be made on a full or read-only disk), broadcast so that every rank skips the run."""
    error = None
    if ctx.main:
        try:
            stack.enter_context(run_lock(run.run_dir, on_wait=lambda: log(
                f"[{run.name}] another bench process is training this run; waiting for it")))
        except OSError as exc:
            error = describe_failure(run, exc) if exc.errno in DISK_FULL else (
                f"cannot lock its folder {run.run_dir}: {exc}")
    return D.broadcast(error, ctx)


def run_suite(runs: list[ResolvedRun], rerun: bool = False, progress: bool = True, log=print,
              ctx: D.DistContext = D.SINGLE) -> list[RunResult]:
    """Train and evaluate each run in order. A failing run is recorded and the suite goes on; runs that
    probe its encoder fail with a message saying so. An interruption stops the suite (resumable).
    Under torchrun (``ctx``) every rank calls this; rank 0 alone locks, logs and writes."""
    results: dict[str, RunResult] = {}  # by config hash: the same run name recurs across seeds
    if not ctx.main:
        log = lambda message: None  # noqa: E731
    for run in runs:
        with ExitStack() as stack:
            error = _lock(stack, run, log, ctx)
            results[run.config_hash] = _run_one(run, results, rerun, progress, log, ctx, error)
    return list(results.values())
