"""One probe's outcome and its files: ``<run_dir>/probes/<probe>.json`` (summary) and ``<probe>.csv`` (its
units: one row per test shape, ``shape, category, <probe>.<metric>...``; or, for few-shot, one row per episode,
``unit, setting, fold, accuracy``). The CSV is written first and the JSON last, both atomically, so a JSON
on disk means the probe finished: an interrupted battery resumes at the next probe.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bench._io import atomic_write_json, atomic_write_text
from bench.errors import ResultError

PROBES_DIR = "probes"
EPISODE_COLUMNS = ("unit", "setting", "fold", "accuracy")
TEXT_COLUMNS = {"shape": str, "category": str, "unit": str, "setting": str}  # ids such as "02691156" stay text


@dataclass
class ProbeOutcome:
    """What one probe measured. ``rows``: one per test shape, ``{"shape", "category", metric: value | None}``;
    ``episodes``: few-shot's units, ``{"unit", "setting", "fold", "accuracy"}``. ``status`` is "complete", or
    "skipped" with the ``reason`` (e.g. segmentation on a dataset without parts)."""

    probe: str
    status: str = "complete"
    reason: str | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)
    per_category: dict[str, dict[str, float | None]] = field(default_factory=dict)
    intervals: dict[str, list[float | None]] = field(default_factory=dict)
    metric_info: dict[str, Any] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    training: dict[str, Any] | None = None

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``<probe>.json`` (everything but the units)."""
        return {"probe": self.probe, "status": self.status, "reason": self.reason, "metrics": self.metrics,
                "per_category": self.per_category, "intervals": self.intervals, "metric_info": self.metric_info,
                "seconds": round(self.seconds, 2), "training": self.training}


def probe_paths(run_dir: Path, probe: str) -> tuple[Path, Path]:
    folder = Path(run_dir) / PROBES_DIR
    return folder / f"{probe}.json", folder / f"{probe}.csv"


def _csv(frame: pd.DataFrame) -> str:
    buf = io.StringIO()
    frame.to_csv(buf, index=False)
    return buf.getvalue()


def shape_frame(probe: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Per-shape rows -> ``shape, category, <probe>.<metric>...`` (the columns of scores.csv)."""
    flat = [{"shape": r["shape"], "category": r["category"],
             **{f"{probe}.{k}": v for k, v in r.items() if k not in ("shape", "category")}} for r in rows]
    return pd.DataFrame(flat, columns=None if flat else ["shape", "category"])


def write_outcome(run_dir: Path, outcome: ProbeOutcome, identity: str) -> None:
    """The probe's units, then its summary (tagged with the result's ``identity``)."""
    summary_path, units_path = probe_paths(run_dir, outcome.probe)
    if outcome.episodes:
        atomic_write_text(units_path, _csv(pd.DataFrame(outcome.episodes, columns=list(EPISODE_COLUMNS))))
    elif outcome.rows:
        atomic_write_text(units_path, _csv(shape_frame(outcome.probe, outcome.rows)))
    atomic_write_json(summary_path, {**outcome.summary(), "identity": identity})


def _value(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def read_outcome(run_dir: Path, probe: str, identity: str) -> ProbeOutcome | None:
    """The finished outcome of ``probe`` in ``run_dir`` if it was made for ``identity``, else None (not done
    yet, or a file of another battery or encoder, or unreadable: the probe is run again)."""
    summary_path, units_path = probe_paths(run_dir, probe)
    if not summary_path.is_file():
        return None
    try:
        data = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("identity") != identity or data.get("probe") != probe:
        return None
    outcome = ProbeOutcome(probe=probe, **{k: data[k] for k in ("status", "reason", "metrics", "per_category",
                                                                 "intervals", "metric_info", "seconds", "training")
                                           if k in data})
    if outcome.complete and units_path.is_file():
        frame = pd.read_csv(units_path, dtype=TEXT_COLUMNS)
        if "unit" in frame.columns:
            outcome.episodes = [{k: _value(v) for k, v in r.items()} for r in frame.to_dict("records")]
        else:
            prefix = f"{probe}."
            outcome.rows = [{"shape": r["shape"], "category": r["category"],
                             **{k[len(prefix):]: _value(v) for k, v in r.items() if k.startswith(prefix)}}
                            for r in frame.to_dict("records")]
    return outcome


def read_units(run_dir: Path, probe: str, metric: str) -> pd.Series | None:
    """A result's per-unit scores of one probe's ``metric``, indexed by unit (shape id; few-shot: episode):
    from scores.csv, or for few-shot from ``probes/fewshot.csv``. None when the result has none."""
    from bench.evaluation.scores import read_scores

    run_dir = Path(run_dir)
    try:
        _, units_path = probe_paths(run_dir, probe)
        if probe == "fewshot":
            if not units_path.is_file():
                return None
            frame = pd.read_csv(units_path, dtype=TEXT_COLUMNS)
            if not {"unit", metric} <= set(frame.columns):
                return None
            return frame.set_index("unit")[metric].astype(float)
        scores = read_scores(run_dir)
        column = f"{probe}.{metric}"
        if scores is None or column not in scores.columns:
            return None
        return scores.set_index("shape")[column].astype(float)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ResultError(f"{run_dir}: per-unit scores of probe {probe} are unreadable ({exc}).") from exc
