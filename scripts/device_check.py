"""The accelerator figures of docs/performance.md in one short run: training steps/s at paper size in fp32
and bf16 autocast, the share of the device's measured bf16 matmul peak a step reaches, evaluation
shapes/s (100k IoU points a shape) and MISE meshes/s (32^3 -> 128^3). Prints one JSON object.

    python scripts/device_check.py                 # the device bench would use (CUDA when there is one)
    python scripts/device_check.py --size cpu      # CPU-sized model, to check the script itself quickly

Run it where a GPU is lent; it needs torch, numpy, scikit-image and trimesh (for MISE) and nothing else.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _checkout_package(name: str, folder: str) -> None:
    """Make the checkout's ``folder`` importable as ``name``, the name it is installed under (pyproject.toml),
    so that this script runs from a checkout that is not installed."""
    import importlib.util

    if importlib.util.find_spec(name) is None:
        spec = importlib.util.spec_from_file_location(name, ROOT / folder / "__init__.py",
                                                      submodule_search_locations=[str(ROOT / folder)])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)


_checkout_package("implicit_bench_encoders", "encoders")

from bench.decoders.cbn import CBNDecoder  # noqa: E402
from implicit_bench_encoders.onet_pointnet import ResNetPointNet  # noqa: E402

SIZES = {  # encoder hidden, latent, decoder hidden, blocks, shapes per step, query points per shape
    "paper": (512, 512, 256, 5, 64, 2048),
    "cpu": (64, 128, 64, 3, 32, 512),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: torch.device, repeats: int) -> float:
    fn()
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - t) / repeats


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    """GFLOP/s of a large square matmul: the practical peak the step is compared with."""
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    return 2 * n**3 / _timed(lambda: a @ b, device, 10) / 1e9


def train_step(size: str, device: torch.device, bf16: bool, repeats: int) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    h, d, dh, blocks, batch, m = SIZES[size]
    torch.manual_seed(0)
    enc, dec = ResNetPointNet(d, h).to(device), CBNDecoder(d, 1, dh, blocks).to(device)
    opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], 1e-4)
    x = torch.randn(batch, 300, 3, device=device) * 0.3
    p = torch.rand(batch, m, 3, device=device) - 0.5
    occ = (p.norm(dim=-1) < 0.3).float()

    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = dec(p, enc(x))[..., 0]
        loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), occ)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        step()
    seconds = _timed(step, device, repeats)
    return {"steps_per_s": 1 / seconds, "gflop_per_step": counter.get_total_flops() / 1e9,
            "achieved_gflop_s": counter.get_total_flops() / seconds / 1e9}


def evaluation(size: str, device: torch.device, bf16: bool, shapes: int = 8) -> dict:
    from bench.evaluation.mesh import extract_mise

    h, d, dh, blocks, _, _ = SIZES[size]
    torch.manual_seed(0)
    enc, dec = ResNetPointNet(d, h).to(device).eval(), CBNDecoder(d, 1, dh, blocks).to(device).eval()
    pts = torch.rand(100_000, 3, device=device) - 0.5

    @torch.no_grad()
    def field(z: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out = [dec(points[s:s + 65536][None], z)[0, :, 0] for s in range(0, len(points), 65536)]
        # an analytic sphere on top of the untrained network, so MISE has a surface to refine
        return torch.cat(out).float() * 1e-3 + (0.35 - points.norm(dim=-1)) * 50

    z = enc(torch.randn(1, 300, 3, device=device) * 0.3).detach()
    iou_s = _timed(lambda: field(z, pts), device, shapes)

    def query(p: np.ndarray) -> np.ndarray:
        return field(z, torch.from_numpy(p).to(device)).cpu().numpy()

    mise_s = _timed(lambda: extract_mise(query, 32, 2), device, 2)
    return {"eval_shapes_per_s_100k_points": 1 / iou_s, "mise_meshes_per_s_32_to_128": 1 / mise_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=list(SIZES), default="paper")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    device = torch.device(args.device)
    out = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else platform.processor() or "cpu",
           "torch": torch.__version__, "size": args.size}
    peak = matmul_peak(device, torch.bfloat16)
    out["bf16_matmul_peak_gflop_s"] = peak
    out["fp32_matmul_peak_gflop_s"] = matmul_peak(device, torch.float32)
    out["train_fp32"] = train_step(args.size, device, False, args.repeats)
    out["train_bf16"] = train_step(args.size, device, True, args.repeats)
    out["bf16_speedup"] = out["train_bf16"]["steps_per_s"] / out["train_fp32"]["steps_per_s"]
    out["train_bf16_share_of_peak"] = out["train_bf16"]["achieved_gflop_s"] / peak
    out["eval_bf16"] = evaluation(args.size, device, True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
