"""The inference object and what is built on it: ``Predictor`` (encode, shape_logits, decode, mesh), the
evaluation's hooks for robustness (``input_fn``, ``point_transform``, ``keep_latents``), the dataset's eval
inputs, ``blame`` / ``build_plugin``, and task names given as ``module:attr`` (ModuleDict keys, restore)."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from bench.blame import blame, build_plugin
from bench.config import EvalConfig
from bench.data.dataset import ShapeDataset
from bench.errors import ConfigError, DataError, PluginContractError, PluginLoadError, TrainingError
from bench.evaluation.evaluator import EVAL_BATCH, EVAL_SEED, eval_inputs, evaluate
from bench.evaluation.predictor import POINT_CHUNK, Predictor
from bench.heads import module_key, module_keys
from tests.oracle import write_sphere_dataset

CPU = torch.device("cpu")
R_BIG, R_SMALL, R_PRED = 0.4, 0.3, 0.35


def rot_z(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rot_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


@pytest.fixture(scope="module")
def tiny_built(base_config):
    """An untrained model of all three tasks on the tiny dataset, and a split of more than one eval batch."""
    from bench.training.build import build_run

    cfg = base_config.with_overrides(base_config.profiles["tiny"], "profile tiny")
    torch.manual_seed(0)
    built = build_run(cfg, ["reconstruction", "classification", "segmentation"])
    store = built.load_split("train", max_shapes=EVAL_BATCH + 5)
    assert len(store) > EVAL_BATCH
    return built, store


# --- the hooks ---------------------------------------------------------------------------------------------

def test_the_hooks_identity_is_the_default_path_exactly(tiny_built):
    built, store = tiny_built
    cfg = built.cfg
    common = dict(mesh_indices=[0, EVAL_BATCH + 1], n_bootstrap=10, keep_latents=True)
    default = evaluate(built.model, built.tasks, store, cfg.data, **common)
    hooked = evaluate(Predictor(built.model, CPU), built.tasks, store, cfg.data, built.modality,
                      input_fn=eval_inputs(store, cfg.data, built.modality), point_transform=lambda i: None, **common)
    assert default.rows == hooked.rows and default.metrics == hooked.metrics
    assert default.per_category == hooked.per_category and default.intervals == hooked.intervals
    assert default.latents.dtype == np.float32 and default.latents.shape == (len(store), built.model.encoder.latent_dim)
    np.testing.assert_array_equal(default.latents, hooked.latents)
    assert evaluate(built.model, built.tasks, store, cfg.data).latents is None  # only when asked for


def test_latents_are_the_encoders_of_the_default_inputs_in_store_order(tiny_built):
    built, store = tiny_built
    ev = evaluate(built.model, {"classification": built.tasks["classification"]}, store, built.cfg.data,
                  keep_latents=True)
    inputs = ShapeDataset(store, built.cfg.data, built.modality, seed=EVAL_SEED).inputs(
        np.arange(EVAL_BATCH), np.random.default_rng(EVAL_SEED))  # the first batch's
    np.testing.assert_array_equal(ev.latents[:EVAL_BATCH], Predictor(built.model, CPU).encode(inputs).numpy())


def test_the_eval_inputs_are_those_of_the_training_batcher_with_one_query_point(tiny_built):
    """The stream evaluation always drew its inputs from: ``batch(idx, rng, n_query=1)``, batch after batch."""
    built, store = tiny_built
    dataset = ShapeDataset(store, built.cfg.data, built.modality, seed=EVAL_SEED)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    for idx in (np.arange(0, EVAL_BATCH), np.arange(EVAL_BATCH, len(store))):
        assert torch.equal(dataset.inputs(idx, rng_a), dataset.batch(idx, rng_b, n_query=1)["inputs"])
    assert rng_a.random() == rng_b.random()  # the two streams stand at the same place


def test_hooks_check_what_they_are_given(tiny_built):
    built, store = tiny_built
    with pytest.raises(ValueError, match=r"input_fn gave shape \(3, 300, 3\) for 16 shapes"):
        evaluate(built.model, built.tasks, store, built.cfg.data, input_fn=lambda idx: torch.zeros(3, 300, 3))
    with pytest.raises(ValueError, match=r"point_transform\(0\) gave an array of shape \(3,\)"):
        evaluate(built.model, built.tasks, store, built.cfg.data, point_transform=lambda i: np.ones(3))
    with pytest.raises(ValueError, match="a Predictor carries its device and precision"):
        evaluate(Predictor(built.model, CPU), built.tasks, store, built.cfg.data, device=CPU)


@pytest.fixture(scope="module")
def sphere_oracle(base_config, tmp_path_factory):
    """The analytic sphere oracle of tests/test_oracle.py, built (not trained): its field is a sphere of radius
    R_PRED about the origin whose parts split at the plane z = 0."""
    from bench.training.build import build_run

    root = tmp_path_factory.mktemp("spheres")
    write_sphere_dataset(root, {"big": R_BIG, "small": R_SMALL}, {"big": 2, "small": 1})
    cfg = base_config.with_overrides(base_config.profiles["tiny"], "profile tiny").with_overrides({
        "data": {"name": "folder", "path": str(root)},
        "model": {"decoder": "tests.oracle:SphereOracle", "layout": "joint"},
        "decoder_kwargs": {"tests.oracle:SphereOracle": {"radius": R_PRED}},
        "eval": {"n_iou_points": 20_000, "mise_resolution": 16, "mise_upsampling": 1},
        "task_kwargs": {"reconstruction": {"n_surface_samples": 5000}}}, "oracle")
    built = build_run(cfg, ["reconstruction", "segmentation"])
    return built, built.load_split("test")


def _rotated(built, store, rotation: np.ndarray):
    """(input_fn, point_transform): the default inputs rotated by R, and R for every shape."""
    default = eval_inputs(store, built.cfg.data, built.modality)
    r = torch.from_numpy(rotation.astype(np.float32))
    return (lambda idx: default(idx) @ r.T), (lambda i: rotation)


def test_a_rotation_of_inputs_and_queries_scores_as_no_rotation_on_the_sphere_oracle(sphere_oracle):
    built, store = sphere_oracle
    common = dict(mesh_indices=range(len(store)), keep_latents=True)
    plain = evaluate(built.model, built.tasks, store, built.cfg.data, **common)
    input_fn, transform = _rotated(built, store, rot_z(0.7))  # keeps the plane z = 0 of the part split
    turned = evaluate(built.model, built.tasks, store, built.cfg.data, input_fn=input_fn, point_transform=transform,
                      **common)
    assert not np.allclose(plain.latents, turned.latents)  # the encoder did see rotated inputs
    for a, b in zip(plain.rows, turned.rows):
        assert a["shape"] == b["shape"]
        assert b["segmentation"]["miou"] == a["segmentation"]["miou"] == 1.0
        for metric, value in a["reconstruction"].items():
            assert b["reconstruction"][metric] == pytest.approx(value, abs=2e-3), (a["shape"], metric)
    assert plain.rows[0]["reconstruction"]["iou"] == pytest.approx((R_PRED / R_BIG) ** 3, abs=0.03)


def test_the_queries_follow_the_rotation_and_the_ground_truth_does_not(sphere_oracle):
    """Turned upside down (about x), the oracle's field (fixed in space) labels every query point of the true
    top as bottom: part mIoU drops to 0 while the sphere's IoU stays. So the queries were decoded at R @ p,
    and scored against the labels of p."""
    built, store = sphere_oracle
    input_fn, transform = _rotated(built, store, rot_x(math.pi))
    plain = evaluate(built.model, built.tasks, store, built.cfg.data)
    flipped = evaluate(built.model, built.tasks, store, built.cfg.data, input_fn=input_fn, point_transform=transform)
    assert flipped.metrics["segmentation"]["miou"] == 0.0 and plain.metrics["segmentation"]["miou"] == 1.0
    assert flipped.metrics["reconstruction"]["iou"] == pytest.approx(plain.metrics["reconstruction"]["iou"], abs=2e-3)


# --- the Predictor -----------------------------------------------------------------------------------------

class ShiftedSphere(nn.Module):
    """Point heads of one task whose occupancy field is a sphere of radius 0.25 about ``centre``."""

    decoder_name = "cbn"

    def __init__(self, centre):
        super().__init__()
        self.channels = {"occ": 1}
        self.register_buffer("centre", torch.tensor(centre, dtype=torch.float32))
        self.calls: list[int] = []

    def forward(self, points, z, only=None):
        self.calls.append(points.shape[1])
        return {"occ": 40 * (0.25 - (points - self.centre).norm(dim=-1, keepdim=True)) + 0 * z[:, None, :1]}


class MeshTask:
    eval_cfg = EvalConfig(mise_resolution=16, mise_upsampling=1, iou_threshold=0.5)

    def occupancy_logits(self, logits):
        return logits[:, 0]


def _predictor(centre=(0.2, 0.0, 0.0)) -> Predictor:
    model = SimpleNamespace(point_heads=ShiftedSphere(centre), encoder=SimpleNamespace(modality="pointcloud"))
    return Predictor(model, "cpu", False)


def test_decode_is_chunked_and_rotates_the_points():
    pred = _predictor()
    z = torch.zeros(1, 4)
    points = np.random.default_rng(0).uniform(-0.5, 0.5, (POINT_CHUNK + 10, 3)).astype(np.float16)
    out = pred.decode(z, points)
    assert pred.model.point_heads.calls == [POINT_CHUNK, 10] and out["occ"].shape == (POINT_CHUNK + 10, 1)
    assert out["occ"].dtype == np.float32
    r = rot_z(1.0)
    turned = pred.decode(z, points, rotation=r)["occ"]
    direct = pred.decode(z, points.astype(np.float32) @ r.T.astype(np.float32))["occ"]
    np.testing.assert_array_equal(turned, direct)
    assert pred.decode(z, np.zeros((0, 3), np.float32))["occ"].shape == (0, 1)


def test_mesh_of_a_rotation_is_in_the_frame_of_the_unrotated_shape():
    pred = _predictor((0.2, 0.0, 0.0))
    z = torch.zeros(1, 4)
    plain = pred.mesh("occ", MeshTask(), z)
    np.testing.assert_allclose(plain.vertices.mean(0), [0.2, 0, 0], atol=0.02)
    r = rot_z(math.pi / 2)  # the field is asked at R p: its sphere about c is found about R^T c = (0, -0.2, 0)
    turned = pred.mesh("occ", MeshTask(), z, rotation=r)
    np.testing.assert_allclose(turned.vertices.mean(0), r.T @ [0.2, 0, 0], atol=0.02)


def test_non_finite_outputs_name_the_plugin(tiny_built):
    built, store = tiny_built
    pred = Predictor(built.model, CPU, encoder_name=built.cfg.model.encoder)
    inputs = eval_inputs(store, built.cfg.data)(np.arange(3))
    real = built.model.encoder.forward
    try:
        built.model.encoder.forward = lambda x: real(x) * torch.tensor([1.0, math.nan, 1.0])[:, None]
        with pytest.raises(PluginContractError, match=r"encoder plugin 'onet_pointnet'.*NaN/inf latents in eval mode "
                                                      r"for 1 of 3 shapes of split 'train' \(first: .+\).*check-encoder"):
            pred.encode(inputs, store.ids[:3], store.split)
        with pytest.raises(PluginContractError, match=r"NaN/inf latents in eval mode for 1 of 3 inputs"):
            Predictor(built.model, CPU).encode(inputs)
    finally:
        built.model.encoder.forward = real
    z = pred.encode(inputs)
    assert z.dtype == torch.float32 and z.shape == (3, built.model.encoder.latent_dim)
    logits = pred.shape_logits(z, built.tasks)
    assert set(logits) == {"classification"} and logits["classification"].shape == (3, len(built.info.categories))
    assert pred.shape_logits(z, ["reconstruction"]) == {}
    heads = built.model.point_heads
    real_heads = heads.forward
    try:
        heads.forward = lambda *a, **k: {t: v * math.nan for t, v in real_heads(*a, **k).items()}
        with pytest.raises(PluginContractError, match=r"decoder plugin 'cbn'.*NaN/inf reconstruction logits in eval "
                                                      r"mode on shape s1 \(split 'x'\)"):
            pred.decode(z[:1], store.points[:5], shape="s1", split="x")
    finally:
        heads.forward = real_heads


def test_precision_is_a_precision_or_a_flag():
    from bench.training.precision import Precision

    assert Predictor(None, "cpu", Precision(True, "test")).bf16 and Predictor(None, "cpu", True).bf16
    assert not Predictor(None, "cpu", Precision(False, "test")).bf16 and not Predictor(None, "cpu").bf16
    assert Predictor(None, "cpu").device == CPU


# --- blame and build_plugin --------------------------------------------------------------------------------

def test_blame_names_the_plugin_and_lets_bench_errors_through():
    with pytest.raises(TrainingError, match=r"^encoder plugin 'x' raised in forward: ZeroDivisionError: boom. hint$"):
        with blame("encoder plugin 'x'", "forward", TrainingError, hint=". hint"):
            raise ZeroDivisionError("boom")
    looked_up = []
    with blame(lambda: looked_up.append(1) or "never"):
        pass
    assert not looked_up  # a label is looked up on failure only
    original = DataError("already says where")
    with pytest.raises(DataError) as err:
        with blame("task plugin 't'", "score"):
            raise original
    assert err.value is original
    with pytest.raises(KeyboardInterrupt):
        with blame("task plugin 't'"):
            raise KeyboardInterrupt


def test_build_plugin_maps_the_constructors_errors():
    def factory(a, b=1):
        if b == 2:
            raise RuntimeError("broken inside")
        if b == 3:
            raise ConfigError("its own config error")
        return (a, b)

    assert build_plugin("p", factory, (1,), {"b": 0}, given="g", fix="f") == (1, 0)
    with pytest.raises(ConfigError, match=r"^p: could not be built with \(a\) and \{'c': 1\}: .*'c'.*\. Check it\.$"):
        build_plugin("p", factory, (1,), {"c": 1}, given="(a) and {'c': 1}", fix="Check it.")
    with pytest.raises(PluginContractError, match="could not be built"):
        build_plugin("p", factory, (), given="()", fix="", type_error=PluginContractError)
    with pytest.raises(PluginLoadError, match=r"^p: raised while being built: RuntimeError: broken inside$"):
        build_plugin("p", factory, (1,), {"b": 2}, given="", fix="")
    with pytest.raises(ConfigError, match="its own config error"):
        build_plugin("p", factory, (1,), {"b": 3}, given="", fix="")


# --- module:attr task names --------------------------------------------------------------------------------

V2_TASK = "tests.v2_task:NearSurfaceAccuracy"
V1_SHAPE = "tests.v1_task:OldClassification"


def test_module_keys_keep_registered_names_and_sanitise_module_attr_ones():
    assert module_keys(["reconstruction", V2_TASK]) == {"reconstruction": "reconstruction",
                                                        V2_TASK: "tests_v2_task_NearSurfaceAccuracy"}
    assert module_key("my-task_2") == "my-task_2"
    with pytest.raises(ConfigError, match=r"tasks 'a\.b' and 'a_b' would share the module name 'a_b'"):
        module_keys(["a.b", "a_b"])


def test_a_model_of_module_attr_tasks_builds_evaluates_and_keeps_registered_keys(tiny_built, base_config):
    from bench.training.build import build_run

    built, store = tiny_built
    cfg = built.cfg.with_overrides({"task_kwargs": {V2_TASK: {"threshold": 0.4}}}, "test")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # V1_SHAPE is written against task contract 1
        mixed = build_run(cfg, ["reconstruction", V2_TASK, "classification", V1_SHAPE])
    keys = mixed.model.state_dict()
    assert any(k.startswith("point_heads.decoders.reconstruction.") for k in keys)
    assert any(k.startswith("point_heads.decoders.tests_v2_task_NearSurfaceAccuracy.") for k in keys)
    assert any(k.startswith("shape_heads.classification.") for k in keys)
    assert any(k.startswith("shape_heads.tests_v1_task_OldClassification.") for k in keys)
    assert mixed.tasks[V2_TASK].threshold == 0.4
    same = {k for k in built.model.state_dict() if k.startswith(("point_heads.decoders.reconstruction.",
                                                                  "shape_heads.classification."))}
    assert same <= set(keys)  # a registered task's keys do not depend on the other tasks' names
    out = mixed.model(torch.zeros(2, 300, 3), torch.zeros(2, 7, 3))
    assert out[V2_TASK].shape == (2, 7, 1) and out[V1_SHAPE].shape == (2, len(mixed.info.categories))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ev = evaluate(mixed.model, mixed.tasks, store, cfg.data)
    assert set(ev.metrics) == {"reconstruction", V2_TASK, "classification", V1_SHAPE}


def test_a_run_of_a_module_attr_task_trains_and_restores_with_its_task_kwargs(base_config, tmp_path):
    from bench.config import load_config
    from bench.results import locate_run_dir
    from bench.training.plan import resolve_suite
    from bench.training.restore import config_of, restore_run
    from bench.training.runner import run_suite

    toml = (f'[task_kwargs."{V2_TASK}"]\nthreshold = 0.3\nmax_points = 32\n\n'
            '[suites.third]\nprofile = "tiny"\n\n[[suites.third.runs]]\nname = "near"\n'
            f'tasks = ["reconstruction", "{V2_TASK}"]\nprotocol = "joint"\n')
    from tests.conftest import ROOT

    (tmp_path / "bench.toml").write_text((ROOT / "bench.toml").read_text(encoding="utf-8") + toml)
    cfg = load_config(tmp_path / "bench.toml").with_overrides(
        {"output": {"results_dir": str(tmp_path / "results")}, "train": {"max_steps": 2, "eval_every": 2, "threads": 1}},
        "test")
    (result,) = run_suite(resolve_suite(cfg, "third"), progress=False, log=lambda m: None)
    assert result.status == "complete", result.error
    assert result.config["task_kwargs"] == {V2_TASK: {"threshold": 0.3, "max_points": 32}}
    assert config_of(result).task_kwargs[V2_TASK] == {"threshold": 0.3, "max_points": 32}
    restored = restore_run(locate_run_dir(result, tmp_path / "results"), trust_plugins=True)  # the model's state dict loads, keys and all
    task = restored.built.tasks[V2_TASK]
    assert (task.threshold, task.max_points) == (0.3, 32)
    assert restored.predictor().encoder_name == result.encoder.name
