"""Running a suite: reuse finished runs, train the rest in order, record failures (MTEB-style) and go on."""

from __future__ import annotations

import shutil
import traceback
from contextlib import nullcontext
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

from bench import __version__
from bench.errors import BenchError
from bench.results import RESULT_FILE, SCORES_FILE, RunResult, git_info, read_result, write_result
from bench.training import distributed as D
from bench.training.checkpoint import LAST, MODEL
from bench.training.lock import run_lock
from bench.training.plan import ResolvedRun, find_cached


def failed_result(run: ResolvedRun, error: str) -> RunResult:
    cfg = run.cfg
    return RunResult(
        suite=run.suite, run_name=run.name, config_hash=run.config_hash, config=run.full_config(), status="failed",
        protocol=run.spec.protocol, tasks=list(run.spec.tasks), encoder={"name": cfg.model.encoder},
        dataset={"name": cfg.data.name}, error=error, seed=cfg.train.seed, step_limited=run.step_limited,
        git=git_info(), bench_version=__version__, created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def reuse(run: ResolvedRun) -> RunResult | None:
    """The finished result with this config hash, copied into this suite's folder if it lives elsewhere."""
    found = find_cached(Path(run.cfg.output.results_dir), run.name, run.config_hash)
    if found is None:
        return None
    try:
        result = read_result(found / RESULT_FILE)
    except BenchError:
        return None
    if result.status != "complete":
        return None
    if found.resolve() != run.run_dir.resolve():
        run.run_dir.mkdir(parents=True, exist_ok=True)
        for name in (MODEL, SCORES_FILE):
            if (found / name).is_file():
                shutil.copyfile(found / name, run.run_dir / name)
        result = replace(result, suite=run.suite, run_name=run.name)
        write_result(result, run.run_dir)
    return result


def _run_one(run: ResolvedRun, results: dict[str, RunResult], rerun: bool, progress: bool, log,
             ctx: D.DistContext) -> RunResult:
    from bench.training.trainer import Interrupted, finish, train_and_evaluate

    cached = None
    if ctx.main:  # decisions that touch the disk are rank 0's, then broadcast
        if rerun:
            (run.run_dir / RESULT_FILE).unlink(missing_ok=True)
            (run.run_dir / LAST).unlink(missing_ok=True)
        else:
            cached = reuse(run)
    cached = D.broadcast(cached, ctx)
    if cached is not None:
        log(f"[{run.name}] reusing finished run {run.run_dir} (config {run.config_hash}); --rerun to retrain")
        return cached
    if run.stage_one is not None and results[run.stage_one.config_hash].status != "complete":
        result = failed_result(run, f"its stage-one run '{run.stage_one.name}' did not finish, so there is "
                                    "no encoder to probe")
    else:
        try:
            result = train_and_evaluate(run, progress=progress, log=log, ctx=ctx)
        except Interrupted:
            raise
        except BenchError as exc:
            result = failed_result(run, str(exc))
        except Exception as exc:  # noqa: BLE001 - a plugin bug must not take the suite down
            frames = traceback.extract_tb(exc.__traceback__)
            where = next((f"{f.filename}:{f.lineno}" for f in reversed(frames)), "?")
            result = failed_result(run, f"{type(exc).__name__}: {exc} (at {where})")
    result = D.broadcast(result, ctx)
    if ctx.main:
        if result.status == "complete":
            finish(run, result)
        else:
            write_result(result, run.run_dir)
            log(f"[{run.name}] FAILED: {result.error}")
    D.barrier(ctx)
    return result


def run_suite(runs: list[ResolvedRun], rerun: bool = False, progress: bool = True, log=print,
              ctx: D.DistContext = D.SINGLE) -> list[RunResult]:
    """Train and evaluate each run in order. A failing run is recorded and the suite goes on; runs that
    probe its encoder fail with a message saying so. An interruption stops the suite (resumable).
    Under torchrun (``ctx``) every rank calls this; rank 0 alone locks, logs and writes."""
    results: dict[str, RunResult] = {}  # by config hash: the same run name recurs across seeds
    if not ctx.main:
        log = lambda message: None  # noqa: E731
    for run in runs:
        wait_msg = lambda r=run: log(f"[{r.name}] another bench process is training this run; waiting for it")  # noqa: E731
        lock = run_lock(run.run_dir, on_wait=wait_msg) if ctx.main else nullcontext()
        with lock:
            results[run.config_hash] = _run_one(run, results, rerun, progress, log, ctx)
    return list(results.values())
