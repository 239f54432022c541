"""Signed distance primitives (negative inside), numpy, points ``(P, 3) -> (P,)``.

Exact distances for sphere, box, capsule, cylinder and torus (after Inigo Quilez's formulas); the
ellipsoid is the usual approximation whose *sign* is exact, which is all occupancy needs. Written per
column (x, y, z) because numpy's reductions over a short last axis are ~10x slower than elementwise ops.

Every primitive knows an axis-aligned box around its shape (``Bounded``), and so do unions, differences
and intersections of them: a union evaluates each member only at the points within ``CULL_MARGIN`` of
the member's box, which is most of the generator's time saved on shapes of many small parts. The
price: a union's distance is exact up to ``CULL_MARGIN`` and clamped to it beyond (min(d, CULL_MARGIN)),
its sign exact everywhere. The generator needs distances only near the surface (marching cubes, the
Newton projection, nearest parts) and signs elsewhere (occupancy).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import reduce

import numpy as np

SDF = Callable[[np.ndarray], np.ndarray]
_AXES = {"x": 0, "y": 1, "z": 2}
# Larger than the narrow band of bench.geometry.surface.sdf_grid (its block test must see true
# distances there), small against the shapes so that culling pays.
CULL_MARGIN = 0.1


class Bounded:
    """An SDF and an axis-aligned box ``[lo, hi]`` that contains its shape (where it is negative)."""

    __slots__ = ("f", "lo", "hi")

    def __init__(self, f: SDF, lo: Sequence[float], hi: Sequence[float]):
        self.f = f
        self.lo, self.hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)

    def __call__(self, p: np.ndarray) -> np.ndarray:
        return self.f(p)


def _around(center: Sequence[float], half: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    c, h = np.asarray(center, dtype=np.float64), np.asarray(half, dtype=np.float64)
    return c - h, c + h


def _axis_half(axis: str, along: float, across: float) -> list[float]:
    half = [across] * 3
    half[_AXES[axis]] = along
    return half


def _cols(p: np.ndarray, center: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Python floats: a NumPy float64 scalar would turn float32 points into float64 (NEP 50).
    return p[:, 0] - float(center[0]), p[:, 1] - float(center[1]), p[:, 2] - float(center[2])


def _len3(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    return np.sqrt(x * x + y * y + z * z)


def sphere(center: Sequence[float], radius: float) -> Bounded:
    return Bounded(lambda p: _len3(*_cols(p, center)) - radius, *_around(center, [radius] * 3))


def box(center: Sequence[float], half: Sequence[float], rounding: float = 0.0) -> Bounded:
    """Axis-aligned box with half extents ``half``, edges rounded by ``rounding`` (inside the extents)."""
    hx, hy, hz = (h - rounding for h in half)

    def f(p: np.ndarray) -> np.ndarray:
        x, y, z = _cols(p, center)
        qx, qy, qz = np.abs(x) - hx, np.abs(y) - hy, np.abs(z) - hz
        outside = _len3(np.maximum(qx, 0), np.maximum(qy, 0), np.maximum(qz, 0))
        inside = np.minimum(np.maximum(qx, np.maximum(qy, qz)), 0.0)
        return outside + inside - rounding

    return Bounded(f, *_around(center, half))


def capsule(a: Sequence[float], b: Sequence[float], radius: float) -> Bounded:
    bx, by, bz = (float(v) for v in np.subtract(b, a, dtype=np.float64))  # Python floats keep float32 input float32
    denom = bx * bx + by * by + bz * bz

    def f(p: np.ndarray) -> np.ndarray:
        x, y, z = _cols(p, a)
        t = np.clip((x * bx + y * by + z * bz) / denom, 0.0, 1.0)
        return _len3(x - t * bx, y - t * by, z - t * bz) - radius

    return Bounded(f, np.minimum(a, b) - radius, np.maximum(a, b) + radius)


def _axis_split(q: tuple[np.ndarray, ...], axis: str) -> tuple[np.ndarray, np.ndarray]:
    """(distance from the axis line, coordinate along the axis)."""
    k = _AXES[axis]
    a, b = (q[i] for i in range(3) if i != k)
    return np.sqrt(a * a + b * b), q[k]


def cylinder(center: Sequence[float], axis: str, radius: float, half_height: float) -> Bounded:
    """Capped cylinder along ``axis`` ("x" | "y" | "z")."""

    def f(p: np.ndarray) -> np.ndarray:
        rad, h = _axis_split(_cols(p, center), axis)
        dr, dh = rad - radius, np.abs(h) - half_height
        inside = np.minimum(np.maximum(dr, dh), 0.0)
        dr, dh = np.maximum(dr, 0.0), np.maximum(dh, 0.0)
        return inside + np.sqrt(dr * dr + dh * dh)

    return Bounded(f, *_around(center, _axis_half(axis, half_height, radius)))


def torus(center: Sequence[float], axis: str, major: float, minor: float) -> Bounded:
    """Torus whose ring lies in the plane normal to ``axis``."""

    def f(p: np.ndarray) -> np.ndarray:
        rad, h = _axis_split(_cols(p, center), axis)
        ring = rad - major
        return np.sqrt(ring * ring + h * h) - minor

    return Bounded(f, *_around(center, _axis_half(axis, minor, major + minor)))


def ellipsoid(center: Sequence[float], radii: Sequence[float]) -> Bounded:
    rx, ry, rz = radii

    def f(p: np.ndarray) -> np.ndarray:
        x, y, z = _cols(p, center)
        k0 = _len3(x / rx, y / ry, z / rz)
        k1 = _len3(x / rx**2, y / ry**2, z / rz**2)
        return k0 * (k0 - 1.0) / np.maximum(k1, 1e-12)

    return Bounded(f, *_around(center, radii))


def _bounds(fs: Sequence[SDF]) -> list[tuple[np.ndarray, np.ndarray]] | None:
    return [(f.lo, f.hi) for f in fs] if all(isinstance(f, Bounded) for f in fs) else None


def union(*fs: SDF) -> SDF:
    """min over ``fs``; with bounded members, culled and clamped at CULL_MARGIN (see the module doc)."""
    if len(fs) == 1:
        return fs[0]
    boxes = _bounds(fs)
    if boxes is None:
        return lambda p: reduce(np.minimum, (f(p) for f in fs))
    reach = [(lo - CULL_MARGIN, hi + CULL_MARGIN) for lo, hi in boxes]

    def f(p: np.ndarray) -> np.ndarray:
        out = np.full(len(p), CULL_MARGIN, dtype=p.dtype)
        cols = [np.ascontiguousarray(p[:, k]) for k in range(3)]
        for member, (lo, hi) in zip(fs, reach):
            near = (cols[0] >= lo[0]) & (cols[0] <= hi[0]) & (cols[1] >= lo[1]) & (cols[1] <= hi[1])
            near &= (cols[2] >= lo[2]) & (cols[2] <= hi[2])
            idx = np.flatnonzero(near)
            if len(idx) == len(p):
                np.minimum(out, member(p), out=out)
            elif len(idx):
                out[idx] = np.minimum(out[idx], member(p[idx]))
        return out

    return Bounded(f, np.min([b[0] for b in boxes], axis=0), np.max([b[1] for b in boxes], axis=0))


def subtract(a: SDF, b: SDF) -> SDF:
    """``a`` minus ``b``."""
    f = lambda p: np.maximum(a(p), -b(p))  # noqa: E731
    return Bounded(f, a.lo, a.hi) if isinstance(a, Bounded) else f


def intersect(a: SDF, b: SDF) -> SDF:
    f = lambda p: np.maximum(a(p), b(p))  # noqa: E731
    boxes = _bounds([a, b])
    if boxes is None:
        return f
    return Bounded(f, np.maximum(a.lo, b.lo), np.minimum(a.hi, b.hi))


def transformed(f: SDF, loc: Sequence[float], scale: float) -> SDF:
    """SDF of ``f``'s shape mapped by p -> (p - loc) / scale (float32 in, float32 out)."""
    loc32, scale32 = np.asarray(loc, dtype=np.float32), np.float32(scale)
    g = lambda p: f(p * scale32 + loc32) / scale32  # noqa: E731
    if not isinstance(f, Bounded):
        return g
    loc64 = np.asarray(loc, dtype=np.float64)
    return Bounded(g, (f.lo - loc64) / scale, (f.hi - loc64) / scale)


def value_and_gradient(f: SDF, p: np.ndarray, eps: float = 1e-4) -> tuple[np.ndarray, np.ndarray]:
    """f(p) ``(P,)`` and its forward-difference gradient ``(P, 3)`` in p's dtype: one batched call to ``f``."""
    n = len(p)
    step = np.eye(3, dtype=p.dtype) * p.dtype.type(eps)
    stacked = np.concatenate([p, p + step[0], p + step[1], p + step[2]])
    values = f(stacked)
    base = values[:n]
    grad = (values[n:].reshape(3, n) - base) / p.dtype.type(eps)
    return base, grad.T


def gradient(f: SDF, p: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    return value_and_gradient(f, p, eps)[1]
