"""Evaluate a trained multi-task model on a split: per-shape scores from each task, aggregated.

Input corruption at evaluation time is drawn from a fixed seed, so two evaluations of the same model
give the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.config import DataConfig, EvalConfig
from bench.contracts import Task
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.evaluation.mesh import extract_mise
from bench.evaluation.surface import sample_mesh, surface_metrics

POINT_CHUNK = 16384  # decoder activations of 16k points stay in L3 on CPU (shared/BASELINES.md)


@dataclass
class Evaluation:
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_category: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@torch.no_grad()
def decode_points(model, z: torch.Tensor, points: np.ndarray, device: torch.device, amp: bool = False) -> dict[str, np.ndarray]:
    """One latent (1, D), (P, 3) points -> {point task: (P, C) logits}, in chunks."""
    outs: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(points), POINT_CHUNK):
        p = torch.from_numpy(np.ascontiguousarray(points[start:start + POINT_CHUNK], dtype=np.float32))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            res = model.point_heads(p.to(device).unsqueeze(0), z)
        for task, logits in res.items():
            outs.setdefault(task, []).append(logits[0].float().cpu().numpy())
    return {t: np.concatenate(v) for t, v in outs.items()}


@torch.no_grad()
def evaluate(
    model, tasks: dict[str, Task], store: ShapeStore, data_cfg: DataConfig, eval_cfg: EvalConfig,
    device: torch.device, modality: str = "pointcloud", max_shapes: int = 0, max_points: int = 0,
    mesh_shapes: int = 0, amp: bool = False, seed: int = 12345,
) -> Evaluation:
    """Scores of ``tasks`` on ``store``; ``mesh_shapes`` > 0 adds surface metrics to reconstruction."""
    model.eval()
    n = min(len(store), max_shapes) if max_shapes else len(store)
    dataset = ShapeDataset(store, data_cfg, modality, seed=seed)
    per_shape: dict[str, list[dict[str, float]]] = {t: [] for t in tasks}
    result = Evaluation()
    rng = np.random.default_rng(seed)
    batch_size = 16
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        batch = dataset.batch(idx, rng, n_query=1)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda"):
            z = model.encode(batch["inputs"].to(device))
            shape_logits = {t: h(z).float().cpu().numpy() for t, h in model.shape_heads.items() if t in tasks}
        z = z.float()
        for row, i in enumerate(idx):
            for name, logits in shape_logits.items():
                per_shape[name].append(_score(tasks[name], name, logits[row], store, int(i), None))
            point_tasks = [t for t in tasks if tasks[t].kind == "point"]
            for name in point_tasks:
                indices = tasks[name].eval_indices(store, int(i))
                if max_points:
                    indices = indices[:max_points]
                logits = decode_points(model, z[row:row + 1], store.points[indices], device, amp)[name]
                scores = _score(tasks[name], name, logits, store, int(i), indices)
                if name == "reconstruction" and i < mesh_shapes:
                    mesh = mesh_for_shape(model, z[row:row + 1], eval_cfg, device, amp)
                    scores.update(mesh_scores(mesh, store, int(i), eval_cfg))
                per_shape[name].append(scores)
    categories = [store.info.categories[int(c)].id for c in store.category[:n]]
    for name, task in tasks.items():
        result.metrics[name], result.per_category[name] = task.aggregate(per_shape[name], categories)
    return result


def _score(task: Task, name: str, logits, store: ShapeStore, i: int, indices) -> dict[str, float]:
    """task.score_shape, with a failure blamed on the task plugin by name and package."""
    try:
        return task.score_shape(logits, store, i, indices)
    except Exception as exc:
        from bench.errors import PluginContractError
        from bench.registry import TASKS

        raise PluginContractError(f"{TASKS.entry(name).label('task')} raised in score_shape on shape "
                                  f"{store.ids[i]}: {type(exc).__name__}: {exc}") from exc


def mesh_for_shape(model, z: torch.Tensor, eval_cfg: EvalConfig, device: torch.device, amp: bool = False):
    """The reconstruction decoder's mesh for one latent (1, D), by MISE."""

    def query(points: np.ndarray) -> np.ndarray:
        return decode_points(model, z, points, device, amp)["reconstruction"][:, 0]

    return extract_mise(query, eval_cfg.mise_resolution, eval_cfg.mise_upsampling, eval_cfg.iou_threshold).mesh


def mesh_scores(mesh, store: ShapeStore, i: int, eval_cfg: EvalConfig) -> dict[str, float]:
    pred, pred_n = sample_mesh(mesh, eval_cfg.n_surface_samples, seed=i)
    sl = store.surf(i)
    gt, gt_n = store.surface[sl].astype(np.float32), store.normals[sl].astype(np.float32)
    m = surface_metrics(pred, pred_n, gt, gt_n, tau=eval_cfg.fscore_tau * 1.0)  # box side is 1 (unit cube)
    return {k: m[k] for k in ("chamfer_l1", "normal_consistency", "fscore")}
