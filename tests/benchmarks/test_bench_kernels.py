"""Benchmarks (``make bench``; skipped by ``make test``). Each pairs our path with a baseline measured in
the same run, so the figure to read is the ratio, not the absolute time."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from bench.evaluation.mesh import extract_dense, extract_mise
from bench.evaluation.mesh_metrics import chamfer_l1

pytestmark = pytest.mark.benchmark(min_rounds=3, warmup=False)


def _sphere(n, r, seed):
    v = np.random.default_rng(seed).normal(size=(n, 3)).astype(np.float32)
    return r * v / np.linalg.norm(v, axis=1, keepdims=True)


def test_chamfer_l1_100k(benchmark):
    a, b = _sphere(100_000, 0.4, 0), _sphere(100_000, 0.41, 1)
    value = benchmark(chamfer_l1, a, b)
    assert value == pytest.approx(0.01, abs=2e-3)


def test_mise_sub_corners(benchmark):
    """MISE's bookkeeping at the last level of 32^3 -> 128^3 on a sphere: the new sub-corners of the active
    cells deduplicated on a grid mask, against np.unique(axis=0) on their rows (the earlier code)."""
    from bench.evaluation.mesh import SUB_CORNERS, new_sub_corners

    n, half = 129, 1
    idx = np.argwhere(np.ones((64, 64, 64), bool)) * 2
    radius = np.linalg.norm(idx / 128 - 0.5, axis=1)
    cells = idx[np.abs(radius - 0.35) < 2 / 128]  # the cells a sphere's surface crosses
    known = np.zeros((n, n, n), bool)
    known[::2, ::2, ::2] = True

    def unique_rows():
        rows = np.unique((cells[:, None, :] + SUB_CORNERS[None] * half).reshape(-1, 3), axis=0)
        return rows[~known[tuple(rows.T)]]

    t = time.perf_counter()
    for _ in range(3):
        baseline = unique_rows()
    unique_s = (time.perf_counter() - t) / 3
    got = benchmark(new_sub_corners, cells, half, known)
    np.testing.assert_array_equal(got, baseline)
    benchmark.extra_info.update(cells=len(cells), unique_rows_s=unique_s,
                                speedup=unique_s / benchmark.stats.stats.mean)
    print(f"\n{len(cells)} cells: np.unique rows {unique_s * 1e3:.1f} ms vs grid mask "
          f"{benchmark.stats.stats.mean * 1e3:.1f} ms ({unique_s / benchmark.stats.stats.mean:.1f}x)")


def _decoder_query(hidden=256, blocks=5, latent=256):
    from bench.decoders.cbn import CBNDecoder

    torch.manual_seed(0)
    dec = CBNDecoder(latent, 1, hidden, blocks).eval()
    z = torch.randn(1, latent)
    # a sphere-ish field so MISE has a surface to refine: network logits + an analytic offset
    calls = {"points": 0}

    @torch.no_grad()
    def query(p: np.ndarray) -> np.ndarray:
        calls["points"] += len(p)
        out = []
        for s in range(0, len(p), 16384):
            chunk = torch.from_numpy(p[s:s + 16384])
            out.append(dec(chunk.unsqueeze(0), z)[0, :, 0].numpy() * 1e-3 + (0.35 - chunk.norm(dim=1).numpy()) * 50)
        return np.concatenate(out)

    return query, calls


def test_mise_vs_dense_128(benchmark):
    """MISE 32^3 -> 128^3 against the dense 128^3 grid, same CBN decoder (paper size); ratio in extra_info."""
    query, calls = _decoder_query()
    t = time.perf_counter()
    dense = extract_dense(query, 128)
    dense_s = time.perf_counter() - t
    calls["points"] = 0
    mise = benchmark(extract_mise, query, 32, 2)
    benchmark.extra_info.update(dense_s=dense_s, dense_queries=dense.n_queries, mise_queries=mise.n_queries,
                                query_ratio=mise.n_queries / dense.n_queries,
                                speedup=dense_s / benchmark.stats.stats.mean)
    print(f"\nMISE {mise.n_queries} queries vs dense {dense.n_queries} ({mise.n_queries / dense.n_queries:.1%}); "
          f"dense {dense_s:.2f} s vs MISE {benchmark.stats.stats.mean:.2f} s ({dense_s / benchmark.stats.stats.mean:.1f}x)")


def _matmul_flops() -> float:
    a, b = torch.randn(131072, 256), torch.randn(256, 256)
    a @ b
    t = time.perf_counter()
    for _ in range(5):
        a @ b
    return 5 * 2 * 131072 * 256 * 256 / (time.perf_counter() - t)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("size", ["cpu", "paper"])
def test_decoder_train_step(benchmark, size, compiled):
    """CBN decoder train step (16 shapes x 2048 points, fwd + BCE + bwd + Adam) vs matmul FLOP/s."""
    from bench.decoders.cbn import CBNDecoder

    hidden, blocks, latent = (64, 3, 128) if size == "cpu" else (256, 5, 256)
    dec = CBNDecoder(latent, 1, hidden, blocks)
    opt = torch.optim.Adam(dec.parameters(), 1e-4)
    if compiled:  # `--set train.compile=true`; the first call compiles (tens of seconds)
        dec = torch.compile(dec)
    p, z = torch.rand(16, 2048, 3) - 0.5, torch.randn(16, latent)
    occ = (p.norm(dim=2) < 0.3).float()

    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(dec(p, z)[..., 0], occ)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    benchmark(step)
    flop_per_point = 2 * (3 * hidden + blocks * 2 * hidden * hidden + hidden)  # the point-wise matmuls, forward
    achieved = 3 * flop_per_point * 16 * 2048 / benchmark.stats.stats.mean  # fwd + 2x for bwd
    peak = _matmul_flops()
    benchmark.extra_info.update(achieved_gflops=achieved / 1e9, matmul_gflops=peak / 1e9, share=achieved / peak)
    print(f"\n{size} {'compiled' if compiled else 'eager'}: {1 / benchmark.stats.stats.mean:.2f} steps/s, {achieved / 1e9:.1f} GFLOP/s = "
          f"{achieved / peak:.0%} of matmul {peak / 1e9:.0f} GFLOP/s")


def test_help_startup(benchmark):
    """`bench --help` in a fresh interpreter vs a bare `python -c pass` (the floor)."""
    def bare():
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    t = time.perf_counter()
    bare()
    floor = time.perf_counter() - t
    benchmark(lambda: subprocess.run([sys.executable, "-m", "bench.cli", "--help"], check=True, capture_output=True))
    benchmark.extra_info.update(python_floor_s=floor)
    print(f"\nbench --help {benchmark.stats.stats.mean:.3f} s (python alone {floor:.3f} s)")


def test_winding_labelling_vs_trimesh_contains(benchmark):
    """100k points against a ~50k-face watertight mesh: our labeller vs trimesh.contains, same run."""
    import trimesh

    from bench.geometry.occupancy import fast_winding_numbers

    mesh = trimesh.creation.icosphere(subdivisions=5, radius=0.4)
    mesh = trimesh.Trimesh(mesh.vertices * [1.0, 0.7, 1.2], mesh.faces)  # an ellipsoid, ~20k faces
    mesh = mesh.subdivide()  # ~82k faces
    pts = np.random.default_rng(0).uniform(-0.55, 0.55, (100_000, 3))
    t = time.perf_counter()
    ref = mesh.contains(pts)
    contains_s = time.perf_counter() - t
    w, method = benchmark(fast_winding_numbers, mesh.vertices, mesh.faces, pts)
    agree = float(((w >= 0.5) == ref).mean())
    engine = type(mesh.ray).__module__
    benchmark.extra_info.update(faces=len(mesh.faces), contains_s=contains_s, agreement=agree, method=method,
                                trimesh_engine=engine, speedup=contains_s / benchmark.stats.stats.mean)
    print(f"\n{len(mesh.faces)} faces: {method} {benchmark.stats.stats.mean:.3f} s vs trimesh.contains "
          f"({engine}) {contains_s:.3f} s -> {contains_s / benchmark.stats.stats.mean:.1f}x; labels agree {agree:.5f}")


def test_voronoi_labelling_100k_vs_10k(benchmark):
    from bench.geometry.voronoi import voronoi_labels

    rng = np.random.default_rng(0)
    surface, labels = _sphere(10_000, 0.4, 1), rng.integers(0, 4, 10_000)
    query = rng.uniform(-0.55, 0.55, (100_000, 3)).astype(np.float32)
    benchmark(voronoi_labels, query, surface, labels)


def test_render_views(benchmark):
    import trimesh

    from bench.data.render import render_views

    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.4)
    benchmark(render_views, mesh, 24, 137)
    benchmark.extra_info["views_per_s"] = 24 / benchmark.stats.stats.mean
    print(f"\n{24 / benchmark.stats.stats.mean:.0f} views/s at 137x137")


def test_generate_one_small_shape(benchmark):
    from bench.data.synthetic import PRESETS, make_shape

    benchmark(lambda: make_shape("chair_with_arm", np.random.default_rng(0), PRESETS["small"]))


def test_data_loading_vs_train_step(benchmark, tmp_path_factory):
    """Samples/s of the vectorised batch sampler vs what a CPU training step consumes (default model)."""
    import os

    from bench.config import DataConfig, load_config
    from bench.data.dataset import ShapeDataset, ShapeStore, open_dataset
    from bench.models import MultiTaskModel, create_encoder, create_tasks

    os.environ.setdefault("IMPLICIT_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    cfg = load_config()
    info = open_dataset(DataConfig(preset="tiny"), progress=False)
    store = ShapeStore.load(info, "train", with_parts=True)
    ds = ShapeDataset(store, cfg.data)
    rng = np.random.default_rng(0)
    b = cfg.train.batch_size
    benchmark(lambda: ds.batch(rng.integers(0, len(store), b), rng))
    load_s = benchmark.stats.stats.mean
    tasks = create_tasks(["reconstruction"], info, cfg)
    enc = create_encoder(cfg.model.encoder, cfg.model.latent_dim, cfg.encoder_kwargs.get(cfg.model.encoder, {}))
    model = MultiTaskModel(enc, tasks, cfg)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    batch = ds.batch(rng.integers(0, len(store), b), rng)
    t = time.perf_counter()
    for _ in range(5):
        out = model(batch["inputs"], batch["points"])
        loss = tasks["reconstruction"].loss(out["reconstruction"], batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    step_s = (time.perf_counter() - t) / 5
    benchmark.extra_info.update(samples_per_s=b / load_s, step_s=step_s, loading_share=load_s / step_s)
    print(f"\nloading {b / load_s:.0f} shapes/s ({load_s * 1e3:.1f} ms a batch) vs train step {step_s * 1e3:.0f} ms: "
          f"loading is {load_s / step_s:.1%} of a step")


def test_full_evaluation_of_one_shape(benchmark, tmp_path_factory):
    """IoU on 100k points + MISE mesh + Chamfer-L1 for one shape with the default (CPU) model."""
    import os

    from bench.config import DataConfig, load_config
    from bench.data.dataset import ShapeStore, open_dataset
    from bench.evaluation.evaluator import evaluate
    from bench.models import MultiTaskModel, create_encoder, create_tasks

    os.environ.setdefault("IMPLICIT_BENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    cfg = load_config()
    info = open_dataset(DataConfig(preset="tiny"), progress=False)
    store = ShapeStore.load(info, "test", max_shapes=1)
    tasks = create_tasks(["reconstruction"], info, cfg)
    enc = create_encoder(cfg.model.encoder, cfg.model.latent_dim, cfg.encoder_kwargs.get(cfg.model.encoder, {}))
    model = MultiTaskModel(enc, tasks, cfg).eval()
    benchmark(evaluate, model, tasks, store, cfg.data, mesh_indices=[0], device=torch.device("cpu"))
