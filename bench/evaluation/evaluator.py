"""Evaluate a trained multi-task model on a split: one row of scores per shape, from each task.

Inference goes through a ``Predictor`` (bench/evaluation/predictor.py). Shapes are encoded EVAL_BATCH at a
time, from the encoder inputs the dataset gives them (``ShapeDataset.inputs``; input corruption drawn from a
fixed seed, so two evaluations of the same model give the same numbers) or that ``input_fn`` gives them.
Per shape, all point heads are decoded once, on the union of the points the point tasks are scored on; each
task then scores its own slice (bench/task_adapter.py calls it by its task contract). Tasks that score
meshes (``Task.scores_mesh``) get the mesh of their occupancy field, extracted by MISE with the task's own
eval config, the one its IoU threshold comes from. Non-finite latents or logits stop the evaluation naming
the plugin that made them (``Predictor``).

Robustness evaluation hooks in with ``input_fn`` (the inputs the encoder gets, e.g. corrupted) and
``point_transform`` (a rotation of the shape the model saw, which the query points follow).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from bench.config import DataConfig
from bench.contracts import Task
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.errors import PluginContractError
from bench.evaluation.aggregate import aggregate
from bench.evaluation.predictor import POINT_CHUNK, Predictor, PrecisionLike, mesh_config  # noqa: F401 - re-exported
from bench.task_adapter import TaskScorer, task_label

EVAL_SEED = 12345  # input corruption of evaluation and export: fixed, so evaluations are repeatable
EVAL_BATCH = 16  # shapes encoded at once

InputFn = Callable[[np.ndarray], torch.Tensor]
"""(B,) indices of shapes of the store -> their encoder inputs, (B, ...) as ``ShapeDataset.inputs`` gives them."""
PointTransform = Callable[[int], "np.ndarray | None"]
"""The index of a shape of the store -> a (3, 3) rotation R, or None: with R, the shape's query points p
(and the MISE grid) are decoded at ``R @ p``, and scored against the ground truth of p."""


@dataclass
class Evaluation:
    rows: list[dict[str, Any]] = field(default_factory=list)
    """One per shape: ``{"shape": id, "category": id, task: {metric: value}}``."""
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    per_category: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    intervals: dict[str, dict[str, list[float | None]]] = field(default_factory=dict)
    """95 % bootstrap interval over shapes of each metric and category mean: ``[low, high]``."""
    latents: np.ndarray | None = None
    """(S, D) float32 latents of every shape of the store, in store order (``evaluate(..., keep_latents=True)``)."""


def eval_inputs(store: ShapeStore, data_cfg: DataConfig, modality: str = "pointcloud", seed: int = EVAL_SEED) -> InputFn:
    """The encoder inputs evaluation gives the shapes of ``store`` by default (``ShapeDataset.inputs``, drawn
    from one random stream of ``seed``): call it, as ``evaluate`` does, on the batches of shapes in store
    order (``np.arange`` slices of EVAL_BATCH), once each, to get the inputs of an evaluation."""
    dataset = ShapeDataset(store, data_cfg, modality, seed=seed)
    rng = np.random.default_rng(seed)
    return lambda idx: dataset.inputs(idx, rng)


def as_predictor(model, device: torch.device | str | None = None, precision: PrecisionLike = False,
                 encoder_name: str | None = None) -> Predictor:
    """``model`` if it is a Predictor (with ``encoder_name``, when given, as its encoder's name), else a
    Predictor of the model on ``device`` (default CPU) in ``precision``."""
    if isinstance(model, Predictor):
        if device is not None or precision is not False:
            raise ValueError("evaluate: a Predictor carries its device and precision; pass them to it, not here")
        return model if encoder_name is None else replace(model, encoder_name=encoder_name)
    return Predictor(model, torch.device("cpu") if device is None else device, precision, encoder_name)


@torch.no_grad()
def evaluate(
    predictor: Predictor | torch.nn.Module, tasks: dict[str, Task], store: ShapeStore, data_cfg: DataConfig,
    modality: str | None = None, *,
    mesh_indices: Collection[int] = (), seed: int = EVAL_SEED, n_bootstrap: int = 0, encoder_name: str | None = None,
    device: torch.device | str | None = None, precision: PrecisionLike = False, input_fn: InputFn | None = None,
    point_transform: PointTransform | None = None, keep_latents: bool = False,
) -> Evaluation:
    """Scores of ``tasks`` on every shape of ``store``; shapes in ``mesh_indices`` are also meshed for
    ``scores_mesh`` tasks, each with the eval config it was built with (``mesh_config``).

    ``predictor``: a Predictor, or a model, which is then run on ``device`` (default CPU) in ``precision``
    (bf16 autocast or not). ``modality``: of the default inputs (default: the encoder's). ``seed``: of the
    default inputs' corruption. ``n_bootstrap`` > 0 adds 95 % bootstrap intervals over shapes.
    ``encoder_name``: the encoder plugin, named when its latents are not finite (PluginContractError).

    ``input_fn(idx)``: the encoder inputs of the shapes ``idx`` (a (B,) int array), called once per batch of
    up to EVAL_BATCH consecutive shapes, in store order; default ``eval_inputs(store, data_cfg, modality,
    seed)``. ``point_transform(i)``: a (3, 3) rotation R for shape i, or None; with R every point a point task
    scores shape i on, and the MISE grid of its mesh, is decoded at ``R @ p`` (the model saw the shape
    rotated by R), while the ground truth stays that of p. ``keep_latents``: fill ``Evaluation.latents``."""
    predictor = as_predictor(predictor, device, precision, encoder_name)
    predictor.model.eval()
    inputs = input_fn or eval_inputs(store, data_cfg, modality or predictor.modality, seed)
    scorer = _ShapeScorer(predictor, tasks, store, set(mesh_indices), point_transform)
    rows: list[dict[str, Any]] = []
    latents: list[np.ndarray] = []
    for start in range(0, len(store), EVAL_BATCH):
        idx = np.arange(start, min(len(store), start + EVAL_BATCH))
        z = predictor.encode(_checked_inputs(inputs(idx), idx), [store.ids[i] for i in idx], store.split)
        shape_logits = predictor.shape_logits(z, tasks)
        if keep_latents:
            latents.append(z.cpu().numpy().reshape(len(idx), -1))
        for row, i in enumerate(idx.tolist()):
            rows.append(scorer.row(i, z[row:row + 1], {t: v[row] for t, v in shape_logits.items()}))
    metrics, per_category, intervals = aggregate(rows, list(tasks), n_bootstrap)
    return Evaluation(rows, metrics, per_category, intervals, np.concatenate(latents) if keep_latents else None)


def _checked_inputs(inputs: Any, idx: np.ndarray) -> torch.Tensor:
    if not isinstance(inputs, torch.Tensor) or len(inputs) != len(idx):
        got = f"shape {tuple(inputs.shape)}" if isinstance(inputs, torch.Tensor) else type(inputs).__name__
        raise ValueError(f"evaluate: input_fn gave {got} for {len(idx)} shapes; it must return a tensor with one "
                         "input per shape, (B, ...)")
    return inputs


class _ShapeScorer:
    """Every task's scores of one shape: shape tasks from their head's logits, point tasks from one decoding
    of the union of their points, mesh scores from the mesh of shapes to mesh."""

    def __init__(self, predictor: Predictor, tasks: dict[str, Task], store: ShapeStore, meshed: set[int],
                 point_transform: PointTransform | None):
        self.predictor, self.tasks, self.store, self.meshed = predictor, tasks, store, meshed
        self.point_transform = point_transform
        self.scorers = {t: TaskScorer(t, task) for t, task in tasks.items()}
        self.point_tasks = {t: self.scorers[t] for t, task in tasks.items() if task.kind == "point"}
        self.mesh_tasks = {t: task for t, task in tasks.items() if task.kind == "point" and task.scores_mesh}
        for name, task in self.mesh_tasks.items():
            mesh_config(name, task)  # a task that cannot be meshed fails before any shape is scored

    def row(self, i: int, z: torch.Tensor, shape_logits: dict[str, np.ndarray]) -> dict[str, Any]:
        """The row of shape i, from its latent z (1, D) and its shape tasks' (C,) logits."""
        store = self.store
        for name, logits in shape_logits.items():  # shape heads are built by their task plugin
            _check_shape_logits(logits, name, store, i)
        scores = {name: self.scorers[name].score_latent(logits, store, i) for name, logits in shape_logits.items()}
        rotation = self._rotation(i)
        if self.point_tasks:
            scores.update(self._score_points(i, z, rotation))
        if i in self.meshed:
            for name, task in self.mesh_tasks.items():
                mesh = self.predictor.mesh(name, task, z, rotation, shape=store.ids[i], split=store.split)
                scores[name].update(self.scorers[name].score_mesh(mesh, store, i))
        return {"shape": store.ids[i], "category": store.info.categories[int(store.category[i])].id,
                **{t: scores[t] for t in self.tasks}}

    def _score_points(self, i: int, z: torch.Tensor, rotation: np.ndarray | None) -> dict[str, dict[str, Any]]:
        """Every point task's scores of shape i from one decoding of the union of their points."""
        store = self.store
        indices = {name: scorer.eval_indices(store, i) for name, scorer in self.point_tasks.items()}
        union = np.unique(np.concatenate(list(indices.values())))
        logits = self.predictor.decode(z, store.points[union], rotation=rotation, shape=store.ids[i],
                                       split=store.split)
        return {name: scorer.score_points(logits[name][np.searchsorted(union, indices[name])], store, i, indices[name])
                for name, scorer in self.point_tasks.items()}

    def _rotation(self, i: int) -> np.ndarray | None:
        if self.point_transform is None:
            return None
        rotation = self.point_transform(i)
        if rotation is not None and np.shape(rotation) != (3, 3):
            raise ValueError(f"evaluate: point_transform({i}) gave an array of shape {np.shape(rotation)}; "
                             "expected a (3, 3) rotation or None")
        return rotation


def _check_shape_logits(logits: np.ndarray, task: str, store: ShapeStore, i: int) -> None:
    """A shape head's logits on shape i must be finite; the head is the task plugin's (looked up on failure)."""
    if not np.isfinite(logits).all():
        raise PluginContractError(f"{task_label(task)} returned NaN/inf {task} logits in eval mode on shape "
                                  f"{store.ids[i]} (split '{store.split}') from a finite latent; no metrics are "
                                  "computed from them.")
