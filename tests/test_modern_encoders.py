"""PointNet++ (SSG) and the latent-set transformer: sampling and grouping against known answers, parameter
counts computed by hand, and a tiny training run through the harness."""

import itertools
import math

import pytest
import torch

from bench.training.plan import resolve_suite
from bench.training.runner import run_suite
from implicit_bench_encoders.latent_set import LatentSetTransformer
from implicit_bench_encoders.pointnet2 import PointNet2, ball_query, farthest_point_sample

SMALL = {
    "pointnet2": (PointNet2, dict(npoints=(8, 4), radii=(0.3, 0.6), nsamples=(4, 8), mlps=((4, 8), (8, 16)),
                                  global_mlp=(16, 32))),
    "latent_set": (LatentSetTransformer, dict(width=8, heads=2, num_latents=4, depth=2, n_freqs=2, mlp_ratio=2)),
}


def _n(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", list(SMALL))
def test_output_shape_finite_and_gradients(name):
    cls, kwargs = SMALL[name]
    torch.manual_seed(0)
    enc = cls(latent_dim=10, **kwargs)
    z = enc(torch.randn(3, 50, 3) * 0.3)
    assert z.shape == (3, 10) and torch.isfinite(z).all()
    z.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in enc.parameters())


def test_pointnet2_parameter_count_by_hand():
    def mlp(c_in, widths):  # Linear without bias + BatchNorm (weight, bias) per layer
        total = 0
        for w in widths:
            total, c_in = total + c_in * w + 2 * w, w
        return total

    expected = mlp(3, (4, 8)) + mlp(3 + 8, (8, 16)) + mlp(3 + 16, (16, 32)) + (32 * 10 + 10)
    assert expected == (3 * 4 + 8 + 4 * 8 + 16) + (11 * 8 + 16 + 8 * 16 + 32) + (19 * 16 + 32 + 16 * 32 + 64) + 330
    cls, kwargs = SMALL["pointnet2"]
    assert _n(cls(latent_dim=10, **kwargs)) == expected == 1574


def test_latent_set_parameter_count_by_hand():
    w, m, f, r, d = 8, 4, 2, 2, 10
    attention = 4 * w * w + 4 * w  # q, k, v, out projections with biases
    mlp = (w * r * w + r * w) + (r * w * w + w)
    embed = (3 + 6 * f) * w + w  # Linear([xyz, sin, cos] -> W)
    cross = 3 * 2 * w + attention + mlp  # LayerNorms on latents, context and before the MLP
    self_block = 2 * 2 * w + attention + mlp
    expected = embed + m * w + cross + 2 * self_block + 2 * w + (w * d + d)
    cls, kwargs = SMALL["latent_set"]
    assert _n(cls(latent_dim=d, **kwargs)) == expected == 2082



def test_paper_size_parameter_counts():
    """The counts quoted in docs/models.md, from the layer sizes of the defaults (the paper profile)."""
    sa = [(3, (64, 64, 128)), (3 + 128, (128, 128, 256)), (3 + 256, (256, 512, 1024))]
    pn2 = sum(c * w + 2 * w for c_in, widths in sa for c, w in zip((c_in, *widths), widths)) + 1024 * 512 + 512
    assert _n(PointNet2()) == pn2 == 1_329_984
    w = 512
    block = 2 * 2 * w + (4 * w * w + 4 * w) + (2 * 4 * w * w + 4 * w + w)
    ls = (51 * w + w) + 512 * w + (block + 2 * w) + 8 * block + 2 * w + (w * 512 + 512)
    assert _n(LatentSetTransformer()) == ls == 28_924_928

CUBE = torch.tensor(list(itertools.product((0.0, 1.0), repeat=3)))  # (8, 3), index 0 = (0, 0, 0)


def test_fps_on_the_cube_corners_picks_the_corners_before_the_centre():
    pts = torch.cat([CUBE[:4], torch.full((1, 3), 0.5), CUBE[4:]]).unsqueeze(0)  # centre at index 4
    assert farthest_point_sample(pts, 2).tolist() == [[0, 8]]  # (0,0,0), then the opposite corner (1,1,1)
    eight = farthest_point_sample(pts, 8)[0].tolist()
    assert sorted(eight) == [0, 1, 2, 3, 5, 6, 7, 8]  # all corners are >= 1 apart, the centre is 0.87 away
    assert sorted(farthest_point_sample(pts, 9)[0].tolist()) == list(range(9))


def test_fps_is_distinct_deterministic_and_covers_the_set():
    pts = torch.rand(3, 200, 3, generator=torch.Generator().manual_seed(1))
    idx = farthest_point_sample(pts, 32)
    assert idx.shape == (3, 32) and (idx[:, 0] == 0).all()
    assert all(len(set(row.tolist())) == 32 for row in idx)
    assert torch.equal(idx, farthest_point_sample(pts, 32))
    assert torch.equal(idx[1:2], farthest_point_sample(pts[1:2], 32))  # independent of the rest of the batch
    for b in range(3):
        chosen = pts[b, idx[b]]
        cover = torch.cdist(pts[b], chosen).min(dim=1).values.max()  # farthest any point is from the sample
        sep = torch.cdist(chosen, chosen).add(torch.eye(32) * 10).min()  # closest two sampled points
        assert cover <= sep + 1e-6  # the FPS guarantee (2-approximation of the k-centre problem)
    assert sorted(farthest_point_sample(pts, 200)[0].tolist()) == list(range(200))


def test_ball_query_returns_only_neighbours_in_index_order_against_brute_force():
    g = torch.Generator().manual_seed(2)
    pts = torch.rand(2, 100, 3, generator=g)
    centres = pts[:, :10]
    r, k = 0.25, 8
    idx = ball_query(pts, centres, r, k)
    assert idx.shape == (2, 10, k)
    dist = torch.cdist(centres.double(), pts.double())  # (B, S, N) brute force
    for b in range(2):
        for s in range(10):
            inside = torch.nonzero(dist[b, s] <= r).flatten().tolist()
            got = idx[b, s].tolist()
            expected = inside[:k] + [inside[0]] * (k - len(inside[:k]))  # pad with the first neighbour
            assert got == expected
    assert (dist.gather(2, idx) <= r).all()
    assert any(len(torch.nonzero(dist[b, s] <= r)) < k for b in range(2) for s in range(10))  # padding exercised
    assert any(len(torch.nonzero(dist[b, s] <= r)) > k for b in range(2) for s in range(10))  # truncation too


def test_ball_query_with_k_above_n_and_an_empty_ball():
    pts = torch.tensor([[[0.0, 0, 0], [0.1, 0, 0], [5.0, 0, 0]]])
    idx = ball_query(pts, torch.tensor([[[0.0, 0, 0], [3.0, 0, 0]]]), radius=0.5, k=5)
    assert idx.tolist() == [[[0, 1, 0, 0, 0], [2] * 5]]  # an empty ball falls back to the nearest point


@pytest.mark.slow
def test_pointnet2_trains_through_the_harness(tiny_config):
    cfg = tiny_config.with_overrides({"model": {"encoder": "pointnet2"}}, "test")
    runs = resolve_suite(cfg, "smoke")[:1]
    (result,) = run_suite(runs, progress=False, log=lambda _: None)
    assert result.status == "complete", result.error
    assert math.isfinite(result.metrics["reconstruction"]["iou"])
