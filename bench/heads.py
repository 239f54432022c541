"""The point tasks' decoders in the paper's two layouts, built from the decoder registry.

``parallel``: one decoder per point task (the paper's Fig. 2); ``joint``: one decoder whose output
channels are sliced between the point tasks, in the order the run lists them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.errors import ConfigError, PluginContractError, PluginLoadError
from bench.registry import DECODERS


def create_decoder(name: str, latent_dim: int, out_channels: int, hidden: int, blocks: int,
                   kwargs: dict[str, Any] | None = None) -> nn.Module:
    """Build a decoder plugin: ``(B, M, 3) points, (B, D) latent -> (B, M, out_channels)``."""
    entry = DECODERS.entry(name)
    factory = DECODERS.load(name)
    where = entry.label("decoder")
    try:
        decoder = factory(latent_dim=latent_dim, out_channels=out_channels, hidden=hidden, blocks=blocks,
                          **(kwargs or {}))
    except TypeError as exc:
        raise ConfigError(f"{where}: could not be built with latent_dim={latent_dim}, out_channels={out_channels}, "
                          f"hidden={hidden}, blocks={blocks} and {kwargs or {}}: {exc}. "
                          f"Check [decoder_kwargs.{entry.name}] in bench.toml.") from exc
    except Exception as exc:
        raise PluginLoadError(f"{where}: raised while being built: {type(exc).__name__}: {exc}") from exc
    if not isinstance(decoder, nn.Module):
        raise PluginContractError(f"{where}: must build a torch.nn.Module, got {type(decoder).__name__}.")
    return decoder


class PointHeads(nn.Module):
    """forward: (B, M, 3), (B, D) -> {task: (B, M, C_task)}; ``only`` restricts the parallel layout to
    the decoders of some tasks (meshing one task's field need not run the others)."""

    def __init__(self, channels: dict[str, int], latent_dim: int, layout: str = "parallel", decoder: str = "cbn",
                 hidden: int = 256, blocks: int = 5, decoder_kwargs: dict[str, Any] | None = None):
        super().__init__()
        self.layout, self.channels, self.decoder_name = layout, dict(channels), decoder

        def build(c: int) -> nn.Module:
            return create_decoder(decoder, latent_dim, c, hidden, blocks, decoder_kwargs)

        if layout == "joint":
            self.decoders = nn.ModuleDict({"joint": build(sum(channels.values()))})
        else:
            self.decoders = nn.ModuleDict({t: build(c) for t, c in channels.items()})

    def forward(self, points: torch.Tensor, z: torch.Tensor, only: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        if self.layout == "parallel":
            return {t: dec(points, z) for t, dec in self.decoders.items() if only is None or t in only}
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
