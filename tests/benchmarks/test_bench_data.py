"""Synthetic-data generation benchmarks (``make bench``). Each pairs the generator's path with the plain
path it replaces, measured in the same run: the figure to read is the ratio."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bench.data.shapes import CLASSES
from bench.data.synthetic import PRESETS, make_shape, normalised_parts
from bench.geometry import sdf as S
from bench.geometry.box import BOX_BOUND
from bench.geometry.surface import grid_points, sdf_grid

pytestmark = pytest.mark.benchmark(min_rounds=3, warmup=False)


def _whole(class_id: str, seed: int = 0):
    parts, loc, scale = normalised_parts(class_id, np.random.default_rng(seed))
    return S.union(*[S.transformed(f, loc, scale) for f in parts.values()])


def test_narrow_band_grid_vs_full_grid(benchmark):
    """The SDF on small's 80^3 marching-cubes grid: narrow band vs every node, same shape."""
    whole = _whole("chair_with_arm")
    nodes = grid_points(80, BOX_BOUND)
    t = time.perf_counter()
    whole(nodes)
    full_s = time.perf_counter() - t
    _, evaluated = benchmark(sdf_grid, whole, 80, BOX_BOUND)
    band_s = benchmark.stats.stats.mean
    benchmark.extra_info.update(full_s=full_s, evaluated_share=float(evaluated.mean()), speedup=full_s / band_s)
    print(f"\nnarrow band {band_s * 1e3:.1f} ms ({evaluated.mean():.1%} of the nodes) vs full grid "
          f"{full_s * 1e3:.1f} ms: {full_s / band_s:.1f}x")


def test_culled_union_vs_plain_min(benchmark):
    """400k points near the surface (a Newton step's batch): culled union vs min over every primitive."""
    parts, loc, scale = normalised_parts("chair_with_arm", np.random.default_rng(0))
    culled = S.union(*[S.transformed(f, loc, scale) for f in parts.values()])
    plain = S.union(*[lambda p, f=f: S.transformed(f, loc, scale)(p) for f in parts.values()])  # unbounded: no culling
    rng = np.random.default_rng(1)
    pts = rng.uniform(-BOX_BOUND, BOX_BOUND, (400_000, 3)).astype(np.float32)
    t = time.perf_counter()
    plain(pts)
    plain_s = time.perf_counter() - t
    benchmark(culled, pts)
    culled_s = benchmark.stats.stats.mean
    benchmark.extra_info.update(plain_s=plain_s, speedup=plain_s / culled_s)
    print(f"\nculled union {culled_s * 1e3:.1f} ms vs plain min {plain_s * 1e3:.1f} ms: {plain_s / culled_s:.1f}x")


def test_generate_small_shapes(benchmark):
    """One small-preset shape of every class (100k query + 100k surface points): shapes/s on one core."""
    rng_seeds = list(enumerate(CLASSES))

    def all_classes():
        for k, class_id in rng_seeds:
            make_shape(class_id, np.random.default_rng(k), PRESETS["small"])

    benchmark.pedantic(all_classes, rounds=1, iterations=1)
    per_shape = benchmark.stats.stats.mean / len(rng_seeds)
    benchmark.extra_info.update(shapes_per_s=1 / per_shape)
    print(f"\n{1 / per_shape:.2f} shapes/s on one core ({per_shape * 1e3:.0f} ms a shape, without writing)")
