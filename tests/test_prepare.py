"""The prepare pipeline and the real-dataset adapters, on fixture files written here."""

import json

import numpy as np
import pytest
import trimesh

from bench.config import DataConfig
from bench.data.adapters import MeshFolder, ModelNet40, ShapeNetPart
from bench.data.dataset import ShapeStore
from bench.data.format import read_dataset_info
from bench.data.meshio import load_mesh, parse_off
from bench.data.prepare import PrepareParams, parse_shard
from bench.errors import DataError
from bench.geometry.occupancy import fast_winding_numbers, winding_numbers

SMALL = PrepareParams(n_points=3000, n_surface=2000, voxel_resolution=16)


def off_text(mesh, glued=False):
    head = f"OFF{len(mesh.vertices)} {len(mesh.faces)} 0" if glued else f"OFF\n{len(mesh.vertices)} {len(mesh.faces)} 0"
    rows = [" ".join(map(str, v)) for v in mesh.vertices] + ["3 " + " ".join(map(str, f)) for f in mesh.faces]
    return head + "\n" + "\n".join(rows) + "\n"


def test_malformed_off_header_parses():
    box = trimesh.creation.box()
    v, f = parse_off(off_text(box, glued=True))
    assert v.shape == (8, 3) and f.shape == (12, 3)
    v2, f2 = parse_off("OFF\n# comment\n4 1 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n")
    assert f2.tolist() == [[0, 1, 2], [0, 2, 3]]  # quad fan-triangulated
    for bad in ("PLY\n", "OFF\n3 1 0\n0 0 0\n", "OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 7\n"):
        with pytest.raises(DataError):
            parse_off(bad)


def test_winding_numbers_closed_sphere_and_sphere_with_hole():
    sphere = trimesh.creation.icosphere(subdivisions=3, radius=0.4)
    rng = np.random.default_rng(0)
    pts = rng.uniform(-0.55, 0.55, (2000, 3))
    r = np.linalg.norm(pts, axis=1)
    keep = np.abs(r - 0.4) > 0.02  # the icosphere is within 0.01 of the true sphere
    w_exact = winding_numbers(sphere.vertices, sphere.faces, pts[keep])
    w_fast, method = fast_winding_numbers(sphere.vertices, sphere.faces, pts[keep])
    assert np.array_equal(w_exact >= 0.5, r[keep] < 0.4)
    assert np.array_equal(w_fast >= 0.5, r[keep] < 0.4) and "winding" in method
    # cut a hole (drop the faces near the top): the interior still reads as inside, far points outside
    centres = sphere.triangles_center
    holed = trimesh.Trimesh(sphere.vertices, sphere.faces[centres[:, 1] < 0.3], process=False)
    w = winding_numbers(holed.vertices, holed.faces, np.array([[0, 0, 0], [0, -0.2, 0], [0, 0.9, 0], [0.5, 0.5, 0.5]]))
    assert (w[:2] > 0.5).all() and (np.abs(w[2:]) < 0.3).all()


def write_modelnet(root):
    shapes = {"box": trimesh.creation.box(extents=(0.6, 0.4, 0.8)), "ball": trimesh.creation.icosphere(2, 0.5)}
    for cls, mesh in shapes.items():
        for split, n in (("train", 3), ("test", 1)):
            d = root / cls / split
            d.mkdir(parents=True)
            for k in range(n):
                (d / f"{cls}_{split}{k}.off").write_text(off_text(mesh, glued=(k == 0)))
    (root / "box" / "train" / "box_broken.off").write_text("OFF\n8 12 0\n1 2 3\n")  # truncated


def test_modelnet40_adapter_prepares_and_skips_the_broken_mesh(tmp_path):
    write_modelnet(tmp_path / "ModelNet40")
    ds = ModelNet40(DataConfig(name="modelnet40", path=str(tmp_path / "ModelNet40"), data_dir=str(tmp_path / "cache")))
    ds.set_params(SMALL)
    root = ds.prepare(progress=False)
    info = read_dataset_info(root)
    assert [c.id for c in info.categories] == ["ball", "box"]
    assert len(info.splits["test"]) == 2 and "box/box_broken" not in info.splits.get("train", [])
    failures = (root / "failures.jsonl").read_text()
    assert "box/box_broken" in failures and "malformed OFF" in failures
    store = ShapeStore.load(info, "train", with_voxels=True)
    i = store.ids.index("ball/ball_train0")
    sl = store.query(i, uniform_only=True)
    pts, occ = store.points[sl].astype(np.float64), store.occ[sl]
    r = np.linalg.norm(pts, axis=1)  # the ball is normalised to radius 0.5
    far = np.abs(r - 0.5) > 0.03
    assert np.array_equal(occ[far], r[far] < 0.5)


def test_sharded_prepare_finalises_after_all_shards(tmp_path):
    write_modelnet(tmp_path / "src")
    cfg = DataConfig(name="modelnet40", path=str(tmp_path / "src"), data_dir=str(tmp_path / "c"))
    ds = ModelNet40(cfg)
    default_root = ds.root
    ds.set_params(SMALL)
    assert ds.root != default_root  # other settings never reuse (or spoil) the default cache folder
    with pytest.raises(DataError, match="not every shard"):
        ds.prepare(progress=False, shard=(0, 2), workers=1)
    root = ds.prepare(progress=False, shard=(1, 2), workers=1)
    assert (root / "dataset.json").is_file()
    assert parse_shard("1/4") == (1, 4)
    with pytest.raises(DataError):
        parse_shard("4/4")


def test_mesh_folder_adapter(tmp_path):
    src = tmp_path / "mine"
    (src / "mugs").mkdir(parents=True)
    (src / "rings").mkdir()
    for k in range(4):
        trimesh.creation.cylinder(radius=0.3 + 0.02 * k, height=0.5).export(src / "mugs" / f"m{k}.obj")
        trimesh.creation.annulus(r_min=0.2, r_max=0.4, height=0.1).export(src / "rings" / f"r{k}.ply")
    ds = MeshFolder(DataConfig(name="meshes", path=str(src), data_dir=str(tmp_path / "cache")))
    ds.set_params(SMALL)
    info = read_dataset_info(ds.prepare(progress=False))
    assert {c.id for c in info.categories} == {"mugs", "rings"}
    assert sum(len(v) for v in info.splits.values()) == 8


def test_shapenetpart_adapter_labels_parts_by_voronoi(tmp_path):
    src, meshes = tmp_path / "snp", tmp_path / "core"
    (src / "train_test_split").mkdir(parents=True)
    (src / "synsetoffset2category.txt").write_text("Mug\t03797390\n")
    ids = ["a1", "a2"]
    for split, chosen in (("train", ids[:1]), ("val", []), ("test", ids[1:])):
        (src / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps([f"shape_data/03797390/{m}" for m in chosen]))
    (src / "03797390").mkdir()
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.5))
    for m in ids:
        d = meshes / "03797390" / m / "models"
        d.mkdir(parents=True)
        box.export(d / "model_normalized.obj")
        pts, _ = trimesh.sample.sample_surface(box, 3000, seed=0)
        label = np.where(pts[:, 0] < 0, 36, 37)  # left half part 36, right half part 37 (Mug's parts)
        np.savetxt(src / "03797390" / f"{m}.txt", np.c_[pts, np.zeros_like(pts), label])
    ds = ShapeNetPart(DataConfig(name="shapenetpart", path=str(src), mesh_path=str(meshes), data_dir=str(tmp_path / "c")))
    ds.set_params(SMALL)
    info = read_dataset_info(ds.prepare(progress=False))
    assert info.categories[0].parts == [36, 37] and len(info.part_names) == 50
    store = ShapeStore.load(info, "train", with_parts=True)
    sl = store.query(0)
    pts, lab, occ = store.points[sl].astype(np.float32), store.labels[sl], store.occ[sl]
    inside = occ & (np.abs(pts[:, 0]) > 0.15)  # Voronoi cells of sparse labels wobble near the part border
    assert np.array_equal(lab[inside], np.where(pts[inside, 0] < 0, 36, 37))
    assert (lab[~occ] == -1).all()


def test_load_mesh_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_mesh(tmp_path / "missing.obj")
    (tmp_path / "empty.obj").write_text("# nothing\n")
    with pytest.raises(DataError):
        load_mesh(tmp_path / "empty.obj")


def test_prepare_cli(tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    write_modelnet(tmp_path / "src")
    res = CliRunner().invoke(app, ["prepare", "modelnet40", "--path", str(tmp_path / "src"), "--out", str(tmp_path / "o"),
                                   "--points", "2000", "--surface", "1000", "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert "1 failed" in res.output and "dataset.json written" in res.output
