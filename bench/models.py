"""Building models from the registries: encoders (contract-checked), tasks, and the multi-task model."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.config import BenchConfig
from bench.contracts import MODALITIES, Task
from bench.data.format import DatasetInfo
from bench.errors import ConfigError, PluginContractError, PluginLoadError
from bench.heads import PointHeads
from bench.registry import ENCODERS, TASKS


def create_encoder(name: str, latent_dim: int, kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Build an encoder plugin and check the static part of its contract (see `bench check-encoder`)."""
    entry = ENCODERS.entry(name)
    factory = ENCODERS.load(name)
    where = entry.label("encoder")
    try:
        encoder = factory(latent_dim=latent_dim, **(kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"{where}: could not be built with latent_dim={latent_dim} and {kwargs or {}}: {exc}. "
                          f"Check [encoder_kwargs.{entry.name}] in bench.toml.") from exc
    except Exception as exc:
        raise PluginLoadError(f"{where}: raised while being built: {type(exc).__name__}: {exc}") from exc
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
    tasks = {}
    for name in names:
        cls = TASKS.load(name)
        task = cls(info, cfg.eval)
        if not isinstance(task, Task):
            raise PluginContractError(f"{TASKS.entry(name).label('task')} must subclass "
                                      "bench.contracts.Task.")
        if task.needs_parts and not info.has_parts:
            raise ConfigError(f"task '{name}' needs part labels, and dataset {info.name} has none. "
                              "Use a dataset with parts (synthetic, shapenetpart) or drop the task.")
        tasks[name] = task
    return tasks


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
        self.shape_heads = nn.ModuleDict({n: t.build_head(latent, m) for n, t in tasks.items() if t.kind == "shape"})
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

    def heads(self, z: torch.Tensor, points: torch.Tensor | None) -> dict[str, torch.Tensor]:
        out = {n: head(z) for n, head in self.shape_heads.items()}
        if self.point_heads is not None and points is not None:
            out.update(self.point_heads(points, z))
        return out

    def forward(self, inputs: torch.Tensor, points: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        return self.heads(self.encode(inputs), points)
