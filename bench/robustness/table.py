"""The robustness table of runs: per run and task, the main metric clean, its mean over severities under
each corruption, the mean over corruptions (the mean corrupted score), and the mCE against a baseline run,
with paired bootstrap intervals over shapes (bench/robustness/aggregate.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bench.robustness.aggregate import corruption_error, mean_corruption_error, paired_interval

N_BOOT = 1000


@dataclass
class RunScores:
    name: str
    """suite/run."""
    frame: pd.DataFrame
    """robustness.csv of the run."""
    mains: dict[str, tuple[str, bool]]
    """task -> (main metric, higher is better)."""


def _cube(frame: pd.DataFrame, column: str, corruptions: list[str], shapes: list[str]) -> np.ndarray:
    """(C corruptions, K severities, S shapes) scores of ``column``, shapes in the order given."""
    out = []
    for name in corruptions:
        sub = frame[frame["corruption"] == name]
        severities = sorted(sub["severity"].unique())
        out.append([sub[sub["severity"] == s].set_index("shape")[column].reindex(shapes).to_numpy(float)
                    for s in severities])
    return np.asarray(out, float)


def _interval(fn, arrays) -> str:
    low, high = paired_interval(fn, arrays, N_BOOT)
    return "" if low is None else f"[{low:.3f}, {high:.3f}]"


def robustness_frame(runs: list[RunScores], baseline: RunScores | None = None) -> pd.DataFrame:
    """One row per (run, task): clean, per-corruption means over severities, mean corrupted (with its
    interval), mCE against ``baseline`` (with its paired interval) and the mean latent shift."""
    rows = []
    for run in runs:
        corruptions = [c for c in dict.fromkeys(run.frame["corruption"]) if c != "clean"]
        shapes = sorted(run.frame["shape"].unique())
        clean = run.frame[run.frame["corruption"] == "clean"]
        shifts = run.frame[run.frame["corruption"] != "clean"]["latent_shift"]
        shift = float(shifts.mean()) if shifts.notna().any() else None  # one latent per run, whatever the task
        for task, (metric, higher) in run.mains.items():
            column = f"{task}.{metric}"
            if column not in run.frame:
                continue
            cube = _cube(run.frame, column, corruptions, shapes)
            row: dict[str, Any] = {"run": run.name, "task": task, "metric": metric,
                                   "clean": float(clean[column].mean())}
            for k, name in enumerate(corruptions):
                row[name] = float(np.nanmean(np.nanmean(cube[k], axis=1)))
            row["mean corrupted"] = float(np.nanmean(np.nanmean(cube, axis=2)))
            row["interval"] = _interval(lambda c: np.nanmean(np.nanmean(c, axis=2)), (cube,))
            row.update(_mce(run, baseline, column, corruptions, shapes, cube, higher))
            row["latent shift"] = shift
            rows.append(row)
    return pd.DataFrame(rows)


def _mce(run: RunScores, baseline: RunScores | None, column: str, corruptions: list[str], shapes: list[str],
         cube: np.ndarray, higher: bool) -> dict[str, Any]:
    """mCE of the run against the baseline on the shapes and corruptions both have; '' when there is none."""
    if baseline is None or column not in baseline.frame:
        return {"mCE": None, "mCE interval": ""}
    both = sorted(set(shapes) & set(baseline.frame["shape"]))
    common = [c for c in corruptions if c in set(baseline.frame["corruption"])]
    if not both or not common:
        return {"mCE": None, "mCE interval": ""}
    mine = _cube(run.frame, column, common, both)
    base = _cube(baseline.frame, column, common, both)
    fn = lambda r, b: mean_corruption_error(r, b, higher)  # noqa: E731
    return {"mCE": fn(mine, base), "mCE interval": _interval(fn, (mine, base)),
            **{f"CE {c}": corruption_error(mine[k], base[k], higher) for k, c in enumerate(common)}}
