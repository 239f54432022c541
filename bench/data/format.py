"""The on-disk dataset format (ONet-compatible) and a validating reader.

A dataset folder holds ``dataset.json`` and one folder per shape, ``<category>/<shape>/``, with
``points.npz`` (``points`` (P, 3) float16, ``occupancies`` bit-packed, ``loc``, ``scale``; optional
``n_uniform``: the first n_uniform points are uniform in the padded box, the rest near the surface),
``pointcloud.npz`` (``points``, ``normals`` (S, 3)), and where parts exist ``parts.npz`` (``labels`` (P,)
for the query points, -1 outside; ``surface_labels`` (S,)). ``voxels.npz`` (``voxels`` bit-packed R^3,
``resolution``) is optional. ONet's preprocessed ShapeNet (no dataset.json, ``<cat>/{train,val,test}.lst``,
``img_choy2016/``, ``model.binvox``) reads as it is: its own files are read by bench/data/onet.py, which
this module imports only inside the functions that fall back to it (onet imports this module).
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench._io import atomic_write_bytes, atomic_write_json
from bench.errors import DataError

FORMAT_VERSION = 1
DATASET_FILE = "dataset.json"
SPLITS = ("train", "val", "test")
# used with fullmatch: "$" alone would let a trailing newline through ("abc\n")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
# Sane bounds on what a shape file may ask us to allocate: ONet uses 32^3 voxels, bench prepare 32-128.
MAX_VOXEL_RESOLUTION = 512
_F16_MAX = float(np.finfo(np.float16).max)


def pack_occupancies(occ: np.ndarray) -> np.ndarray:
    """(P,) bool -> (ceil(P/8),) uint8, as ONet stores them."""
    return np.packbits(np.asarray(occ, dtype=bool))


def unpack_occupancies(packed: np.ndarray, n: int) -> np.ndarray:
    """Inverse of pack_occupancies: (ceil(n/8),) uint8 -> (n,) bool."""
    return np.unpackbits(np.asarray(packed, dtype=np.uint8))[:n].astype(bool)


def check_shape_id(shape_id: str, where: str) -> None:
    """Reject names that could leave the dataset folder ('..', '/', absolute paths)."""
    if not isinstance(shape_id, str):
        raise DataError(f"{where}: shape id {shape_id!r} is a {type(shape_id).__name__}, not a string "
                        "'<category>/<shape>'; write it as a string.")
    parts = shape_id.split("/")
    if len(parts) != 2 or not all(_SAFE_NAME.fullmatch(p) and p not in (".", "..") for p in parts):
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


def _type_name(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})" if len(repr(value)) < 60 else type(value).__name__


def _check_format_version(data: dict, where: str) -> int:
    """The format version, checked first: a newer format may have other keys, so nothing else is trusted."""
    version = data.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or not isinstance(version, int):
        raise DataError(f"{where}: field 'format_version' must be an integer, got {_type_name(version)}; "
                        f"this bench writes and reads {FORMAT_VERSION}.")
    if version != FORMAT_VERSION:
        raise DataError(f"{where}: field 'format_version' is {version}, but this bench reads format "
                        f"{FORMAT_VERSION} only; use the implicit-bench release that wrote the dataset, "
                        "or prepare it again with this one (`bench prepare`).")
    return version


def _string_field(data: dict, key: str, where: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise DataError(f"{where}: field '{key}' must be a non-empty string, got {_type_name(value)}.")
    return value


def _string_list(value: Any, field_name: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"{where}: field '{field_name}' must be a list of strings, got {_type_name(value)}.")
    return value


def _parse_category(c: Any, k: int, n_parts: int, where: str) -> Category:
    field_name = f"categories[{k}]"
    if not isinstance(c, dict) or "id" not in c:
        raise DataError(f"{where}: field '{field_name}' must be an object {{id, name, parts}}, got {_type_name(c)}.")
    cid, name, parts = c["id"], c.get("name", c["id"]), c.get("parts", [])
    if not isinstance(cid, str) or not _SAFE_NAME.fullmatch(cid) or cid in (".", ".."):
        raise DataError(f"{where}: field '{field_name}.id' must be a folder name (letters, digits, '_', '-', "
                        f"'.'), got {_type_name(cid)}.")
    if not isinstance(name, str):
        raise DataError(f"{where}: field '{field_name}.name' must be a string, got {_type_name(name)}.")
    # bool is an int in Python; "parts": ["1"] or "12" must not slip through int() either
    if not isinstance(parts, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in parts):
        raise DataError(f"{where}: field '{field_name}.parts' must be a list of integer part indices, "
                        f"got {_type_name(parts)}.")
    bad = [i for i in parts if not 0 <= i < n_parts]
    if bad:
        raise DataError(f"{where}: category {cid} lists part indices {bad} outside part_names "
                        f"(0..{n_parts - 1}).")
    return Category(cid, name, list(parts))


def _parse_categories(value: Any, n_parts: int, where: str) -> list[Category]:
    if not isinstance(value, list):
        raise DataError(f"{where}: field 'categories' must be a list of {{id, name, parts}} objects, "
                        f"got {_type_name(value)}.")
    cats = [_parse_category(c, k, n_parts, where) for k, c in enumerate(value)]
    twice = sorted(cid for cid, n in Counter(c.id for c in cats).items() if n > 1)
    if twice:
        raise DataError(f"{where}: field 'categories' declares {twice} more than once; keep one entry each.")
    return cats


def check_splits(splits: dict[str, list[str]], where: str) -> None:
    """No shape twice in a split (it would weigh double) nor in two splits (test shapes seen in training)."""
    first_split: dict[str, str] = {}
    for split, ids in splits.items():
        twice = sorted(sid for sid, n in Counter(ids).items() if n > 1)
        if twice:
            raise DataError(f"{where}: split '{split}' lists {len(twice)} shape id(s) more than once "
                            f"(e.g. {twice[0]}); list each shape once.")
        for sid in ids:
            other = first_split.setdefault(sid, split)
            if other != split:
                raise DataError(f"{where}: shape {sid} is in both split '{other}' and split '{split}'; a shape "
                                "in two splits leaks between training and evaluation: keep it in one.")


def _parse_splits(value: Any, cat_ids: set[str], where: str) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise DataError(f"{where}: field 'splits' must map split names to lists of shape ids, "
                        f"got {_type_name(value)}.")
    for split, ids in value.items():
        if not _SAFE_NAME.fullmatch(split):  # split names end up in result file names
            raise DataError(f"{where}: field 'splits' has a split named {split!r}; use letters, digits, '_', '-', '.'.")
        _string_list(ids, f"splits.{split}", where)
        for sid in ids:
            check_shape_id(sid, f"{where} (split {split})")
            if sid.split("/")[0] not in cat_ids:
                raise DataError(f"{where}: split {split} lists {sid} whose category is not declared.")
    check_splits(value, where)
    return {k: list(v) for k, v in value.items()}


def _parse_dataset_json(data: Any, where: str) -> DatasetInfo:
    if not isinstance(data, dict):
        raise DataError(f"{where}: must be a JSON object.")
    version = _check_format_version(data, where)
    for key in ("name", "revision", "categories", "splits"):
        if key not in data:
            raise DataError(f"{where}: missing key '{key}'.")
    part_names = _string_list(data.get("part_names", []), "part_names", where)
    cats = _parse_categories(data["categories"], len(part_names), where)
    made_by = data.get("made_by", {})
    if not isinstance(made_by, dict):
        raise DataError(f"{where}: field 'made_by' must be an object, got {_type_name(made_by)}.")
    return DatasetInfo(
        name=_string_field(data, "name", where), revision=_string_field(data, "revision", where),
        categories=cats, part_names=list(part_names), splits=_parse_splits(data["splits"], {c.id for c in cats}, where),
        made_by=dict(made_by), format_version=version,
    )


def read_dataset_info(root: str | Path) -> DatasetInfo:
    """Read ``dataset.json`` (validated) or infer the info of an ONet-layout folder."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder does not exist.")
    path = root / DATASET_FILE
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            raise DataError(f"{path}: not valid JSON ({type(exc).__name__}: {exc}).") from exc
        info = _parse_dataset_json(data, str(path))
    else:
        from bench.data import onet  # lazily: onet imports this module

        info = onet.read_layout(root)
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


def fix_hint(path: Path) -> str:
    if path.name == "views.npz":
        return "delete views.npz and the views are rendered again on first use"
    if path.name == "model.binvox":  # ONet's data: bench does not make binvox files
        return "copy model.binvox again from ONet's preprocessed ShapeNet, or drop the shape from its .lst file"
    return f"delete {path.name} (or its shape folder) and prepare the shape again"


# np.save writes 3.0 only for non-latin-1 field names, which no array of ours has; its layout is 2.0's
_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0,
                       (3, 0): np.lib.format.read_array_header_2_0}


def _read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One .npy member, its header checked before anything is allocated: np.load hands out a member
    without the NUMPY magic as raw bytes, and allocates whatever shape a header claims (MemoryError)."""
    where = f"{path}: member '{member.filename}'"
    with zf.open(member) as fh:
        if fh.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
            raise DataError(f"{where} is not a .npy array (no NUMPY header); the file is corrupt: {fix_hint(path)}.")
        fh.seek(0)
        reader = _NPY_HEADER_READERS.get(np.lib.format.read_magic(fh))
        if reader is None:
            raise DataError(f"{where} has an unknown .npy format version; write it with numpy's np.savez.")
        shape, _, dtype = reader(fh)
        claimed = math.prod(shape) * dtype.itemsize
        held = member.file_size - fh.tell()
        if min(shape, default=0) < 0 or claimed > held:
            raise DataError(f"{where}: its header claims a {dtype} array of shape {shape} ({claimed:,} bytes) but "
                            f"the member holds {held:,} bytes; the file is corrupt or truncated: {fix_hint(path)}.")
        fh.seek(0)
        return np.lib.format.read_array(fh, allow_pickle=False)


def _load_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays of an npz file; a DataError (naming the file, and the member where one is at fault) for
    anything that is not a well-formed npz holding ``keys``."""
    if not path.is_file():
        raise DataError(f"{path}: missing file.")
    try:
        with zipfile.ZipFile(path) as zf:
            # members not named *.npy are not arrays (np.savez never writes them): ignored
            arrays = {m.filename[:-4]: _read_member(zf, m, path) for m in zf.infolist() if m.filename.endswith(".npy")}
    except DataError:
        raise
    # RuntimeError: encrypted or unsupported compression; zlib.error: corrupt deflate stream;
    # MemoryError: a forged zip size that the header check could not see through
    except (OSError, ValueError, EOFError, RuntimeError, MemoryError, OverflowError, zipfile.BadZipFile,
            zlib.error) as exc:
        raise DataError(f"{path}: unreadable or corrupt npz ({type(exc).__name__}: {exc}); {fix_hint(path)}.") from exc
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DataError(f"{path}: missing arrays {missing} (has {sorted(arrays)}).")
    return arrays


def _check_points(arr: np.ndarray, path: Path, key: str) -> np.ndarray:
    """The (N, 3) float array as float16, as the bench keeps it; no NaN or inf before or after the cast."""
    if arr.ndim != 2 or arr.shape[1] != 3 or not np.issubdtype(arr.dtype, np.floating):
        raise DataError(f"{path}: '{key}' must be a float (N, 3) array, got {arr.dtype} {arr.shape}.")
    if not np.isfinite(arr).all():
        raise DataError(f"{path}: '{key}' contains NaN or inf ({int((~np.isfinite(arr)).any(1).sum())} rows).")
    with np.errstate(over="ignore"):  # reported just below, as a DataError rather than a RuntimeWarning
        out = arr.astype(np.float16, copy=False)
    if not np.isfinite(out).all():  # float32/64 values beyond float16's range become inf in the cast
        raise DataError(f"{path}: '{key}' has values up to {float(np.abs(arr).max()):.4g}, beyond the float16 range "
                        f"(+-{_F16_MAX:g}) the bench keeps points in; shapes are expected normalised to about the unit "
                        "cube: write them as (source - loc) / scale.")
    return out


def _occupancies(occ: np.ndarray, n_points: int, path: Path) -> np.ndarray:
    """(P,) bool from ONet's bit-packed uint8 or from unpacked bools/0-1 numbers, as some tools write them."""
    if occ.dtype == np.uint8 and occ.size == (n_points + 7) // 8:
        return unpack_occupancies(occ, n_points)
    if occ.size == n_points and (occ.dtype == bool or np.issubdtype(occ.dtype, np.number)):
        return occ.reshape(-1).astype(bool)
    raise DataError(f"{path}: 'occupancies' has {occ.size} {occ.dtype} entries for {n_points} points; expected "
                    f"{(n_points + 7) // 8} bit-packed uint8 (np.packbits) or {n_points} bools.")


def _n_uniform(pts: dict[str, np.ndarray], n_points: int, path: Path) -> int:
    """How many of the query points (the first ones) are uniform in the box; all of them when not stored (ONet)."""
    if "n_uniform" not in pts:
        return n_points
    value = pts["n_uniform"]
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer):
        raise DataError(f"{path}: 'n_uniform' must be one integer, got {value.dtype} {value.shape}.")
    n = int(value.reshape(()))
    # 0 would make the sampler draw "uniform" points from an empty range, i.e. repeat one near-surface point
    if not 1 <= n <= n_points:
        raise DataError(f"{path}: 'n_uniform' is {n}, outside [1, {n_points}]: it counts the uniform points among "
                        f"the {n_points} query points (the first n_uniform; the rest lie near the surface). "
                        "Write it again with the count of uniform points, or drop it if all are uniform.")
    return n


def _read_parts(shape_dir: Path, n_parts: int, n_points: int, n_surface: int) -> tuple[np.ndarray, np.ndarray]:
    path = shape_dir / "parts.npz"
    parts = _load_npz(path, ("labels", "surface_labels"))
    labels, slabels = parts["labels"], parts["surface_labels"]
    if labels.shape != (n_points,) or slabels.shape != (n_surface,):
        raise DataError(f"{path}: labels {labels.shape} / surface_labels {slabels.shape} do not match "
                        f"{n_points} query and {n_surface} surface points.")
    for key, arr, low in (("labels", labels, -1), ("surface_labels", slabels, 0)):
        if not np.issubdtype(arr.dtype, np.integer):
            raise DataError(f"{path}: '{key}' must hold integer part indices, got {arr.dtype}.")
        if arr.size and (arr.min() < low or arr.max() >= n_parts):
            raise DataError(f"{path}: '{key}' has values outside [{low}, {n_parts - 1}] "
                            f"(min {arr.min()}, max {arr.max()}).")
    return labels.astype(np.int16), slabels.astype(np.int16)


def read_shape(
    shape_dir: Path, n_parts: int = 0, with_parts: bool = False, with_voxels: bool = False, n_views: int = -1
) -> ShapeArrays:
    """Load and validate one shape folder; a DataError names the file and what is wrong."""
    shape_dir = Path(shape_dir)
    path = shape_dir / "points.npz"
    pts = _load_npz(path, ("points", "occupancies"))
    points = _check_points(pts["points"], path, "points")
    n_points = len(points)
    if n_points == 0:  # the sampler would draw from an empty range, i.e. from the next shape's points
        raise DataError(f"{path}: 'points' holds no query points; a shape needs some: prepare it again.")
    occ = _occupancies(pts["occupancies"], n_points, path)
    n_uniform = _n_uniform(pts, n_points, path)
    pc = _load_npz(shape_dir / "pointcloud.npz", ("points", "normals"))
    surface = _check_points(pc["points"], shape_dir / "pointcloud.npz", "points")
    normals = _check_points(pc["normals"], shape_dir / "pointcloud.npz", "normals")
    if len(surface) != len(normals) or len(surface) == 0:
        raise DataError(f"{shape_dir / 'pointcloud.npz'}: {len(surface)} points vs {len(normals)} normals.")
    shape = ShapeArrays(points=points, occ=occ, n_uniform=n_uniform, surface=surface, normals=normals)
    if with_parts:
        shape.labels, shape.surface_labels = _read_parts(shape_dir, n_parts, n_points, len(surface))
    if with_voxels:
        shape.voxels = read_voxels(shape_dir)
    if n_views >= 0:
        shape.views = read_views(shape_dir, n_views)
    return shape


def write_views(shape_dir: Path, images: np.ndarray, azimuths: np.ndarray) -> None:
    """(V, H, W, 3) uint8 rendered views -> views.npz (compressed: mostly white background)."""
    _save_npz(Path(shape_dir) / "views.npz", compressed=True, images=np.asarray(images, np.uint8),
              azimuths=np.asarray(azimuths, np.float32))


def has_views(shape_dir: Path) -> bool:
    from bench.data.onet import VIEWS_FOLDER

    return (Path(shape_dir) / "views.npz").is_file() or (Path(shape_dir) / VIEWS_FOLDER).is_dir()


def has_voxels(shape_dir: Path) -> bool:
    from bench.data.onet import VOXELS_FILE

    return (Path(shape_dir) / "voxels.npz").is_file() or (Path(shape_dir) / VOXELS_FILE).is_file()


def read_views(shape_dir: Path, n_views: int = 0) -> np.ndarray:
    """(V, H, W, 3) uint8 views from views.npz, or ONet's img_choy2016/*.jpg folder as it is."""
    from bench.data import onet

    shape_dir = Path(shape_dir)
    path = shape_dir / "views.npz"
    if path.is_file():
        images = _load_npz(path, ("images",))["images"]
    elif (shape_dir / onet.VIEWS_FOLDER).is_dir():
        path = shape_dir / onet.VIEWS_FOLDER
        images = onet.read_choy_images(path)
    else:
        raise DataError(f"{shape_dir}: no views.npz or img_choy2016/; image input needs rendered views "
                        "(set data.views, e.g. --set data.views=24, and they are rendered on first use).")
    if images.ndim != 4 or images.shape[-1] != 3 or len(images) == 0 or images.dtype != np.uint8:
        raise DataError(f"{path}: views must be (V, H, W, 3) uint8 images, got {images.dtype} {images.shape}; "
                        f"{fix_hint(path)}.")
    return images[:n_views] if n_views else images


def odd_ones(sizes: list[tuple[int, ...]], ids: list[str]) -> tuple[tuple[int, ...], list[tuple[str, tuple[int, ...]]]]:
    """The most common array shape of ``sizes``, and (id, shape) of the shapes' arrays of another size."""
    common = Counter(sizes).most_common(1)[0][0]
    return common, [(sid, size) for sid, size in zip(ids, sizes) if size != common]


def check_resolution(r: int, path: Path) -> int:
    if not 2 <= r <= MAX_VOXEL_RESOLUTION:
        raise DataError(f"{path}: voxel resolution {r} is outside [2, {MAX_VOXEL_RESOLUTION}]; the file is corrupt or "
                        f"not a voxel grid: {fix_hint(path)}.")
    return r


def _read_voxels_npz(path: Path) -> np.ndarray:
    v = _load_npz(path, ("voxels", "resolution"))
    res, packed = v["resolution"], v["voxels"]
    if res.size != 1 or not np.issubdtype(res.dtype, np.integer):
        raise DataError(f"{path}: 'resolution' must be one integer, got {res.dtype} {res.shape}.")
    r = check_resolution(int(res.reshape(())), path)
    if packed.dtype != np.uint8 or packed.size != (r**3 + 7) // 8:
        raise DataError(f"{path}: 'voxels' has {packed.size} {packed.dtype} entries; a bit-packed {r}^3 grid has "
                        f"{(r**3 + 7) // 8} uint8 (np.packbits): {fix_hint(path)}.")
    return unpack_occupancies(packed.reshape(-1), r**3).reshape(r, r, r)


def read_voxels(shape_dir: Path) -> np.ndarray:
    """(R, R, R) bool from voxels.npz, or ONet's model.binvox (read with trimesh)."""
    from bench.data import onet

    shape_dir = Path(shape_dir)
    if (shape_dir / "voxels.npz").is_file():
        return _read_voxels_npz(shape_dir / "voxels.npz")
    if (shape_dir / onet.VOXELS_FILE).is_file():
        return onet.read_binvox(shape_dir / onet.VOXELS_FILE)
    raise DataError(f"{shape_dir}: no voxels.npz or model.binvox; the voxel encoder needs one of them.")
