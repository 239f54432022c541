"""Evaluate a trained multi-task model on a split: one row of scores per shape, from each task.

Per shape, all point heads are decoded once, on the union of the points the point tasks are scored on;
each task then scores its own slice. Tasks that score meshes (``Task.scores_mesh``) get the mesh of
their occupancy field, extracted by MISE. Input corruption at evaluation time is drawn from a fixed
seed, so two evaluations of the same model give the same numbers. Non-finite latents or logits stop the
evaluation naming the plugin that made them: NaN would otherwise come out of the metrics as finite,
wrong numbers (a NaN logit thresholds to "empty", argmax picks class 0).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from bench.config import DataConfig, EvalConfig
from bench.contracts import Task
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.errors import PluginContractError
from bench.evaluation.aggregate import aggregate
from bench.evaluation.mesh import extract_mise

POINT_CHUNK = 16384  # decoder activations of 16k points stay in L3 on CPU (docs/performance.md)
EVAL_SEED = 12345  # input corruption of evaluation and export: fixed, so evaluations are repeatable
EVAL_BATCH = 16  # shapes encoded at once


@dataclass
class Evaluation:
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One per shape: ``{"shape": id, "category": id, task: {metric: value}}``."""
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_category: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    intervals: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    """95 % bootstrap interval over shapes of each metric and category mean: ``[low, high]``."""


@torch.no_grad()
def decode_points(model, z: torch.Tensor, points: np.ndarray, device: torch.device, amp: bool = False,
                  only: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """One latent (1, D), (P, 3) points -> {point task: (P, C) logits}, in chunks (P may be 0)."""
    heads = model.point_heads
    outs: dict[str, list[np.ndarray]] = {t: [np.zeros((0, c), np.float32)] for t, c in heads.channels.items()
                                         if only is None or t in only}
    for start in range(0, len(points), POINT_CHUNK):
        p = torch.from_numpy(np.ascontiguousarray(points[start:start + POINT_CHUNK], dtype=np.float32))
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            res = heads(p.to(device).unsqueeze(0), z, only=only)
        for task, logits in res.items():
            outs.setdefault(task, []).append(logits[0].float().cpu().numpy())
    return {t: np.concatenate(v) for t, v in outs.items()}


def mesh_for_task(model, name: str, task: Task, z: torch.Tensor, eval_cfg: EvalConfig, device: torch.device,
                  amp: bool = False):
    """The mesh of a ``scores_mesh`` task's occupancy field for one latent (1, D), by MISE."""

    def query(points: np.ndarray) -> np.ndarray:
        return task.occupancy_logits(decode_points(model, z, points, device, amp, only=(name,))[name])

    return extract_mise(query, eval_cfg.mise_resolution, eval_cfg.mise_upsampling, eval_cfg.iou_threshold).mesh


def _encoder_label(model, encoder_name: str | None) -> str:
    if encoder_name is None:  # a caller that does not know the plugin name: the class says where to look
        cls = type(model.encoder)
        return f"encoder {cls.__module__}:{cls.__qualname__}"
    from bench.registry import ENCODERS

    return ENCODERS.entry(encoder_name).label("encoder")


def check_latents(model, z: torch.Tensor, encoder_name: str | None, store: ShapeStore, idx: np.ndarray) -> None:
    """Latents of the shapes ``idx`` must be finite; NaN/inf stops the evaluation naming the encoder plugin."""
    bad = ~torch.isfinite(z.detach()).reshape(len(z), -1).all(1)
    if not bool(bad.any()):
        return
    shapes = [store.ids[i] for i in idx[bad.cpu().numpy()]]
    hint = f" or run `bench check-encoder {encoder_name}`" if encoder_name else ""
    raise PluginContractError(
        f"{_encoder_label(model, encoder_name)} returned NaN/inf latents in eval mode for {len(shapes)} of {len(idx)} "
        f"shapes of split '{store.split}' (first: {shapes[0]}); no metrics are computed from them. Check what the "
        f"encoder does when not self.training (batch-norm running statistics, dropout, eval-only branches){hint}.")


def check_logits(logits: np.ndarray, label: Callable[[], str], task: str, store: ShapeStore, i: int) -> None:
    """Logits of one task on shape i must be finite; ``label()`` names the plugin that made them (looked up
    only on failure)."""
    if not np.isfinite(logits).all():
        raise PluginContractError(f"{label()} returned NaN/inf {task} logits in eval mode on shape {store.ids[i]} "
                                  f"(split '{store.split}') from a finite latent; no metrics are computed from them.")


def _score_points(model, tasks: dict[str, Task], z: torch.Tensor, store: ShapeStore, i: int, device,
                  amp: bool) -> dict[str, dict[str, Any]]:
    """Every point task's scores of shape i from one decoding of the union of their points."""
    indices = {name: np.asarray(_plugin_call(name, "eval_indices", store, i, task.eval_indices, store, i), np.int64)
               for name, task in tasks.items()}
    union = np.unique(np.concatenate(list(indices.values())))
    logits = decode_points(model, z, store.points[union], device, amp)
    for name in tasks:
        check_logits(logits[name], lambda: _decoder_label(model), name, store, i)
    return {name: _plugin_call(name, "score_shape", store, i, task.score_shape,
                               logits[name][np.searchsorted(union, indices[name])], store, i, indices[name])
            for name, task in tasks.items()}


@torch.no_grad()
def evaluate(
    model, tasks: dict[str, Task], store: ShapeStore, data_cfg: DataConfig, eval_cfg: EvalConfig,
    device: torch.device, modality: str = "pointcloud", mesh_indices: Collection[int] = (), amp: bool = False,
    seed: int = EVAL_SEED, n_bootstrap: int = 0, encoder_name: str | None = None,
) -> Evaluation:
    """Scores of ``tasks`` on every shape of ``store``; shapes in ``mesh_indices`` are also meshed for
    ``scores_mesh`` tasks. ``amp``: bfloat16 autocast (the caller decides where it is supported).
    ``n_bootstrap`` > 0 adds 95 % bootstrap intervals over shapes. ``encoder_name``: the encoder plugin,
    named when its latents are not finite (PluginContractError)."""
    model.eval()
    n = len(store)
    dataset = ShapeDataset(store, data_cfg, modality, seed=seed)
    point_tasks = {t: task for t, task in tasks.items() if task.kind == "point"}
    mesh_tasks = {t: task for t, task in point_tasks.items() if task.scores_mesh}
    meshed = set(mesh_indices)
    rows: list[dict[str, Any]] = []
    rng = np.random.default_rng(seed)
    for start in range(0, n, EVAL_BATCH):
        idx = np.arange(start, min(n, start + EVAL_BATCH))
        batch = dataset.batch(idx, rng, n_query=1)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            z = model.encode(batch["inputs"].to(device))
            check_latents(model, z, encoder_name, store, idx)
            shape_logits = {t: h(z).float().cpu().numpy() for t, h in model.shape_heads.items() if t in tasks}
        z = z.float()
        for row, i in enumerate(idx.tolist()):
            for name, logits in shape_logits.items():  # shape heads are built by their task plugin
                check_logits(logits[row], lambda t=name: _task_label(t), name, store, i)
            scores = {name: _plugin_call(name, "score_shape", store, i, tasks[name].score_shape, logits[row], store, i, None)
                      for name, logits in shape_logits.items()}
            if point_tasks:
                scores.update(_score_points(model, point_tasks, z[row:row + 1], store, i, device, amp))
            if i in meshed:
                for name, task in mesh_tasks.items():
                    mesh = mesh_for_task(model, name, task, z[row:row + 1], eval_cfg, device, amp)
                    scores[name].update(_plugin_call(name, "score_mesh", store, i, task.score_mesh, mesh, store, i))
            rows.append({"shape": store.ids[i], "category": store.info.categories[int(store.category[i])].id,
                         **{t: scores[t] for t in tasks}})
    metrics, per_category, intervals = aggregate(rows, list(tasks), n_bootstrap)
    return Evaluation(rows, metrics, per_category, intervals)


def _decoder_label(model) -> str:
    from bench.registry import DECODERS

    return DECODERS.entry(model.point_heads.decoder_name).label("decoder")


def _task_label(name: str) -> str:
    from bench.registry import TASKS

    return TASKS.entry(name).label("task")


def _plugin_call(name: str, method: str, store: ShapeStore, i: int, fn, *args):
    """A task method, with a failure blamed on the task plugin by name and package."""
    try:
        return fn(*args)
    except Exception as exc:
        raise PluginContractError(f"{_task_label(name)} raised in {method} on shape "
                                  f"{store.ids[i]}: {type(exc).__name__}: {exc}") from exc
