"""Rebuild a finished run's model from its result.json and model.pt (for export and re-evaluation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from bench.config import BenchConfig
from bench.data.format import DatasetInfo
from bench.errors import ResultError
from bench.results import RESULT_FILE, RunResult, read_result
from bench.training.checkpoint import MODEL, load_checkpoint


@dataclass
class RestoredRun:
    result: RunResult
    cfg: BenchConfig
    model: torch.nn.Module
    tasks: dict
    info: DatasetInfo
    modality: str


def config_of(result: RunResult) -> BenchConfig:
    sections = dict(result.config.get("all_sections", {}))
    enc = sections.get("model", {}).get("encoder", "")
    return BenchConfig().with_overrides(
        {**sections, "encoder_kwargs": {enc: result.config.get("encoder_kwargs", {})}}, f"{result.run_name} result.json")


def restore_run(run_dir: Path, progress: bool = False) -> RestoredRun:
    from bench.data.dataset import open_dataset
    from bench.models import MultiTaskModel, create_encoder, create_tasks

    run_dir = Path(run_dir)
    result = read_result(run_dir / RESULT_FILE)
    if result.status != "complete" or not (run_dir / MODEL).is_file():
        raise ResultError(f"{run_dir}: the run did not finish (status {result.status}); nothing to restore.")
    cfg = config_of(result)
    image = result.encoder.get("modality") == "image"
    info = open_dataset(cfg.data, progress=progress, with_views=image)
    if info.revision != result.dataset.get("revision"):
        raise ResultError(f"{run_dir}: trained on dataset revision {result.dataset.get('revision')}, but "
                          f"{info.name} is now at {info.revision}.")
    tasks = create_tasks(result.tasks, info, cfg)
    encoder = create_encoder(cfg.model.encoder, cfg.model.latent_dim, cfg.encoder_kwargs.get(cfg.model.encoder, {}))
    model = MultiTaskModel(encoder, tasks, cfg)
    model.load_state_dict(load_checkpoint(run_dir / MODEL)["model"])
    return RestoredRun(result, cfg, model.eval(), tasks, info, encoder.modality)
