"""Test-time corruptions of a point-cloud input, each at 5 severities, deterministic by (seed, shape id,
corruption, severity): every encoder and every run sees the very same corrupted arrays, so comparisons
under corruption are paired shape by shape.

A corruption draws the input from the shape's stored surface cloud, as the clean input is drawn
(``data.n_input_points`` points plus Gaussian noise of ``data.input_noise``), then degrades it. Severity 0
is the clean input itself, drawn from the same random stream, so it reproduces the clean evaluation.
Rotations also return the rotation, so that query points can be rotated with the shape (an occupancy
decoder is then asked about the shape it was shown). Coordinates: the unit cube [-0.5, 0.5]^3, y up.

Pure numpy functions: (S, 3) surface, settings, rng -> (N', 3) input points.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

SEVERITIES = (1, 2, 3, 4, 5)
BOX = 0.5  # half side of the box the shapes live in


@dataclass(frozen=True)
class Corrupted:
    points: np.ndarray
    """(N', 3) float32 input points."""
    rotation: np.ndarray | None = None
    """(3, 3) rotation applied to the shape, or None; query points x are asked at ``rotation @ x``."""


@dataclass(frozen=True)
class Corruption:
    name: str
    parameter: str
    """What the severity sets, with its unit (e.g. "sigma (box side)")."""
    levels: tuple[float, ...]
    """The parameter at severities 1..5."""
    description: str
    apply: Callable[..., Corrupted]

    def level(self, severity: int) -> float:
        if severity not in SEVERITIES:
            raise ValueError(f"severity {severity} of {self.name}: expected one of {SEVERITIES} (0 is the clean input)")
        return self.levels[severity - 1]


def shape_rng(seed: int, shape_id: str, corruption: str, severity: int) -> np.random.Generator:
    """The random stream of one (shape, corruption, severity): the same for every run, encoder and process
    (a stable digest, not Python's salted ``hash``)."""
    digest = hashlib.sha256(f"{shape_id}\0{corruption}\0{severity}".encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def _draw(surface: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points of the surface cloud (with replacement) plus Gaussian noise, as the clean input."""
    idx = (rng.random(n) * len(surface)).astype(np.int64)
    pts = surface[idx].astype(np.float32)
    if noise > 0:
        pts += rng.standard_normal(pts.shape, dtype=np.float32) * np.float32(noise)
    return pts


def clean(surface: np.ndarray, n: int, noise: float, rng: np.random.Generator) -> Corrupted:
    return Corrupted(_draw(surface, n, noise, rng))


def gaussian_noise(surface, n, noise, rng, level: float) -> Corrupted:
    """Noise of std ``level`` in place of the clean input's."""
    return Corrupted(_draw(surface, n, level, rng))


def sparsity(surface, n, noise, rng, level: float) -> Corrupted:
    """``level`` input points instead of ``n``."""
    return Corrupted(_draw(surface, int(level), noise, rng))


def _unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def half_space_cut(surface, n, noise, rng, level: float) -> Corrupted:
    """The share ``level`` of the surface beyond a plane of random direction is missing (a partial scan);
    the input is drawn from what is left."""
    d = _unit(rng)
    height = surface.astype(np.float64) @ d
    keep = surface[height <= np.quantile(height, 1.0 - level)]
    return Corrupted(_draw(keep, n, noise, rng))


def outliers(surface, n, noise, rng, level: float) -> Corrupted:
    """The share ``level`` of the input points replaced by points uniform in the box."""
    pts = _draw(surface, n, noise, rng)
    k = int(round(level * n))
    pts[:k] = rng.uniform(-BOX, BOX, (k, 3)).astype(np.float32)
    return Corrupted(pts)


def dropped_patches(surface, n, noise, rng, level: float, patches: int = 5) -> Corrupted:
    """Non-uniform density: local patches around ``patches`` random surface points, together exactly the
    share ``level`` of the surface, are dropped (ModelNet-C's drop-local; the patches grow at one rate, so
    overlapping ones still drop the share); the input is drawn from the rest."""
    from pykdtree.kdtree import KDTree

    cloud = np.ascontiguousarray(surface, dtype=np.float32)
    centres = cloud[(rng.random(patches) * len(cloud)).astype(np.int64)]
    dist, _ = KDTree(centres).query(cloud, k=1)
    keep = dist > np.quantile(dist, level)
    return Corrupted(_draw(cloud[keep], n, noise, rng))


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' formula: the (3, 3) rotation by ``angle`` radians about the unit ``axis``."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _rotated(surface, n, noise, rng, axis: np.ndarray, degrees: float) -> Corrupted:
    angle = np.deg2rad(degrees) * (1 if rng.random() < 0.5 else -1)
    rot = _rotation(axis, angle)
    pts = _draw(surface, n, 0.0, rng) @ rot.T.astype(np.float32)
    if noise > 0:  # noise after the rotation: the same sensor, another pose
        pts += rng.standard_normal(pts.shape, dtype=np.float32) * np.float32(noise)
    return Corrupted(pts.astype(np.float32), rot)


def rotate_up(surface, n, noise, rng, level: float) -> Corrupted:
    """Rotated by ``level`` degrees (either sense) about the up axis y."""
    return _rotated(surface, n, noise, rng, np.array([0.0, 1.0, 0.0]), level)


def rotate_so3(surface, n, noise, rng, level: float) -> Corrupted:
    """Rotated by ``level`` degrees about an axis uniform on the sphere."""
    return _rotated(surface, n, noise, rng, _unit(rng), level)


CORRUPTIONS: dict[str, Corruption] = {c.name: c for c in (
    Corruption("noise", "sigma (box side)", (0.01, 0.02, 0.03, 0.05, 0.08), "Gaussian noise on every input point", gaussian_noise),
    Corruption("sparsity", "input points", (150, 100, 60, 40, 30), "fewer input points", sparsity),
    Corruption("partial", "share of the surface cut away", (0.1, 0.2, 0.3, 0.4, 0.5), "a half-space cut: a partial scan", half_space_cut),
    Corruption("outliers", "share of input points", (0.02, 0.05, 0.1, 0.2, 0.3), "input points replaced by uniform points in the box", outliers),
    Corruption("density", "share of the surface dropped", (0.1, 0.2, 0.3, 0.4, 0.5), "5 local patches dropped: non-uniform density", dropped_patches),
    Corruption("rotate-up", "degrees about y", (15, 30, 60, 90, 180), "rotation about the up axis", rotate_up),
    Corruption("rotate-so3", "degrees about a random axis", (15, 30, 60, 90, 180), "rotation in SO(3)", rotate_so3),
)}


def corrupt(name: str, severity: int, surface: np.ndarray, n: int, noise: float, seed: int, shape_id: str) -> Corrupted:
    """The input of one shape under ``name`` at ``severity`` (0: clean), the same array for every caller."""
    rng = shape_rng(seed, shape_id, name, severity)
    if severity == 0:
        return clean(surface, n, noise, rng)
    c = CORRUPTIONS[name]
    return c.apply(surface, n, noise, rng, c.level(severity))
