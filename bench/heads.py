"""The point tasks' decoders in the paper's two layouts, built from the decoder registry.

``parallel``: one decoder per point task (the paper's Fig. 2); ``joint``: one decoder whose output
channels are sliced between the point tasks, in the order the run lists them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.blame import build_plugin
from bench.errors import ConfigError, PluginContractError
from bench.registry import DECODERS


def create_decoder(name: str, latent_dim: int, out_channels: int, hidden: int, blocks: int,
                   kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Build a decoder plugin: ``(B, M, 3) points, (B, D) latent -> (B, M, out_channels)``."""
    entry = DECODERS.entry(name)
    factory = DECODERS.load(name)
    where = entry.label("decoder")
    decoder = build_plugin(
        where, lambda: factory(latent_dim=latent_dim, out_channels=out_channels, hidden=hidden, blocks=blocks,
                               **(kwargs or {})),
        given=f"latent_dim={latent_dim}, out_channels={out_channels}, hidden={hidden}, blocks={blocks} and {kwargs or {}}",
        fix=f"Check [decoder_kwargs.{entry.name}] in bench.toml.")
    if not isinstance(decoder, nn.Module):
        raise PluginContractError(f"{where}: must build a torch.nn.Module, got {type(decoder).__name__}.")
    return decoder


def module_key(task: str) -> str:
    """A task's key in a torch ModuleDict of heads: its name, with '.' and ':' replaced by '_' (torch refuses a
    '.' in a module name, and a task given as ``module:attr`` has them). A registered name has neither, so
    its key, and the state-dict keys of checkpoints, are the name itself."""
    return task.replace(".", "_").replace(":", "_")


def module_keys(tasks: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Task -> ``module_key(task)``, in the order given; two tasks whose keys coincide are a ConfigError."""
    keys: dict[str, str] = {}
    for task in tasks:
        key = module_key(task)
        clash = next((t for t, k in keys.items() if k == key), None)
        if clash is not None:
            raise ConfigError(f"tasks '{clash}' and '{task}' would share the module name '{key}' in the model "
                              "('.' and ':' become '_'); rename one of them.")
        keys[task] = key
    return keys


class PointHeads(nn.Module):
    """forward: (B, M, 3), (B, D) -> {task: (B, M, C_task)}; ``only`` restricts the parallel layout to
    the decoders of some tasks (meshing one task's field need not run the others)."""

    def __init__(self, channels: dict[str, int], latent_dim: int, layout: str = "parallel", decoder: str = "cbn",
                 hidden: int = 256, blocks: int = 5, decoder_kwargs: dict[str, Any] | None = None):
        super().__init__()
        self.layout, self.channels, self.decoder_name = layout, dict(channels), decoder
        self.task_keys = module_keys(list(channels))
        """Point task -> its key in ``decoders`` (parallel layout; ``module_keys``)."""

        def build(c: int) -> nn.Module:
            return create_decoder(decoder, latent_dim, c, hidden, blocks, decoder_kwargs)

        if layout == "joint":
            self.decoders = nn.ModuleDict({"joint": build(sum(channels.values()))})
        else:
            self.decoders = nn.ModuleDict({self.task_keys[t]: build(c) for t, c in channels.items()})

    def forward(self, points: torch.Tensor, z: torch.Tensor, only: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        if self.layout == "parallel":
            return {t: self.decoders[k](points, z) for t, k in self.task_keys.items() if only is None or t in only}
        out = self.decoders["joint"](points, z)
        expected = (*points.shape[:2], sum(self.channels.values()))
        if tuple(out.shape) != expected:  # slicing a wrong-sized output would silently mislabel channels
            raise PluginContractError(f"{DECODERS.entry(self.decoder_name).label('decoder')} gave {tuple(out.shape)} "
                                      f"on points {tuple(points.shape)}; the joint layout needs (B, M, C) = {expected}.")
        sliced, start = {}, 0
        for task, c in self.channels.items():
            sliced[task] = out[..., start:start + c]
            start += c
        return sliced

    def check_output(self, out: dict[str, torch.Tensor], points: torch.Tensor) -> None:
        """The decoder contract on one forward: each task gets (B, M, C_task) logits."""
        for task, c in self.channels.items():
            got = out[task] if task in out else None
            expected = (*points.shape[:2], c)
            if not isinstance(got, torch.Tensor) or tuple(got.shape) != expected:
                shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
                raise PluginContractError(
                    f"{DECODERS.entry(self.decoder_name).label('decoder')} gave {shape} for task '{task}' on "
                    f"points {tuple(points.shape)}; the contract is (B, M, C) = {expected}.")
