"""The embedded synthetic dataset: part-labelled shapes generated from SDFs, no download needed.

Occupancy is exact from the SDF (evaluated at the stored float16 coordinates, so stored labels are exact
for stored points); surface points are sampled on a marching-cubes mesh and projected onto the true
zero level set, normals are SDF gradients; surface part labels come from the nearest part SDF and
query-point labels from the paper's Voronoi rule (pykdtree). Generated folders are cached under a
revision that hashes the generator version and every parameter.

Generator versions (each one is a new dataset revision; caches of older ones are never reused):
  2. points.npz records loc/scale.
  3. normals from the projection step's gradient.
  4. fine-grained classes (bench.data.shapes.CLASSES: 16 classes, six family pairs that differ only by
     an optional part, always present in one class and never in the other) instead of 10 categories
     with randomly present optional parts; presets count shapes per class. Faster: SDF grids are
     evaluated only in a narrow band around the surface, the coarse normalisation needs no marching
     cubes, the Newton projection runs in float32, and the Voronoi rule is applied to the inside
     query points only (the others are background anyway).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench._io import stable_hash
from bench.config import DataConfig
from bench.data.cache import (cache_dir, dataset_complete, failure_summary, incomplete_shapes, render_missing_views,
                              run_shape_jobs)
from bench.data.format import Category, DatasetInfo, read_dataset_info, write_shape
from bench.data.shapes import CLASSES, FAMILIES
from bench.errors import ConfigError, DataError, did_you_mean
from bench.geometry import sdf as S
from bench.geometry.box import BOX_BOUND
from bench.geometry.surface import mesh_from_sdf, query_points, sample_sdf_surface, sdf_grid, voxel_centres
from bench.geometry.voronoi import BACKGROUND, voronoi_labels

GENERATOR_VERSION = 4
NEAR_SIGMAS = (0.01, 0.04)
# Design coordinates: every builder's shape lies well inside [-DESIGN_BOUND, DESIGN_BOUND]^3.
DESIGN_BOUND = 1.0
COARSE_RESOLUTION = 49


@dataclass(frozen=True)
class Preset:
    train: int  # shapes per class and split
    val: int
    test: int
    n_points: int  # query points per shape
    n_surface: int  # surface points per shape
    near_share: float  # share of query points near the surface (the rest uniform)
    mc_resolution: int  # marching-cubes grid used to place surface samples
    voxel_resolution: int = 32


PRESETS: dict[str, Preset] = {  # shapes: tiny 16 x 4 = 64, small 16 x 19 = 304, large 16 x 172 = 2752
    "tiny": Preset(train=2, val=1, test=1, n_points=4096, n_surface=4096, near_share=0.5, mc_resolution=48),
    "small": Preset(train=13, val=2, test=4, n_points=100_000, n_surface=100_000, near_share=0.5,
                    mc_resolution=80),
    "large": Preset(train=125, val=15, test=32, n_points=100_000, n_surface=100_000, near_share=0.5,
                    mc_resolution=96),
}


def part_table() -> tuple[list[str], dict[str, list[int]]]:
    """Global part names ("chair/seat", ...) and each class's global part indices: those of its family,
    the optional part included (a class without it simply never shows it)."""
    names, per_family = [], {}
    for family, (_, parts, _) in FAMILIES.items():
        per_family[family] = list(range(len(names), len(names) + len(parts)))
        names += [f"{family}/{p}" for p in parts]
    return names, {cls: per_family[c.family] for cls, c in CLASSES.items()}


def part_index(class_id: str, part: str) -> int:
    """The global index of ``part`` of the family of ``class_id``."""
    _, parts, _ = FAMILIES[CLASSES[class_id].family]
    return part_table()[1][class_id][parts.index(part)]


def _union(fs):
    return S.union(*fs)


def normalised_parts(class_id: str, rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray, float]:
    """Build a shape: its parts in design coordinates and a ``loc, scale`` (p -> (p - loc) / scale) that
    puts it inside the unit cube for sure; make_shape refines them from the exact surface samples.

    The box is that of the coarse-grid nodes inside or near the shape (f <= the cell's half diagonal,
    with a margin for the ellipsoid: every surface point has such a node within half a cell per axis),
    grown by half a cell; so nothing of the shape is cut off, at the cost of a slightly loose box.
    """
    parts = CLASSES[class_id].build(rng)
    whole = _union(list(parts.values()))
    values, _ = sdf_grid(whole, COARSE_RESOLUTION, DESIGN_BOUND)
    cell = 2 * DESIGN_BOUND / (COARSE_RESOLUTION - 1)
    near = np.argwhere(values <= 1.5 * cell * np.sqrt(3) / 2)
    if len(near) == 0:
        raise ValueError(f"{class_id}: the builder made an empty shape")
    if near.min() == 0 or near.max() == COARSE_RESOLUTION - 1:
        raise ValueError(f"{class_id}: the shape reaches the design box [-{DESIGN_BOUND}, {DESIGN_BOUND}]^3; "
                         "shrink the builder's proportions or raise DESIGN_BOUND")
    lo = near.min(0) * cell - DESIGN_BOUND - cell / 2
    hi = near.max(0) * cell - DESIGN_BOUND + cell / 2
    return parts, ((lo + hi) / 2).astype(np.float32), float((hi - lo).max())


def make_shape(class_id: str, rng: np.random.Generator, preset: Preset) -> dict[str, np.ndarray]:
    """Arrays of one shape: query points/occupancy/labels, surface points/normals/labels, voxels."""
    _, part_order, _ = FAMILIES[CLASSES[class_id].family]
    _, per_class = part_table()
    raw, loc, scale = normalised_parts(class_id, rng)
    names = list(raw)
    whole = _union([S.transformed(raw[n], loc, scale) for n in names])

    surface, normals = sample_sdf_surface(whole, preset.n_surface, rng, preset.mc_resolution, BOX_BOUND)
    # normalised_parts' box is a little loose; the samples lie on the exact surface, so their bbox
    # renormalises the shape exactly to the unit cube.
    lo, hi = surface.min(0), surface.max(0)
    centre, side = (lo + hi) / 2, float((hi - lo).max())
    surface = ((surface - centre) / side).astype(np.float16)
    loc, scale = loc + centre * scale, scale * side  # design -> unit cube: p = (q - loc) / scale
    parts = {n: S.transformed(f, loc, scale) for n, f in raw.items()}
    whole = _union([parts[n] for n in names])
    s32 = surface.astype(np.float32)
    nearest_part = np.argmin(np.stack([parts[n](s32) for n in names]), axis=0)
    global_ids = np.array([per_class[class_id][part_order.index(n)] for n in names])
    surface_labels = global_ids[nearest_part]

    points, n_uniform = query_points(s32, preset.n_points, preset.near_share, NEAR_SIGMAS, rng, BOX_BOUND)
    p32 = points.astype(np.float32)
    occ = whole(p32) < 0
    # Outside points are background whatever their nearest surface point, so only the inside ones go
    # through the k-d tree (a fifth of them, and the far uniform ones are the slow queries).
    labels = np.full(len(points), BACKGROUND, dtype=np.int64)
    if occ.any():
        labels[occ] = voronoi_labels(p32[occ], s32, surface_labels)

    r = preset.voxel_resolution
    voxels = (whole(voxel_centres(r)) < 0).reshape(r, r, r)
    return dict(points=points, occupancies=occ, n_uniform=n_uniform, surface=surface, normals=normals,
                labels=labels, surface_labels=surface_labels, voxels=voxels, loc=loc, scale=scale)


def shape_rng(seed: int, shape_id: str) -> np.random.Generator:
    """The generator of one shape: the same seed and shape id give the same shape on any machine."""
    class_id, name = shape_id.split("/")
    return np.random.default_rng([seed, list(CLASSES).index(class_id), int(name.lstrip("s"))])


def shape_mesh(shape_id: str, seed: int, loc: np.ndarray, scale: float, resolution: int = 96):
    """The mesh of a generated shape (marching cubes of its SDF), rebuilt from its seed and stored loc/scale:
    the builder is the first consumer of the shape's generator, so it draws the same proportions."""
    raw = CLASSES[shape_id.split("/")[0]].build(shape_rng(seed, shape_id))
    whole = _union([S.transformed(f, np.asarray(loc, np.float32), float(scale)) for f in raw.values()])
    return mesh_from_sdf(whole, resolution, BOX_BOUND)


def generate_shape(root: Path, shape_id: str, seed: int, preset: Preset) -> None:
    """Generate one shape into ``root/shape_id`` (a worker's job)."""
    write_shape(Path(root) / shape_id, **make_shape(shape_id.split("/")[0], shape_rng(seed, shape_id), preset))


def render_shape(root: Path, shape_id: str, seed: int, n_views: int, size: int, resolution: int) -> None:
    """Render the views of one generated shape from its SDF into its views.npz (a worker's job)."""
    from bench.data.format import _load_npz, write_views
    from bench.data.render import render_views, view_rng

    # the checked reader: a corrupt points.npz is a DataError naming it, not a raw BadZipFile
    pts = _load_npz(Path(root) / shape_id / "points.npz", ("loc", "scale"))
    loc, scale = pts["loc"], float(pts["scale"])
    mesh = shape_mesh(shape_id, seed, loc, scale, resolution)
    images, azimuths = render_views(mesh, n_views, size, view_rng(seed, shape_id))
    write_views(Path(root) / shape_id, images, azimuths)


def shape_plan(preset: Preset) -> list[tuple[str, str]]:
    """(split, shape id) of every shape, in a fixed order: per class, train then val then test."""
    plan = []
    for class_id in CLASSES:
        i = 0
        for split, n in (("train", preset.train), ("val", preset.val), ("test", preset.test)):
            for _ in range(n):
                plan.append((split, f"{class_id}/s{i:04d}"))
                i += 1
    return plan


def revision(preset_name: str, seed: int) -> str:
    return stable_hash({"generator": GENERATOR_VERSION, "preset": preset_name,
                        "params": asdict(PRESETS[preset_name]), "seed": seed,
                        "classes": {c: [v.family, v.optional] for c, v in CLASSES.items()},
                        "families": {f: list(p) for f, (_, p, _) in FAMILIES.items()}})


def generate(preset_name: str, root: Path, seed: int = 0, workers: int = 0, progress: bool = True) -> DatasetInfo:
    """Generate (or finish generating) the dataset into ``root``; shapes already written are kept."""
    preset = PRESETS[preset_name]
    root = Path(root)
    plan = shape_plan(preset)
    todo = incomplete_shapes(root, [sid for _, sid in plan])
    jobs = [(sid, (root, sid, seed, preset)) for sid in todo]
    failures = run_shape_jobs(generate_shape, jobs, f"generating synthetic-{preset_name}", progress, workers)
    if failures:
        raise DataError(f"{root}: {failure_summary(failures, 'generate')}\nThis is a bug in the synthetic "
                        "generator (please report it with the lines above); shapes already written are kept.")
    part_names, per_class = part_table()
    info = DatasetInfo(
        name=f"synthetic-{preset_name}",
        revision=revision(preset_name, seed),
        categories=[Category(c, c, per_class[c]) for c in CLASSES],
        part_names=part_names,
        splits={s: [sid for split, sid in plan if split == s] for s in ("train", "val", "test")},
        made_by={"generator": "bench.data.synthetic", "generator_version": GENERATOR_VERSION,
                 "preset": preset_name, "seed": seed, "params": asdict(preset)},
    )
    info.write(root)  # last: its presence marks a complete dataset
    info.root = str(root)
    return info


class SyntheticDataset:
    """Procedural part-labelled shapes (16 fine-grained classes of 10 families, 32 parts), generated
    locally: no download.

    The generator seed is ``data.generator_seed`` when it is set (not 0), else ``seed`` (0 from ``bench run``;
    ``bench data generate --seed``): the standard draw is seed 0, and any other seed is a fresh draw of every
    shape, with its own revision (``revision`` hashes the seed) and cache folder, for a confirmatory
    evaluation that no tuning has seen. Seed 0 is the dataset and revision that seed 0 always was."""

    uses_generator_seed = True  # open_dataset refuses data.generator_seed for datasets that would ignore it

    def __init__(self, cfg: DataConfig, seed: int = 0):
        if cfg.preset not in PRESETS:
            raise ConfigError(f"data.preset: no synthetic preset '{cfg.preset}'.{did_you_mean(cfg.preset, PRESETS)} "
                              f"Presets: {', '.join(PRESETS)}.")
        if cfg.generator_seed < 0:
            raise ConfigError(f"data.generator_seed = {cfg.generator_seed}: a seed is a whole number >= 0.")
        self.cfg, self.seed = cfg, cfg.generator_seed or seed
        self.root = cache_dir(cfg) / f"synthetic-{cfg.preset}-{revision(cfg.preset, self.seed)}"

    def render(self, info: DatasetInfo, n_views: int, size: int, progress: bool = True) -> None:
        """Render ``n_views`` views of every shape that lacks them (cached in views.npz beside the shape)."""
        res = PRESETS[self.cfg.preset].mc_resolution
        render_missing_views(self.root, info, n_views, size, render_shape,
                             lambda sid: (self.root, sid, self.seed, n_views, size, res), progress)

    def prepare(self, progress: bool = True) -> Path:
        """Generate into the cache unless a complete copy is already there; returns its folder."""
        if dataset_complete(self.root) and read_dataset_info(self.root).revision == revision(self.cfg.preset, self.seed):
            return self.root
        generate(self.cfg.preset, self.root, seed=self.seed, progress=progress)
        return self.root
