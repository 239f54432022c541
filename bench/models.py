"""Building models from the registries: encoders (contract-checked), tasks, and the multi-task model."""

from __future__ import annotations

import inspect
from collections.abc import Collection
from typing import Any

import torch
from torch import nn

from bench.config import BenchConfig
from bench.contracts import MODALITIES, Task
from bench.data.format import DatasetInfo
from bench.blame import blame, build_plugin
from bench.errors import ConfigError, PluginContractError, PluginLoadError
from bench.heads import PointHeads, module_keys
from bench.registry import ENCODERS, TASKS
from bench.task_adapter import check_task_class, task_label


def create_encoder(name: str, latent_dim: int, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Build an encoder plugin and check the static part of its contract (see `bench check-encoder`)."""
    entry = ENCODERS.entry(name)
    factory = ENCODERS.load(name)
    where = entry.label("encoder")
    encoder = build_plugin(where, lambda: factory(latent_dim=latent_dim, **(kwargs or {})),
                           given=f"latent_dim={latent_dim} and {kwargs or {}}",
                           fix=f"Check [encoder_kwargs.{entry.name}] in bench.toml.")
    if not isinstance(encoder, nn.Module):
        raise PluginContractError(f"{where}: must build a torch.nn.Module, got {type(encoder).__name__}.")
    modality = getattr(encoder, "modality", None)
    if modality not in MODALITIES:
        raise PluginContractError(f"{where}: class attribute 'modality' must be one of {', '.join(MODALITIES)}, "
                                  f"got {modality!r}.")
    if getattr(encoder, "latent_dim", None) != latent_dim:
        raise PluginContractError(f"{where}: attribute 'latent_dim' must equal the requested {latent_dim}, "
                                  f"got {getattr(encoder, 'latent_dim', None)!r}.")
    return encoder


def create_tasks(names: tuple[str, ...] | list[str], info: DatasetInfo, cfg: BenchConfig) -> dict[str, Task]:
    """The run's task plugins, each built as ``cls(info, cfg.eval, **kwargs)`` with only its own
    ``[task_kwargs.NAME]`` table as ``kwargs``; a task of contract 1 gets a DeprecationWarning."""
    tasks = {}
    for name in names:
        entry = TASKS.entry(name)
        cls = TASKS.load(name)
        where = entry.label("task")
        if isinstance(cls, type) and issubclass(cls, Task) and inspect.isabstract(cls):
            missing = ", ".join(sorted(cls.__abstractmethods__))
            raise PluginContractError(f"{where} does not implement {missing} (bench.contracts.Task).")
        kwargs = cfg.task_kwargs.get(name, {})
        task = build_plugin(where, cls, (info, cfg.eval), kwargs, given=f"(info, eval_cfg) and {kwargs}",
                            fix=f"Check [task_kwargs.{entry.name}] in bench.toml.")
        if not isinstance(task, Task):
            raise PluginContractError(f"{where} must subclass bench.contracts.Task.")
        check_task_class(type(task), where)
        if task.needs_parts and not info.has_parts:
            raise ConfigError(f"task '{name}' needs part labels, and dataset {info.name} has none. "
                              "Use a dataset with parts (synthetic, shapenetpart) or drop the task.")
        tasks[name] = task
    return tasks


def _build_head(name: str, task: Task, latent_dim: int, model_cfg) -> nn.Module:
    """A shape task's head, built by its plugin; an exception there names the task plugin."""
    with blame(lambda: task_label(name), "build_head", PluginLoadError):
        head = task.build_head(latent_dim, model_cfg)
    if not isinstance(head, nn.Module):
        raise PluginContractError(f"{task_label(name)}: build_head must return a torch.nn.Module, "
                                  f"got {type(head).__name__}.")
    return head


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class MultiTaskModel(nn.Module):
    """Encoder + point decoders (parallel or joint) + shape heads.

    forward: inputs, (B, M, 3) points -> {task: logits}; point tasks (B, M, C), shape tasks (B, C).
    With ``frozen_encoder`` the encoder stays in eval mode, has no gradients and runs under no_grad,
    so neither its weights nor its batch-norm statistics can move.
    """

    def __init__(self, encoder: nn.Module, tasks: dict[str, Task], cfg: BenchConfig, frozen_encoder: bool = False):
        super().__init__()
        m = cfg.model
        self.encoder = encoder
        self.frozen_encoder = frozen_encoder
        latent = encoder.latent_dim
        point = {n: t.out_channels() for n, t in tasks.items() if t.kind == "point"}
        self.point_heads = PointHeads(point, latent, m.layout, m.decoder, m.decoder_hidden, m.decoder_blocks,
                                      cfg.decoder_kwargs.get(m.decoder, {})) if point else None
        self.shape_keys = module_keys([n for n, t in tasks.items() if t.kind == "shape"])
        """Shape task -> its key in ``shape_heads`` (``bench.heads.module_keys``)."""
        self.shape_heads = nn.ModuleDict({key: _build_head(n, tasks[n], latent, m) for n, key in self.shape_keys.items()})
        if frozen_encoder:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode: bool = True) -> MultiTaskModel:
        super().train(mode)
        if self.frozen_encoder:
            self.encoder.eval()
        return self

    def encode(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.frozen_encoder:
            with torch.no_grad():
                return self.encoder(inputs)
        return self.encoder(inputs)

    def shape_outputs(self, z: torch.Tensor, only: Collection[str] | None = None) -> dict[str, torch.Tensor]:
        """(B, D) latents -> {shape task: (B, C) logits}, of the tasks in ``only`` if given."""
        return {n: self.shape_heads[k](z) for n, k in self.shape_keys.items() if only is None or n in only}

    def heads(self, z: torch.Tensor, points: torch.Tensor | None) -> dict[str, torch.Tensor]:
        out = self.shape_outputs(z)
        if self.point_heads is not None and points is not None:
            out.update(self.point_heads(points, z))
        return out

    def forward(self, inputs: torch.Tensor, points: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.heads(self.encode(inputs), points)
