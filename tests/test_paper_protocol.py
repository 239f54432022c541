"""The paper's protocol where bench used to differ: uniform training points, selection on IoU, ONet's image
input (224 px, a fixed test view), PointNet's input noise, the generator seed of a fresh synthetic draw, and
the new settings' absence from the config hashes of runs that leave them at their defaults."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import trimesh
from typer.testing import CliRunner

from bench.cli import app
from bench.config import DataConfig, EvalConfig
from bench.data.dataset import ShapeDataset, ShapeStore, open_dataset, shape_radii
from bench.data.format import read_dataset_info
from bench.errors import ConfigError
from bench.evaluation.evaluator import eval_inputs
from bench.training.loop import selection_score
from bench.training.plan import NEW_AT_DEFAULT, resolve_suite

RECORD = Path(__file__).parent / "records" / "smoke_protocol_v2.json"


# --- 1. near-surface share 0: uniform training points only --------------------------------------------------

@pytest.fixture(scope="module")
def train_store(tiny_info):
    return ShapeStore.load(tiny_info, "train", with_parts=True)


def index_in_shape(store: ShapeStore, i: int, points: np.ndarray) -> np.ndarray:
    """(M, 3) points drawn for shape i -> (M,) the smallest index, within the shape's stored query points, of a
    stored point equal to each (every drawn point must be one of them)."""
    rows = store.points[store.query(i)].astype(np.float32)
    first: dict[bytes, int] = {}
    for k in range(len(rows) - 1, -1, -1):
        first[rows[k].tobytes()] = k
    found = [first.get(np.asarray(p, np.float32).tobytes(), -1) for p in points]
    assert -1 not in found, "a drawn point is not one of the shape's stored points"
    return np.array(found)


def test_share_zero_draws_only_the_uniform_points_of_each_shape(train_store):
    st = train_store
    assert (st.n_uniform < st.p_count).all()  # the tiny preset stores near-surface points after the uniform ones
    idx = np.array([0, 5, 17, 31])
    for share, m_near in ((0.0, 0), (0.5, 64)):
        ds = ShapeDataset(st, DataConfig(preset="tiny", near_surface_share=share), seed=0)
        batch = ds.batch(idx, np.random.default_rng(7), n_query=128)
        for b, i in enumerate(idx):
            at = index_in_shape(st, int(i), batch["points"][b].numpy())
            near = at >= st.n_uniform[i]  # the uniform points are the first n_uniform of the shape
            assert near.sum() == m_near, (share, int(i))
            assert np.array_equal(batch["occ"][b].numpy(), st.occ[st.p_off[i] + at])


def test_share_outside_zero_to_one_is_refused(train_store):
    with pytest.raises(ConfigError, match="near_surface_share = 1.5"):
        ShapeDataset(train_store, DataConfig(near_surface_share=1.5))


# --- 2. model selection -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tasks(tiny_info, base_config):
    from bench.models import create_tasks

    return create_tasks(["reconstruction", "classification", "segmentation"], tiny_info, base_config)


def test_selection_mean_and_iou_on_hand_made_metrics(tasks):
    metrics = {"reconstruction": {"iou": 0.6, "chamfer_l1": 0.02}, "classification": {"accuracy": 0.9},
               "segmentation": {"miou": 0.45}}
    assert selection_score(metrics, tasks) == selection_score(metrics, tasks, "mean") == pytest.approx(0.65)
    assert selection_score(metrics, tasks, "iou") == pytest.approx(0.6)
    probe = {"classification": tasks["classification"]}  # no reconstruction: iou falls back to the mean
    assert selection_score({"classification": {"accuracy": 0.75}}, probe, "iou") == pytest.approx(0.75)
    no_iou = {**metrics, "reconstruction": {"iou": None}}  # undefined IoU: the mean of what is there
    assert selection_score(no_iou, tasks, "iou") == pytest.approx((0.9 + 0.45) / 2)


def test_training_selects_on_the_setting(tiny_config, monkeypatch):
    """The loop passes train.select: validation metrics faked, the history's val_score is the selected score."""
    import bench.training.loop as loop_module
    from bench.training.runner import run_suite

    fake = {"reconstruction": {"iou": 0.2}, "classification": {"accuracy": 0.8}, "segmentation": {"miou": 0.5}}
    monkeypatch.setattr(loop_module, "validate", lambda loop: fake)
    scores = {}
    for select in ("mean", "iou"):
        (run,) = [r for r in resolve_suite(tiny_config, "smoke", {"train": {"select": select}}) if r.name == "joint"]
        (result,) = run_suite([run], progress=False, log=lambda m: None)
        assert result.status == "complete", result.error
        scores[select] = [h["val_score"] for h in result.training["history"]]
        assert result.config["all_sections"]["train"]["select"] == select
    assert scores == {"mean": [pytest.approx(0.5)] * 2, "iou": [pytest.approx(0.2)] * 2}  # steps 3 and 6


# --- 3. images: 224 px to the network, a fixed test view ----------------------------------------------------

def store_with_views(store: ShapeStore, n_views: int = 6) -> ShapeStore:
    """``store`` with (S, V, 4, 4, 3) views, view v of every shape filled with the value 10 v."""
    views = np.broadcast_to((10 * np.arange(n_views, dtype=np.uint8))[None, :, None, None, None],
                            (len(store), n_views, 4, 4, 3)).copy()
    return replace(store, views=views)


def view_index(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] from store_with_views -> (B,) the view each image is."""
    return np.rint(images[:, 0, 0, 0].numpy() * 255 / 10).astype(int)


def test_fixed_test_view_is_the_same_view_for_every_shape(train_store):
    store = store_with_views(train_store)
    idx = np.arange(len(store))
    fixed = eval_inputs(store, DataConfig(test_view=3), "image")(idx)
    assert (view_index(fixed) == 3).all() and fixed.shape == (len(store), 3, 4, 4)
    random = view_index(eval_inputs(store, DataConfig(), "image")(idx))  # -1: a seeded random view per shape
    assert len(set(random)) > 1
    assert np.array_equal(random, view_index(eval_inputs(store, DataConfig(), "image")(idx)))  # seeded
    # training keeps random views whatever test_view says
    train = ShapeDataset(store, DataConfig(test_view=3), "image").batch(idx, np.random.default_rng(0))["inputs"]
    assert len(set(view_index(train))) > 1


def test_test_view_beyond_the_views_is_refused(train_store):
    with pytest.raises(ConfigError, match=r"test_view = 6.*6 views per shape.*0\.\.5"):
        ShapeDataset(store_with_views(train_store), DataConfig(test_view=6), "image")


def test_resnet18_resizes_its_input_as_onet():
    from implicit_bench_encoders.resnet18 import ResNet18

    torch.manual_seed(0)
    enc = ResNet18(latent_dim=8, input_size=224).eval()
    plain = ResNet18(latent_dim=8).eval()
    plain.load_state_dict(enc.state_dict())
    seen = []
    enc.conv1.register_forward_hook(lambda mod, args, out: seen.append(tuple(args[0].shape)))
    x = torch.rand(2, 3, 137, 137)
    with torch.no_grad():
        z = enc(x)
        resized = F.interpolate(x, size=(224, 224), mode="bilinear", align_corners=False, antialias=True)
        assert torch.allclose(z, plain(resized), atol=1e-5)
        assert not torch.allclose(z, plain(x), atol=1e-3)  # 137 px is not what it sees
    assert seen == [(2, 3, 224, 224)]
    with pytest.raises(ConfigError, match="input_size"):
        ResNet18(input_size=-1)


# --- 4. Table 1's noise: unit-sphere frame, training only ---------------------------------------------------

def sphere_store(info, radii=(0.25, 0.5), centre=(0.1, -0.05, 0.0), n=4000) -> ShapeStore:
    """Two shapes whose surface points lie on spheres of the given radii about ``centre``."""
    rng = np.random.default_rng(0)
    u = rng.standard_normal((n, 3))
    u = np.concatenate([u, -u])  # symmetric: the centroid is the centre exactly
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    surface = np.concatenate([np.asarray(centre) + r * u for r in radii]).astype(np.float16)
    k = len(radii)
    return ShapeStore(info=info, split="train", ids=[f"{info.categories[0].id}/s{i}" for i in range(k)],
                      category=np.zeros(k, np.int64), points=np.zeros((k, 3), np.float16), occ=np.zeros(k, bool),
                      p_off=np.arange(k), p_count=np.ones(k, np.int64), n_uniform=np.ones(k, np.int64),
                      surface=surface, normals=np.zeros_like(surface), s_off=np.arange(k) * 2 * n,
                      s_count=np.full(k, 2 * n))


def radial_noise(inputs: torch.Tensor, radii, centre=(0.1, -0.05, 0.0)) -> np.ndarray:
    """(B, N, 3) inputs of sphere_store -> (B,) std of their distance from the sphere."""
    d = np.linalg.norm(inputs.numpy() - np.asarray(centre, np.float32), axis=2)
    return (d - np.asarray(radii)[:, None]).std(1)


def test_sphere_frame_scales_the_noise_by_the_shape_radius(tiny_info):
    store = sphere_store(tiny_info)
    assert shape_radii(store) == pytest.approx([0.25, 0.5], abs=2e-3)  # float16 storage
    idx, rng = np.array([0, 1]), np.random.default_rng(3)
    cfg = DataConfig(n_input_points=4000, input_noise=0.02)
    cube = radial_noise(ShapeDataset(store, cfg).batch(idx, rng, n_query=1)["inputs"], [0.25, 0.5])
    assert cube == pytest.approx([0.02, 0.02], rel=0.1)
    sphere_cfg = replace(cfg, noise_frame="sphere")
    sphere = radial_noise(ShapeDataset(store, sphere_cfg).batch(idx, rng, n_query=1)["inputs"], [0.25, 0.5])
    assert sphere == pytest.approx([0.02 * 0.25, 0.02 * 0.5], rel=0.1)


def test_eval_noise_off_gives_clean_inputs_at_evaluation_only(tiny_info):
    store = sphere_store(tiny_info)
    cfg = DataConfig(n_input_points=500, input_noise=0.02, eval_noise=False)
    clean = eval_inputs(store, cfg)(np.array([0, 1]))
    stored = {row.tobytes() for row in store.surface.astype(np.float32)}
    assert all(p.tobytes() in stored for p in clean.numpy().reshape(-1, 3))  # the stored points themselves
    noisy = ShapeDataset(store, cfg).batch(np.array([0, 1]), np.random.default_rng(0), n_query=1)["inputs"]
    assert radial_noise(noisy, [0.25, 0.5]) == pytest.approx([0.02, 0.02], rel=0.15)


# --- 6. the generator seed of the synthetic dataset -------------------------------------------------------

def test_generator_seed_zero_keeps_the_recorded_revision_and_one_is_another_draw(tiny_info, tmp_path):
    from bench.data.synthetic import PRESETS, SyntheticDataset, generate_shape, revision

    recorded = {run["dataset_revision"] for run in json.loads(RECORD.read_text()).values()}
    assert recorded == {tiny_info.revision} == {revision("tiny", 0)}
    zero = SyntheticDataset(DataConfig(preset="tiny", generator_seed=0))
    one = SyntheticDataset(DataConfig(preset="tiny", generator_seed=1))
    assert zero.root.name == f"synthetic-tiny-{tiny_info.revision}" and Path(tiny_info.root) == zero.root
    assert one.seed == 1 and one.root.name == f"synthetic-tiny-{revision('tiny', 1)}"
    assert revision("tiny", 1) != tiny_info.revision
    sid = tiny_info.splits["train"][0]
    for seed in (0, 1):
        generate_shape(tmp_path / str(seed), sid, seed, PRESETS["tiny"])
    cached = np.load(Path(tiny_info.root) / sid / "points.npz")
    same, other = (np.load(tmp_path / str(s) / sid / "points.npz") for s in (0, 1))
    assert np.array_equal(same["points"], cached["points"]) and float(same["scale"]) == float(cached["scale"])
    assert not np.array_equal(other["points"], cached["points"]) and float(other["scale"]) != float(cached["scale"])


def test_generator_seed_is_refused_by_a_dataset_that_does_not_generate(tiny_info):
    with pytest.raises(ConfigError, match="generator_seed = 2.*only generated datasets"):
        open_dataset(DataConfig(name="folder", path=tiny_info.root, generator_seed=2), progress=False)


def test_a_run_on_a_fresh_draw_records_its_revision(tmp_path, _isolated_cache):
    from bench.data.synthetic import revision

    res = CliRunner().invoke(app, ["run", "--suite", "smoke", "--runs", "onet", "--set", "data.generator_seed=1",
                                   "-r", str(tmp_path)])
    assert res.exit_code == 0, res.output
    (path,) = tmp_path.glob("smoke/onet-*/result.json")
    result = json.loads(path.read_text())
    assert result["dataset"]["revision"] == revision("tiny", 1)
    assert result["config"]["data"]["generator_seed"] == 1 == result["config"]["all_sections"]["data"]["generator_seed"]
    assert read_dataset_info(_isolated_cache / f"synthetic-tiny-{revision('tiny', 1)}").made_by["seed"] == 1


# --- profiles and the config hash -------------------------------------------------------------------------

def test_paper_and_image_profiles_follow_onet(base_config):
    for suite in ("table2", "table6", "table7", "table8"):
        for run in resolve_suite(base_config, suite):
            assert run.cfg.data.near_surface_share == 0.0 and run.cfg.train.select == "iou", (suite, run.name)
            assert run.semantic_config()["train"]["select"] == "iou"  # recorded, and hashed
    for run in resolve_suite(base_config, "table3"):
        assert run.cfg.data.near_surface_share == 0.0 and run.cfg.train.select == "iou"
        assert run.cfg.data.test_view == 0 and run.cfg.data.image_size == 137
        assert run.cfg.encoder_kwargs["resnet18"]["input_size"] == 224
    default = resolve_suite(base_config, "default")[0]
    assert default.cfg.data.near_surface_share == 0.5 and default.cfg.train.select == "mean"


def test_new_settings_at_their_defaults_keep_the_recorded_hashes(base_config, bench_precision):
    cfg = base_config.with_overrides(base_config.profiles["tiny"], "profile tiny")
    cfg = cfg.with_overrides({"train": {"seed": 0, "threads": 1}}, "record")
    record = json.loads(RECORD.read_text())
    defaults: dict = {}
    for (section, key), value in NEW_AT_DEFAULT.items():
        defaults.setdefault(section, {})[key] = value
    recorded = {name: run[bench_precision]["config_hash"] for name, run in record.items()}
    for overrides in (None, defaults):  # unset, or set explicitly to their defaults
        runs = resolve_suite(cfg, "smoke", overrides)
        assert {r.name: r.config_hash for r in runs} == recorded
        semantic = runs[0].semantic_config()
        assert all(key not in semantic[section] for section, key in NEW_AT_DEFAULT)
        assert all(key in runs[0].full_config()["all_sections"][section] for section, key in NEW_AT_DEFAULT)
    onet = record["onet"][bench_precision]["config_hash"]
    for override in ({"data": {"generator_seed": 1}}, {"train": {"select": "iou"}}, {"data": {"test_view": 0}},
                     {"data": {"noise_frame": "sphere"}}, {"data": {"eval_noise": False}}):
        assert resolve_suite(cfg, "smoke", override)[0].config_hash != onet, override


# --- 5. ShapeNetPart labelled points that do not sit on their mesh ----------------------------------------

MUG = "03797390"  # ShapeNetPart's Mug synset: global parts 36 and 37


def write_shapenetpart(src: Path, meshes: Path, shifted: set[str]) -> trimesh.Trimesh:
    """ShapeNetPart's txt layout (<synset>/<model>.txt: 'x y z nx ny nz label', split lists, synset table) and
    ShapeNetCore's meshes (<synset>/<model>/models/model_normalized.obj), a 1 x 0.5 x 0.5 box each; the models
    of ``shifted`` have their left half's labelled points moved 0.3 up, off the mesh."""
    (src / "train_test_split").mkdir(parents=True)
    (src / "synsetoffset2category.txt").write_text(f"Mug\t{MUG}\n")
    ids = ["a1", "a2", "a3"]
    for split, chosen in (("train", ids[:2]), ("val", []), ("test", ids[2:])):
        (src / "train_test_split" / f"shuffled_{split}_file_list.json").write_text(
            json.dumps([f"shape_data/{MUG}/{m}" for m in chosen]))
    box = trimesh.creation.box(extents=(1.0, 0.5, 0.5))
    (src / MUG).mkdir()
    for k, m in enumerate(ids):
        d = meshes / MUG / m / "models"
        d.mkdir(parents=True)
        box.export(d / "model_normalized.obj")
        pts, face = trimesh.sample.sample_surface(box, 2000, seed=k)
        label = np.where(pts[:, 0] < 0, 36, 37)
        if m in shifted:
            pts = pts + np.where(pts[:, :1] < 0, [0.0, 0.3, 0.0], 0.0)
        np.savetxt(src / MUG / f"{m}.txt", np.c_[pts, box.face_normals[face], label])
    return box


def test_distance_to_mesh_is_exact_for_points_off_a_box():
    from bench.data.alignment import distances_to_mesh

    box = trimesh.creation.box(extents=(1.0, 1.0, 1.0))
    surface, face = trimesh.sample.sample_surface(box, 3000, seed=0)
    points = np.array([[0.6, 0.0, 0.0], [0.0, 0.0, -0.75], [0.2, 0.5, 0.1], [0.6, 0.6, 0.0], [0.0, 0.45, 0.0]])
    expected = [0.1, 0.25, 0.0, np.hypot(0.1, 0.1), 0.05]  # faces at +-0.5; the 4th is nearest an edge
    assert distances_to_mesh(points, box.triangles, surface, face) == pytest.approx(expected, abs=1e-9)


def test_prepare_skips_shapes_whose_labelled_points_are_off_the_mesh(tmp_path):
    from bench.data.adapters import ShapeNetPart
    from bench.data.prepare import FAILURES, PrepareParams

    src, meshes = tmp_path / "snp", tmp_path / "core"
    write_shapenetpart(src, meshes, shifted={"a2"})
    small = PrepareParams(n_points=2000, n_surface=1000, voxel_resolution=8)
    for params, prepared in ((small, {"a1", "a3"}), (replace(small, label_max_distance=0.0), {"a1", "a2", "a3"})):
        ds = ShapeNetPart(DataConfig(name="shapenetpart", path=str(src), mesh_path=str(meshes)))
        ds.set_params(params)
        root = tmp_path / f"out-{params.label_max_distance}"
        report, info = ds.build(root, workers=1, progress=False)
        assert {sid.split("/")[1] for split in info.splits.values() for sid in split} == prepared
        if len(prepared) == 2:
            (failure,) = [json.loads(line) for line in (root / FAILURES).read_text().splitlines()]
            assert failure["shape"] == f"{MUG}/a2" and failure["error"].startswith("LabelAlignmentError: ")
            assert "do not sit on its mesh" in failure["error"] and "a2.txt" in failure["error"]
            assert info.made_by["failed"] == [f"{MUG}/a2"] and report.failed[0][0] == f"{MUG}/a2"
            assert not (root / MUG / "a2").exists()  # refused before anything was written
        else:
            assert not (root / FAILURES).exists()


def test_the_check_leaves_the_revision_of_a_dataset_it_keeps_whole(tmp_path):
    from bench._io import stable_hash
    from bench.data.prepare import PrepareParams, hashed_params

    params = PrepareParams()
    assert hashed_params(params) == {"n_points": 100_000, "n_surface": 100_000, "near_share": 0.5,
                                     "near_sigmas": (0.01, 0.04), "voxel_resolution": 32, "seed": 0}
    assert "label_max_distance" in hashed_params(replace(params, label_max_distance=0.05))
    assert stable_hash(hashed_params(params)) != stable_hash(hashed_params(replace(params, label_max_distance=0.0)))
