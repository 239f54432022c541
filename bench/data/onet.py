"""Occupancy Networks' preprocessed ShapeNet, read as it is.

ONet's layout has no ``dataset.json``: ``<category>/{train,val,test}.lst`` list each category's shapes and an
optional ``metadata.yaml`` names the categories. A shape folder holds ``points.npz`` and ``pointcloud.npz`` in
the bench format (bench/data/format.py reads them), rendered views as ``img_choy2016/*.jpg`` and voxels as
``model.binvox``. This module reads what is ONet's own; bench/data/format.py stays the generic format and
falls back to these readers (importing this module when it needs it: the imports run onet -> format).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.config import DataConfig
from bench.data.format import (DATASET_FILE, SPLITS, Category, DatasetInfo, check_resolution, check_shape_id,
                               check_splits, fix_hint)
from bench.errors import ConfigError, DataError

VIEWS_FOLDER = "img_choy2016"  # Choy et al. 2016's renderings, 24 views a shape
VOXELS_FILE = "model.binvox"


class ONetShapeNet:
    """ShapeNet as preprocessed by Occupancy Networks (13 classes, their splits); set data.path to it."""

    def __init__(self, cfg: DataConfig, seed: int = 0):
        if not cfg.path:
            raise ConfigError(
                "data.path: shapenet-onet needs the folder of ONet's preprocessed ShapeNet "
                "(download: https://github.com/autonomousvision/occupancy_networks#preprocessed-data); "
                "pass --set data.path=/path/to/ShapeNet"
            )
        self.root = Path(cfg.path).expanduser()

    def prepare(self, progress: bool = True) -> Path:
        if not self.root.is_dir():
            raise DataError(f"{self.root}: ONet ShapeNet folder not found (data.path).")
        return self.root


def category_names(root: Path) -> dict[str, str]:
    """Names from ONet's metadata.yaml (``<id>:\\n  id: ..\\n  name: ..``), read without a YAML library."""
    path = root / "metadata.yaml"
    names: dict[str, str] = {}
    if not path.is_file():
        return names
    current = None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line and not line.startswith(" ") and line.rstrip().endswith(":"):
            current = line.strip()[:-1].strip("'\"")
        elif current and line.strip().startswith("name:"):
            names[current] = line.split(":", 1)[1].strip().strip("'\"").split(",")[0]
    return names


def _read_lst(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").split()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable split list ({exc}); it must be UTF-8 text, one shape name a line.") from exc


def read_layout(root: Path) -> DatasetInfo:
    """The DatasetInfo of an ONet-layout folder (no dataset.json): categories and splits from the .lst files."""
    names = category_names(root)
    cats, splits = [], {s: [] for s in SPLITS}
    for cat_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        lists = {s: cat_dir / f"{s}.lst" for s in SPLITS}
        if not any(p.is_file() for p in lists.values()):
            continue
        cats.append(Category(cat_dir.name, names.get(cat_dir.name, cat_dir.name)))
        for split, lst in lists.items():
            if lst.is_file():
                for line in _read_lst(lst):
                    sid = f"{cat_dir.name}/{line.strip()}"
                    check_shape_id(sid, str(lst))
                    splits[split].append(sid)
    if not cats:
        raise DataError(
            f"{root}: neither {DATASET_FILE} nor ONet category folders with train/val/test.lst were found. "
            "Point --set data.path at a prepared dataset folder (see `bench prepare`)."
        )
    check_splits(splits, f"{root} (the ONet <category>/<split>.lst files)")
    revision = "onet-" + str(sum(len(v) for v in splits.values()))
    return DatasetInfo(name=root.name, revision=revision, categories=cats, part_names=[], splits=splits,
                       made_by={"layout": "onet"})


def read_choy_images(folder: Path) -> np.ndarray:
    """(V, H, W, 3) uint8 from ONet's img_choy2016/*.jpg (or .png) folder, all of one size."""
    from skimage.io import imread

    # is_file: a pipe or device named *.jpg would block the read forever
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".png") and f.is_file())
    if not files:
        raise DataError(f"{folder}: no .jpg or .png images; delete the empty folder so that views are rendered.")
    images = []
    for f in files:
        try:
            images.append(_rgb(imread(f)))
        except (OSError, ValueError, SyntaxError) as exc:  # PIL raises SyntaxError on some broken headers
            raise DataError(f"{f}: unreadable image ({type(exc).__name__}: {exc}); replace or delete it.") from exc
    sizes = sorted({im.shape for im in images})
    if len(sizes) > 1:
        raise DataError(f"{folder}: images differ in size ({sizes[0]} vs {sizes[1]}); they must share one size.")
    return np.stack(images)


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[-1] < 3:
        raise ValueError(f"not an RGB or grey image (shape {img.shape})")
    return img[..., :3].astype(np.uint8)


def read_binvox(path: Path) -> np.ndarray:
    """ONet's model.binvox, its header and run lengths checked before trimesh expands them."""
    from trimesh.exchange.binvox import parse_binvox, voxel_from_binvox

    try:
        with open(path, "rb") as fh:
            bv = parse_binvox(fh, writeable=True)
    except (OSError, ValueError, IndexError, KeyError) as exc:
        raise DataError(f"{path}: not a readable binvox file ({exc}); {fix_hint(path)}.") from exc
    dims = [int(d) for d in np.asarray(bv.shape).reshape(-1)]
    if len(dims) != 3 or len(set(dims)) != 1:
        raise DataError(f"{path}: binvox grid is {dims}; the voxel encoder needs a cubic R x R x R grid.")
    r = check_resolution(dims[0], path)
    rle = np.asarray(bv.rle_data, dtype=np.uint8)
    decoded = int(rle[1::2].sum(dtype=np.int64))
    if len(rle) % 2 or decoded != r**3:
        raise DataError(f"{path}: binvox run lengths give {decoded} voxels ({len(rle)} bytes), the header says "
                        f"{r}^3 = {r**3}; the file is truncated or corrupt: {fix_hint(path)}.")
    grid = voxel_from_binvox(rle, bv.shape, bv.translate, bv.scale, axis_order="xzy")
    return np.asarray(grid.matrix, dtype=bool)
