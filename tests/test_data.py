import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest

from bench.config import DataConfig
from bench.data.dataset import ShapeDataset, ShapeStore
from bench.data.format import pack_occupancies, read_dataset_info, read_shape, unpack_occupancies
from bench.data.synthetic import PRESETS, generate, make_shape, normalised_parts
from bench.errors import DataError
from bench.geometry.occupancy import inside_mesh
from bench.geometry.surface import mesh_from_sdf
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


@pytest.mark.parametrize("category", ["chair", "mug", "airplane"])
def test_sdf_occupancy_agrees_with_mesh_inside_test(category):
    parts, loc, scale = normalised_parts(category, np.random.default_rng(3))
    from bench.geometry import sdf as S

    whole = S.union(*[lambda p, f=f: f(p * scale + loc) / scale for f in parts.values()])
    mesh = mesh_from_sdf(whole, resolution=64, bound=0.55)
    rng = np.random.default_rng(4)
    cand = rng.uniform(-0.55, 0.55, (200_000, 3)).astype(np.float32)
    d_cand = whole(cand)
    margin = 1.5 * 1.1 / 63  # away from the surface the mesh's discretisation cannot matter
    inside, outside = cand[d_cand < -margin][:150], cand[d_cand > margin][:250]
    assert len(inside) > 20
    pts = np.concatenate([inside, outside])
    d = whole(pts)
    far = np.ones(len(pts), bool)
    assert np.array_equal(inside_mesh(mesh.vertices, mesh.faces, pts[far]), d[far] < 0)


def test_generated_shape_is_consistent():
    arrays = make_shape("chair", np.random.default_rng(5), PRESETS["tiny"])
    pts, occ, labels = arrays["points"], arrays["occupancies"], arrays["labels"]
    assert pts.dtype == np.float16 and pts.shape == (4096, 3)
    assert np.abs(pts.astype(np.float32)).max() <= 0.55 + 1e-3
    surface = arrays["surface"].astype(np.float32)
    assert np.abs(surface).max() == pytest.approx(0.5, abs=2e-3)  # normalised to the unit cube
    assert ((labels >= 0) == occ).all()  # parts exactly inside
    assert np.allclose(np.linalg.norm(arrays["normals"], axis=1), 1, atol=1e-3)


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path, monkeypatch):
    small = PRESETS["tiny"].__class__(train=1, val=0, test=1, n_points=512, n_surface=512, near_share=0.5, mc_resolution=32)
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
    (root / "metadata.yaml").write_text("0chair:\n  id: 0chair\n  name: chair,seat\n")
    info = read_dataset_info(root)
    names = {c.id: c.name for c in info.categories}
    assert not info.has_parts and names["0chair"] == "chair" and names["0airplane"] == "0airplane"
    store = ShapeStore.load(info, "train")
    assert len(store) == 4 and store.n_uniform[0] == store.n_uniform[0]


def test_cli_data_info(tiny_info):
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["data", "info", "synthetic", "--preset", "tiny"])
    assert res.exit_code == 0, res.output
    assert "chair" in res.output and "synthetic-tiny" in res.output
