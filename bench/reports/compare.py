"""`bench compare`: runs side by side (the first is the reference), the difference of each other run from it
with its paired-bootstrap 95 % interval over the shapes both scored, and a verdict per metric.

Runs of different precisions are refused unless asked for (then each verdict says so); whole suites are
compared run by run, pairing runs by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError, ResultError
from bench.evaluation.uncertainty import paired_bootstrap_diff, verdict
from bench.reports.leaderboard import metric_columns
from bench.reports.select import scores_of
from bench.results import CLASS_MEAN, RunResult


def check_same_precision(results: list[RunResult], allow_mixed: bool = False) -> str:
    """'' when every run trained in one precision; else a BenchError, or (``allow_mixed``) the note that the
    verdicts then carry."""
    kinds = {f"{r.suite}/{r.run_name}": r.precision for r in results}
    if len(set(kinds.values())) <= 1:
        return ""
    listing = ", ".join(f"{name} {p}" for name, p in kinds.items())
    if not allow_mixed:
        raise BenchError(f"these runs trained in different precisions ({listing}): their difference mixes the "
                         "precision's effect with the runs'. Compare runs of one precision (bench run --amp / --no-amp), "
                         "or pass --mixed-precision to compare them anyway (the verdicts then say so).")
    return f"mixed precision: {listing}"


def _check_comparable(results: list[RunResult], allow_mixed_precision: bool) -> str:
    if len(results) < 2:
        raise BenchError("compare needs at least two runs")
    return check_same_precision(results, allow_mixed_precision)


def compare_frame(results: list[RunResult], directions: dict[str, str],
                  scores: list[pd.DataFrame | None] | None = None, n_boot: int = 2000,
                  allow_mixed_precision: bool = False) -> pd.DataFrame:
    """Metrics of runs side by side (the first is the reference), the difference of each other run from it
    with its paired-bootstrap 95 % interval over the shapes both scored (``scores``: each run's scores.csv),
    and a verdict per metric: better / worse / no significant difference (or why there is none).
    Runs of different precisions are refused unless ``allow_mixed_precision``; then each verdict says so."""
    mixed = _check_comparable(results, allow_mixed_precision)
    scores = scores or [None] * len(results)
    metrics: list[tuple[str, str]] = []
    for r in results:
        for task, values in r.metrics.items():
            metrics += [(task, m) for m in values if (task, m) not in metrics]
    rows = [_compare_row(results, scores, task, m, directions, n_boot, mixed) for task, m in metrics]
    return pd.DataFrame(rows)


def _compare_row(results: list[RunResult], scores: list, task: str, m: str, directions: dict[str, str],
                 n_boot: int, mixed: str) -> dict[str, Any]:
    """One metric of every run, each other run's difference from the first, and which run is better."""
    names = [f"{r.suite}/{r.run_name}" for r in results]
    vals = [r.metrics.get(task, {}).get(m) for r in results]
    higher = directions.get(m, directions.get(f"{task}.{m}")) != "lower"
    row: dict[str, Any] = {"task": task, "metric": m, **dict(zip(names, vals))}
    for n, v, sc in zip(names[1:], vals[1:], scores[1:]):
        d = _paired(scores[0], sc, task, m, n_boot)
        row[f"delta {n}"] = None if vals[0] is None or v is None else v - vals[0]
        row[f"low {n}"], row[f"high {n}"] = (d.low, d.high) if d else (None, None)
        row[f"verdict {n}"] = _verdict_of(vals[0], v, d, higher, mixed)
    present = [(v, n) for v, n in zip(vals, names) if v is not None]
    if len(present) < 2:
        row["better"] = "–"
    elif len({v for v, _ in present}) == 1:
        row["better"] = "equal"
    else:
        row["better"] = (max if higher else min)(present)[1]
    row["direction"] = "higher" if higher else "lower"
    return row


def _verdict_of(reference, value, d, higher: bool, mixed: str) -> str:
    if reference is None or value is None:
        return "– (no value)"
    if d is None:
        return "– (no per-shape scores)"
    if d.low is None:
        return "– (a category has one scored shape: no interval)"
    return verdict(d.low, d.high, higher) + (f" ({mixed})" if mixed else "")


def _paired(a: pd.DataFrame | None, b: pd.DataFrame | None, task: str, metric: str, n_boot: int):
    """Paired bootstrap of B - A on the shapes both runs scored; None without per-shape scores."""
    base = metric.removesuffix(CLASS_MEAN)
    col = f"{task}.{base}"
    if a is None or b is None or col not in a or col not in b:
        return None
    merged = a[["shape", "category", col]].merge(b[["shape", col]], on="shape", suffixes=("_a", "_b"))
    statistic = "category" if metric.endswith(CLASS_MEAN) else "instance"
    return paired_bootstrap_diff(merged[col + "_a"].to_numpy(float), merged[col + "_b"].to_numpy(float),
                                 merged["category"].tolist(), statistic, n_boot)


def pair_runs(groups: list[list[RunResult]]) -> dict[str, list[RunResult]]:
    """What to compare, by label: the runs named (one each) as "runs"; where each name stands for one run over
    several seeds, the runs paired seed by seed; where names stood for whole suites, the runs of the first
    group paired with those of the others by run name and seed (runs that some group lacks are left out).
    Nothing to pair is an error saying what each name stood for."""
    if all(len(g) == 1 for g in groups):
        return {"runs": [g[0] for g in groups]}
    if all(len({r.run_name for r in g}) == 1 for g in groups):  # one run each, over seeds
        pairs = {f"seed {r.seed}": [next((x for x in g if x.seed == r.seed), None) for g in groups] for r in groups[0]}
    else:
        seeded = len({r.seed for r in groups[0]}) > 1
        pairs = {(f"{r.run_name} (seed {r.seed})" if seeded else r.run_name):
                 [next((x for x in g if (x.run_name, x.seed) == (r.run_name, r.seed)), None) for g in groups]
                 for r in groups[0]}
    out = {label: runs for label, runs in pairs.items() if all(runs)}
    if not out:
        stood = "; ".join(", ".join(sorted({f"{r.suite}/{r.run_name} seed {r.seed}" for r in g})) for g in groups)
        raise ResultError(f"nothing to compare: no run (name and seed) is in every group ({stood}).")
    return out


def per_category_frame(runs: list[RunResult]) -> pd.DataFrame:
    """Each run's main score per category, one row per run and task (the paper's Table 7 layout)."""
    rows = []
    for r in runs:
        for task, cats in r.per_category.items():
            main = r.task_info(task).main
            rows.append({"run": f"{r.suite}/{r.run_name}", "task": task, "metric": main,
                         **{c: v.get(main) for c, v in cats.items()}})
    return pd.DataFrame(rows)


def comparisons(groups: list[list[RunResult]], results_dir: Path, per_category: bool = False,
                allow_mixed_precision: bool = False) -> Iterator[tuple[str, pd.DataFrame]]:
    """(label, frame) for each set of runs to compare (pair_runs), one at a time: the compare frame with
    paired intervals from the runs' scores.csv, or (``per_category``) the per-category main scores."""
    for label, runs in pair_runs(groups).items():
        if per_category:
            _check_comparable(runs, allow_mixed_precision)
            yield label, per_category_frame(runs)
            continue
        directions = {c.column: c.direction for c in metric_columns(runs)}
        yield label, compare_frame(runs, directions, [scores_of(r, results_dir) for r in runs],
                                   allow_mixed_precision=allow_mixed_precision)


# --- what a terminal shows of a comparison, and its forest plot ----------------------------------------------

NO_VERDICT = "–"  # verdicts that start with this say why there is none (no value, no scores, no interval)


def run_names(frame: pd.DataFrame) -> list[str]:
    """The runs of a compare frame, the reference first (its value columns, in order)."""
    fixed = {"task", "metric", "better", "direction"}
    return [c for c in frame.columns if c not in fixed and not c.startswith(("delta ", "low ", "high ", "verdict "))]


def says_something(frame: pd.DataFrame) -> pd.Series:
    """Rows with at least one verdict (better / worse / no significant difference): the others cannot say
    anything (no value in a run, no per-shape scores, or a category mean with one scored shape: no interval)."""
    verdicts = [c for c in frame.columns if c.startswith("verdict ")]
    if frame.empty or not verdicts:
        return pd.Series(True, index=frame.index)
    return frame[verdicts].apply(lambda row: any(not str(v).startswith(NO_VERDICT) for v in row), axis=1)


def metric_heading(metric: str, direction: str) -> str:
    """``iou_class_mean`` -> "iou (cat. mean) ↑"."""
    base = metric.removesuffix(CLASS_MEAN)
    return base + (" (cat. mean)" if base != metric else "") + {"higher": " ↑", "lower": " ↓"}.get(direction, "")


def forest_rows(frame: pd.DataFrame, label: str = "") -> list[dict[str, Any]]:
    """The paired differences of a compare frame that have an interval, one per metric and compared run:
    group (task and metric), run, diff, low, high, verdict, direction."""
    names = run_names(frame)
    rows = []
    for _, row in frame.iterrows():
        for n in names[1:]:
            low, high, diff = row.get(f"low {n}"), row.get(f"high {n}"), row.get(f"delta {n}")
            if any(v is None or pd.isna(v) for v in (low, high, diff)):
                continue
            rows.append({"group": f"{row['task']}: {metric_heading(row['metric'], row['direction'])}",
                         "run": f"{label}: {n} − {names[0]}" if label and label != "runs" else f"{n} − {names[0]}",
                         "diff": float(diff), "low": float(low), "high": float(high),
                         "verdict": str(row[f"verdict {n}"]), "direction": row["direction"]})
    return rows
