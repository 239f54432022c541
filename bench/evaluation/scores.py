"""Per-shape scores beside result.json (scores.csv): one row per evaluated shape, ``shape, category`` and
one ``<task>.<metric>`` column per score, so any summary, interval or paired comparison can be recomputed
without retraining."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from bench._io import atomic_write_text
from bench.results import SCORES_FILE


def scores_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Evaluation rows ``{"shape", "category", task: {metric: value}}`` -> a flat frame."""
    flat = []
    for r in rows:
        out = {"shape": r["shape"], "category": r["category"]}
        for task, scores in r.items():
            if isinstance(scores, dict):
                out.update({f"{task}.{m}": v for m, v in scores.items()})
        flat.append(out)
    return pd.DataFrame(flat)


def write_scores(rows: list[dict[str, Any]], run_dir: Path) -> Path:
    path = Path(run_dir) / SCORES_FILE
    buf = io.StringIO()
    scores_frame(rows).to_csv(buf, index=False)
    atomic_write_text(path, buf.getvalue())
    return path


def read_scores(run_dir: Path) -> pd.DataFrame | None:
    """The run's per-shape scores, or None when it has none (runs made before scores.csv existed)."""
    path = Path(run_dir) / SCORES_FILE
    # ids are text: a ShapeNet synset "02691156" read as a number would lose its leading zero
    return pd.read_csv(path, dtype={"shape": str, "category": str}) if path.is_file() else None
