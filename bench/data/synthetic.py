"""The embedded synthetic dataset: part-labelled shapes generated from SDFs, no download needed.

Occupancy is exact from the SDF (evaluated at the stored float16 coordinates, so stored labels are exact
for stored points); surface points are sampled on a marching-cubes mesh and projected onto the true
zero level set, normals are SDF gradients; surface part labels come from the nearest part SDF and
query-point labels from the paper's Voronoi rule (pykdtree). Generated folders are cached under a
revision that hashes the generator version and every parameter.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench._io import stable_hash
from bench.config import DataConfig
from bench.data.format import DATASET_FILE, Category, DatasetInfo, read_dataset_info, write_shape
from bench.data.shapes import CATEGORIES
from bench.errors import ConfigError, DataError, did_you_mean
from bench.geometry import sdf as S
from bench.geometry.surface import mesh_from_sdf, query_points, sample_sdf_surface, voxel_centres
from bench.geometry.voronoi import voronoi_labels
from bench.parallel import run_parallel

GENERATOR_VERSION = 3  # 2: points.npz records loc/scale; 3: normals from the projection step's gradient
BOX_PAD = 0.1  # ONet: query box = unit cube padded by 0.1 -> [-0.55, 0.55]^3
NEAR_SIGMAS = (0.01, 0.04)


@dataclass(frozen=True)
class Preset:
    train: int  # shapes per category and split
    val: int
    test: int
    n_points: int  # query points per shape
    n_surface: int  # surface points per shape
    near_share: float  # share of query points near the surface (the rest uniform)
    mc_resolution: int  # marching-cubes grid used to place surface samples
    voxel_resolution: int = 32


PRESETS: dict[str, Preset] = {  # small: 300 shapes, ~1.5 min on 2 cores
    "tiny": Preset(train=3, val=1, test=1, n_points=4096, n_surface=4096, near_share=0.5, mc_resolution=48),
    "small": Preset(train=20, val=4, test=6, n_points=100_000, n_surface=100_000, near_share=0.5,
                    mc_resolution=80),
    "large": Preset(train=200, val=25, test=50, n_points=100_000, n_surface=100_000, near_share=0.5,
                    mc_resolution=96),
}


def part_table() -> tuple[list[str], dict[str, list[int]]]:
    """Global part names ("chair/seat", ...) and each category's global part indices."""
    names, per_cat = [], {}
    for cat, (_, parts) in CATEGORIES.items():
        per_cat[cat] = list(range(len(names), len(names) + len(parts)))
        names += [f"{cat}/{p}" for p in parts]
    return names, per_cat


def normalised_parts(category: str, rng: np.random.Generator) -> tuple[dict[str, Any], np.ndarray, float]:
    """Build a shape: its parts in design coordinates and a coarse ``loc, scale`` that maps it into the
    unit cube (p -> (p - loc) / scale); make_shape refines them from the exact surface samples."""
    builder, _ = CATEGORIES[category]
    parts = builder(rng)
    verts = mesh_from_sdf(_union(list(parts.values())), resolution=48, bound=0.8).vertices
    lo, hi = verts.min(0), verts.max(0)
    return parts, (lo + hi) / 2, float((hi - lo).max())


def _rescaled(f, loc, scale):
    """SDF of the shape mapped by p -> (p - loc) / scale."""
    loc = np.asarray(loc, dtype=np.float32)
    return lambda p: f(p * np.float32(scale) + loc) / np.float32(scale)


def _union(fs):
    return S.union(*fs)


def make_shape(category: str, rng: np.random.Generator, preset: Preset) -> dict[str, np.ndarray]:
    """Arrays of one shape: query points/occupancy/labels, surface points/normals/labels, voxels."""
    _, part_order = CATEGORIES[category]
    _, per_cat = part_table()
    raw, loc, scale = normalised_parts(category, rng)
    names = list(raw)
    whole = _union([_rescaled(raw[n], loc, scale) for n in names])
    bound = 0.5 + BOX_PAD / 2

    surface, normals = sample_sdf_surface(whole, preset.n_surface, rng, preset.mc_resolution, bound)
    # The coarse bbox of normalised_parts is off by up to a grid cell; the samples lie on the exact
    # surface, so their bbox renormalises the shape exactly to the unit cube.
    lo, hi = surface.min(0), surface.max(0)
    centre, side = (lo + hi) / 2, float((hi - lo).max())
    surface = ((surface - centre) / side).astype(np.float16)
    loc, scale = loc + centre * scale, scale * side  # design -> unit cube: p = (q - loc) / scale
    parts = {n: _rescaled(f, loc, scale) for n, f in raw.items()}
    whole = _union([parts[n] for n in names])
    s32 = surface.astype(np.float32)
    nearest_part = np.argmin(np.stack([parts[n](s32) for n in names]), axis=0)
    global_ids = np.array([per_cat[category][part_order.index(n)] for n in names])
    surface_labels = global_ids[nearest_part]

    points, n_uniform = query_points(s32, preset.n_points, preset.near_share, NEAR_SIGMAS, rng, bound)
    p32 = points.astype(np.float32)
    occ = whole(p32) < 0
    labels = voronoi_labels(p32, s32, surface_labels, inside=occ)

    r = preset.voxel_resolution
    voxels = (whole(voxel_centres(r)) < 0).reshape(r, r, r)
    return dict(points=points, occupancies=occ, n_uniform=n_uniform, surface=surface, normals=normals,
                labels=labels, surface_labels=surface_labels, voxels=voxels, loc=loc, scale=scale)


def shape_rng(seed: int, shape_id: str) -> np.random.Generator:
    category, name = shape_id.split("/")
    return np.random.default_rng([seed, list(CATEGORIES).index(category), int(name.lstrip("s"))])


def shape_mesh(shape_id: str, seed: int, loc: np.ndarray, scale: float, resolution: int = 96):
    """The mesh of a generated shape (marching cubes of its SDF), rebuilt from its seed and stored loc/scale:
    the builder is the first consumer of the shape's generator, so it draws the same proportions."""
    builder, _ = CATEGORIES[shape_id.split("/")[0]]
    raw = builder(shape_rng(seed, shape_id))
    whole = _union([_rescaled(f, np.asarray(loc, np.float32), float(scale)) for f in raw.values()])
    return mesh_from_sdf(whole, resolution, 0.5 + BOX_PAD / 2)


def _render_one(args) -> tuple[str, str | None]:
    root, shape_id, seed, n_views, size, resolution = args
    from bench.data.format import write_views
    from bench.data.render import render_views, view_rng

    try:
        with np.load(Path(root) / shape_id / "points.npz") as pts:
            loc, scale = pts["loc"], float(pts["scale"])
        mesh = shape_mesh(shape_id, seed, loc, scale, resolution)
        images, azimuths = render_views(mesh, n_views, size, view_rng(seed, shape_id))
        write_views(Path(root) / shape_id, images, azimuths)
        return shape_id, None
    except Exception as exc:  # noqa: BLE001 - reported with the shape id
        return shape_id, f"{type(exc).__name__}: {exc}"


def views_ready(root: Path, shape_ids: list[str], n_views: int, size: int) -> list[str]:
    """The shapes whose views.npz is missing or has other views than asked for."""
    todo = []
    for sid in shape_ids:
        path = Path(root) / sid / "views.npz"
        if not path.is_file():
            todo.append(sid)
            continue
        with np.load(path) as v:
            if v["images"].shape[0] < n_views or v["images"].shape[1] != size:
                todo.append(sid)
    return todo




def shape_plan(preset: Preset) -> list[tuple[str, str, int]]:
    """(split, shape id, index) of every shape, in a fixed order."""
    plan = []
    for cat in CATEGORIES:
        i = 0
        for split, n in (("train", preset.train), ("val", preset.val), ("test", preset.test)):
            for _ in range(n):
                plan.append((split, f"{cat}/s{i:04d}", i))
                i += 1
    return plan


def _generate_one(args: tuple[str, str, int, int, Preset]) -> tuple[str, str | None]:
    root, shape_id, index, seed, preset = args
    category = shape_id.split("/")[0]
    try:
        rng = np.random.default_rng([seed, list(CATEGORIES).index(category), index])
        arrays = make_shape(category, rng, preset)
        write_shape(Path(root) / shape_id, **arrays)
        return shape_id, None
    except Exception as exc:  # noqa: BLE001 - reported with the shape id, the batch goes on
        return shape_id, f"{type(exc).__name__}: {exc}"


def revision(preset_name: str, seed: int) -> str:
    return stable_hash({"generator": GENERATOR_VERSION, "preset": preset_name,
                        "params": asdict(PRESETS[preset_name]), "seed": seed,
                        "categories": {c: list(p) for c, (_, p) in CATEGORIES.items()}})


def generate(preset_name: str, root: Path, seed: int = 0, workers: int = 0, progress: bool = True) -> DatasetInfo:
    """Generate (or finish generating) the dataset into ``root``; shapes already written are kept."""
    preset = PRESETS[preset_name]
    root = Path(root)
    plan = shape_plan(preset)
    todo = [(str(root), sid, idx, seed, preset) for _, sid, idx in plan
            if not (root / sid / "points.npz").is_file()]
    failures = run_parallel(_generate_one, todo, f"generating synthetic-{preset_name}", progress, workers) if todo else []
    if failures:
        lines = "\n".join(f"  {sid}: {err}" for sid, err in failures[:10])
        raise DataError(f"{len(failures)} synthetic shapes failed to generate:\n{lines}")
    part_names, per_cat = part_table()
    info = DatasetInfo(
        name=f"synthetic-{preset_name}",
        revision=revision(preset_name, seed),
        categories=[Category(c, c, per_cat[c]) for c in CATEGORIES],
        part_names=part_names,
        splits={s: [sid for split, sid, _ in plan if split == s] for s in ("train", "val", "test")},
        made_by={"generator": "bench.data.synthetic", "generator_version": GENERATOR_VERSION,
                 "preset": preset_name, "seed": seed, "params": asdict(preset)},
    )
    info.write(root)  # last: its presence marks a complete dataset
    info.root = str(root)
    return info


def cache_dir(cfg: DataConfig) -> Path:
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    env = os.environ.get("IMPLICIT_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "implicit-bench"


class SyntheticDataset:
    """Procedural part-labelled shapes (10 categories, 32 parts), generated locally: no download."""

    modalities = ("pointcloud", "voxels")

    def __init__(self, cfg: DataConfig, seed: int = 0):
        if cfg.preset not in PRESETS:
            raise ConfigError(f"data.preset: no synthetic preset '{cfg.preset}'.{did_you_mean(cfg.preset, PRESETS)} "
                              f"Presets: {', '.join(PRESETS)}.")
        self.cfg, self.seed = cfg, seed
        self.root = cache_dir(cfg) / f"synthetic-{cfg.preset}-{revision(cfg.preset, seed)}"

    def render(self, info: DatasetInfo, n_views: int, size: int, progress: bool = True) -> None:
        """Render ``n_views`` views of every shape that lacks them (cached in views.npz beside the shape)."""
        ids = sorted({s for v in info.splits.values() for s in v})
        todo = views_ready(self.root, ids, n_views, size)
        if not todo:
            return
        res = PRESETS[self.cfg.preset].mc_resolution
        args = [(str(self.root), sid, self.seed, n_views, size, res) for sid in todo]
        failures = run_parallel(_render_one, args, f"rendering {len(todo)} shapes", progress)
        if failures:
            raise DataError(f"{len(failures)} shapes failed to render, e.g. {failures[0][0]}: {failures[0][1]}")

    def prepare(self, progress: bool = True) -> Path:
        """Generate into the cache unless a complete copy is already there; returns its folder."""
        if (self.root / DATASET_FILE).is_file():
            info = read_dataset_info(self.root)
            if info.revision == revision(self.cfg.preset, self.seed):
                return self.root
        generate(self.cfg.preset, self.root, seed=self.seed, progress=progress)
        return self.root
