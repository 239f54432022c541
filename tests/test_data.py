import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.config import DataConfig
from bench.data import cache
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.data.format import pack_occupancies, read_dataset_info, read_shape, unpack_occupancies, write_views
from bench.data.shapes import CLASSES, FAMILIES
from bench.data.synthetic import PRESETS, generate, make_shape, normalised_parts
from bench.errors import DataError
from bench.geometry import sdf as S
from bench.geometry.box import BOX_BOUND
from bench.geometry.occupancy import inside_mesh
from bench.geometry.surface import grid_points, mesh_from_sdf, sdf_grid
from bench.geometry.voronoi import voronoi_labels


def test_bitpacking_round_trip():
    rng = np.random.default_rng(0)
    for n in (1, 7, 8, 9, 1001):
        occ = rng.random(n) > 0.5
        packed = pack_occupancies(occ)
        assert packed.dtype == np.uint8 and len(packed) == (n + 7) // 8
        assert np.array_equal(unpack_occupancies(packed, n), occ)


def test_voronoi_matches_brute_force():
    rng = np.random.default_rng(1)
    surface = rng.uniform(-0.5, 0.5, (300, 3))
    labels = rng.integers(0, 5, 300)
    query = rng.uniform(-0.5, 0.5, (500, 3))
    inside = rng.random(500) > 0.3
    brute = labels[np.argmin(((query[:, None] - surface[None]) ** 2).sum(-1), axis=1)]
    got = voronoi_labels(query, surface, labels, inside)
    assert np.array_equal(got[inside], brute[inside])
    assert (got[~inside] == -1).all()


@pytest.mark.parametrize("class_id", ["chair_with_arm", "mug_with_handle", "airplane_with_engine"])
def test_sdf_occupancy_agrees_with_mesh_inside_test(class_id):
    parts, loc, scale = normalised_parts(class_id, np.random.default_rng(3))
    whole = S.union(*[S.transformed(f, loc, scale) for f in parts.values()])
    mesh = mesh_from_sdf(whole, resolution=64, bound=BOX_BOUND)
    rng = np.random.default_rng(4)
    cand = rng.uniform(-BOX_BOUND, BOX_BOUND, (200_000, 3)).astype(np.float32)
    d_cand = whole(cand)
    margin = 1.5 * 2 * BOX_BOUND / 63  # away from the surface the mesh's discretisation cannot matter
    inside, outside = cand[d_cand < -margin][:150], cand[d_cand > margin][:250]
    assert len(inside) > 20 and len(outside) == 250
    pts = np.concatenate([inside, outside])
    expected = np.arange(len(pts)) < len(inside)
    assert np.array_equal(inside_mesh(mesh.vertices, mesh.faces, pts), expected)


def test_union_of_bounded_sdfs_is_exact_near_the_surface_and_clamped_beyond():
    a, b = S.sphere((0.2, 0.0, 0.0), 0.1), S.sphere((-0.2, 0.1, 0.0), 0.05)
    p = np.random.default_rng(0).uniform(-0.6, 0.6, (20_000, 3)).astype(np.float32)
    exact = np.minimum(np.linalg.norm(p - [0.2, 0.0, 0.0], axis=1) - 0.1,
                       np.linalg.norm(p - [-0.2, 0.1, 0.0], axis=1) - 0.05)
    got = S.union(a, b)(p)
    assert got.dtype == np.float32
    assert np.allclose(got, np.minimum(exact, S.CULL_MARGIN), atol=1e-6)
    assert (exact > S.CULL_MARGIN).sum() > 1000  # the clamped side was exercised


def test_narrow_band_grid_gives_the_full_grid_surface():
    from skimage.measure import marching_cubes

    parts, loc, scale = normalised_parts("car_with_spoiler", np.random.default_rng(1))
    whole = S.union(*[S.transformed(f, loc, scale) for f in parts.values()])
    values, evaluated = sdf_grid(whole, 72, BOX_BOUND)
    full = whole(grid_points(72, BOX_BOUND)).reshape(72, 72, 72)
    assert 0.01 < evaluated.mean() < 0.5  # a band, not the whole grid
    assert np.array_equal(values < 0, full < 0)
    assert np.array_equal(values[evaluated], full[evaluated])
    band, whole_grid = marching_cubes(values, 0.0, mask=evaluated)[0], marching_cubes(full, 0.0)[0]
    assert band.shape == whole_grid.shape
    assert np.allclose(np.sort(band, axis=0), np.sort(whole_grid, axis=0), atol=1e-5)


def test_generated_shape_is_consistent():
    arrays = make_shape("chair_with_arm", np.random.default_rng(5), PRESETS["tiny"])
    pts, occ, labels = arrays["points"], arrays["occupancies"], arrays["labels"]
    assert pts.dtype == np.float16 and pts.shape == (4096, 3)
    assert np.abs(pts.astype(np.float32)).max() <= BOX_BOUND + 1e-3
    surface = arrays["surface"].astype(np.float32)
    assert np.abs(surface).max() == pytest.approx(0.5, abs=2e-3)  # normalised to the unit cube
    assert ((labels >= 0) == occ).all()  # parts exactly inside
    assert np.allclose(np.linalg.norm(arrays["normals"], axis=1), 1, atol=1e-3)
    # surface points lie on the SDF's zero set and normals point outwards
    raw = CLASSES["chair_with_arm"].build(np.random.default_rng(5))
    whole = S.union(*[S.transformed(f, arrays["loc"], arrays["scale"]) for f in raw.values()])
    assert np.abs(whole(surface)).max() < 2e-3  # float16 rounding of coordinates near 0.5: ~2.4e-4
    step = 0.01 * arrays["normals"].astype(np.float32)
    assert (whole(surface + step) > 0).mean() > 0.98 and (whole(surface - step) < 0).mean() > 0.98


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path, monkeypatch):
    small = PRESETS["tiny"].__class__(train=1, val=0, test=1, n_points=512, n_surface=512, near_share=0.5, mc_resolution=40)
    monkeypatch.setitem(PRESETS, "tiny", small)
    a = generate("tiny", tmp_path / "a", seed=7, workers=1, progress=False)
    b = generate("tiny", tmp_path / "b", seed=7, workers=1, progress=False)
    c = generate("tiny", tmp_path / "c", seed=8, workers=1, progress=False)
    assert a.revision == b.revision != c.revision
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_dataset_info_and_store(tiny_info):
    assert len(tiny_info.categories) >= 8 and tiny_info.has_parts
    assert all(2 <= len(c.parts) <= 5 for c in tiny_info.categories)
    store = ShapeStore.load(tiny_info, "train", with_parts=True, with_voxels=True)
    assert len(store) == len(tiny_info.splits["train"]) and store.voxels.shape[1:] == (32, 32, 32)
    ds = ShapeDataset(store, DataConfig(n_query_points=64, n_input_points=50), "pointcloud", seed=0)
    batch = ds.batch(np.array([0, 1, 2]), np.random.default_rng(0))
    assert batch["inputs"].shape == (3, 50, 3) and batch["points"].shape == (3, 64, 3)
    assert batch["occ"].shape == (3, 64) and batch["part"].shape == (3, 64) and batch["category"].shape == (3,)
    assert ((batch["part"] >= 0) == batch["occ"]).all()
    item = ds[1]
    assert item["inputs"].shape == (50, 3) and item["category"].ndim == 0
    vox = ShapeDataset(store, DataConfig(), "voxels")[0]
    assert vox["inputs"].shape == (32, 32, 32)


def _copy_dataset(info, tmp_path) -> Path:
    root = tmp_path / "ds"
    shutil.copytree(info.root, root)
    return root


def test_corrupt_and_bad_shapes_are_reported_with_path(tiny_info, tmp_path):
    root = _copy_dataset(tiny_info, tmp_path)
    train = read_dataset_info(root).splits["train"]
    (root / train[0] / "points.npz").write_bytes(b"truncated garbage")
    (root / train[1] / "pointcloud.npz").unlink()
    pc = dict(np.load(root / train[2] / "pointcloud.npz"))
    pc["points"][0, 0] = np.nan
    np.savez(root / train[2] / "pointcloud.npz", **pc)
    parts = dict(np.load(root / train[3] / "parts.npz"))
    parts["labels"][0] = 999
    np.savez(root / train[3] / "parts.npz", **parts)
    n_parts = len(tiny_info.part_names)
    with pytest.raises(DataError, match=r"points.npz: unreadable or corrupt npz"):
        read_shape(root / train[0], n_parts)
    with pytest.raises(DataError, match=r"pointcloud.npz: missing file"):
        read_shape(root / train[1], n_parts)
    with pytest.raises(DataError, match=r"NaN"):
        read_shape(root / train[2], n_parts)
    with pytest.raises(DataError, match=r"parts.npz: 'labels' has values outside"):
        read_shape(root / train[3], n_parts, with_parts=True)
    info = read_dataset_info(root)
    store = ShapeStore.load(info, "train", with_parts=True)
    assert len(store.skipped) == 4 and len(store) == len(train) - 4
    assert {s for s, _ in store.skipped} == set(train[:4])
    with pytest.raises(DataError, match=str(train[0])):
        ShapeStore.load(info, "train", with_parts=True, on_bad_shape="stop")

    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["data", "check", str(root)])
    assert res.exit_code == 1
    assert "4 broken shape(s)" in res.output


def test_path_traversal_in_split_rejected(tiny_info, tmp_path):
    import json

    root = _copy_dataset(tiny_info, tmp_path)
    meta = json.loads((root / "dataset.json").read_text())
    meta["splits"]["train"].append("chair/../../etc")
    (root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="refusing"):
        read_dataset_info(root)


def test_onet_layout_reads_as_is(tmp_path, tiny_info):
    """An ONet-style folder: category folders with .lst split files, no dataset.json, no parts.npz."""
    src = Path(tiny_info.root)
    root = tmp_path / "ShapeNet"
    for split in ("train", "test"):
        for sid in tiny_info.splits[split][:4]:
            cat, name = sid.split("/")
            dst = root / f"0{cat}" / name
            dst.mkdir(parents=True, exist_ok=True)
            for f in ("points.npz", "pointcloud.npz"):
                shutil.copy(src / sid / f, dst / f)
            with open(root / f"0{cat}" / f"{split}.lst", "a") as fh:
                fh.write(name + "\n")
    first, second = sorted({"0" + sid.split("/")[0] for sid in tiny_info.splits["train"][:4]})
    (root / "metadata.yaml").write_text(f"{first}:\n  id: {first}\n  name: renamed,seat\n")
    info = read_dataset_info(root)
    names = {c.id: c.name for c in info.categories}
    assert not info.has_parts and names[first] == "renamed" and names[second] == second
    store = ShapeStore.load(info, "train")
    tiny = PRESETS["tiny"]
    assert len(store) == 4 and (store.p_count == tiny.n_points).all()
    assert (store.n_uniform == tiny.n_points * (1 - tiny.near_share)).all()
    # the first n_uniform points fill the padded box: 1 - (1 / 1.1)^3 = 24.9 % of them leave the unit cube
    uniform = store.points[store.query(0, uniform_only=True)].astype(np.float32)
    assert 0.2 < (np.abs(uniform) > 0.5).any(1).mean() < 0.3


def test_cli_data_info(tiny_info):
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["data", "info", "synthetic", "--preset", "tiny"])
    assert res.exit_code == 0, res.output
    assert "chair" in res.output and "synthetic-tiny" in res.output
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.startswith("│")}
    # shares per category: a class never has the part its pair is defined by, its twin always has it
    assert "arm 0%" in rows["chair_no_arm"] and "arm 100%" in rows["chair_with_arm"]
    assert "handle 0%" in rows["mug_no_handle"] and "handle 100%" in rows["mug_with_handle"]


# -- the cache module -------------------------------------------------------------------------------

def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def test_complete_and_incomplete_shapes(tmp_path):
    _touch(tmp_path / "mug" / "a" / "points.npz")
    _touch(tmp_path / "mug" / "a" / "pointcloud.npz")
    _touch(tmp_path / "mug" / "b" / "pointcloud.npz")  # interrupted before points.npz, written last
    assert cache.shape_complete(tmp_path, "mug/a") and not cache.shape_complete(tmp_path, "mug/b")
    assert cache.incomplete_shapes(tmp_path, ["mug/c", "mug/a", "mug/b"]) == ["mug/c", "mug/b"]
    assert not cache.dataset_complete(tmp_path)
    _touch(tmp_path / "dataset.json")
    assert cache.dataset_complete(tmp_path)


def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("IMPLICIT_BENCH_CACHE", str(tmp_path / "env"))
    assert cache.cache_dir(DataConfig(data_dir=str(tmp_path / "cfg"))) == tmp_path / "cfg"
    assert cache.cache_dir(DataConfig()) == tmp_path / "env"
    monkeypatch.delenv("IMPLICIT_BENCH_CACHE")
    assert cache.cache_dir(DataConfig()) == Path.home() / ".cache" / "implicit-bench"


def _write_marker(root: Path, shape_id: str) -> None:
    if shape_id.endswith("bad"):
        raise ValueError(f"cannot build {shape_id}")
    _touch(Path(root) / shape_id / "points.npz")


def test_worker_wrapper_reports_failures_with_their_shape_id(tmp_path):
    assert cache.guarded((_write_marker, "mug/ok", (tmp_path, "mug/ok"))) == ("mug/ok", None)
    assert cache.guarded((_write_marker, "mug/bad", (tmp_path, "mug/bad"))) == (
        "mug/bad", "ValueError: cannot build mug/bad")
    jobs = [(sid, (tmp_path, sid)) for sid in ("cup/bad", "cup/x", "cup/y")]
    failures = cache.run_shape_jobs(_write_marker, jobs, "test", progress=False, workers=1)
    assert failures == [("cup/bad", "ValueError: cannot build cup/bad")]
    assert cache.incomplete_shapes(tmp_path, ["cup/bad", "cup/x", "cup/y"]) == ["cup/bad"]  # the others went on
    assert "1 shape(s) failed to build:\n  cup/bad: ValueError" in cache.failure_summary(failures, "build")


def test_shapes_missing_views(tmp_path):
    images = np.zeros((3, 8, 8, 3), np.uint8)
    write_views(tmp_path / "mug" / "a", images, np.zeros(3))
    write_views(tmp_path / "mug" / "b", np.zeros((3, 16, 16, 3), np.uint8), np.zeros(3))
    ids = ["mug/a", "mug/b", "mug/c"]
    assert cache.shapes_missing_views(tmp_path, ids, 3, 8) == ["mug/b", "mug/c"]  # wrong size, none
    assert cache.shapes_missing_views(tmp_path, ids, 2, 8) == ["mug/b", "mug/c"]  # more views than asked: fine
    assert cache.shapes_missing_views(tmp_path, ids, 4, 8) == ids  # too few views


# -- the fine-grained classes -----------------------------------------------------------------------

def _optional_part(info, class_id: str) -> tuple[int, bool] | None:
    """(global index, present) of the optional part a class name announces: '<family>_with_<part>' or
    '<family>_no_<part>'; None for a class without one."""
    for marker, present in (("_with_", True), ("_no_", False)):
        if marker in class_id:
            family, part = class_id.split(marker)
            return info.part_names.index(f"{family}/{part}"), present
    return None


def test_fine_grained_classes_have_or_lack_their_optional_part(tiny_info):
    pairs = [c.id for c in tiny_info.categories if _optional_part(tiny_info, c.id)]
    assert len(pairs) == 12 and len(tiny_info.categories) == 16
    parts_of = {c.id: c.parts for c in tiny_info.categories}
    for split in ("train", "val", "test"):
        store = ShapeStore.load(tiny_info, split, with_parts=True)
        assert not store.skipped
        for i, sid in enumerate(store.ids):
            class_id = sid.split("/")[0]
            found = _optional_part(tiny_info, class_id)
            if found is None:
                continue
            part, present = found
            assert part in parts_of[class_id]  # both classes of a pair list the family's parts
            surface_labels = store.surface_labels[store.surf(i)]
            has = int((surface_labels == part).sum())
            if present:
                assert has >= 20, f"{sid}: only {has} surface points on its optional part"
            else:
                assert has == 0 and not (store.labels[store.query(i)] == part).any(), sid


def test_pairs_share_their_family_part_list(tiny_info):
    parts_of = {c.id: c.parts for c in tiny_info.categories}
    for family, (_, parts, optional) in FAMILIES.items():
        ids = [tiny_info.part_names.index(f"{family}/{p}") for p in parts]
        classes = [f"{family}_with_{optional}", f"{family}_no_{optional}"] if optional else [family]
        assert all(parts_of[c] == ids for c in classes)


def test_every_class_is_in_every_split_of_tiny(tiny_info):
    for split in ("train", "val", "test"):
        present = {sid.split("/")[0] for sid in tiny_info.splits[split]}
        assert present == {c.id for c in tiny_info.categories}, split
