"""Test-time corruptions against what each one is: counts, shares, noise levels and rotations measured on
a known surface (the unit sphere's, sampled densely), and the same array for every caller."""

import numpy as np
import pytest

from bench.robustness.corruptions import CORRUPTIONS, SEVERITIES, corrupt


@pytest.fixture(scope="module")
def sphere():
    rng = np.random.default_rng(0)
    v = rng.standard_normal((20000, 3))
    return (0.4 * v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_corruption_is_the_same_array_for_every_caller(sphere, name):
    for severity in (0, *SEVERITIES):
        a = corrupt(name, severity, sphere, 300, 0.005, seed=7, shape_id="mug/0001")
        b = corrupt(name, severity, sphere.copy(), 300, 0.005, seed=7, shape_id="mug/0001")
        assert np.array_equal(a.points, b.points) and a.points.dtype == np.float32
    other = corrupt(name, 3, sphere, 300, 0.005, seed=7, shape_id="mug/0002")
    assert not np.array_equal(corrupt(name, 3, sphere, 300, 0.005, 7, "mug/0001").points, other.points)


def test_noise_has_the_severitys_standard_deviation(sphere):
    for severity in SEVERITIES:
        sigma = CORRUPTIONS["noise"].level(severity)
        pts = corrupt("noise", severity, sphere, 20000, 0.005, 0, "s").points
        radial = np.linalg.norm(pts, axis=1) - 0.4  # noise along the normal of a sphere of radius 0.4
        assert np.std(radial) == pytest.approx(sigma, rel=0.1)


def test_sparsity_gives_the_severitys_point_count(sphere):
    assert [len(corrupt("sparsity", s, sphere, 300, 0.0, 0, "s").points) for s in SEVERITIES] == [150, 100, 60, 40, 30]


def test_partial_cuts_away_the_severitys_share_behind_one_plane(sphere):
    for severity in SEVERITIES:
        share = CORRUPTIONS["partial"].level(severity)
        pts = corrupt("partial", severity, sphere, 5000, 0.0, 0, "s").points
        # A cap's area is proportional to its height (Archimedes), so cutting the share q off a sphere of
        # radius 0.4 leaves the points up to height 0.4 (1 - 2q) along the cut's direction, which is
        # opposite to where the remaining points' mean lies.
        cut = -pts.mean(0) / np.linalg.norm(pts.mean(0))
        assert (pts @ cut).max() == pytest.approx(0.4 * (1 - 2 * share), abs=0.02)


def test_outliers_replace_the_severitys_share_by_points_in_the_box(sphere):
    for severity in SEVERITIES:
        share = CORRUPTIONS["outliers"].level(severity)
        pts = corrupt("outliers", severity, sphere, 1000, 0.0, 0, "s").points
        off = np.abs(np.linalg.norm(pts, axis=1) - 0.4) > 1e-3
        assert np.abs(pts).max() <= 0.5
        assert off.sum() == pytest.approx(share * 1000, abs=0.2 * share * 1000 + 2)  # a uniform point may land on it


def test_dropped_patches_leave_holes(sphere):
    from pykdtree.kdtree import KDTree

    for severity in (1, 5):
        share = CORRUPTIONS["density"].level(severity)
        # without noise the input points are surface points; 5x as many draws as surface points miss only
        # e^-5 = 0.7 % of the kept ones, so the surface points that no input point hits are the dropped share
        pts = corrupt("density", severity, sphere, 100_000, 0.0, 0, "s").points
        dist, _ = KDTree(pts).query(sphere, k=1)
        assert (dist > 1e-6).mean() == pytest.approx(share + 0.007 * (1 - share), abs=0.01)


@pytest.mark.parametrize("name", ["rotate-up", "rotate-so3"])
def test_rotations_are_rotations_by_the_severitys_angle(sphere, name):
    for severity in SEVERITIES:
        out = corrupt(name, severity, sphere, 300, 0.0, 0, "s")
        rot = out.rotation
        assert np.allclose(rot @ rot.T, np.eye(3), atol=1e-9) and np.linalg.det(rot) == pytest.approx(1.0)
        angle = np.degrees(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1)))
        assert angle == pytest.approx(CORRUPTIONS[name].level(severity), abs=1e-6)
        if name == "rotate-up":
            assert np.allclose(rot[1], [0, 1, 0]) and np.allclose(rot[:, 1], [0, 1, 0])
        assert np.allclose(np.linalg.norm(out.points, axis=1), 0.4, atol=1e-5)  # still on the sphere


def test_severity_zero_is_the_clean_draw_and_other_severities_are_checked(sphere):
    clean = corrupt("noise", 0, sphere, 300, 0.005, 0, "s")
    assert clean.rotation is None and len(clean.points) == 300
    with pytest.raises(ValueError, match="severity 6"):
        corrupt("noise", 6, sphere, 300, 0.005, 0, "s")
