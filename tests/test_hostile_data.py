"""Hostile inputs on the dataset reading side: each one gets one clear DataError naming the file (and member or
field), or a recorded skip in ShapeStore.load; never a raw traceback, a MemoryError or a hang.

The fixtures are real files: npz written with numpy/zipfile, binvox bytes as the format spells them, dataset.json
as JSON. Everything is a few kilobytes, so the module runs in seconds.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.data.dataset import ShapeStore
from bench.data.format import (Category, DatasetInfo, check_shape_id, read_dataset_info, read_shape, read_views,
                               read_voxels, write_shape, write_views)
from bench.errors import DataError

RES = 8  # voxel resolution of the fixture
VIEW = 8  # view image size of the fixture
N_POINTS, N_SURFACE = 64, 32


def _arrays(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-0.55, 0.55, (N_POINTS, 3)).astype(np.float32)
    occ = np.linalg.norm(points, axis=1) < 0.3
    normals = rng.normal(size=(N_SURFACE, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    voxels = np.zeros((RES, RES, RES), bool)
    voxels[2:6, 2:6, 2:6] = True
    return dict(points=points, occupancies=occ, surface=(0.3 * normals).astype(np.float32),
                normals=normals.astype(np.float32), n_uniform=N_POINTS // 2, labels=np.where(occ, 0, -1),
                surface_labels=np.zeros(N_SURFACE, np.int64), voxels=voxels)


SPLITS = {"train": ["mug/a", "mug/b", "mug/c", "mug/d", "mug/e"], "test": ["cup/a", "cup/b", "cup/c"]}


@pytest.fixture()
def root(tmp_path) -> Path:
    """8 good shapes (2 categories, one part), with voxels and 2 views each."""
    root = tmp_path / "ds"
    for k, sid in enumerate(s for v in SPLITS.values() for s in v):
        write_shape(root / sid, **_arrays(k))
        write_views(root / sid, np.full((2, VIEW, VIEW, 3), 200, np.uint8), np.zeros(2))
    DatasetInfo(name="hostile", revision="r1", categories=[Category("mug", "mug", [0]), Category("cup", "cup", [0])],
                part_names=["body"], splits=SPLITS).write(root)
    return root


def _zip(path: Path, **members: bytes) -> None:
    """An npz-like zip with the given raw member bytes (names without '.npy')."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(f"{name}.npy", data)


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def _npy_header_only(shape: tuple, descr: str = "<f8", tail: bytes = b"\0" * 64) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + tail


def _rewrite(path: Path, **changes) -> None:
    """Rewrite an npz with some arrays changed (or dropped, with None)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def _check_cli(root: Path):
    return CliRunner().invoke(app, ["data", "check", str(root)])


def _problem_lines(output: str) -> dict[str, str]:
    """`bench data check` prints '  <shape id>: <problem>' a line; {shape id: its problems}."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        m = re.match(r"\s+([\w.\-]+/[\w.\-]+): (.*)", line)
        if m:
            found[m.group(1)] = found.get(m.group(1), "") + m.group(2)
    return found


# -- 1, 2: npz members that are not .npy arrays, headers that claim more than the file holds ---------------

BAD_MEMBERS = {
    "no NUMPY magic": (b"hello, not an array at all", r"member 'points.npy' is not a \.npy array"),
    "huge header": (_npy_header_only((10**12, 3)), r"member 'points.npy': its header claims a float64 array of "
                                                  r"shape \(1000000000000, 3\)"),
    "truncated data": (_npy(np.zeros((100, 3)))[:-16], r"member 'points.npy': its header claims .* holds"),
    "negative shape": (_npy_header_only((-5, 3)), r"member 'points.npy': its header claims"),
    "pickled object array": (_npy(np.array([{"x": 1}, None], dtype=object)), r"unreadable or corrupt npz \(ValueError"),
    "broken header dict": (b"\x93NUMPY\x01\x00\x10\x00{'descr': 42}   \n", r"unreadable or corrupt npz \(ValueError"),
}


@pytest.mark.parametrize("case", list(BAD_MEMBERS))
def test_npz_member_that_is_not_a_valid_npy_is_a_data_error(root, case):
    data, message = BAD_MEMBERS[case]
    shape_dir = root / "mug/a"
    _zip(shape_dir / "points.npz", points=data, occupancies=_npy(np.zeros(8, np.uint8)))
    with pytest.raises(DataError, match=re.escape(str(shape_dir / "points.npz")) + ": " + message):
        read_shape(shape_dir)


def test_forged_sizes_that_still_fail_to_allocate_are_a_data_error(root, monkeypatch):
    """A zip whose own sizes are forged to match a huge header passes the header check; the allocation's
    MemoryError must still come out as a DataError naming the file."""
    def no_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 21.8 TiB")

    monkeypatch.setattr(np.lib.format, "read_array", no_memory)
    with pytest.raises(DataError, match=r"mug/a/points\.npz: unreadable or corrupt npz \(MemoryError"):
        read_shape(root / "mug/a")


def test_hostile_shapes_are_recorded_skips_in_the_store(root):
    _zip(root / "mug/a/points.npz", points=b"garbage", occupancies=_npy(np.zeros(8, np.uint8)))
    _zip(root / "mug/b/points.npz", points=_npy_header_only((10**12, 3)), occupancies=_npy(np.zeros(8, np.uint8)))
    info = read_dataset_info(root)
    store = ShapeStore.load(info, "train", with_parts=True)
    assert store.ids == ["mug/c", "mug/d", "mug/e"]
    assert [sid for sid, _ in store.skipped] == ["mug/a", "mug/b"]
    assert all("points.npz: member 'points.npy'" in msg for _, msg in store.skipped)
    with pytest.raises(DataError, match=r"mug/a/points\.npz.*on_bad_shape"):
        ShapeStore.load(info, "train", on_bad_shape="stop")


# -- 3: coordinates that turn into inf in float16 -----------------------------------------------------------

@pytest.mark.parametrize("file,key", [("points.npz", "points"), ("pointcloud.npz", "points"),
                                      ("pointcloud.npz", "normals")])
def test_values_beyond_float16_range_are_a_data_error(root, file, key):
    path = root / "mug/a" / file
    with np.load(path) as data:
        arr = data[key].astype(np.float64)
    arr[3, 1] = 1e6  # finite in float64, inf in float16
    _rewrite(path, **{key: arr})
    with pytest.raises(DataError, match=re.escape(str(path)) + f": '{key}' has values up to 1e\\+06, beyond the float16"):
        read_shape(root / "mug/a")


def test_no_inf_comes_out_of_reading_at_the_edge_of_float16(root):
    path = root / "mug/a/points.npz"
    with np.load(path) as data:
        arr = data["points"].astype(np.float64)
    arr[0, 0] = 65519.0  # rounds to float16's max, 65504: allowed, and finite
    _rewrite(path, points=arr)
    assert np.isfinite(read_shape(root / "mug/a").points.astype(np.float32)).all()
    arr[0, 0] = 65520.0  # rounds to inf
    _rewrite(path, points=arr)
    with pytest.raises(DataError, match="beyond the float16 range"):
        read_shape(root / "mug/a")


# -- 4: no query points, n_uniform out of range -------------------------------------------------------------

def test_zero_query_points_is_a_data_error(root):
    path = root / "mug/a/points.npz"
    _rewrite(path, points=np.zeros((0, 3), np.float16), occupancies=np.zeros(0, np.uint8), n_uniform=None)
    with pytest.raises(DataError, match=re.escape(str(path)) + ": 'points' holds no query points"):
        read_shape(root / "mug/a")


@pytest.mark.parametrize("value,message", [
    (np.int64(-1), r"'n_uniform' is -1, outside \[1, 64\]"),
    (np.int64(0), r"'n_uniform' is 0, outside \[1, 64\]"),
    (np.int64(N_POINTS + 1), r"'n_uniform' is 65, outside \[1, 64\]"),
    (np.float64(2.5), r"'n_uniform' must be one integer, got float64"),
    (np.array([1, 2]), r"'n_uniform' must be one integer, got int64 \(2,\)"),
])
def test_bad_n_uniform_is_a_data_error(root, value, message):
    path = root / "mug/a/points.npz"
    _rewrite(path, n_uniform=value)
    with pytest.raises(DataError, match=re.escape(str(path)) + ": " + message):
        read_shape(root / "mug/a")


# -- 5: voxels and views ------------------------------------------------------------------------------------

def _binvox(dims: str, rle: bytes) -> bytes:
    return f"#binvox 1\ndim {dims}\ntranslate 0 0 0\nscale 1\ndata\n".encode() + rle


def _rle(flat: np.ndarray) -> bytes:
    out, i = [], 0
    while i < len(flat):
        n = 1
        while i + n < len(flat) and flat[i + n] == flat[i] and n < 255:
            n += 1
        out += [int(flat[i]), n]
        i += n
    return bytes(out)


GOOD_GRID = _arrays(0)["voxels"]
BAD_VOXELS = {
    "voxels.npz garbage": ("voxels.npz", b"PK\x03\x04 not really a zip", r"voxels\.npz: unreadable or corrupt npz"),
    "resolution huge": ("voxels.npz", dict(resolution=np.int32(10**6)), r"voxels\.npz: voxel resolution 1000000 is outside"),
    "resolution negative": ("voxels.npz", dict(resolution=np.int32(-8)), r"voxels\.npz: voxel resolution -8 is outside"),
    "resolution not one int": ("voxels.npz", dict(resolution=np.array([8, 8])), r"'resolution' must be one integer"),
    "voxels wrong size": ("voxels.npz", dict(voxels=np.zeros(10, np.uint8)), r"'voxels' has 10 uint8 entries"),
    "binvox garbage": ("model.binvox", bytes(range(256)), r"model\.binvox: not a readable binvox file"),
    "binvox empty": ("model.binvox", b"", r"model\.binvox: not a readable binvox file"),
    "binvox bad dims": ("model.binvox", _binvox("a b c", b""), r"model\.binvox: not a readable binvox file"),
    "binvox not cubic": ("model.binvox", _binvox("4 4 8", _rle(np.zeros(128, bool))), r"binvox grid is \[4, 4, 8\]"),
    "binvox huge dims": ("model.binvox", _binvox("100000 100000 100000", _rle(np.zeros(64, bool))),
                         r"model\.binvox: voxel resolution 100000 is outside"),
    "binvox truncated": ("model.binvox", _binvox("8 8 8", _rle(GOOD_GRID.ravel())[:-2]),
                         r"model\.binvox: binvox run lengths give \d+ voxels"),
}


def _break_voxels(shape_dir: Path, file: str, content) -> None:
    if file == "model.binvox":
        (shape_dir / "voxels.npz").unlink()
        (shape_dir / file).write_bytes(content)
    elif isinstance(content, bytes):
        (shape_dir / file).write_bytes(content)
    else:
        _rewrite(shape_dir / file, **content)


@pytest.mark.parametrize("case", list(BAD_VOXELS))
def test_corrupt_voxels_are_a_data_error(root, case):
    file, content, message = BAD_VOXELS[case]
    _break_voxels(root / "mug/a", file, content)
    with pytest.raises(DataError, match=re.escape(str(root / "mug/a")) + ".*" + message):
        read_voxels(root / "mug/a")
    store = ShapeStore.load(read_dataset_info(root), "train", with_voxels=True)
    assert [sid for sid, _ in store.skipped] == ["mug/a"]


def test_a_good_binvox_reads_as_trimesh_reads_it(root):
    from trimesh.exchange.binvox import load_binvox

    grid = np.zeros((RES, RES, RES), bool)
    grid[1:3, 2:7, 4:5] = True  # not symmetric, so that an axis mix-up would show
    (root / "mug/a/voxels.npz").unlink()
    (root / "mug/a/model.binvox").write_bytes(_binvox(f"{RES} {RES} {RES}", _rle(grid.transpose(0, 2, 1).ravel())))
    with open(root / "mug/a/model.binvox", "rb") as fh:
        expected = np.asarray(load_binvox(fh).matrix, bool)
    assert np.array_equal(read_voxels(root / "mug/a"), expected) and np.array_equal(expected, grid)


def test_mixed_voxel_resolutions_name_the_odd_shapes(root):
    small = np.zeros((4, 4, 4), bool)
    _rewrite(root / "mug/b/voxels.npz", voxels=np.packbits(small.ravel()), resolution=np.int32(4))
    with pytest.raises(DataError, match=r"voxel grids differ in size between shapes: most are \(8, 8, 8\), "
                                        r"but mug/b \(4, 4, 4\)"):
        ShapeStore.load(read_dataset_info(root), "train", with_voxels=True)


BAD_VIEWS = {
    "garbage": (b"this is not a zip", r"unreadable or corrupt npz .*; delete views\.npz and the views are rendered"),
    "grey floats": (dict(images=np.zeros((2, VIEW, VIEW), np.float32)), r"views must be \(V, H, W, 3\) uint8"),
    "no images": (dict(images=None), r"missing arrays \['images'\]"),
    "huge header": (_npy_header_only((10**6, 4096, 4096, 3), "|u1"), r"member 'images\.npy': its header claims"),
}


@pytest.mark.parametrize("case", list(BAD_VIEWS))
def test_corrupt_views_are_a_data_error(root, case):
    content, message = BAD_VIEWS[case]
    path = root / "cup/a/views.npz"
    if isinstance(content, bytes) and content.startswith(b"\x93NUMPY"):
        _zip(path, images=content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        _rewrite(path, **content)
    with pytest.raises(DataError, match=re.escape(str(path)) + ": " + message):
        read_views(root / "cup/a")


def test_mixed_view_sizes_name_the_odd_shapes(root):
    write_views(root / "cup/b", np.zeros((2, 16, 16, 3), np.uint8), np.zeros(2))
    with pytest.raises(DataError, match=r"views differ in size between shapes: most are \(2, 8, 8, 3\), "
                                        r"but cup/b \(2, 16, 16, 3\)"):
        ShapeStore.load(read_dataset_info(root), "test", n_views=0)


def test_empty_or_broken_img_choy2016_is_a_data_error(root):
    folder = root / "cup/a/img_choy2016"
    (root / "cup/a/views.npz").unlink()
    folder.mkdir()
    with pytest.raises(DataError, match=re.escape(str(folder)) + ": no .jpg or .png images"):
        read_views(root / "cup/a")
    (folder / "000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(DataError, match=re.escape(str(folder / "000.jpg")) + ": unreadable image"):
        read_views(root / "cup/a")


def test_data_check_lists_every_broken_voxel_and_view_file(root):
    _break_voxels(root / "mug/a", *BAD_VOXELS["voxels.npz garbage"][:2])
    _break_voxels(root / "mug/b", *BAD_VOXELS["binvox garbage"][:2])
    (root / "mug/c/voxels.npz").unlink()
    _rewrite(root / "mug/d/voxels.npz", voxels=np.packbits(np.zeros(64, bool)), resolution=np.int32(4))
    (root / "cup/a/views.npz").write_bytes(b"garbage")
    write_views(root / "cup/b", np.zeros((3, 16, 16, 3), np.uint8), np.zeros(3))
    res = _check_cli(root)
    assert res.exit_code == 1, res.output
    assert "6 broken shape(s) of 8" in res.output
    problems = _problem_lines(res.output)
    expected = {
        "mug/a": ("mug/a/voxels.npz: unreadable or corrupt npz",),
        "mug/b": ("mug/b/model.binvox: not a readable binvox file",),
        "mug/c": ("mug/c: no voxels.npz or model.binvox, while 7 other shapes have them",),
        "mug/d": ("mug/d: voxel grid is (4, 4, 4), most shapes' are (8, 8, 8)",),
        "cup/a": ("cup/a/views.npz: unreadable or corrupt npz",),
        "cup/b": ("cup/b: views are (H, W, 3) = (16, 16, 3), most shapes' are (8, 8, 3)",),
    }
    assert set(problems) == set(expected), res.output
    for sid, parts in expected.items():
        assert all(p in problems[sid] for p in parts), (sid, problems[sid])
    assert "Traceback" not in res.output


def test_data_check_passes_a_clean_dataset_and_ignores_views_not_yet_rendered(root):
    (root / "cup/c/views.npz").unlink()  # rendered on first use: not a fault
    res = _check_cli(root)
    assert res.exit_code == 0, res.output
    assert "8 shapes OK" in res.output


# -- 6: dataset.json ------------------------------------------------------------------------------------------

def _edit_json(root: Path, edit) -> None:
    meta = json.loads((root / "dataset.json").read_text())
    edit(meta)
    (root / "dataset.json").write_text(json.dumps(meta))


BAD_JSON = {
    "categories a string": (lambda m: m.update(categories="mug"), r"field 'categories' must be a list"),
    "category parts a string": (lambda m: m["categories"][0].update(parts="0"), r"field 'categories\[0\]\.parts'"),
    "category parts strings": (lambda m: m["categories"][0].update(parts=["0"]), r"field 'categories\[0\]\.parts'"),
    "category id a number": (lambda m: m["categories"][0].update(id=7), r"field 'categories\[0\]\.id'"),
    "category twice": (lambda m: m["categories"].append(dict(m["categories"][0])), r"declares \['mug'\] more than once"),
    "part_names a string": (lambda m: m.update(part_names="body"), r"field 'part_names' must be a list of strings"),
    "splits a list": (lambda m: m.update(splits=["mug/a"]), r"field 'splits' must map split names"),
    "split a string": (lambda m: m["splits"].update(train="mug/a"), r"field 'splits\.train' must be a list of strings"),
    "split of numbers": (lambda m: m["splits"].update(train=[1, 2]), r"field 'splits\.train' must be a list of strings"),
    "name a number": (lambda m: m.update(name=3), r"field 'name' must be a non-empty string"),
    "made_by a list": (lambda m: m.update(made_by=["x"]), r"field 'made_by' must be an object"),
    "format_version unknown": (lambda m: m.update(format_version=2), r"field 'format_version' is 2.*reads format 1"),
    "format_version a string": (lambda m: m.update(format_version="1"), r"field 'format_version' must be an integer"),
    "duplicate in a split": (lambda m: m["splits"]["train"].append("mug/a"), r"split 'train' lists 1 shape id\(s\) more "
                                                                              r"than once \(e\.g\. mug/a\)"),
    "train/test overlap": (lambda m: m["splits"]["test"].append("mug/a"), r"shape mug/a is in both split 'train' and "
                                                                          r"split 'test'"),
    "split name a path": (lambda m: m["splits"].update({"../x": []}), r"field 'splits' has a split named '\.\./x'"),
    "trailing newline in an id": (lambda m: m["splits"]["train"].append("mug/f\n"), r"shape id 'mug/f\\n' is not of"),
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_bad_dataset_json_is_one_clear_error(root, case):
    edit, message = BAD_JSON[case]
    _edit_json(root, edit)
    with pytest.raises(DataError, match=re.escape(str(root / "dataset.json")) + ".*" + message):
        read_dataset_info(root)


def test_bad_dataset_json_is_one_red_line_in_data_check(root):
    _edit_json(root, lambda m: m.update(categories="mug"))
    res = _check_cli(root)
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.output
    assert "dataset.json: field 'categories' must be a list" in res.output
    assert "Traceback" not in res.output


def test_onet_lists_with_a_shape_in_two_splits_are_an_error(root):
    (root / "dataset.json").unlink()
    (root / "mug" / "train.lst").write_text("a\nb\n")
    (root / "mug" / "test.lst").write_text("b\n")
    with pytest.raises(DataError, match=r"ONet .*\.lst files\): shape mug/b is in both split 'train' and split 'test'"):
        read_dataset_info(root)


# -- 7: shape ids -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sid", ["mug/a\n", "mug\n/a", "mug/a/", "../a", "mug/..", 7])
def test_check_shape_id_rejects_what_a_loose_regex_lets_through(sid):
    with pytest.raises(DataError, match="somewhere: shape id"):
        check_shape_id(sid, "somewhere")


def test_check_shape_id_accepts_the_real_forms():
    for sid in ("02691156/1a04e3eab45ca15dd86060f189eb133", "chair_with_arm/s0000", "a-b/c.d"):
        check_shape_id(sid, "here")
