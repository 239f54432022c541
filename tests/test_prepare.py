"""The prepare pipeline and the real-dataset adapters, on fixture files written here."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import trimesh

from bench.config import DataConfig
from bench.data.adapters import MeshFolder, ModelNet40, ShapeNetPart
from bench.data.dataset import ShapeStore
from bench.data.format import read_dataset_info
from bench.data.meshio import load_mesh, parse_off
from bench.data.prepare import PrepareParams
from bench.shards import parse_shard
from bench.errors import ConfigError, DataError
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
    assert np.array_equal(w_fast >= 0.5, r[keep] < 0.4)
    # libigl is in the test extra: the fast path must be the one taken (the numpy fallback also says "winding")
    assert method == "libigl fast winding number"
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
    with pytest.raises(ConfigError, match="0 <= i < n"):
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


# --- `bench prepare` through the command line: ShapeNetPart's two layouts, meshes, shards, resume ---------

MUG = "03797390"  # ShapeNetPart's Mug synset: global parts 36 and 37


def _cli(*args):
    from typer.testing import CliRunner

    from bench.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def read_prepared(shape_dir):
    """points, occupancies and part labels of one prepared shape, read from the files (ONet's format)."""
    pts = np.load(shape_dir / "points.npz")
    points = pts["points"].astype(np.float32)
    occ = np.unpackbits(pts["occupancies"])[: len(points)].astype(bool)
    labels = np.load(shape_dir / "parts.npz")["labels"] if (shape_dir / "parts.npz").is_file() else None
    return points, occ, labels


def write_shapenetcore(meshes, ids):
    """ShapeNetCore v2's layout: <synset>/<model>/models/model_normalized.obj; each mesh a 1 x 0.5 x 0.5 box."""
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.5))
    for m in ids:
        d = meshes / MUG / m / "models"
        d.mkdir(parents=True)
        box.export(d / "model_normalized.obj")
    return box


def write_split_lists(src, train, test):
    (src / "train_test_split").mkdir(parents=True)
    (src / "synsetoffset2category.txt").write_text(f"Mug\t{MUG}\n")
    for split, chosen in (("train", train), ("val", []), ("test", test)):
        (src / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps([f"shape_data/{MUG}/{m}" for m in chosen]))


def assert_box_halves_labelled(shape_dir):
    points, occ, labels = read_prepared(shape_dir)
    inside = occ & (np.abs(points[:, 0]) > 0.15)  # Voronoi cells of sparse labels wobble near the border
    assert inside.sum() > 50
    assert np.array_equal(labels[inside], np.where(points[inside, 0] < 0, 36, 37))
    assert (labels[~occ] == -1).all()


def test_prepare_cli_shapenetpart_txt_layout_with_mesh_path(tmp_path):
    """shapenetcore_partanno_segmentation_benchmark_v0_normal: <synset>/<model>.txt, 'x y z nx ny nz label'
    with global part labels; occupancy from the ShapeNetCore meshes given by --mesh-path."""
    src, meshes = tmp_path / "snp", tmp_path / "core"
    write_split_lists(src, ["a1"], ["a2"])
    box = write_shapenetcore(meshes, ["a1", "a2"])
    (src / MUG).mkdir()
    for m in ("a1", "a2"):
        pts, idx = trimesh.sample.sample_surface(box, 2000, seed=1)
        np.savetxt(src / MUG / f"{m}.txt", np.c_[pts, box.face_normals[idx], np.where(pts[:, 0] < 0, 36, 37)])
    res = _cli("prepare", "shapenetpart", "--path", src, "--out", tmp_path / "o", "--points", 2000,
               "--surface", 1000, "--workers", 1)
    assert res.exit_code == 1 and "mesh_path" in res.output  # occupancy needs the meshes
    res = _cli("prepare", "shapenetpart", "--path", src, "--mesh-path", meshes, "--out", tmp_path / "o",
               "--points", 2000, "--surface", 1000, "--workers", 1)
    assert res.exit_code == 0, res.output
    assert "2 prepared" in res.output and "dataset.json written: 2 shapes" in res.output
    info = json.loads((tmp_path / "o" / "dataset.json").read_text())
    assert info["splits"] == {"train": [f"{MUG}/a1"], "test": [f"{MUG}/a2"]}
    for m in ("a1", "a2"):
        assert_box_halves_labelled(tmp_path / "o" / MUG / m)


def test_prepare_cli_shapenetpart_pts_seg_layout(tmp_path):
    """shapenetcore_partanno_segmentation_benchmark_v0: <synset>/points/<model>.pts ('x y z') and
    <synset>/points_label/<model>.seg (one label per line, 1..k within the category)."""
    src, meshes = tmp_path / "snp", tmp_path / "core"
    write_split_lists(src, ["b1"], ["b2"])
    box = write_shapenetcore(meshes, ["b1", "b2"])
    (src / MUG / "points").mkdir(parents=True)
    (src / MUG / "points_label").mkdir()
    for m in ("b1", "b2"):
        pts, _ = trimesh.sample.sample_surface(box, 2000, seed=2)
        np.savetxt(src / MUG / "points" / f"{m}.pts", pts, fmt="%.6f")
        np.savetxt(src / MUG / "points_label" / f"{m}.seg", np.where(pts[:, 0] < 0, 1, 2), fmt="%d")
    res = _cli("prepare", "shapenetpart", "--path", src, "--mesh-path", meshes, "--out", tmp_path / "o",
               "--points", 2000, "--surface", 1000, "--workers", 1)
    assert res.exit_code == 0, res.output
    assert "2 prepared" in res.output and "0 failed" in res.output, res.output
    for m in ("b1", "b2"):  # Mug's local labels 1, 2 are its global parts 36, 37
        assert_box_halves_labelled(tmp_path / "o" / MUG / m)


def write_mesh_folder(src):
    """Two classes of four meshes each, in three formats."""
    (src / "boxes").mkdir(parents=True)
    (src / "balls").mkdir()
    for k in range(4):
        box = trimesh.creation.box(extents=(0.4 + 0.1 * k, 0.5, 0.3))
        if k % 2:
            (src / "boxes" / f"box{k}.off").write_text(off_text(box))
        else:
            box.export(src / "boxes" / f"box{k}.obj")
        trimesh.creation.icosphere(2, 0.3 + 0.05 * k).export(src / "balls" / f"ball{k}.ply")


def tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_prepare_cli_meshes_sharded_equals_unsharded(tmp_path):
    src = tmp_path / "src"
    write_mesh_folder(src)
    opts = ["--points", 2000, "--surface", 1000, "--workers", 1]
    whole = _cli("prepare", "meshes", "--path", src, "--out", tmp_path / "whole", *opts)
    assert whole.exit_code == 0, whole.output
    assert "8 prepared" in whole.output and "dataset.json written: 8 shapes" in whole.output
    info = json.loads((tmp_path / "whole" / "dataset.json").read_text())
    assert sorted(c["id"] for c in info["categories"]) == ["balls", "boxes"]
    ids = sorted(s for v in info["splits"].values() for s in v)
    assert ids == sorted([f"boxes/box{k}" for k in range(4)] + [f"balls/ball{k}" for k in range(4)])
    points, occ, _ = read_prepared(tmp_path / "whole" / "balls" / "ball0")
    assert 0 < occ.mean() < 1

    first = _cli("prepare", "meshes", "--path", src, "--out", tmp_path / "sharded", "--shard", "0/2", *opts)
    assert first.exit_code == 0, first.output
    assert "4 prepared" in first.output and "dataset.json not written yet" in first.output
    assert not (tmp_path / "sharded" / "dataset.json").exists()
    half = {p.parent.relative_to(tmp_path / "sharded") for p in (tmp_path / "sharded").rglob("points.npz")}
    assert len(half) == 4
    second = _cli("prepare", "meshes", "--path", src, "--out", tmp_path / "sharded", "--shard", "1/2", *opts)
    assert second.exit_code == 0, second.output
    assert "4 prepared, 0 already done" in second.output and "dataset.json written: 8 shapes" in second.output
    # the shards are disjoint and together the same shapes, byte for byte, and the same dataset.json
    whole_files, sharded_files = tree(tmp_path / "whole"), tree(tmp_path / "sharded")
    assert whole_files.keys() == sharded_files.keys()
    assert [k for k in whole_files if whole_files[k] != sharded_files[k]] == []


BLOCK_ON_T3 = """
import sys
import bench.data.prepare as prep
real, fifo = prep.prepare_shape, sys.argv[1]
def blocking(item, root, params):
    if item.shape_id.endswith("/t3"):
        open(fifo).read()  # a FIFO with no writer: blocks until the test kills the process
    real(item, root, params)
prep.prepare_shape = blocking  # --workers 1 prepares in this process, so the patch applies
from bench.cli import app
sys.argv = ["bench", *sys.argv[2:]]
app()
"""


def test_killed_prepare_resumes_without_redoing_finished_shapes(tmp_path):
    """SIGKILL a real `bench prepare` after three of six shapes; the next run prepares only the other three.
    The fourth shape blocks on a FIFO until the kill (a wrapper around the per-shape function: loading a
    mesh never follows a material file, so the mesh itself cannot block), so the interruption point does
    not depend on timing."""
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "things").mkdir(parents=True)
    for k in range(6):
        mesh = trimesh.creation.icosphere(2, 0.3 + 0.04 * k)
        text = trimesh.exchange.obj.export_obj(mesh, include_normals=False, include_texture=False)
        (src / "things" / f"t{k}.obj").write_text(text)
    fifo = tmp_path / "block"
    os.mkfifo(fifo)
    args = ["prepare", "meshes", "--path", str(src), "--out", str(out), "--points", "2000", "--surface", "1000",
            "--workers", "1"]
    done = [out / "things" / f"t{k}" / "points.npz" for k in range(3)]
    with open(tmp_path / "prepare.log", "w") as log:  # a file, not a pipe: it never fills up and blocks
        proc = subprocess.Popen([sys.executable, "-c", BLOCK_ON_T3, str(fifo), *args],
                                cwd=Path(__file__).resolve().parent.parent,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.time() + 180
            while not all(p.is_file() for p in done) and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            assert all(p.is_file() for p in done), \
                (tmp_path / "prepare.log").read_text() if proc.poll() is not None else "timeout"
            assert proc.poll() is None  # blocked on t3
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    assert not (out / "dataset.json").exists() and not (out / "things" / "t3" / "points.npz").exists()
    finished = {p: p.stat().st_mtime_ns for k in range(3) for p in (out / "things" / f"t{k}").iterdir()}

    res = _cli(*args)
    assert res.exit_code == 0, res.output
    assert "3 prepared, 3 already done, 0 failed" in res.output
    assert "dataset.json written: 6 shapes" in res.output
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # the finished shapes were not redone
    assert all((out / "things" / f"t{k}" / "points.npz").is_file() for k in range(3, 6))


def test_prepare_where_every_shape_fails_writes_no_dataset(tmp_path):
    src = tmp_path / "src" / "junk"
    src.mkdir(parents=True)
    (src / "broken.off").write_text("OFF\n3 1 0\n0 0 0\n")  # truncated: vertices missing
    res = _cli("prepare", "meshes", "--path", tmp_path / "src", "--out", tmp_path / "out", "--workers", 1)
    assert res.exit_code == 1
    assert "none of the 1 shapes could be prepared" in res.output and "failures.jsonl" in res.output
    assert not (tmp_path / "out" / "dataset.json").exists()
