"""Which runs a report reads, and the files beside their results.

A report never mixes setups: ``select_results`` keeps a suite's runs of one dataset revision, one profile and
one precision. ``find_runs`` resolves what a user names on the command line (a result folder, a result.json,
suite/run or a whole suite). Run folders are always the ones results were read from (bench/results.py:
locate_run_dir), never a folder a result file names.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.errors import BenchError, ResultError, did_you_mean
from bench.evaluation.scores import read_scores
from bench.results import RESULT_FILE, RunResult, locate_run_dir, read_result, scan_results


def select_results(results: list[RunResult], suite: str, dataset: str | None = None,
                   profile: str | None = None, precision: str | None = None) -> list[RunResult]:
    """The suite's runs of one dataset revision, one profile and one precision (all their seeds); refuses to
    mix others (a bf16 run and an fp32 run differ by more than seed noise can hide)."""
    rs = [r for r in results if r.suite == suite
          and (dataset is None or r.dataset.name == dataset)
          and (profile is None or r.config.get("profile", "") == profile)
          and (precision is None or r.precision == precision)]
    groups = sorted({(_or(r.dataset.name, "?"), str(r.dataset.revision), r.config.get("profile", ""), r.precision)
                     for r in rs if r.status == "complete"})
    if len(groups) > 1:
        listing = "; ".join(f"dataset {d} (revision {rev}), profile '{p or 'none'}', {prec}" for d, rev, p, prec in groups)
        raise BenchError(f"suite '{suite}' has runs of {len(groups)} different setups, which a report must not mix: "
                         f"{listing}. Pick one with --dataset NAME, --profile NAME and/or --precision bf16|fp32.")
    return rs


def _or(value, default):
    """``value``, or ``default`` where the result does not record it."""
    return default if value is None else value


def find_runs(name: str, results_dir: Path) -> list[RunResult]:
    """The runs ``name`` stands for: a result folder, a result.json, or suite/run (or a whole suite) under
    ``results_dir``."""
    path = Path(name)
    if path.is_file():
        return [read_result(path)]
    if (path / RESULT_FILE).is_file():
        return [read_result(path / RESULT_FILE)]
    every = scan_results(results_dir)
    suite, _, run = name.partition("/")
    found = [r for r in every if r.suite == suite and (not run or r.run_name == run)]
    if not found:
        names = sorted({f"{r.suite}/{r.run_name}" for r in every} | {r.suite for r in every})
        raise ResultError(f"no run or suite '{name}' under {results_dir}.{did_you_mean(name, names)}")
    return found


def scores_of(result: RunResult, results_dir: Path | None) -> pd.DataFrame | None:
    """The run's per-shape scores (scores.csv); None without them, or without a results folder to look in."""
    return None if results_dir is None else read_scores(locate_run_dir(result, results_dir))


def run_images(result: RunResult) -> list[Path]:
    """The PNGs in the run's folder (figures written beside its result)."""
    run_dir = locate_run_dir(result)
    return sorted(run_dir.glob("*.png")) if run_dir.is_dir() else []
