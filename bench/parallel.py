"""Map a function over work items in spawned processes, with a progress bar; failures are collected."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def run_parallel(fn, args: list, description: str, progress: bool, workers: int = 0) -> list[tuple[str, str]]:
    """Map ``fn`` over ``args`` in spawned processes with a progress bar; returns the (id, error) failures."""
    from bench.progress import progress_bar

    failures = []
    workers = workers or min(len(args), os.cpu_count() or 1) or 1
    with progress_bar(description, len(args), enabled=progress) as advance:
        if workers == 1:
            results = map(fn, args)
            for sid, err in results:
                failures += [(sid, err)] if err else []
                advance()
        else:
            # One OpenMP thread per worker: pykdtree would otherwise start a thread per core in every
            # worker and the workers would fight over the cores.
            saved = os.environ.get("OMP_NUM_THREADS")
            os.environ["OMP_NUM_THREADS"] = "1"
            try:
                with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
                    for sid, err in pool.map(fn, args, chunksize=2):
                        failures += [(sid, err)] if err else []
                        advance()
            finally:
                if saved is None:
                    os.environ.pop("OMP_NUM_THREADS", None)
                else:
                    os.environ["OMP_NUM_THREADS"] = saved
    return failures
