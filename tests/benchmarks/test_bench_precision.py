"""bf16 autocast vs float32: one training step of the default CPU-sized model (ONet encoder h64 + CBN decoder
h64 x 3, 32 shapes x 512 points). The figure to read is extra_info["bf16_over_fp32"] (a speed-up > 1 means
bf16 is faster) with the CPU's bf16 support beside it; `train.amp = auto` uses bf16 only where it is native."""

from __future__ import annotations

import time

import pytest
import torch

from bench.decoders.cbn import CBNDecoder
from bench.training.precision import cpu_has_native_bf16
from implicit_bench_encoders.onet_pointnet import ResNetPointNet

pytestmark = pytest.mark.benchmark(min_rounds=3, warmup=False)


def _step_fn(bf16: bool):
    torch.manual_seed(0)
    enc, dec = ResNetPointNet(128, 64), CBNDecoder(128, 1, 64, 3)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], 1e-3)
    x, p = torch.randn(32, 300, 3) * 0.3, torch.rand(32, 512, 3) - 0.5
    occ = (p.norm(dim=-1) < 0.3).float()

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = dec(p, enc(x))[..., 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), occ)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return step


def test_train_step_bf16_vs_fp32(benchmark):
    fp32 = _step_fn(False)
    fp32()
    t = time.perf_counter()
    for _ in range(5):
        fp32()
    fp32_s = (time.perf_counter() - t) / 5
    bf16 = _step_fn(True)
    bf16()
    benchmark(bf16)
    native, found = cpu_has_native_bf16()
    benchmark.extra_info.update(fp32_step_s=fp32_s, bf16_over_fp32=fp32_s / benchmark.stats.stats.mean,
                                native_bf16=native, cpu_bf16=found)
