"""The on-disk dataset format (ONet-compatible) and a validating reader.

A dataset folder holds ``dataset.json`` and one folder per shape, ``<category>/<shape>/``, with
``points.npz`` (``points`` (P, 3) float16, ``occupancies`` bit-packed, ``loc``, ``scale``; optional
``n_uniform``: the first n_uniform points are uniform in the padded box, the rest near the surface),
``pointcloud.npz`` (``points``, ``normals`` (S, 3)), and where parts exist ``parts.npz`` (``labels`` (P,)
for the query points, -1 outside; ``surface_labels`` (S,)). ``voxels.npz`` (``voxels`` bit-packed R^3,
``resolution``) is optional. ONet's preprocessed ShapeNet (no dataset.json, ``<cat>/{train,val,test}.lst``)
reads as it is.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._io import atomic_write_bytes, atomic_write_json
from bench.errors import DataError

FORMAT_VERSION = 1
DATASET_FILE = "dataset.json"
SPLITS = ("train", "val", "test")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def pack_occupancies(occ: np.ndarray) -> np.ndarray:
    """(P,) bool -> (ceil(P/8),) uint8, as ONet stores them."""
    return np.packbits(np.asarray(occ, dtype=bool))


def unpack_occupancies(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of pack_occupancies: (ceil(n/8),) uint8 -> (n,) bool."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8))[:n].astype(bool)


def check_shape_id(shape_id: str, where: str) -> None:
    """Reject names that could leave the dataset folder ('..', '/', absolute paths)."""
    parts = shape_id.split("/")
    if len(parts) != 2 or not all(_SAFE_NAME.match(p) and p not in (".", "..") for p in parts):
        raise DataError(
            f"{where}: shape id {shape_id!r} is not of the form <category>/<shape> with letters, digits, "
            "'_', '-', '.' only; refusing it (it could point outside the dataset folder)."
        )


@dataclass
class Category:
    id: str
    name: str
    parts: list[int] = field(default_factory=list)  # global part indices of this category


@dataclass
class DatasetInfo:
    """What dataset.json says (or what was inferred from an ONet folder)."""

    name: str
    revision: str
    categories: list[Category]
    part_names: list[str]
    splits: dict[str, list[str]]
    made_by: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    root: str = ""

    @property
    def has_parts(self) -> bool:
        return bool(self.part_names)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("root")
        return d

    def write(self, root: Path) -> None:
        atomic_write_json(Path(root) / DATASET_FILE, self.to_dict())


def _parse_dataset_json(data: Any, where: str) -> DatasetInfo:
    if not isinstance(data, dict):
        raise DataError(f"{where}: must be a JSON object.")
    for key in ("name", "revision", "categories", "splits"):
        if key not in data:
            raise DataError(f"{where}: missing key '{key}'.")
    try:
        cats = [Category(str(c["id"]), str(c.get("name", c["id"])), [int(i) for i in c.get("parts", [])])
                for c in data["categories"]]
    except (TypeError, KeyError, ValueError) as exc:
        raise DataError(f"{where}: 'categories' must be a list of {{id, name, parts}} objects ({exc}).") from exc
    part_names = [str(p) for p in data.get("part_names", [])]
    for c in cats:
        bad = [i for i in c.parts if not 0 <= i < len(part_names)]
        if bad:
            raise DataError(f"{where}: category {c.id} lists part indices {bad} outside part_names.")
    splits = data["splits"]
    if not isinstance(splits, dict) or not all(isinstance(v, list) for v in splits.values()):
        raise DataError(f"{where}: 'splits' must map split names to lists of shape ids.")
    cat_ids = {c.id for c in cats}
    for split, ids in splits.items():
        for sid in ids:
            check_shape_id(str(sid), f"{where} (split {split})")
            if sid.split("/")[0] not in cat_ids:
                raise DataError(f"{where}: split {split} lists {sid} whose category is not declared.")
    return DatasetInfo(
        name=str(data["name"]), revision=str(data["revision"]), categories=cats, part_names=part_names,
        splits={k: [str(s) for s in v] for k, v in splits.items()}, made_by=dict(data.get("made_by", {})),
        format_version=int(data.get("format_version", FORMAT_VERSION)),
    )


def _onet_category_names(root: Path) -> dict[str, str]:
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


def _read_onet_layout(root: Path) -> DatasetInfo:
    names = _onet_category_names(root)
    cats, splits = [], {s: [] for s in SPLITS}
    for cat_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        lists = {s: cat_dir / f"{s}.lst" for s in SPLITS}
        if not any(p.is_file() for p in lists.values()):
            continue
        cats.append(Category(cat_dir.name, names.get(cat_dir.name, cat_dir.name)))
        for split, lst in lists.items():
            if lst.is_file():
                for line in lst.read_text(encoding="utf-8").split():
                    sid = f"{cat_dir.name}/{line.strip()}"
                    check_shape_id(sid, str(lst))
                    splits[split].append(sid)
    if not cats:
        raise DataError(
            f"{root}: neither {DATASET_FILE} nor ONet category folders with train/val/test.lst were found. "
            "Point --set data.path at a prepared dataset folder (see `bench prepare`)."
        )
    revision = "onet-" + str(sum(len(v) for v in splits.values()))
    return DatasetInfo(name=root.name, revision=revision, categories=cats, part_names=[], splits=splits,
                       made_by={"layout": "onet"})


def read_dataset_info(root: str | Path) -> DatasetInfo:
    """Read ``dataset.json`` (validated) or infer the info of an ONet-layout folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder does not exist.")
    path = root / DATASET_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: not valid JSON ({exc}).") from exc
        info = _parse_dataset_json(data, str(path))
    else:
        info = _read_onet_layout(root)
    info.root = str(root)
    return info


def _save_npz(path: Path, compressed: bool = False, **arrays: np.ndarray) -> None:
    """np.savez-compatible file with fixed zip timestamps, so equal arrays give byte-identical files
    (np.savez stamps the current time into the archive)."""
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            # zlib level 1: ~6x faster than the default 6 on part labels, files a few per cent larger
            # (ZipFile.open(ZipInfo) reads the level from the ZipInfo; the name changed in Python 3.13)
            setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", 1)
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(arr), allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def write_shape(
    shape_dir: Path,
    points: np.ndarray,
    occupancies: np.ndarray,
    surface: np.ndarray,
    normals: np.ndarray,
    n_uniform: int | None = None,
    labels: np.ndarray | None = None,
    surface_labels: np.ndarray | None = None,
    voxels: np.ndarray | None = None,
    loc: np.ndarray | None = None,
    scale: float = 1.0,
) -> None:
    """Write one shape; every file atomically, points.npz last so that its presence means 'complete'.

    ``loc``, ``scale``: the normalisation applied to the source shape, points = (source - loc) / scale (ONet).
    """
    shape_dir = Path(shape_dir)
    zero = np.zeros(3, np.float32) if loc is None else np.asarray(loc, np.float32)
    one = np.float32(scale)
    _save_npz(shape_dir / "pointcloud.npz", points=surface.astype(np.float16),
              normals=normals.astype(np.float16), loc=zero, scale=one)
    if labels is not None:
        _save_npz(shape_dir / "parts.npz", compressed=True, labels=labels.astype(np.int16),
                  surface_labels=np.asarray(surface_labels).astype(np.int16))
    if voxels is not None:
        _save_npz(shape_dir / "voxels.npz", voxels=pack_occupancies(voxels.reshape(-1)),
                  resolution=np.int32(voxels.shape[0]))
    extra = {} if n_uniform is None else {"n_uniform": np.int64(n_uniform)}
    _save_npz(shape_dir / "points.npz", points=points.astype(np.float16),
              occupancies=pack_occupancies(occupancies), loc=zero, scale=one, **extra)


@dataclass
class ShapeArrays:
    """One shape, validated. P query points, S surface points."""

    points: np.ndarray  # (P, 3) float16
    occ: np.ndarray  # (P,) bool
    n_uniform: int
    surface: np.ndarray  # (S, 3) float16
    normals: np.ndarray  # (S, 3) float16
    labels: np.ndarray | None = None  # (P,) int16, -1 outside
    surface_labels: np.ndarray | None = None  # (S,) int16
    voxels: np.ndarray | None = None  # (R, R, R) bool
    views: np.ndarray | None = None  # (V, H, W, 3) uint8


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"{path}: missing file.")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [k for k in keys if k not in data.files]
            if missing:
                raise DataError(f"{path}: missing arrays {missing} (has {sorted(data.files)}).")
            return {k: data[k] for k in data.files}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: unreadable or corrupt npz ({type(exc).__name__}: {exc}).") from exc


def _check_points(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{path}: '{key}' must be a float (N, 3) array, got {arr.dtype} {arr.shape}.")
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: '{key}' contains NaN or inf ({int((~np.isfinite(arr)).any(1).sum())} rows).")
    return arr


def read_shape(
    shape_dir: Path, n_parts: int = 0, with_parts: bool = False, with_voxels: bool = False, n_views: int = -1
) -> ShapeArrays:
    """Load and validate one shape folder; a DataError names the file and what is wrong."""
    shape_dir = Path(shape_dir)
    pts = _load_npz(shape_dir / "points.npz", ("points", "occupancies"))
    points = _check_points(pts["points"], shape_dir / "points.npz", "points")
    n_points = len(points)
    if pts["occupancies"].dtype == np.uint8 and pts["occupancies"].size == (n_points + 7) // 8:
        occ = unpack_occupancies(pts["occupancies"], n_points)
    elif pts["occupancies"].size == n_points:  # unpacked bools, as some tools write them
        occ = pts["occupancies"].astype(bool)
    else:
        raise DataError(f"{shape_dir / 'points.npz'}: 'occupancies' has {pts['occupancies'].size} entries "
                        f"for {n_points} points.")
    n_uniform = int(pts.get("n_uniform", n_points))
    pc = _load_npz(shape_dir / "pointcloud.npz", ("points", "normals"))
    surface = _check_points(pc["points"], shape_dir / "pointcloud.npz", "points")
    normals = _check_points(pc["normals"], shape_dir / "pointcloud.npz", "normals")
    if len(surface) != len(normals) or len(surface) == 0:
        raise DataError(f"{shape_dir / 'pointcloud.npz'}: {len(surface)} points vs {len(normals)} normals.")
    shape = ShapeArrays(points=points.astype(np.float16), occ=occ, n_uniform=n_uniform,
                        surface=surface.astype(np.float16), normals=normals.astype(np.float16))
    if with_parts:
        path = shape_dir / "parts.npz"
        parts = _load_npz(path, ("labels", "surface_labels"))
        labels, slabels = parts["labels"], parts["surface_labels"]
        if labels.shape != (n_points,) or slabels.shape != (len(surface),):
            raise DataError(f"{path}: labels {labels.shape} / surface_labels {slabels.shape} do not match "
                            f"{n_points} query and {len(surface)} surface points.")
        for key, arr, low in (("labels", labels, -1), ("surface_labels", slabels, 0)):
            if arr.size and (arr.min() < low or arr.max() >= n_parts):
                raise DataError(f"{path}: '{key}' has values outside [{low}, {n_parts - 1}] "
                                f"(min {arr.min()}, max {arr.max()}).")
        shape.labels, shape.surface_labels = labels.astype(np.int16), slabels.astype(np.int16)
    if with_voxels:
        shape.voxels = read_voxels(shape_dir)
    if n_views >= 0:
        shape.views = read_views(shape_dir, n_views)
    return shape


def write_views(shape_dir: Path, images: np.ndarray, azimuths: np.ndarray) -> None:
    """(V, H, W, 3) uint8 rendered views -> views.npz (compressed: mostly white background)."""
    _save_npz(Path(shape_dir) / "views.npz", compressed=True, images=np.asarray(images, np.uint8),
              azimuths=np.asarray(azimuths, np.float32))


def read_views(shape_dir: Path, n_views: int = 0) -> np.ndarray:
    """(V, H, W, 3) uint8 views from views.npz, or ONet's img_choy2016/*.jpg folder as it is."""
    shape_dir = Path(shape_dir)
    if (shape_dir / "views.npz").is_file():
        images = _load_npz(shape_dir / "views.npz", ("images",))["images"]
    elif (shape_dir / "img_choy2016").is_dir():
        from skimage.io import imread

        files = sorted(f for f in (shape_dir / "img_choy2016").iterdir() if f.suffix.lower() in (".jpg", ".png"))
        try:
            images = np.stack([_rgb(imread(f)) for f in files])
        except (OSError, ValueError) as exc:
            raise DataError(f"{shape_dir / 'img_choy2016'}: unreadable image ({exc}).") from exc
    else:
        raise DataError(f"{shape_dir}: no views.npz or img_choy2016/; image input needs rendered views "
                        "(set data.views, e.g. --set data.views=24, and they are rendered on first use).")
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0:
        raise DataError(f"{shape_dir}: views must be (V, H, W, 3) images, got {images.shape}.")
    return images[:n_views] if n_views else images


def _rgb(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return img[..., :3].astype(np.uint8)


def read_voxels(shape_dir: Path) -> np.ndarray:
    """(R, R, R) bool from voxels.npz, or ONet's model.binvox (read with trimesh)."""
    shape_dir = Path(shape_dir)
    if (shape_dir / "voxels.npz").is_file():
        v = _load_npz(shape_dir / "voxels.npz", ("voxels", "resolution"))
        r = int(v["resolution"])
        return unpack_occupancies(v["voxels"], r**3).reshape(r, r, r)
    binvox = shape_dir / "model.binvox"
    if binvox.is_file():
        from trimesh.exchange.binvox import load_binvox

        with open(binvox, "rb") as fh:
            grid = load_binvox(fh)
        return np.asarray(grid.matrix, dtype=bool)
    raise DataError(f"{shape_dir}: no voxels.npz or model.binvox; the voxel encoder needs one of them.")
