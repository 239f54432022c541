"""Protocols end to end on the tiny preset (seconds each)."""


import pytest
import torch

from bench.results import read_result
from bench.training.checkpoint import LAST, MODEL, load_checkpoint
from bench.training.plan import resolve_suite
from bench.training.runner import run_suite


def smoke(cfg, **overrides):
    return resolve_suite(cfg, "smoke", overrides or None)


def quiet_run(runs, **kw):
    logs = []
    results = run_suite(runs, progress=False, log=logs.append, **kw)
    return results, logs


def test_every_protocol_trains_and_writes_a_result(tiny_config):
    runs = smoke(tiny_config)
    results, _ = quiet_run(runs)
    assert [r.status for r in results] == ["complete"] * 4, [r.error for r in results]
    by_name = {r.run_name: r for r in results}
    assert set(by_name["joint"].metrics) == {"reconstruction", "classification", "segmentation"}
    assert 0 <= by_name["onet"].metrics["reconstruction"]["iou"] <= 1
    # meshes were evaluated for a category-stratified sample (tiny: mesh_shapes 1 -> one shape per category),
    # and only for those: the other shapes have no surface scores (a fallback value would fill every row)
    import pandas as pd

    scores = pd.read_csv(runs[0].run_dir / "scores.csv")
    meshed = scores.dropna(subset=["reconstruction.chamfer_l1"])
    assert len(scores) == by_name["onet"].dataset["test"] and scores["reconstruction.iou"].notna().all()
    assert sorted(meshed["category"]) == sorted(scores["category"].unique())  # one per category
    assert by_name["onet"].metrics["reconstruction"]["chamfer_l1"] == pytest.approx(meshed["reconstruction.chamfer_l1"].mean())
    assert by_name["cls-probe"].encoder_from["run"] == "onet"
    assert by_name["cls-probe"].protocol == "frozen" and not by_name["cls-probe"].encoder["trainable"]
    for run in runs:
        assert (run.run_dir / "result.json").is_file() and (run.run_dir / MODEL).is_file()
        assert not (run.run_dir / LAST).exists()  # resumable state is dropped once finished
        assert read_result(run.run_dir / "result.json").config_hash == run.config_hash


def test_frozen_encoder_weights_and_bn_buffers_do_not_move(tiny_config):
    cfg = tiny_config.with_overrides({"model": {"encoder": "pointnet"}}, "test")  # pointnet has batch norm
    runs = [r for r in smoke(cfg) if r.name in ("onet", "seg-probe")]
    results, _ = quiet_run(runs)
    assert all(r.status == "complete" for r in results), [r.error for r in results]
    before = load_checkpoint(runs[0].run_dir / MODEL)["encoder"]
    after = load_checkpoint(runs[1].run_dir / MODEL)["encoder"]
    assert any("running_mean" in k for k in before)
    assert before.keys() == after.keys()
    for k in before:
        assert torch.equal(before[k], after[k]), k


def test_cached_run_is_not_retrained(tiny_config, monkeypatch):
    runs = smoke(tiny_config)[:1]
    quiet_run(runs)
    mtime = (runs[0].run_dir / "result.json").stat().st_mtime_ns

    def boom(*a, **k):
        raise AssertionError("retrained a cached run")

    monkeypatch.setattr("bench.training.trainer.train_and_evaluate", boom)
    results, logs = quiet_run(smoke(tiny_config)[:1])
    assert results[0].status == "complete" and any("reusing" in m for m in logs)
    assert (runs[0].run_dir / "result.json").stat().st_mtime_ns == mtime
    # a changed config is a different run
    other = smoke(tiny_config.with_overrides({"train": {"lr": 0.01}}, "test"))[0]
    assert other.config_hash != runs[0].config_hash


def test_resume_after_a_kill_reaches_the_same_metrics(tiny_config, tmp_path, monkeypatch):
    cfg = tiny_config.with_overrides({"train": {"max_steps": 8, "checkpoint_every": 2, "eval_every": 4}}, "test")
    clean = smoke(cfg)[:1]
    (clean_result,), _ = quiet_run(clean)

    killed_cfg = cfg.with_overrides({"output": {"results_dir": str(tmp_path / "killed")}}, "test")
    runs = smoke(killed_cfg)[:1]
    from bench.data.dataset import ShapeDataset

    original = ShapeDataset.batch
    calls = {"n": 0}

    def dying_batch(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 6:  # during step 6, after the checkpoint of step 4 (and the validation at step 4)
            raise SystemExit("simulated kill")
        return original(self, *a, **k)

    monkeypatch.setattr(ShapeDataset, "batch", dying_batch)
    with pytest.raises(SystemExit):
        quiet_run(runs)
    monkeypatch.setattr(ShapeDataset, "batch", original)
    ckpt = load_checkpoint(runs[0].run_dir / LAST)
    assert 0 < ckpt["state"]["step"] < 8
    (resumed,), logs = quiet_run(runs)
    assert any("resuming from step" in m for m in logs)
    assert resumed.metrics == clean_result.metrics


def test_nan_loss_stops_with_a_clear_message_and_suite_goes_on(tiny_config):
    cfg = tiny_config.with_overrides({"model": {"encoder": "tests.bad_encoders:ReturnsNaN"}}, "test")
    runs = [r for r in smoke(cfg) if r.name in ("onet", "cls-probe")]
    results, _ = quiet_run(runs)
    assert results[0].status == "failed" and "loss became nan" in results[0].error
    assert results[1].status == "failed" and "stage-one run 'onet' did not finish" in results[1].error
    assert read_result(runs[0].run_dir / "result.json").status == "failed"


def test_plugin_exception_is_recorded_naming_the_plugin(tiny_config):
    cfg = tiny_config.with_overrides({"model": {"encoder": "tests.bad_encoders:Raises"}}, "test")
    (result,), _ = quiet_run(smoke(cfg)[:1])
    assert result.status == "failed" and "kaboom inside the plugin" in result.error
    assert "encoder plugin 'tests.bad_encoders:Raises'" in result.error and "check-encoder" in result.error


def test_voxel_encoder_trains(tiny_config):
    cfg = tiny_config.with_overrides({"model": {"encoder": "voxel_cnn"}}, "test")
    (result,), _ = quiet_run(smoke(cfg)[:1])
    assert result.status == "complete", result.error
    assert result.encoder["modality"] == "voxels"


def test_frozen_probe_uses_stage_one_encoder_config(tiny_config):
    runs = resolve_suite(tiny_config, "smoke", {"model": {"latent_dim": 24}})  # command-line level beats the profile
    probe = next(r for r in runs if r.name == "cls-probe")
    assert probe.cfg.model.latent_dim == 24 and probe.stage_one.name == "onet"
    assert probe.semantic_config()["stage_one"] == probe.stage_one.config_hash


def test_seeds_repeat_the_suite_and_probe_their_own_stage_one(tiny_config):
    runs = resolve_suite(tiny_config, "smoke", seeds=2)
    assert len(runs) == 8 and [r.cfg.train.seed for r in runs] == [0] * 4 + [1] * 4
    probes = [r for r in runs if r.name == "cls-probe"]
    assert [p.stage_one.cfg.train.seed for p in probes] == [0, 1]
    assert len({r.config_hash for r in runs}) == 8


def test_wrong_shape_encoder_fails_naming_the_plugin(tiny_config):
    cfg = tiny_config.with_overrides({"model": {"encoder": "tests.bad_encoders:WrongShape"}}, "test")
    (result,), _ = quiet_run(smoke(cfg)[:1])
    assert result.status == "failed"
    assert "encoder plugin 'tests.bad_encoders:WrongShape'" in result.error and "(B, latent_dim)" in result.error


def test_task_whose_metric_raises_is_named(tiny_config, monkeypatch):
    from implicit_bench_tasks.classification import Classification

    def broken(self, *a, **k):
        raise ZeroDivisionError("metric bug")

    monkeypatch.setattr(Classification, "score_shape", broken)
    runs = [r for r in smoke(tiny_config) if r.name in ("onet", "cls-probe")]
    results, _ = quiet_run(runs)
    assert results[0].status == "complete"  # the other runs of the suite go on
    assert results[1].status == "failed" and "task plugin 'classification'" in results[1].error
    assert "implicit-bench" in results[1].error and "metric bug" in results[1].error
