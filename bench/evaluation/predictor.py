"""Inference with a trained multi-task model, in one object.

``Predictor(model, device, precision)`` holds what inference needs: the model (``bench.models.MultiTaskModel``),
the device it runs on, whether to autocast to bfloat16 (a ``bench.training.precision.Precision`` or a bool)
and, for its messages, the encoder plugin's name. Its methods encode inputs to latents, give the shape
heads' logits, decode point logits at query points (in chunks) and mesh a task's occupancy field (MISE, with
the task's own eval config). Evaluation, validation in the training loop, `bench export` and the report
card's renders all infer through it.

What comes out is checked: NaN/inf latents or logits raise a PluginContractError naming the plugin that
made them (the encoder, the decoder), because NaN would otherwise come out of the metrics as finite, wrong
numbers (a NaN logit thresholds to "empty", argmax picks class 0). Every method runs under
``torch.no_grad``; the caller puts the model in eval mode (``evaluate`` does).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol, Union

import numpy as np
import torch

from bench.config import EvalConfig
from bench.contracts import Task
from bench.errors import PluginContractError
from bench.evaluation.mesh import extract_mise

POINT_CHUNK = 16384  # decoder activations of 16k points stay in L3 on CPU (docs/performance.md)


class _HasBf16(Protocol):
    bf16: bool


PrecisionLike = Union[bool, _HasBf16]
"""``bench.training.precision.Precision`` (what a run resolved ``train.amp`` to), or its ``bf16`` flag."""


def mesh_config(name: str, task: Task) -> EvalConfig:
    """The eval config ``task`` is meshed with: its own (``task.eval_cfg``), the one its IoU threshold comes
    from, so that its mesh and its IoU share one threshold."""
    own = getattr(task, "eval_cfg", None)
    if own is None:
        raise ValueError(f"task '{name}' has no eval config to mesh with")
    return own


@dataclass
class Predictor:
    """Inference with ``model`` on ``device``; ``precision``: a Precision, or True for bfloat16 autocast
    (the caller decides where it is supported: bench.training.precision); ``encoder_name``: the encoder
    plugin's name, named when its latents are not finite (None: the encoder's class is named instead)."""

    model: torch.nn.Module
    device: torch.device
    precision: PrecisionLike = False
    encoder_name: str | None = None

    def __post_init__(self):
        self.device = torch.device(self.device)

    @property
    def bf16(self) -> bool:
        """Whether inference autocasts to bfloat16."""
        return bool(getattr(self.precision, "bf16", self.precision))

    @property
    def modality(self) -> str:
        """The encoder's input modality: pointcloud | image | voxels."""
        return self.model.encoder.modality

    def autocast(self) -> torch.autocast:
        """The autocast context of this predictor (bfloat16 on ``device``, or disabled)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    @torch.no_grad()
    def encode(self, inputs: torch.Tensor, shapes: Sequence[str] | None = None, split: str | None = None) -> torch.Tensor:
        """(B, ...) encoder inputs (``ShapeDataset.inputs``: (B, N, 3) | (B, R, R, R) | (B, 3, H, W)) -> (B, D)
        float32 latents on ``device``, encoded under ``autocast()``. NaN/inf latents raise a
        PluginContractError naming the encoder plugin and, when given, the ``shapes`` (B ids) of ``split``."""
        with self.autocast():
            z = self.model.encode(inputs.to(self.device))
        self._check_latents(z, shapes, split)
        return z.float()

    @torch.no_grad()
    def shape_logits(self, z: torch.Tensor, tasks: Collection[str]) -> dict[str, np.ndarray]:
        """(B, D) latents -> {shape task among ``tasks``: (B, C) float32 logits}, from the tasks' own heads
        (built by the task plugins), under ``autocast()``. Tasks without a shape head are left out."""
        with self.autocast():
            return {t: v.float().cpu().numpy() for t, v in self.model.shape_outputs(z, only=tasks).items()}

    @torch.no_grad()
    def decode(self, z: torch.Tensor, points: np.ndarray, only: Collection[str] | None = None,
               rotation: np.ndarray | None = None, shape: str | None = None,
               split: str | None = None) -> dict[str, np.ndarray]:
        """One latent z (1, D) and (P, 3) points -> {point task: (P, C) float32 logits} (P may be 0), decoded in
        chunks of POINT_CHUNK points under ``autocast()``. ``only``: the tasks wanted (the parallel layout
        then runs their decoders alone; the joint one gives every task). ``rotation``: a (3, 3) R, the points
        are decoded at ``R @ p`` (the model saw the shape rotated by R). NaN/inf logits raise a
        PluginContractError naming the decoder plugin and, when given, the ``shape`` of ``split``."""
        heads = self.model.point_heads
        outs: dict[str, list[np.ndarray]] = {t: [np.zeros((0, c), np.float32)] for t, c in heads.channels.items()
                                             if only is None or t in only}
        for start in range(0, len(points), POINT_CHUNK):
            chunk = points[start:start + POINT_CHUNK]
            if rotation is not None:
                chunk = chunk.astype(np.float32) @ np.asarray(rotation, np.float32).T
            p = torch.from_numpy(np.ascontiguousarray(chunk, dtype=np.float32))
            with self.autocast():
                res = heads(p.to(self.device).unsqueeze(0), z, only=only)
            for task, logits in res.items():
                outs.setdefault(task, []).append(logits[0].float().cpu().numpy())
        decoded = {t: np.concatenate(v) for t, v in outs.items()}
        for task, logits in decoded.items():
            self._check_logits(logits, task, shape, split)
        return decoded

    def mesh(self, task_name: str, task: Task, z: torch.Tensor, rotation: np.ndarray | None = None,
             shape: str | None = None, split: str | None = None):
        """The trimesh.Trimesh of a ``scores_mesh`` task's occupancy field for one latent z (1, D), extracted by
        MISE with the task's own eval config (``mesh_config``: mise_resolution, mise_upsampling,
        iou_threshold). ``rotation``: the MISE grid's points p are decoded at ``R @ p``, so the mesh is in the
        frame of the unrotated shape. Empty (no faces) when the field has no surface at the threshold."""
        cfg = mesh_config(task_name, task)

        def query(points: np.ndarray) -> np.ndarray:
            logits = self.decode(z, points, only=(task_name,), rotation=rotation, shape=shape, split=split)
            return task.occupancy_logits(logits[task_name])

        return extract_mise(query, cfg.mise_resolution, cfg.mise_upsampling, cfg.iou_threshold).mesh

    # --- checks ------------------------------------------------------------------------------------------

    def encoder_label(self) -> str:
        """The encoder plugin's label, or, without its name, its class (that says where to look)."""
        if self.encoder_name is None:
            cls = type(self.model.encoder)
            return f"encoder {cls.__module__}:{cls.__qualname__}"
        from bench.registry import ENCODERS

        return ENCODERS.entry(self.encoder_name).label("encoder")

    def decoder_label(self) -> str:
        from bench.registry import DECODERS

        return DECODERS.entry(self.model.point_heads.decoder_name).label("decoder")

    def _check_latents(self, z: torch.Tensor, shapes: Sequence[str] | None, split: str | None) -> None:
        bad = ~torch.isfinite(z.detach()).reshape(len(z), -1).all(1)
        if not bool(bad.any()):
            return
        n_bad = int(bad.sum())
        if shapes is not None:
            first = list(shapes)[int(np.flatnonzero(bad.cpu().numpy())[0])]
            where = f"{n_bad} of {len(z)} shapes{_of_split(split)} (first: {first})"
        else:
            where = f"{n_bad} of {len(z)} inputs"
        hint = f" or run `bench check-encoder {self.encoder_name}`" if self.encoder_name else ""
        raise PluginContractError(
            f"{self.encoder_label()} returned NaN/inf latents in eval mode for {where}; no metrics are computed "
            f"from them. Check what the encoder does when not self.training (batch-norm running statistics, "
            f"dropout, eval-only branches){hint}.")

    def _check_logits(self, logits: np.ndarray, task: str, shape: str | None, split: str | None) -> None:
        if not np.isfinite(logits).all():
            on = f" on shape {shape}{_of_split(split, brackets=True)}" if shape is not None else ""
            raise PluginContractError(f"{self.decoder_label()} returned NaN/inf {task} logits in eval mode{on} "
                                      "from a finite latent; no metrics are computed from them.")


def _of_split(split: str | None, brackets: bool = False) -> str:
    if split is None:
        return ""
    return f" (split '{split}')" if brackets else f" of split '{split}'"
