"""The probes that train a bench task's own head on frozen, cached latents: ``reconstruction`` and
``segmentation`` (the config's point decoder) and ``mlp`` (the classification task's MLP head).

No encoder runs: the model is bench's own ``MultiTaskModel`` around a ``LatentTable``, an "encoder" whose
input IS the cached latent ((B, D) -> (B, D), the identity), frozen. Its heads train with a small loop of
their own (Adam, the battery's steps; each task's own ``loss``) on batches of ``ShapeDataset.batch`` whose
``inputs`` are the cached latents of one random input draw per shape, and are scored by bench's own
``evaluate`` on the test latents of draw 0. Float32 throughout.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.config import BenchConfig
from bench.contracts import Task
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.errors import TrainingError
from bench.evaluation.evaluator import Evaluation, evaluate
from bench.evaluation.predictor import Predictor
from bench.models import MultiTaskModel


class LatentTable(nn.Module):
    """An encoder whose input is already the latent: (B, D) -> (B, D), unchanged. It stands in for the frozen
    encoder so that bench's model, training and evaluation run on cached latents."""

    def __init__(self, latent_dim: int, modality: str = "pointcloud"):
        super().__init__()
        self.latent_dim = latent_dim
        self.modality = modality

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z


@dataclass
class HeadTraining:
    """How a probe's heads trained: steps, first and last loss, seconds."""

    steps: int
    first_loss: float | None = None
    last_loss: float | None = None
    seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)  # each task's last loss

    def to_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "first_loss": self.first_loss, "last_loss": self.last_loss,
                "seconds": round(self.seconds, 2), "losses": self.losses}


def latent_model(tasks: dict[str, Task], cfg: BenchConfig, latent_dim: int, modality: str, seed: int) -> MultiTaskModel:
    """The heads of ``tasks`` on a frozen LatentTable, initialised from ``seed``."""
    torch.manual_seed(seed)
    return MultiTaskModel(LatentTable(latent_dim, modality), tasks, cfg, frozen_encoder=True)


def latent_batches(latents: np.ndarray, store: ShapeStore, cfg: BenchConfig, batch_size: int,
                   seed: tuple[int, ...], with_points: bool) -> Callable[[int], dict[str, torch.Tensor]]:
    """``batch(step)``: a training batch of ``batch_size`` random train shapes, drawn from
    ``default_rng([*seed, step])`` (so it depends on the step alone), with ``inputs`` (B, D) the cached latents
    of a random draw per shape. ``latents``: (K, S, D). ``with_points``: add points (B, M, 3), occ and part
    from ``ShapeDataset.batch``; else only the category."""
    dataset = ShapeDataset(store, cfg.data) if with_points else None
    draws, shapes = latents.shape[:2]

    def batch(step: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([*seed, step])
        idx = rng.integers(0, shapes, batch_size)
        draw = rng.integers(0, draws, batch_size)
        out = dataset.batch(idx, rng) if dataset is not None else {"category": torch.from_numpy(store.category[idx])}
        out["inputs"] = torch.from_numpy(np.ascontiguousarray(latents[draw, idx]))
        return out

    return batch


def train_heads(model: MultiTaskModel, tasks: dict[str, Task], batch: Callable[[int], dict[str, torch.Tensor]],
                steps: int, lr: float, schedule: str, device: torch.device, label: str,
                progress: bool = True) -> HeadTraining:
    """Train the heads of ``model`` for ``steps`` Adam steps on the sum of the tasks' own losses."""
    from bench.progress import progress_bar
    from bench.training.loop import lr_lambda

    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(schedule, steps))
    record = HeadTraining(steps=steps)
    t0 = time.time()
    with progress_bar(label, steps, enabled=progress) as advance:
        for step in range(steps):
            b = {k: v.to(device) for k, v in batch(step).items()}
            out = model(b["inputs"], b.get("points"))
            losses = {t: task.loss(out[t].float(), b) for t, task in tasks.items()}
            loss = sum(losses.values())
            if not bool(torch.isfinite(loss)):
                detail = ", ".join(f"{t} {v.item():.4g}" for t, v in losses.items())
                raise TrainingError(f"[{label}] loss became {loss.item()} at step {step} ({detail}). The cached "
                                    "latents are finite (they were checked), so look at their scale: an encoder "
                                    "whose latents are very large makes the heads diverge.")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            value = float(loss.item())
            record.first_loss = value if record.first_loss is None else record.first_loss
            record.last_loss = value
            advance(1, loss=value)
    record.losses = {t: float(v.item()) for t, v in losses.items()} if steps else {}
    record.seconds = time.time() - t0
    model.eval()
    return record


def evaluate_heads(model: MultiTaskModel, tasks: dict[str, Task], store: ShapeStore, cfg: BenchConfig,
                   test_latents: np.ndarray, device: torch.device, encoder_name: str | None,
                   mesh_indices: Collection[int] = (), n_bootstrap: int = 0) -> Evaluation:
    """bench's own ``evaluate`` of the heads on the test shapes, from their draw-0 latents (S, D)."""
    predictor = Predictor(model, device, False, encoder_name)
    z = np.ascontiguousarray(test_latents, dtype=np.float32)
    return evaluate(predictor, tasks, store, cfg.data, input_fn=lambda idx: torch.from_numpy(z[idx]),
                    mesh_indices=mesh_indices, n_bootstrap=n_bootstrap)


def decoder_probe(probe: str, index: int, cfg: BenchConfig, spec, info, train_store: ShapeStore,
                  test_store: ShapeStore, train_latents: np.ndarray, test_latents: np.ndarray, device: torch.device,
                  encoder_name: str, modality: str = "pointcloud", progress: bool = True):
    """One of the probes that train a task's head (``DECODER_PROBES``: reconstruction, segmentation, mlp) on
    the (K, S, D) train latents, scored on the test latents of draw 0; ``index``: the probe's place in the
    battery, which seeds its heads and batches. Segmentation on a dataset without parts is skipped, with
    the reason."""
    from bench.data.sampling import stratified_sample
    from bench.models import create_tasks
    from bench.probe.battery import DECODER_PROBES
    from bench.probe.outcome import ProbeOutcome
    from bench.results import metric_directions

    task_name = DECODER_PROBES[probe]
    t0 = time.time()
    tasks = create_tasks([task_name], info, cfg) if not (task_name == "segmentation" and not info.has_parts) else None
    if tasks is None:
        return ProbeOutcome(probe, status="skipped", reason=f"dataset {info.name} has no part labels")
    task = tasks[task_name]
    shape_head = task.kind == "shape"
    steps, batch_size, lr, schedule = ((spec.mlp_steps, spec.mlp_batch, spec.mlp_lr, spec.mlp_schedule) if shape_head
                                       else (spec.decoder_steps, spec.decoder_batch, spec.decoder_lr,
                                             spec.decoder_schedule))
    model = latent_model(tasks, cfg, train_latents.shape[-1], modality, spec.seed + 1000 * index)
    batches = latent_batches(train_latents, train_store, cfg, batch_size, (spec.seed, index),
                             with_points=not shape_head)
    training = train_heads(model, tasks, batches, steps, lr, schedule, device, f"probe {probe}", progress)
    meshed = (stratified_sample(test_store.category, cfg.eval.mesh_shapes)
              if task.scores_mesh and cfg.eval.eval_mesh else [])
    ev = evaluate_heads(model, tasks, test_store, cfg, test_latents[0], device, encoder_name, meshed, spec.n_bootstrap)
    task_info = task.metric_info()
    conventions = {**task.conventions(), "task": task_name, "latents": f"train: {train_latents.shape[0]} draws, "
                   "one at random per shape and step; test: draw 0", "steps": steps, "batch": batch_size, "lr": lr,
                   "schedule": schedule, "selection": "the weights after the last step",
                   "decoder": None if shape_head else {"name": cfg.model.decoder, "hidden": cfg.model.decoder_hidden,
                                                       "blocks": cfg.model.decoder_blocks},
                   "meshed_shapes": len(meshed)}
    metric_info = {**task_info, "directions": metric_directions(task_info), "conventions": conventions}
    rows = [{"shape": r["shape"], "category": r["category"], **r[task_name]} for r in ev.rows]
    return ProbeOutcome(probe, metrics=ev.metrics[task_name], per_category=ev.per_category[task_name],
                        intervals=ev.intervals.get(task_name, {}), metric_info=metric_info, rows=rows,
                        seconds=time.time() - t0, training=training.to_dict())
