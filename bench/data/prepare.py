"""`bench prepare`: meshes -> the dataset format. Normalise to the unit cube, label inside/outside by
winding numbers (robust on the non-watertight meshes of real datasets), sample uniform + near-surface
query points and surface points with normals, and label parts by the Voronoi rule when labelled points
are given. Parallel over shapes, resumable (finished shapes are skipped), shardable (``--shard i/n``);
a failing mesh is logged to ``failures.jsonl`` and skipped, never stopping the batch."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench._io import atomic_write_text, stable_hash
from bench.data.cache import run_shape_jobs, shape_complete
from bench.data.format import Category, DatasetInfo, write_shape
from bench.data.meshio import load_mesh, normalise_to_unit_cube
from bench.errors import DataError
from bench.geometry.occupancy import fast_winding_numbers, winding_method
from bench.geometry.surface import query_points, voxel_centres
from bench.geometry.voronoi import voronoi_labels

PREPARE_VERSION = 1
FAILURES = "failures.jsonl"


@dataclass(frozen=True)
class PrepareParams:
    n_points: int = 100_000
    n_surface: int = 100_000
    near_share: float = 0.5
    near_sigmas: tuple[float, ...] = (0.01, 0.04)
    voxel_resolution: int = 32
    seed: int = 0


@dataclass
class MeshItem:
    """One shape to prepare: its id (<category>/<name>), split, mesh file, and optional labelled points."""

    shape_id: str
    split: str
    mesh: str
    labelled_points: str = ""  # .txt (x y z [nx ny nz] label) or .pts with a sibling .seg
    label_offset: int = 0  # added to the file's labels to make them global part indices


@dataclass
class PrepareReport:
    done: int = 0
    skipped_existing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    method: str = ""


def read_labelled_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """ShapeNetPart's labels: ``.txt`` rows 'x y z nx ny nz label' (or 'x y z label'), or ``.pts`` + ``.seg``."""
    path = Path(path)
    try:
        if path.suffix == ".pts":
            pts = np.loadtxt(path, dtype=np.float64, ndmin=2)
            # ShapeNetPart v0 keeps <synset>/points/<model>.pts and <synset>/points_label/<model>.seg
            seg = path.parent.parent / "points_label" / f"{path.stem}.seg"
            labels = np.loadtxt(seg if seg.is_file() else path.with_suffix(".seg"), dtype=np.int64, ndmin=1)
        else:
            rows = np.loadtxt(path, dtype=np.float64, ndmin=2)
            pts, labels = rows[:, :3], rows[:, -1].astype(np.int64)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: unreadable labelled points ({exc}).") from exc
    if len(pts) != len(labels) or len(pts) == 0:
        raise DataError(f"{path}: {len(pts)} points but {len(labels)} labels.")
    return pts[:, :3], labels


def normalised_mesh(item: MeshItem):
    """The item's mesh in the unit cube, with the loc/scale used recorded on it (mesh.metadata)."""
    import trimesh

    mesh = load_mesh(Path(item.mesh))
    verts, loc, scale = normalise_to_unit_cube(np.asarray(mesh.vertices, dtype=np.float64))
    out = trimesh.Trimesh(verts, mesh.faces, process=False)
    out.metadata.update(loc=loc, scale=scale)
    return out


def render_prepared(item: MeshItem, root: Path, n_views: int, size: int, seed: int) -> None:
    """Render the views of one prepared shape from its source mesh (for image encoders) into its views.npz."""
    from bench.data.format import write_views
    from bench.data.render import render_views, view_rng

    images, az = render_views(normalised_mesh(item), n_views, size, view_rng(seed, item.shape_id))
    write_views(Path(root) / item.shape_id, images, az)


def prepare_shape(item: MeshItem, root: Path, params: PrepareParams) -> None:
    """Prepare one shape into ``root/item.shape_id`` (inside/outside by ``winding_method()``)."""
    import trimesh

    mesh = normalised_mesh(item)
    rng = np.random.default_rng([params.seed, int(stable_hash(item.shape_id, 8), 16)])
    surface, face_idx = trimesh.sample.sample_surface(mesh, params.n_surface, seed=rng)
    normals = mesh.face_normals[face_idx]
    points, n_uniform = query_points(surface, params.n_points, params.near_share, params.near_sigmas, rng)
    r = params.voxel_resolution
    grid = voxel_centres(r)
    w, _ = fast_winding_numbers(mesh.vertices, mesh.faces, np.concatenate([points, grid]).astype(np.float64))
    occ, voxels = w[: len(points)] >= 0.5, (w[len(points):] >= 0.5).reshape(r, r, r)
    labels = surface_labels = None
    if item.labelled_points:
        lp, ll = read_labelled_points(Path(item.labelled_points))
        # Labelled points and mesh come from different pipelines: both are bbox-normalised, which aligns
        # ShapeNetPart with ShapeNetCore up to the annotation's own sampling.
        lp, _, _ = normalise_to_unit_cube(lp)
        ll = ll + item.label_offset
        surface_labels = voronoi_labels(surface, lp, ll)
        labels = voronoi_labels(points.astype(np.float32), surface.astype(np.float32), surface_labels, inside=occ)
    write_shape(root / item.shape_id, points, occ, surface.astype(np.float32), normals.astype(np.float32),
                n_uniform=n_uniform, labels=labels, surface_labels=surface_labels, voxels=voxels,
                loc=mesh.metadata["loc"], scale=mesh.metadata["scale"])


def prepare_items(items: list[MeshItem], root: Path, params: PrepareParams, workers: int = 0,
                  shard: tuple[int, int] = (0, 1), progress: bool = True) -> PrepareReport:
    """Prepare this shard's shapes that are not finished yet; failures go to root/failures.jsonl."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    mine = [it for k, it in enumerate(items) if k % shard[1] == shard[0]]
    todo = [it for it in mine if not shape_complete(root, it.shape_id)]
    report = PrepareReport(skipped_existing=len(mine) - len(todo))
    jobs = [(it.shape_id, (it, root, params)) for it in todo]
    report.failed = run_shape_jobs(prepare_shape, jobs, f"preparing {root.name}", progress, workers)
    report.done = len(todo) - len(report.failed)
    report.method = winding_method() if report.done else ""
    if report.failed:
        lines = "".join(json.dumps({"shape": s, "error": e}) + "\n" for s, e in report.failed)
        with open(root / FAILURES, "a", encoding="utf-8") as fh:
            fh.write(lines)
    return report


def finalise(items: list[MeshItem], root: Path, name: str, categories: list[Category], part_names: list[str],
             params: PrepareParams, source: str) -> DatasetInfo | None:
    """Write dataset.json once every shape is either prepared or recorded as failed (all shards done)."""
    root = Path(root)
    failed = set()
    if (root / FAILURES).is_file():
        failed = {json.loads(line)["shape"] for line in (root / FAILURES).read_text().splitlines() if line.strip()}
    ready = [it for it in items if shape_complete(root, it.shape_id)]
    if len(ready) + len(failed - {it.shape_id for it in ready}) < len(items):
        return None  # other shards are still working
    if not ready:  # a dataset.json with no shapes would pass as a finished, empty dataset on every later run
        raise DataError(f"{root}: none of the {len(items)} shapes could be prepared; the first failures are in "
                        f"{root / FAILURES}. Fix the source (or its path) and run `bench prepare` again.")
    splits: dict[str, list[str]] = {}
    for it in ready:
        splits.setdefault(it.split, []).append(it.shape_id)
    info = DatasetInfo(name=name, revision=stable_hash({"v": PREPARE_VERSION, "params": asdict(params), "source": source,
                                                        "shapes": sorted(s for v in splits.values() for s in v)}),
                       categories=categories, part_names=part_names, splits=splits,
                       made_by={"tool": "bench prepare", "version": PREPARE_VERSION, "params": asdict(params),
                                "source": source, "failed": sorted(failed)})
    info.write(root)
    info.root = str(root)
    atomic_write_text(root / "README.txt", f"Prepared by `bench prepare` from {source}.\n")
    return info
