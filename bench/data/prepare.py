"""`bench prepare`: meshes -> the dataset format. Normalise to the unit cube, label inside/outside by
winding numbers (robust on the non-watertight meshes of real datasets), sample uniform + near-surface
query points and surface points with normals, and label parts by the Voronoi rule when labelled points
are given (once they are found to sit on the mesh: bench/data/alignment.py). Parallel over shapes, resumable
(finished shapes are skipped), shardable (``--shard i/n``); a failing mesh, or labelled points off it, is
logged to ``failures.jsonl`` and skipped, never stopping the batch."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench._io import atomic_write_text, stable_hash
from bench.data.alignment import check_label_alignment
from bench.data.cache import run_shape_jobs, shape_complete
from bench.data.format import Category, DatasetInfo, check_shape_id, write_shape
from bench.data.meshio import check_regular_file, load_mesh, normalise_to_unit_cube
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
    label_max_distance: float = 0.02
    """Labelled points (ShapeNetPart) farther than this from the mesh after the alignment, a share of the box
    side, for more than 5 % of them: the shape is skipped and logged in failures.jsonl (bench/data/alignment.py).
    0: no check."""


NEW_PARAMS_AT_DEFAULT = {"label_max_distance": 0.02}
"""Parameters added after datasets were prepared: left out of the dataset revision while they hold their default,
so that preparing the same shapes again gives the revision it gave before (a shape the check skips changes the
revision anyway, through the list of shapes)."""


def hashed_params(params: PrepareParams) -> dict:
    """``asdict(params)`` less NEW_PARAMS_AT_DEFAULT's parameters that hold their default: what the revision hashes."""
    out = asdict(params)
    for key, default in NEW_PARAMS_AT_DEFAULT.items():
        if out.get(key) == default:
            del out[key]
    return out


@dataclass
class MeshItem:
    """One shape to prepare: its id (<category>/<name>), split, mesh file, and optional labelled points."""

    shape_id: str
    split: str
    mesh: str
    labelled_points: str = ""  # .txt (x y z [nx ny nz] label) or .pts with a sibling .seg
    label_offset: int = 0  # added to the file's labels to make them global part indices
    skip: str = ""  # why the listing refused this item (unsafe or clashing id): logged as a failure, never prepared


@dataclass
class PrepareReport:
    done: int = 0
    skipped_existing: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    method: str = ""


def read_labelled_points(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """ShapeNetPart's labels: ``.txt`` rows 'x y z nx ny nz label' (or 'x y z label'), or ``.pts`` + ``.seg``."""
    path = check_regular_file(Path(path), "labelled points file")
    try:
        if path.suffix == ".pts":
            pts = np.loadtxt(path, dtype=np.float64, ndmin=2)
            # ShapeNetPart v0 keeps <synset>/points/<model>.pts and <synset>/points_label/<model>.seg
            seg = path.parent.parent / "points_label" / f"{path.stem}.seg"
            # exists(), not is_file(): a FIFO there must be refused by name, not mistaken for a missing file
            seg = check_regular_file(seg if seg.exists() else path.with_suffix(".seg"), "part label file")
            labels = np.loadtxt(seg, dtype=np.int64, ndmin=1)
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

    # Before any work: an id with '..' or '/' would write outside root, whoever built the item.
    check_shape_id(item.shape_id, item.mesh)
    mesh = normalised_mesh(item)
    rng = np.random.default_rng([params.seed, int(stable_hash(item.shape_id, 8), 16)])
    surface, face_idx = trimesh.sample.sample_surface(mesh, params.n_surface, seed=rng)
    normals = mesh.face_normals[face_idx]
    points, n_uniform = query_points(surface, params.n_points, params.near_share, params.near_sigmas, rng)
    surface_labels = None
    if item.labelled_points:  # before the winding numbers: a shape refused here costs no more work
        lp, ll = read_labelled_points(Path(item.labelled_points))
        # Labelled points and mesh come from different pipelines: both are bbox-normalised, which aligns
        # ShapeNetPart with ShapeNetCore up to the annotation's own sampling, when they are the same model in
        # the same frame; the check refuses a shape where they are not.
        lp, _, _ = normalise_to_unit_cube(lp)
        if params.label_max_distance > 0:
            check_label_alignment(item.shape_id, lp, mesh.triangles, surface, face_idx, params.label_max_distance,
                                  item.labelled_points)
        surface_labels = voronoi_labels(surface, lp, ll + item.label_offset)
    r = params.voxel_resolution
    grid = voxel_centres(r)
    w, _ = fast_winding_numbers(mesh.vertices, mesh.faces, np.concatenate([points, grid]).astype(np.float64))
    occ, voxels = w[: len(points)] >= 0.5, (w[len(points):] >= 0.5).reshape(r, r, r)
    labels = None
    if surface_labels is not None:
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
    refused = [(it.shape_id, it.skip) for it in mine if it.skip]
    todo = [it for it in mine if not it.skip and not shape_complete(root, it.shape_id)]
    report = PrepareReport(skipped_existing=len(mine) - len(refused) - len(todo))
    jobs = [(it.shape_id, (it, root, params)) for it in todo]
    failed = run_shape_jobs(prepare_shape, jobs, f"preparing {root.name}", progress, workers)
    report.failed = refused + failed
    report.done = len(todo) - len(failed)
    report.method = winding_method() if report.done else ""
    if report.failed:
        append_failures(root / FAILURES, report.failed)
    return report


def append_failures(path: Path, failed: list[tuple[str, str]]) -> None:
    """Append one JSON line per failure with a single O_APPEND write. Not a read-and-rename rewrite: the shards
    of a job array append to the same log at once and a rewrite would drop the other shards' lines (finalise
    would then wait forever). A kill mid-write leaves at most a torn last line, which read_failures skips
    with a warning; that shape is then unfinished and is tried (and logged) again by the next run."""
    data = "".join(json.dumps({"shape": s, "error": e}) + "\n" for s, e in failed).encode("ascii")
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data  # a torn line from a killed run: never glue a good record onto it
        while data:  # one write() unless the kernel takes less (then the rest follows at once)
            data = data[os.write(fd, data):]
        os.fsync(fd)
    finally:
        os.close(fd)


def read_failures(path: Path) -> set[str]:
    """The shape ids logged in ``failures.jsonl``; a line that is not a {"shape": ..., "error": ...} record
    (a torn write, a hand edit) is skipped with a warning naming the file and line, never a crash."""
    path = Path(path)
    if not path.is_file():
        return set()
    failed = set()
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            shape = record["shape"] if isinstance(record, dict) else None
        except (ValueError, KeyError):
            shape = None
        if not isinstance(shape, str):
            warnings.warn(f"{path}:{n}: not a failure record ({line[:80]!r}); skipped this line. It is usually the "
                          "tail of an interrupted `bench prepare`: the shape it named counts as unfinished and the "
                          "next `bench prepare` tries it again.", stacklevel=2)
            continue
        failed.add(shape)
    return failed


def finalise(items: list[MeshItem], root: Path, name: str, categories: list[Category], part_names: list[str],
             params: PrepareParams, source: str) -> DatasetInfo | None:
    """Write dataset.json once every shape is either prepared or recorded as failed (all shards done)."""
    root = Path(root)
    failed = read_failures(root / FAILURES) | {it.shape_id for it in items if it.skip}
    valid = [it for it in items if not it.skip]  # a refused item's id may be unsafe: never look it up on disk
    ready = [it for it in valid if shape_complete(root, it.shape_id)]
    ready_ids = {it.shape_id for it in ready}
    if any(it.shape_id not in ready_ids and it.shape_id not in failed for it in valid):
        return None  # other shards are still working
    if not ready:  # a dataset.json with no shapes would pass as a finished, empty dataset on every later run
        raise DataError(f"{root}: none of the {len(items)} shapes could be prepared; the first failures are in "
                        f"{root / FAILURES}. Fix the source (or its path) and run `bench prepare` again.")
    splits: dict[str, list[str]] = {}
    for it in ready:
        splits.setdefault(it.split, []).append(it.shape_id)
    revision = {"v": PREPARE_VERSION, "params": hashed_params(params), "source": source,
                "shapes": sorted(s for v in splits.values() for s in v)}
    info = DatasetInfo(name=name, revision=stable_hash(revision),
                       categories=categories, part_names=part_names, splits=splits,
                       made_by={"tool": "bench prepare", "version": PREPARE_VERSION, "params": asdict(params),
                                "source": source, "failed": sorted(failed - ready_ids)})
    info.write(root)
    info.root = str(root)
    atomic_write_text(root / "README.txt", f"Prepared by `bench prepare` from {source}.\n")
    return info
