"""Result files: a typed RunResult with a schema version, written atomically, validated when read."""

from __future__ import annotations

import json
import subprocess
import warnings
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bench import __version__
from bench._io import atomic_write_json
from bench.errors import ResultError

SCHEMA_VERSION = 2  # 2: intervals (95 % bootstrap CIs), category means of every metric, scores.csv beside
RESULT_FILE = "result.json"
SCORES_FILE = "scores.csv"  # one row per evaluated shape: shape, category, <task>.<metric>...
STATUSES = ("complete", "failed")
CLASS_MEAN = "_class_mean"  # suffix of a metric's category mean in result.json (``iou`` -> ``iou_class_mean``)


@dataclass
class RunResult:
    """Everything a run produced; the leaderboard reads these and nothing else."""

    suite: str
    run_name: str
    config_hash: str
    config: dict[str, Any]
    status: str  # complete | failed (a step-limited run is complete and flagged by step_limited)
    protocol: str
    tasks: list[str]
    encoder: dict[str, Any]  # name, package, params
    dataset: dict[str, Any]  # name, revision, splits sizes, skipped shapes
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    per_category: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    intervals: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    """task -> metric -> [low, high]: 95 % percentile-bootstrap interval over the evaluated shapes."""
    metric_info: dict[str, dict[str, Any]] = field(default_factory=dict)  # task -> main, directions, labels
    encoder_from: dict[str, Any] | None = None
    seed: int = 0
    steps: int = 0
    step_limited: bool = False
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)  # first loss, validation history, world size
    device: str = "cpu"
    packages: dict[str, str] = field(default_factory=dict)
    git: dict[str, Any] = field(default_factory=dict)
    bench_version: str = __version__
    schema_version: int = SCHEMA_VERSION
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "<dict>") -> RunResult:
        if not isinstance(data, dict):
            raise ResultError(f"{where}: a result must be a JSON object.")
        version = data.get("schema_version")
        if version == 1:  # 1 -> 2 added fields only (intervals); everything of a version-1 file still holds
            data = {**data, "schema_version": SCHEMA_VERSION}
            version = SCHEMA_VERSION
        if version != SCHEMA_VERSION:
            raise ResultError(
                f"{where}: schema_version {version!r} is not supported by bench {__version__} "
                f"(expects {SCHEMA_VERSION})."
            )
        names = {f.name for f in fields(cls)}
        required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
        missing = sorted(required - set(data))
        if missing:
            raise ResultError(f"{where}: missing keys {', '.join(missing)}.")
        if data["status"] not in STATUSES:
            raise ResultError(f"{where}: status {data['status']!r} is not one of {', '.join(STATUSES)}.")
        for key in ("metrics", "config", "encoder", "dataset"):
            if not isinstance(data[key], dict):
                raise ResultError(f"{where}: '{key}' must be an object.")
        for task, values in data["metrics"].items():
            if not isinstance(values, dict) or not all(
                v is None or isinstance(v, (int, float)) for v in values.values()
            ):
                raise ResultError(f"{where}: metrics.{task} must map metric names to numbers or null.")
        return cls(**{k: v for k, v in data.items() if k in names})

    @property
    def ranked(self) -> bool:
        return self.status == "complete" and not self.step_limited



def run_dir_for(results_dir: Path | str, suite: str, run_name: str, config_hash: str) -> Path:
    """The folder of a run: results/<suite>/<run-name>-<config-hash>/ (DESIGN.md)."""
    return Path(results_dir) / suite / f"{run_name}-{config_hash}"


def locate_run_dir(result: RunResult, results_dir: Path | str | None = None) -> Path:
    """The folder of a finished run: under ``results_dir`` when it is there, else under the results folder
    the run was made with (a suite may send its runs elsewhere, e.g. table4 to results/modelnet40)."""
    own = result.config.get("all_sections", {}).get("output", {}).get("results_dir") or "results"
    folders = [run_dir_for(f, result.suite, result.run_name, result.config_hash)
               for f in dict.fromkeys(f for f in (results_dir, own) if f)]
    return next((d for d in folders if (d / RESULT_FILE).is_file()), folders[0])


def write_result(result: RunResult, run_dir: Path) -> Path:
    path = Path(run_dir) / RESULT_FILE
    atomic_write_json(path, result.to_dict())
    return path


def read_result(path: Path) -> RunResult:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ResultError(f"{path}: no such result file.") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultError(f"{path}: not valid JSON ({exc}).") from exc
    return RunResult.from_dict(data, str(path))


def scan_results(root: Path) -> list[RunResult]:
    """Every valid result.json under ``root``; invalid ones are skipped with a warning naming them.

    Only complete files exist on disk (atomic writes), so a folder being written is safe to scan.
    """
    out = []
    root = Path(root)
    if not root.exists():
        return out
    for path in sorted(root.rglob(RESULT_FILE)):
        try:
            out.append(read_result(path))
        except ResultError as exc:
            warnings.warn(f"skipping {exc}", stacklevel=2)
    return out


def git_info(cwd: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag of the checkout bench runs from; empty values outside git."""
    cwd = cwd or Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=cwd, capture_output=True, text=True, timeout=5,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": dirty if commit else None}


def package_versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "numpy", "trimesh", "pykdtree", "scikit-image", "pandas"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
