"""Assembling a run: encoder, dataset, tasks and the multi-task model, the same way for training,
restoring a finished run and exporting it; and loading the splits the run needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.config import BenchConfig
from bench.contracts import Task
from bench.data.dataset import ShapeStore, open_dataset
from bench.data.format import DatasetInfo
from bench.models import MultiTaskModel, create_encoder, create_tasks
from bench.training import distributed as D
from bench.training.checkpoint import load_checkpoint
from bench.training.frozen import FrozenSource, load_source


@dataclass
class BuiltRun:
    cfg: BenchConfig
    info: DatasetInfo
    tasks: dict[str, Task]
    model: MultiTaskModel
    modality: str

    def store_options(self) -> dict[str, Any]:
        """What ``ShapeStore.load`` must read for these tasks and this encoder's modality."""
        image = self.modality == "image"
        return dict(with_parts=any(t.needs_parts for t in self.tasks.values()), with_voxels=self.modality == "voxels",
                    on_bad_shape=self.cfg.data.on_bad_shape, n_views=self.cfg.data.views if image else -1)

    def load_split(self, split: str, max_shapes: int = 0, progress: bool = False, **options: Any) -> ShapeStore:
        """``options`` override ``store_options`` (e.g. ``with_parts=True`` to read true parts anyway)."""
        return ShapeStore.load(self.info, split, max_shapes=max_shapes, progress=progress,
                               **{**self.store_options(), **options})


def build_run(cfg: BenchConfig, task_names: list[str] | tuple[str, ...], frozen_from: Path | None = None,
              progress: bool = False, ctx: D.DistContext = D.SINGLE, weights: FrozenSource | None = None) -> BuiltRun:
    """The model of a run on CPU; ``frozen_from``: a finished run's model.pt whose encoder is loaded and frozen;
    ``weights``: a frozen encoder's weights from outside the suite (bench/training/frozen.py), loaded and frozen.

    Under DDP rank 0 prepares (generates) the dataset first; the other ranks then read its cache.
    """
    m = cfg.model
    encoder = create_encoder(m.encoder, m.latent_dim, cfg.encoder_kwargs.get(m.encoder, {}))
    if not ctx.main:
        D.barrier(ctx)
    info = open_dataset(cfg.data, progress=progress and ctx.main, with_views=encoder.modality == "image")
    if ctx.main:
        D.barrier(ctx)
    tasks = create_tasks(task_names, info, cfg)
    if frozen_from is not None:
        encoder.load_state_dict(load_checkpoint(frozen_from)["encoder"], strict=True)
    elif weights is not None:
        load_source(encoder, weights, f"encoder {m.encoder}")
    model = MultiTaskModel(encoder, tasks, cfg, frozen_encoder=frozen_from is not None or weights is not None)
    return BuiltRun(cfg, info, tasks, model, encoder.modality)
