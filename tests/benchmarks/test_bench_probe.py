"""Cached latents vs the encoder in the loop: training the reconstruction probe's decoder (the battery's most
expensive probe) for 40 steps on cached latents, against the same heads, steps and batches with the frozen
encoder run on every batch (what a probe costs without the cache). The figure to read is
extra_info["cached_over_encoder_in_loop"] (> 1: the cache is faster), with the CPU's bf16 flags beside it; the
battery's own wall time is in docs/metrics.md ("Probe battery", Cost)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from bench.training.precision import cpu_has_native_bf16

pytestmark = pytest.mark.benchmark(min_rounds=3, warmup=False)
STEPS = 40


def _setup(cfg, info):
    from bench.data.dataset import ShapeDataset, ShapeStore
    from bench.models import MultiTaskModel, create_encoder, create_tasks
    from bench.probe.decoders import latent_batches, latent_model

    m = cfg.model
    torch.manual_seed(0)
    encoder = create_encoder(m.encoder, m.latent_dim, cfg.encoder_kwargs.get(m.encoder, {}))
    store = ShapeStore.load(info, "train")
    dataset = ShapeDataset(store, cfg.data)
    with torch.no_grad():  # 4 cached draws, as probe-v1 has
        encoder.eval()
        latents = np.stack([encoder(dataset.inputs(np.arange(len(store)), np.random.default_rng([0, d]))).numpy()
                            for d in range(4)])
    tasks = create_tasks(["reconstruction"], info, cfg)
    cached = latent_model(tasks, cfg, m.latent_dim, "pointcloud", seed=1), latent_batches(
        latents, store, cfg, 32, (0, 0), with_points=True)

    def in_loop_batch(step: int):
        rng = np.random.default_rng([0, 0, step])
        return dataset.batch(rng.integers(0, len(store), 32), rng)

    torch.manual_seed(1)
    in_loop = MultiTaskModel(encoder, tasks, cfg, frozen_encoder=True), in_loop_batch
    return tasks, cached, in_loop


def test_probe_heads_on_cached_latents_vs_encoder_in_the_loop(benchmark, base_config):
    from bench.data.dataset import open_dataset
    from bench.probe.decoders import train_heads

    cfg = base_config.with_overrides(base_config.profiles["quick"], "profile quick")
    info = open_dataset(cfg.data, progress=False)  # the default dataset (synthetic small)
    tasks, (cached_model, cached_batch), (loop_model, loop_batch) = _setup(cfg, info)
    device = torch.device("cpu")
    train_heads(loop_model, tasks, loop_batch, 2, 1e-3, "cosine", device, "warm-up", progress=False)
    t = time.perf_counter()
    train_heads(loop_model, tasks, loop_batch, STEPS, 1e-3, "cosine", device, "encoder in the loop", progress=False)
    in_loop_s = (time.perf_counter() - t) / STEPS
    benchmark(lambda: train_heads(cached_model, tasks, cached_batch, STEPS, 1e-3, "cosine", device, "cached",
                                  progress=False))
    native, found = cpu_has_native_bf16()
    cached_s = benchmark.stats.stats.mean / STEPS
    benchmark.extra_info.update(encoder_in_loop_step_s=in_loop_s, cached_step_s=cached_s,
                                cached_over_encoder_in_loop=in_loop_s / cached_s, native_bf16=native, cpu_bf16=found)
