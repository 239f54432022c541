"""Rendering views of meshes for the image encoder: ray casting through trimesh with Intel Embree
(embreex), headless on a CPU; Lambertian shading with a headlight on a white background, like Choy et
al.'s renderings that Occupancy Networks uses. 24 views at constant radius and elevation, random azimuth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh

from bench.errors import BenchError


@dataclass(frozen=True)
class Camera:
    azimuth: float  # radians, around the y (up) axis
    elevation: float  # radians
    radius: float = 2.0
    fov: float = np.deg2rad(30.0)

    def position(self) -> np.ndarray:
        ce = np.cos(self.elevation)
        return self.radius * np.array([ce * np.sin(self.azimuth), np.sin(self.elevation), ce * np.cos(self.azimuth)])

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, forward) unit vectors; the camera looks at the origin with y up."""
        forward = -self.position() / self.radius
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        return right, np.cross(right, forward), forward

    def rays(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Origins and unit directions of the size x size pixel centres, row-major from the top-left."""
        right, up, forward = self.basis()
        half = np.tan(self.fov / 2)
        s = (np.arange(size) + 0.5) / size * 2 - 1
        u, v = np.meshgrid(s * half, -s * half)  # image rows go down
        d = forward + u.reshape(-1, 1) * right + v.reshape(-1, 1) * up
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        return np.tile(self.position(), (size * size, 1)), d

    def project(self, points: np.ndarray, size: int) -> np.ndarray:
        """(P, 3) world points -> (P, 2) pixel coordinates (column, row), the inverse of ``rays``."""
        right, up, forward = self.basis()
        rel = points - self.position()
        depth = rel @ forward
        half = np.tan(self.fov / 2)
        u, v = (rel @ right) / depth / half, (rel @ up) / depth / half
        return np.stack([(u + 1) / 2 * size, (1 - v) / 2 * size], 1)


def _intersector(mesh: trimesh.Trimesh):
    try:
        from trimesh.ray.ray_pyembree import RayMeshIntersector
    except ImportError as exc:
        raise BenchError("rendering views needs Embree: pip install 'implicit-bench[image]' (embreex)") from exc
    return RayMeshIntersector(mesh)


def render_view(mesh: trimesh.Trimesh, camera: Camera, size: int = 137, intersector=None) -> np.ndarray:
    """(size, size, 3) uint8 image of ``mesh`` seen by ``camera``."""
    intersector = intersector or _intersector(mesh)
    origins, dirs = camera.rays(size)
    tri = intersector.intersects_first(origins, dirs)
    hit = tri >= 0
    img = np.ones((size * size, 3))
    normals = mesh.face_normals[tri[hit]]
    shade = np.abs((normals * dirs[hit]).sum(1))  # headlight; abs: real meshes have inconsistent winding
    img[hit] = (0.15 + 0.75 * shade)[:, None] * np.array([0.75, 0.78, 0.85])
    return (img.reshape(size, size, 3) * 255).round().astype(np.uint8)


def view_rng(seed: int, shape_id: str) -> np.random.Generator:
    """The camera azimuths of a shape depend on the seed and its id only, so re-rendering is reproducible."""
    from bench._io import stable_hash

    return np.random.default_rng([seed, 7, int(stable_hash(shape_id, 8), 16)])


def render_views(mesh: trimesh.Trimesh, n_views: int = 24, size: int = 137, rng: np.random.Generator | None = None,
                 radius: float = 2.0, elevation_deg: float = 25.0) -> tuple[np.ndarray, np.ndarray]:
    """(V, size, size, 3) uint8 views at random azimuths, and the azimuths (V,)."""
    rng = rng or np.random.default_rng(0)
    intersector = _intersector(mesh)
    azimuths = rng.uniform(0, 2 * np.pi, n_views)
    views = [render_view(mesh, Camera(a, np.deg2rad(elevation_deg), radius), size, intersector) for a in azimuths]
    return np.stack(views), azimuths
