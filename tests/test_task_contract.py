"""Task contract 2: a task scores one shape from its ShapeView and takes its settings from [task_kwargs.NAME].

A task written against contract 1 (tests/v1_task.py: the built-in tasks as they were) still trains, is
scored the old way with a DeprecationWarning, gives the numbers of the built-in tasks, and shows in the
leaderboard; one written against contract 2 with its own [task_kwargs.NAME] (tests/v2_task.py) gets its
settings, which are recorded in result.json and hashed. The settings of the built-in tasks that moved from
[eval] / [model] are still read there, with a DeprecationWarning, and keep the config hash.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.config import BenchConfig, load_config, parse_config, parse_set_options
from bench.contracts import ShapeView, Task
from bench.data.dataset import ShapeStore
from bench.errors import ConfigError, PluginContractError
from bench.evaluation.evaluator import evaluate
from bench.models import create_tasks
from bench.task_adapter import check_task_class, contract_of
from bench.training.plan import resolve_suite
from bench.training.runner import run_suite
from tests import v1_task
from tests.v2_task import NearSurfaceAccuracy

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
# Registered as a third party registers them (a dist-info with entry points on sys.path); tasks named by
# module:attr are tested in tests/test_predictor.py.
V1_POINT, V1_SHAPE, V2 = "old_reconstruction", "old_classification", "near_accuracy"
ENTRY_POINTS = {V1_POINT: "tests.v1_task:OldReconstruction", V1_SHAPE: "tests.v1_task:OldClassification",
                V2: "tests.v2_task:NearSurfaceAccuracy"}
V2_KWARGS = {"threshold": 0.4, "max_points": 64}
SUITE = f"""
[task_kwargs.{V2}]
threshold = {V2_KWARGS["threshold"]}
max_points = {V2_KWARGS["max_points"]}

[suites.contract]
description = "A task of each contract beside the built-in ones"
profile = "tiny"

[[suites.contract.runs]]
name = "v1"
tasks = ["{V1_POINT}", "{V1_SHAPE}"]
protocol = "joint"

[[suites.contract.runs]]
name = "v2"
tasks = ["reconstruction", "{V2}"]
protocol = "joint"
"""
CPU = torch.device("cpu")


def deprecations(caught, needle: str) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning) and needle in str(w.message)]


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    """The fixture tasks installed as the distribution 'bench-contract-tasks'."""
    root = tmp_path_factory.mktemp("dist")
    dist = root / "bench_contract_tasks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: bench-contract-tasks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[bench.tasks]\n" + "".join(f"{k} = {v}\n" for k, v in ENTRY_POINTS.items()))
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield
    sys.path.remove(str(root))
    importlib.invalidate_caches()


@pytest.fixture(scope="module")
def contract_suite(registered, tmp_path_factory):
    """The suite `contract` of SUITE trained on the tiny profile: (results folder, results, warnings)."""
    root = tmp_path_factory.mktemp("contract")
    (root / "bench.toml").write_text((ROOT / "bench.toml").read_text(encoding="utf-8") + SUITE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = load_config(root / "bench.toml")
        cfg = cfg.with_overrides({"output": {"results_dir": str(root / "results")}, "train": {"threads": 1}}, "test")
        results = {r.run_name: r for r in run_suite(resolve_suite(cfg, "contract"), progress=False, log=lambda m: None)}
    return root / "results", results, caught


def result_json(results_dir: Path, run: str) -> dict:
    (path,) = (results_dir / "contract").glob(f"{run}-*/result.json")
    return json.loads(path.read_text())


# --- the view ---------------------------------------------------------------------------------------------

def test_view_is_one_shape_of_the_store_without_copies(tiny_info):
    store = ShapeStore.load(tiny_info, "val", with_parts=True, max_shapes=3)
    for i in range(len(store)):
        view, q, s = store.view(i), store.query(i), store.surf(i)
        assert isinstance(view, ShapeView)
        assert (view.shape_id, view.category, view.index) == (store.ids[i], int(store.category[i]), i)
        assert view.n_uniform == store.n_uniform[i] and len(view.points) == store.p_count[i]
        for name, flat, sl in (("points", "points", q), ("occ", "occ", q), ("labels", "labels", q),
                               ("surface", "surface", s), ("normals", "normals", s),
                               ("surface_labels", "surface_labels", s)):
            got = getattr(view, name)
            np.testing.assert_array_equal(got, getattr(store, flat)[sl])
            assert np.shares_memory(got, getattr(store, flat)) and not got.flags.writeable, name
        np.testing.assert_array_equal(view.uniform_indices(5), np.arange(min(5, view.n_uniform)))
        np.testing.assert_array_equal(view.uniform_indices(), np.arange(view.n_uniform))
    assert store.points.flags.writeable  # only the views are read-only
    no_parts = ShapeStore.load(tiny_info, "val", max_shapes=1).view(0)
    assert no_parts.labels is None and no_parts.surface_labels is None


# --- numbers: contract 1 and the built-in tasks of contract 2 ---------------------------------------------

def _scores(built, tasks, store, cfg):
    return evaluate(built.model, tasks, store, cfg.data, built.modality, mesh_indices=[0, 1], device=CPU).rows


@pytest.mark.parametrize("settings", [{}, {"segmentation": {"seg_points": "all", "seg_argmax": "all",
                                                           "miou_absent": "both"}}])
def test_contract_1_tasks_score_exactly_as_the_built_in_tasks(tiny_config, settings):
    """On a known field (tests/oracle.py's sphere: real meshes, parts split by a plane), every score of every
    shape is the same number."""
    from bench.training.build import build_run

    oracle = "tests.oracle:SphereOracle"
    cfg = tiny_config.with_overrides({"task_kwargs": settings, "model": {"decoder": oracle, "layout": "joint"},
                                      "decoder_kwargs": {oracle: {"radius": 0.3}}}, "test")
    built = build_run(cfg, ["reconstruction", "classification", "segmentation"])
    store = built.load_split("val", max_shapes=4)
    assert all(contract_of(type(t)) == 2 for t in built.tasks.values())
    old = {"reconstruction": v1_task.OldReconstruction(built.info, cfg.eval),
           "classification": v1_task.OldClassification(built.info, cfg.eval),
           "segmentation": v1_task.OldSegmentation(built.info, cfg.eval)}  # read the settings from [eval]
    assert all(contract_of(type(t)) == 1 for t in old.values())
    new_rows, old_rows = _scores(built, built.tasks, store, cfg), _scores(built, old, store, cfg)
    assert new_rows == old_rows
    assert all(0 < r["reconstruction"]["fscore"] < 1 for r in new_rows[:2])  # meshed (not empty) and scored
    assert all("chamfer_l1" not in r["reconstruction"] for r in new_rows[2:])  # not meshed
    subclass = {"reconstruction": v1_task.IoUFromContract1(built.info, cfg.eval)}  # contract 1 over contract 2
    assert contract_of(type(subclass["reconstruction"])) == 1
    subclass_rows = _scores(built, subclass, store, cfg)
    assert [r["reconstruction"] for r in subclass_rows] == [r["reconstruction"] for r in new_rows]


# --- a contract-1 task and a contract-2 task, trained -----------------------------------------------------

def test_contract_1_task_trains_with_a_deprecation_warning_naming_it(contract_suite):
    results_dir, results, caught = contract_suite
    assert results["v1"].status == "complete", results["v1"].error
    for name, method in ((V1_POINT, "eval_points(view)"), (V1_SHAPE, "shape_scores(logits, view, idx)")):
        (message, *_) = deprecations(caught, f"task plugin '{name}'")
        assert "task contract 1" in message and method in message and "contract_version = 2" in message
    metrics = result_json(results_dir, "v1")["metrics"]
    assert 0.0 <= metrics[V1_POINT]["iou"] <= 1.0 and metrics[V1_POINT]["chamfer_l1"] is not None
    assert 0.0 <= metrics[V1_SHAPE]["accuracy"] <= 1.0


def test_contract_2_task_gets_its_task_kwargs_and_records_them(contract_suite):
    results_dir, results, caught = contract_suite
    assert results["v2"].status == "complete", results["v2"].error
    assert not deprecations(caught, V2) and not deprecations(caught, "'reconstruction'")
    result = result_json(results_dir, "v2")
    assert result["config"]["task_kwargs"] == {V2: V2_KWARGS}  # only the run's tasks' own tables
    assert "task_kwargs" not in result_json(results_dir, "v1")["config"]
    assert result["metric_info"][V2]["conventions"] == V2_KWARGS  # they reached the task
    assert 0 < result["metrics"][V2]["near_points"] <= V2_KWARGS["max_points"]
    assert 0.0 <= result["metrics"][V2]["near_accuracy"] <= 1.0


def test_both_show_in_the_leaderboard(contract_suite):
    results_dir, _, _ = contract_suite
    res = CliRunner().invoke(app, ["leaderboard", "-r", str(results_dir), "--suite", "contract", "--format", "csv"])
    assert res.exit_code == 0, res.output
    rows = {r["run"]: r for r in csv.DictReader(io.StringIO(res.output))}
    assert set(rows) == {"v1", "v2"}
    v1, v2 = result_json(results_dir, "v1")["metrics"], result_json(results_dir, "v2")["metrics"]
    assert float(rows["v1"]["accuracy"]) == pytest.approx(v1[V1_SHAPE]["accuracy"])
    assert float(rows["v2"]["near_accuracy"]) == pytest.approx(v2[V2]["near_accuracy"])
    iou = [c for c in rows["v1"] if c.endswith("iou") and rows["v1"][c]]  # shared by two tasks: task.iou
    assert [float(rows["v1"][c]) for c in iou] == pytest.approx([v1[V1_POINT]["iou"]])
    table = CliRunner().invoke(app, ["leaderboard", "-r", str(results_dir), "--suite", "contract"])
    assert table.exit_code == 0 and "near" in table.output and "old_re" in table.output  # labels, wrapped
    assert {line.split("│")[1].strip() for line in table.output.splitlines() if line.count("│") > 3} >= {"v1", "v2"}


def test_task_kwargs_are_hashed_for_the_run_s_own_tasks_only(contract_suite, base_config):
    cfg = parse_config(tomllib.loads((ROOT / "bench.toml").read_text(encoding="utf-8") + SUITE), "test")
    hashes = {r.name: r.config_hash for r in resolve_suite(cfg, "contract")}
    other = {r.name: r.config_hash for r in resolve_suite(cfg, "contract", {"task_kwargs": {V2: {"threshold": 0.6}}})}
    assert other["v1"] == hashes["v1"] and other["v2"] != hashes["v2"]


# --- the settings that moved, and their old keys ----------------------------------------------------------

OLD_KEYS = """
[eval]
seg_argmax = "all"
fscore_tau = 0.02

[model]
classifier_hidden = 8
"""
NEW_KEYS = """
[task_kwargs.segmentation]
seg_argmax = "all"

[task_kwargs.reconstruction]
fscore_tau = 0.02

[task_kwargs.classification]
classifier_hidden = 8
"""
RUNS = """
[suites.s]
profile = "tiny"

[[suites.s.runs]]
name = "all"
tasks = ["reconstruction", "classification", "segmentation"]
protocol = "joint"

[[suites.s.runs]]
name = "recon"
tasks = ["reconstruction"]

[profiles.tiny]
data = { preset = "tiny" }
"""


def test_old_eval_and_model_keys_still_work_with_a_deprecation_warning(tiny_info):
    with pytest.warns(DeprecationWarning) as caught:
        old = parse_config(tomllib.loads(OLD_KEYS + RUNS), "old.toml")
    messages = [str(w.message) for w in caught]
    for key, task in (("eval.seg_argmax", "segmentation"), ("eval.fscore_tau", "reconstruction"),
                      ("model.classifier_hidden", "classification")):
        assert any(f"{key} is deprecated" in m and f"[task_kwargs.{task}]" in m for m in messages), key
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = parse_config(tomllib.loads(NEW_KEYS + RUNS), "new.toml")
    for cfg in (old, new):
        tasks = create_tasks(["reconstruction", "classification", "segmentation"], tiny_info, cfg)
        assert tasks["segmentation"].seg_argmax == "all" and tasks["reconstruction"].fscore_tau == 0.02
        assert tasks["classification"].build_head(16, cfg.model)[0].out_features == 8
        assert tasks["segmentation"].conventions()["argmax_over"] == "all parts"
    # moving them to [task_kwargs.NAME] keeps the hashes (cached results stay valid), and records no new key
    assert [r.config_hash for r in resolve_suite(old, "s")] == [r.config_hash for r in resolve_suite(new, "s")]
    assert all("task_kwargs" not in r.semantic_config() for r in resolve_suite(new, "s"))
    assert resolve_suite(new, "s")[0].full_config()["all_sections"]["eval"]["seg_argmax"] == "all"


def test_task_kwargs_win_in_one_table_and_a_later_layer_wins_over_an_earlier_one():
    both = BenchConfig().with_overrides({"eval": {"seg_points": "all"},
                                         "task_kwargs": {"segmentation": {"seg_points": "uniform"}}}, "test")
    assert both.task_kwargs["segmentation"]["seg_points"] == "uniform" and both.eval.seg_points == "uniform"
    later = BenchConfig().with_overrides({"task_kwargs": {"segmentation": {"seg_points": "all"}}}, "bench.toml")
    later = later.with_overrides({"eval": {"seg_points": "uniform"}}, "run")  # a run's old key over an earlier new one
    assert later.task_kwargs["segmentation"]["seg_points"] == "uniform" and later.eval.seg_points == "uniform"
    with pytest.warns(DeprecationWarning, match=r"eval\.seg_points is deprecated.*task_kwargs\.segmentation"):
        parse_set_options(["eval.seg_points=all"])


def test_moved_settings_are_checked_as_before_and_unknown_ones_name_the_table(tiny_info):
    with pytest.raises(ConfigError, match=r"task_kwargs\.segmentation\.seg_points: 'unifrm' is not one of.*'uniform'"):
        BenchConfig().with_overrides({"task_kwargs": {"segmentation": {"seg_points": "unifrm"}}}, "test")
    coerced = BenchConfig().with_overrides({"task_kwargs": {"reconstruction": {"fscore_tau": 1}}}, "test")
    assert coerced.task_kwargs["reconstruction"]["fscore_tau"] == 1.0 and coerced.eval.fscore_tau == 1.0
    cfg = BenchConfig().with_overrides({"task_kwargs": {"segmentation": {"seg_pointz": "all"}}}, "test")
    with pytest.raises(ConfigError, match=r"task plugin 'segmentation'.*seg_pointz.*\[task_kwargs\.segmentation\]"):
        create_tasks(["segmentation"], tiny_info, cfg)


def test_the_shipped_bench_toml_uses_the_new_keys_only():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        cfg = load_config(ROOT / "bench.toml")
    tiny = cfg.with_overrides(cfg.profiles["tiny"], "tiny")
    assert tiny.task_kwargs["reconstruction"]["n_surface_samples"] == tiny.eval.n_surface_samples == 2000
    assert tiny.task_kwargs["classification"]["classifier_hidden"] == tiny.model.classifier_hidden == 16


# --- one eval config --------------------------------------------------------------------------------------

def test_meshing_reads_the_tasks_own_eval_config(tiny_config):
    from bench.evaluation.predictor import mesh_config
    from bench.training.build import build_run

    cfg = tiny_config.with_overrides({"eval": {"iou_threshold": 0.3}}, "test")
    built = build_run(cfg, ["reconstruction"])
    task = built.tasks["reconstruction"]
    assert mesh_config("reconstruction", task) is task.eval_cfg and task.eval_cfg.iou_threshold == 0.3
    task.eval_cfg = None
    with pytest.raises(ValueError, match=r"task 'reconstruction' has no eval config to mesh with"):
        mesh_config("reconstruction", task)


# --- the contract's checks --------------------------------------------------------------------------------

def test_eval_points_outside_the_view_name_the_task(registered, tiny_config):
    from bench.training.build import build_run

    cfg = tiny_config.with_overrides({"task_kwargs": {V2: V2_KWARGS}}, "test")
    built = build_run(cfg, [V2])
    store = built.load_split("val", max_shapes=1)
    built.tasks[V2].eval_points = lambda view: np.array([0, len(view.points)])
    with pytest.raises(PluginContractError, match=rf"task plugin '{V2}'.*eval_points.*0\.\.\d+"):
        evaluate(built.model, built.tasks, store, cfg.data, built.modality, device=CPU)


def test_contract_versions_and_missing_methods_are_checked():
    class Future(NearSurfaceAccuracy):
        contract_version = 3

    with pytest.raises(PluginContractError, match=r"contract_version = 3 is not a task contract this bench knows"):
        check_task_class(Future, "task plugin 'future'")

    class Nothing(Task):
        name, kind, metrics, main_score, contract_version = "nothing", "shape", (), "x", 2

        def loss(self, logits, batch):
            return logits.sum()

    with pytest.raises(PluginContractError, match=r"implements neither shape_scores"):
        check_task_class(Nothing, "task plugin 'nothing'")

    class Undeclared(NearSurfaceAccuracy):  # contract-2 methods, no contract_version: called as contract 1
        contract_version = 1

    with pytest.warns(DeprecationWarning, match=r"does not declare contract_version = 2"):
        check_task_class(Undeclared, "task plugin 'undeclared'")

    class Ported(NearSurfaceAccuracy):  # a contract-2 subclass inherits the version
        def shape_scores(self, logits, view, idx):
            return super().shape_scores(logits, view, idx)

    assert contract_of(Ported) == 2 and contract_of(v1_task.IoUFromContract1) == 1
