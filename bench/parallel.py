"""Map a function over work items in spawned processes, with a progress bar; failures are collected.

A worker process that dies (``os._exit``, a crash in native code, the out-of-memory killer) breaks a
``ProcessPoolExecutor`` and fails every job in it. So at most ``workers`` jobs are in flight; when the pool
breaks, those jobs are run again one by one, each in a process of its own: the ones that die again are
recorded as failures saying how the process died, and the rest of the batch goes on in a fresh pool."""

from __future__ import annotations

import os
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing import get_context
from typing import Any

Job = tuple[int, Any]  # (position in the batch, argument of fn)


def run_parallel(fn, args: list, description: str, progress: bool, workers: int = 0,
                 id_of: Callable[[Any], str] = str) -> list[tuple[str, str]]:
    """Map ``fn`` (which returns ``(id, error or None)``) over ``args`` in spawned processes with a progress
    bar; the ``(id, error)`` failures in the order of ``args``. ``id_of(arg)`` names an item whose worker died.
    ``workers == 1`` runs in this process (no start-up cost, but no protection from a crashing item)."""
    from bench.progress import progress_bar

    failures: dict[int, tuple[str, str]] = {}
    workers = workers or min(len(args), os.cpu_count() or 1) or 1
    with progress_bar(description, len(args), enabled=progress) as advance:

        def record(k: int, result: tuple[str, str | None]) -> None:
            if result[1]:
                failures[k] = (result[0], result[1])
            advance()

        if workers == 1:
            for k, arg in enumerate(args):
                record(k, fn(arg))
        else:
            with _one_omp_thread():
                queue: deque[Job] = deque(enumerate(args))
                while queue:
                    for k, arg in _pool_pass(fn, queue, workers, record, id_of):
                        record(k, _run_alone(fn, arg, id_of))
    return [failures[k] for k in sorted(failures)]


@contextmanager
def _one_omp_thread() -> Iterator[None]:
    """One OpenMP thread per worker: pykdtree would otherwise start a thread per core in every worker and
    the workers would fight over the cores (spawned workers inherit the environment)."""
    saved = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


def _pool_pass(fn, queue: deque[Job], workers: int, record, id_of) -> list[Job]:
    """Run the jobs of ``queue`` (taking them off it) in one pool, at most ``workers`` at a time so that a
    dying worker takes few jobs down with it, until the queue is empty or a worker dies; the jobs that
    were in flight when it died (one of them killed it; the others are collateral)."""
    running: dict[Future, Job] = {}
    lost: list[Job] = []
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        try:
            while (queue or running) and not lost:
                while queue and len(running) < workers:
                    running[pool.submit(fn, queue[0][1])] = queue[0]
                    queue.popleft()  # only once submitted: a broken pool refuses the submit
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                lost += _collect(done, running, record, id_of)
        except BrokenProcessPool:  # raised by submit() when the pool broke since the last wait
            pass
        # A broken pool fails every job still running: collect them all (some may have finished first).
        lost += _collect(wait(running).done, running, record, id_of)
    return lost


def _collect(done, running: dict[Future, Job], record, id_of) -> list[Job]:
    """Record the finished futures of ``done`` (removing them from ``running``); the jobs lost to a broken pool."""
    lost = []
    for fut in done:
        k, arg = running.pop(fut)
        try:
            record(k, fut.result())
        except BrokenProcessPool:
            lost.append((k, arg))
        except Exception as exc:  # noqa: BLE001 - the item or its result could not cross the process boundary
            record(k, (id_of(arg), f"{type(exc).__name__}: {exc}"))
    return lost


def _run_alone(fn, arg, id_of) -> tuple[str, str | None]:
    """``fn(arg)`` in a process of its own: its result, or a failure saying how the process died."""
    ctx = get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_send_result, args=(fn, arg, send), daemon=True)
    proc.start()
    send.close()  # our copy of the child's end: with it closed, the child's death reads as EOF, not a hang
    try:
        result = receive.recv()
    except EOFError:
        result = None
    finally:
        receive.close()
        proc.join()
    return result if result is not None else (id_of(arg), worker_died(proc.exitcode))


def _send_result(fn, arg, conn) -> None:
    """The body of a ``_run_alone`` process (module level: spawned processes import it by name)."""
    conn.send(fn(arg))
    conn.close()


def worker_died(exitcode: int | None) -> str:
    """What to record for an item whose worker process died with ``exitcode`` (negative: killed by a signal)."""
    if exitcode is not None and exitcode < 0:
        try:
            how = f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            how = f"was killed by signal {-exitcode}"
        if exitcode == -signal.SIGKILL:
            how += " (often the out-of-memory killer: try fewer --workers)"
    else:
        how = f"exited with code {exitcode} (os._exit or a crash in native code)"
    return (f"WorkerDied: the worker process {how} while working on this item, also when it was run again on its "
            "own; the other items went on. Fix or remove its source and run again (finished items are kept).")
