"""Reading meshes: trimesh for every format, plus a tolerant reader for ModelNet's malformed OFF headers.
Only geometry is read: material and texture references are never followed, and every file read must be a
regular file, since a FIFO or a device (/dev/zero) named by a hostile source would block or never end."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import trimesh

from bench.errors import DataError

MESH_SUFFIXES = (".off", ".obj", ".ply", ".stl", ".glb", ".gltf")


def parse_off(text: str, where: str = "<off>") -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float, (F, 3) int from OFF text. Accepts ModelNet's 'OFF490 518 0' (header glued to the
    counts), comments and blank lines; polygons are fan-triangulated. Malformed input -> DataError."""
    tokens: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            tokens.extend(line.split())
    if not tokens or not tokens[0].upper().startswith("OFF"):
        raise DataError(f"{where}: not an OFF file (no 'OFF' header).")
    head = tokens[0][3:]
    rest = tokens[1:]
    if head:  # 'OFF490' -> the vertex count is glued to the keyword
        rest = [head] + rest
    try:
        n_v, n_f = int(rest[0]), int(rest[1])
        pos = 3
        verts = np.array(rest[pos:pos + 3 * n_v], dtype=np.float64).reshape(n_v, 3)
        pos += 3 * n_v
        faces = []
        for _ in range(n_f):
            k = int(rest[pos])
            idx = [int(t) for t in rest[pos + 1:pos + 1 + k]]
            if len(idx) != k:
                raise ValueError("truncated face list")
            faces += [(idx[0], idx[j], idx[j + 1]) for j in range(1, k - 1)]
            pos += 1 + k
    except (IndexError, ValueError) as exc:
        raise DataError(f"{where}: malformed OFF body ({exc}).") from exc
    faces_arr = np.array(faces, dtype=np.int64).reshape(-1, 3)
    if n_v == 0 or len(faces_arr) == 0:
        raise DataError(f"{where}: the mesh is empty ({n_v} vertices, {n_f} faces).")
    if faces_arr.min() < 0 or faces_arr.max() >= n_v:
        raise DataError(f"{where}: face indices outside the {n_v} vertices.")
    if not np.isfinite(verts).all():
        raise DataError(f"{where}: vertex coordinates contain NaN or inf.")
    return verts, faces_arr


def check_regular_file(path: Path, what: str) -> Path:
    """``path`` if it is a regular file (symlinks followed); else DataError saying what it is instead.
    Checked before every read: opening a FIFO blocks until someone writes to it, a device may never end."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        raise DataError(f"{path}: {what} not found.") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise DataError(f"{path}: the {what} is {kind}, not a regular file; reading it could block forever. "
                        f"Replace it with the real file or remove it from the source folder.")
    return path


class GeometryOnlyResolver(trimesh.resolvers.FilePathResolver):
    """Serves the side files a mesh needs for its geometry (a .gltf's .bin buffers) only when they are regular
    files inside the mesh's folder; anything else reads as missing (FileNotFoundError), never as a hang."""

    def get(self, name: str) -> bytes:
        try:
            path = self.absolute(name)  # ValueError when the name leaves the mesh's folder
        except ValueError as exc:
            raise FileNotFoundError(f"{name}: outside the mesh's folder, not read") from exc
        if not path.is_file():
            raise FileNotFoundError(f"{name}: not a regular file in the mesh's folder, not read")
        return path.read_bytes()


def load_mesh(path: Path) -> trimesh.Trimesh:
    """Any mesh file as one Trimesh (scenes are concatenated). Empty or unreadable -> DataError."""
    path = check_regular_file(Path(path), "mesh file")
    if path.suffix.lower() == ".off":
        verts, faces = parse_off(path.read_text(encoding="utf-8", errors="replace"), str(path))
        mesh = trimesh.Trimesh(verts, faces, process=False)
    else:
        try:
            # skip_materials: an .obj's mtllib or a .ply's texture is not geometry, and reading one that is a
            # FIFO blocks the worker forever (trimesh 5.2 loaders take the flag; the resolver is the backstop).
            mesh = trimesh.load(path, force="mesh", process=False, skip_materials=True,
                                resolver=GeometryOnlyResolver(str(path)))
        except Exception as exc:  # noqa: BLE001 - trimesh raises many types for bad files
            raise DataError(f"{path}: unreadable mesh ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0:
        raise DataError(f"{path}: the mesh is empty.")
    if mesh.area <= 0:
        raise DataError(f"{path}: the mesh has zero surface area.")
    return mesh


def normalise_to_unit_cube(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre the bounding box at the origin and scale its longest side to 1 (ONet). -> (V', loc, scale)."""
    lo, hi = vertices.min(0), vertices.max(0)
    loc, scale = (lo + hi) / 2, float((hi - lo).max())
    if scale <= 0:
        raise DataError("degenerate mesh: zero extent")
    return (vertices - loc) / scale, loc, scale
