"""Re-evaluating a saved run under every corruption and severity, without retraining.

For each (corruption, severity) the run's test shapes get the corrupted inputs of
bench/robustness/corruptions.py (the same arrays for every run and encoder) and every task of the run is
scored as in the run's own evaluation; rotations rotate the query points with the shape. Severity 0 is
the run's own evaluation, drawn exactly as it was (same seed, same inputs), so with ``max_points = 0`` it
reproduces the run's clean metrics. Meshes (Chamfer-L1, normal consistency, F-score) are only scored with
``mesh = True`` (slow: one MISE per shape and setting), on the run's meshed sample.

Writes into the run's folder: ``robustness.csv`` (one row per shape, corruption and severity: every
metric of every task and the latent shift) and ``robustness.json`` (settings and per-setting means).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from bench._io import atomic_write_json, atomic_write_text
from bench.errors import BenchError
from bench.robustness.aggregate import latent_shift
from bench.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt

ROBUSTNESS_CSV = "robustness.csv"
ROBUSTNESS_JSON = "robustness.json"
ROBUSTNESS_VERSION = 1
CORRUPTION_SEED = 2024  # one stream for everyone: runs and encoders are compared on the same arrays
DEFAULT_MAX_POINTS = 20_000  # IoU / mIoU points per shape (of the stored 100k uniform ones); 0 = all
MODALITIES = ("pointcloud",)


@dataclass
class Settings:
    corruptions: tuple[str, ...] = tuple(CORRUPTIONS)
    severities: tuple[int, ...] = SEVERITIES
    max_points: int = DEFAULT_MAX_POINTS
    mesh: bool = False
    seed: int = CORRUPTION_SEED

    def identity(self) -> dict[str, Any]:
        """What makes two robustness evaluations the same (recorded in robustness.json, compared on reuse)."""
        return {"corruptions": list(self.corruptions), "severities": list(self.severities),
                "max_points": self.max_points, "mesh": self.mesh, "seed": self.seed}


@dataclass
class Robustness:
    run_dir: Path
    frame: pd.DataFrame
    """One row per (shape, corruption, severity): shape, category, corruption, severity, <task>.<metric>...,
    latent_shift."""
    summary: dict[str, Any] = field(default_factory=dict)


def check_modality(modality: str, where: str) -> None:
    if modality not in MODALITIES:
        raise BenchError(f"{where}: robustness corruptions are defined for point-cloud inputs; this run's encoder "
                         f"takes {modality} input, so they are not applicable to it (no image or voxel corruptions yet).")


def _tasks_with_points(restored, max_points: int) -> dict:
    """The run's tasks, rebuilt with at most ``max_points`` IoU points per shape (0: as the run had them)."""
    from bench.models import create_tasks

    built = restored.built
    if not max_points or built.cfg.eval.n_iou_points <= max_points:
        return built.tasks
    cfg = replace(built.cfg, eval=replace(built.cfg.eval, n_iou_points=max_points))
    return create_tasks(list(built.tasks), built.info, cfg)


def _corrupted_inputs(store, data_cfg, name: str, severity: int, seed: int) -> tuple[Callable, Callable]:
    """(input_fn, point_transform) of evaluate() for one corruption and severity."""
    cache = {}

    def one(i: int):
        if i not in cache:
            cache[i] = corrupt(name, severity, store.surface[store.surf(i)], data_cfg.n_input_points,
                               data_cfg.input_noise, seed, store.ids[i])
        return cache[i]

    def input_fn(idx: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([one(int(i)).points for i in idx]))

    def point_transform(i: int):
        return one(int(i)).rotation

    return input_fn, point_transform


def _rows(evaluation, name: str, severity: int, clean_latents: np.ndarray | None) -> list[dict[str, Any]]:
    shifts = (latent_shift(clean_latents, evaluation.latents) if clean_latents is not None
              and evaluation.latents is not None else [None] * len(evaluation.rows))
    out = []
    for row, shift in zip(evaluation.rows, shifts):
        flat = {"shape": row["shape"], "category": row["category"], "corruption": name, "severity": severity}
        for task, metrics in row.items():
            if isinstance(metrics, dict):
                flat.update({f"{task}.{m}": v for m, v in metrics.items()})
        flat["latent_shift"] = None if shift is None else float(shift)
        out.append(flat)
    return out


def evaluate_robustness(restored, settings: Settings = Settings(), progress: Callable[[str], None] = lambda m: None) -> Robustness:
    """Every corruption and severity of ``settings`` on the restored run's test split."""
    from bench.data.sampling import stratified_sample
    from bench.evaluation.evaluator import evaluate
    from bench.evaluation.predictor import Predictor

    built, result = restored.built, restored.result
    check_modality(built.modality, f"{result.suite}/{result.run_name}")
    unknown = [c for c in settings.corruptions if c not in CORRUPTIONS]
    if unknown:
        raise BenchError(f"unknown corruption(s) {', '.join(unknown)}; known: {', '.join(CORRUPTIONS)}.")
    cfg = built.cfg
    store = built.load_split(cfg.eval.split, max_shapes=cfg.eval.max_shapes, stratified=True)
    tasks = _tasks_with_points(restored, settings.max_points)
    meshed = stratified_sample(store.category, cfg.eval.mesh_shapes) if settings.mesh and cfg.eval.eval_mesh else []
    predictor = Predictor(built.model, torch.device("cpu"), result.precision == "bf16", encoder_name=cfg.model.encoder)
    common = dict(mesh_indices=meshed, keep_latents=True)
    progress("clean (severity 0)")
    clean = evaluate(predictor, tasks, store, cfg.data, built.modality, **common)
    rows = _rows(clean, "clean", 0, None)
    for name in settings.corruptions:
        for severity in settings.severities:
            progress(f"{name} severity {severity}")
            input_fn, point_transform = _corrupted_inputs(store, cfg.data, name, severity, settings.seed)
            ev = evaluate(predictor, tasks, store, cfg.data, built.modality, input_fn=input_fn,
                          point_transform=point_transform, **common)
            rows += _rows(ev, name, severity, clean.latents)
    frame = pd.DataFrame(rows)
    return Robustness(Path(result.run_dir), frame, summarise(frame, settings, result))


def summarise(frame: pd.DataFrame, settings: Settings, result) -> dict[str, Any]:
    """Settings and the mean of every column per (corruption, severity), as written to robustness.json."""
    metrics = [c for c in frame.columns if "." in c or c == "latent_shift"]
    means = frame.groupby(["corruption", "severity"], sort=False)[metrics].mean()
    table = {f"{c}/{s}": {m: (None if pd.isna(v) else float(v)) for m, v in row.items()}
             for (c, s), row in means.iterrows()}
    return {"version": ROBUSTNESS_VERSION, "suite": result.suite, "run": result.run_name,
            "config_hash": result.config_hash, "precision": result.precision,
            "settings": {**settings.identity(),
                         "levels": {c: list(CORRUPTIONS[c].levels) for c in settings.corruptions},
                         "parameters": {c: CORRUPTIONS[c].parameter for c in settings.corruptions}},
            "shapes": int(frame["shape"].nunique()), "means": table}


def write_robustness(rob: Robustness) -> tuple[Path, Path]:
    buf = io.StringIO()
    rob.frame.to_csv(buf, index=False)
    csv_path, json_path = rob.run_dir / ROBUSTNESS_CSV, rob.run_dir / ROBUSTNESS_JSON
    atomic_write_text(csv_path, buf.getvalue())
    atomic_write_json(json_path, rob.summary)
    return csv_path, json_path


def read_robustness(run_dir: Path) -> pd.DataFrame | None:
    """The per-shape robustness scores of a run, or None when it has none."""
    path = Path(run_dir) / ROBUSTNESS_CSV
    return pd.read_csv(path) if path.is_file() else None


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    path = Path(run_dir) / ROBUSTNESS_JSON
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: not valid JSON ({exc}); delete it and run `bench robustness` again.") from exc
    return data if isinstance(data, dict) else None
