"""Faults during training and evaluation: a full disk, NaN gradients under a finite loss, NaN latents at
evaluation only, a resume with train.compile toggled, and a dataset changed on disk after a run was made.
Each run is the tiny profile with a few steps and no meshes (meshes are not the point here)."""

from __future__ import annotations

import errno
import json
import math
import os
from pathlib import Path

import pytest
import torch

import bench._io as bench_io
import bench.training.checkpoint as checkpoint
from bench.results import RESULT_FILE, SCORES_FILE, read_result
from bench.training.checkpoint import LAST, MODEL, load_checkpoint, load_model_state, plain_keys, save_checkpoint
from bench.training.plan import resolve_suite
from bench.training.runner import run_suite

FAST = {"eval": {"eval_mesh": False}}


def fast(cfg, **sections):
    return cfg.with_overrides({**FAST, **sections}, "test")


def onet(cfg, **sections):
    """The smoke suite's first run (reconstruction only) for ``cfg``, without meshes; ``sections`` are
    given as on the command line (the suite's tiny profile would override them in ``cfg``)."""
    return resolve_suite(cfg, "smoke", {**FAST, **sections})[0]


def quiet_run(runs):
    logs: list[str] = []
    return run_suite(runs, progress=False, log=logs.append), logs


def leftovers(folder: Path) -> list[Path]:
    """Temporary files of interrupted atomic writes."""
    return [p for p in Path(folder).rglob("*") if p.name.endswith(".tmp")]


def no_space(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fill_disk(monkeypatch, match, times: int | None = None) -> list[Path]:
    """Make the atomic writes of the files that ``match(path)`` picks fail as on a full disk (the first
    ``times`` of them; all when None); returns the paths that failed.

    A real full disk is not available to the tests, so the real bench._io.atomic_write_bytes runs with
    os.fsync raising ENOSPC, where a full disk often reports it (delayed allocation): the temporary file is
    made and written, and the real cleanup has to remove it. checkpoint.py imported the function by name,
    so it is patched there too (model.pt, last.pt)."""
    real = bench_io.atomic_write_bytes
    failed: list[Path] = []

    def write(path, data):
        path = Path(path)
        if not match(path) or (times is not None and len(failed) >= times):
            return real(path, data)
        failed.append(path)
        with monkeypatch.context() as m:
            m.setattr(os, "fsync", no_space)
            return real(path, data)

    monkeypatch.setattr(bench_io, "atomic_write_bytes", write)
    monkeypatch.setattr(checkpoint, "atomic_write_bytes", write)
    return failed


# -- 1. disk full while writing a result ---------------------------------------------------------------

def test_disk_full_on_result_json_records_the_failure_and_the_run_resumes(tiny_config, tmp_path, monkeypatch):
    run = onet(tiny_config)
    other = onet(tiny_config, output={"results_dir": str(tmp_path / "other-disk")}, train={"seed": 1})
    failed = fill_disk(monkeypatch, lambda p: p == run.run_dir / RESULT_FILE, times=1)

    (first, second), logs = quiet_run([run, other])

    assert failed == [run.run_dir / RESULT_FILE]
    assert first.status == "failed" and "disk full" in first.error and str(run.run_dir) in first.error
    assert read_result(run.run_dir / RESULT_FILE).status == "failed"  # the failure record itself got written
    assert (run.run_dir / LAST).is_file()  # kept: the run resumes instead of retraining
    assert not leftovers(run.run_dir)
    assert second.status == "complete", second.error  # the suite went on
    assert any(m.startswith(f"[{run.name}] FAILED: ") for m in logs)

    monkeypatch.undo()  # space freed
    (again,), logs = quiet_run([run])
    assert again.status == "complete", again.error
    assert any("resuming from step" in m for m in logs)


def test_disk_full_even_for_the_failure_record_logs_one_line_and_goes_on(tiny_config, tmp_path, monkeypatch):
    run = onet(tiny_config)
    other = onet(tiny_config, output={"results_dir": str(tmp_path / "other-disk")}, train={"seed": 1})
    failed = fill_disk(monkeypatch, lambda p: p == run.run_dir / RESULT_FILE)

    (first, second), logs = quiet_run([run, other])

    assert len(failed) == 2  # the result, then the failure record
    assert first.status == "failed" and "disk full" in first.error
    assert not (run.run_dir / RESULT_FILE).exists() and not leftovers(run.run_dir)
    lines = [m for m in logs if "FAILED" in m]
    assert len(lines) == 1 and lines[0].startswith(f"[{run.name}] FAILED: ")
    assert "could not be recorded" in lines[0] and str(run.run_dir) in lines[0]
    assert second.status == "complete", second.error
    assert (other.run_dir / RESULT_FILE).is_file()


@pytest.mark.parametrize("name", [MODEL, SCORES_FILE])
def test_disk_full_on_model_or_scores_fails_the_run_without_half_files(tiny_config, monkeypatch, name):
    run = onet(tiny_config)
    fill_disk(monkeypatch, lambda p: p == run.run_dir / name)

    (result,), logs = quiet_run([run])

    assert result.status == "failed" and "disk full" in result.error and "run again" in result.error
    assert read_result(run.run_dir / RESULT_FILE).status == "failed"
    assert not (run.run_dir / name).exists() and not leftovers(run.run_dir)


def test_disk_full_while_copying_a_reused_run_leaves_no_half_model(tiny_config, monkeypatch):
    run = onet(tiny_config)
    quiet_run([run])
    elsewhere = run.run_dir.parent.parent / "other-suite" / run.run_dir.name  # a finished run of another suite
    elsewhere.parent.mkdir()
    run.run_dir.rename(elsewhere)
    fill_disk(monkeypatch, lambda p: p == run.run_dir / MODEL)

    (result,), logs = quiet_run([run])

    assert result.status == "failed" and "disk full" in result.error
    assert not (run.run_dir / MODEL).exists() and not leftovers(run.run_dir)
    assert (elsewhere / MODEL).is_file() and read_result(elsewhere / RESULT_FILE).status == "complete"


# -- 2. NaN gradients under a finite loss --------------------------------------------------------------

def test_nan_gradient_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    from bench.training.build import build_run

    train = {"max_steps": 6, "checkpoint_every": 2, "eval_every": 2}
    bad = onet(tiny_config, model={"encoder": "tests.bad_encoders:NaNGradient"}, train=train)
    good = onet(tiny_config, train=train)

    (failed, ok), _ = quiet_run([bad, good])

    # NaNGradient.good_steps = 2: steps 0 and 1 are fine, the checkpoint of step 2 is written, step 2 is bad
    assert failed.status == "failed", failed.error
    assert "gradients became non-finite" in failed.error and "at step 2" in failed.error
    assert "loss was finite" in failed.error
    assert "parameter 'encoder.fc." in failed.error
    assert "encoder plugin 'tests.bad_encoders:NaNGradient'" in failed.error
    assert f"last good checkpoint (step 2) is kept at {bad.run_dir / LAST}" in failed.error
    assert ok.status == "complete", ok.error  # the suite went on

    ckpt = load_checkpoint(bad.run_dir / LAST)
    assert ckpt["state"]["step"] == 2 and ckpt["state"]["best_step"] == 2  # nothing written after the bad step
    assert all(torch.isfinite(v).all() for v in ckpt["model"].values() if v.is_floating_point())
    assert all(torch.isfinite(v).all() for v in ckpt["state"]["best_state"].values() if v.is_floating_point())
    model = build_run(bad.cfg, bad.spec.tasks).model
    load_model_state(model, ckpt["model"])  # strict: every key of the model


# -- 3. an encoder that returns NaN at evaluation only -------------------------------------------------

def test_nan_latents_at_evaluation_fail_the_run_naming_the_encoder(tiny_config):
    run = onet(tiny_config, model={"encoder": "tests.bad_encoders:NaNInEval"})

    (result,), _ = quiet_run([run])

    assert result.status == "failed"
    assert "encoder plugin 'tests.bad_encoders:NaNInEval'" in result.error
    assert "NaN/inf latents in eval mode" in result.error and "check-encoder" in result.error
    assert not result.metrics and not read_result(run.run_dir / RESULT_FILE).metrics
    assert not (run.run_dir / SCORES_FILE).exists()


def test_nan_logits_at_evaluation_name_the_decoder(tiny_config, tiny_info):
    from bench.evaluation.evaluator import evaluate
    from bench.errors import PluginContractError
    from bench.training.build import build_run

    cfg = fast(tiny_config)
    built = build_run(cfg, ["reconstruction"])
    store = built.load_split("val", max_shapes=2)
    heads = built.model.point_heads
    real = heads.forward
    heads.forward = lambda *a, **k: {t: v * math.nan for t, v in real(*a, **k).items()}
    with pytest.raises(PluginContractError, match=r"decoder plugin 'cbn'.*NaN/inf reconstruction logits"):
        evaluate(built.model, built.tasks, store, cfg.data, built.modality, device=torch.device("cpu"),
                 encoder_name=cfg.model.encoder)


# -- 4. resuming after toggling train.compile ----------------------------------------------------------

def _built(cfg):
    from bench.training.build import build_run

    return build_run(cfg, ["reconstruction", "segmentation"])


@pytest.mark.parametrize("compiled_side", ["saved", "loaded"])
def test_checkpoint_keys_do_not_depend_on_torch_compile(tiny_config, tmp_path, compiled_side):
    """The torch.compile wrapper puts '_orig_mod.' into the keys; checkpoints are saved without it and
    loaded either way. backend="eager": no C compiler needed, the wrapper is the same."""
    from bench.training.state import TrainState, checkpoint_payload

    cfg = fast(tiny_config)
    src, dst = _built(cfg).model, _built(cfg).model
    with torch.no_grad():
        for p in src.parameters():
            p.add_(1.0)  # so that a load that does nothing is seen
    side = src if compiled_side == "saved" else dst
    side.point_heads = torch.compile(side.point_heads, backend="eager")
    assert any("_orig_mod." in k for k in side.state_dict())

    state = TrainState(step=3)
    state.select(0.5, src)
    optimizer = torch.optim.Adam(src.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    save_checkpoint(tmp_path / LAST, checkpoint_payload(state, src, optimizer, scheduler, "rev"))
    ckpt = load_checkpoint(tmp_path / LAST)
    assert not any("_orig_mod." in k for k in [*ckpt["model"], *ckpt["state"]["best_state"]])

    expected = plain_keys(src.state_dict())
    for weights in (ckpt["model"], ckpt["state"]["best_state"]):
        load_model_state(dst, weights)  # strict
        loaded = plain_keys(dst.state_dict())
        assert loaded.keys() == expected.keys()
        assert all(torch.equal(loaded[k], expected[k]) for k in expected)


def test_compile_setting_keeps_the_state_dict_keys(tiny_config):
    from bench.training.trainer import compile_heads

    model = _built(fast(tiny_config)).model
    keys = list(model.state_dict())
    compile_heads(model)  # lazy: nothing is compiled before the first call
    assert list(model.state_dict()) == keys


def test_resume_with_compile_toggled(tiny_config, monkeypatch):
    """Killed with train.compile off, resumed with it on. The decoders are compiled with the eager backend:
    inductor's C++ build would take minutes on a shared CPU and is not what is tested."""
    from bench.data.dataset import ShapeDataset

    train = {"max_steps": 8, "checkpoint_every": 2, "eval_every": 4}
    kill_during_batch(monkeypatch, ShapeDataset, 6)
    with pytest.raises(SystemExit):
        quiet_run([onet(tiny_config, train=train)])
    monkeypatch.undo()
    real_compile = torch.nn.Module.compile
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, *a, **k: real_compile(self, backend="eager"))

    compiled = onet(tiny_config, train={**train, "compile": True})
    assert compiled.config_hash == onet(tiny_config, train=train).config_hash  # compile is not part of its identity
    (result,), logs = quiet_run([compiled])
    assert result.status == "complete", result.error
    assert any("resuming from step 4" in m for m in logs)


def kill_during_batch(monkeypatch, dataset_cls, n: int) -> None:
    """SystemExit in the n-th batch drawn (training steps and evaluations draw batches)."""
    original = dataset_cls.batch
    calls = {"n": 0}

    def dying_batch(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == n:
            raise SystemExit("simulated kill")
        return original(self, *a, **k)

    monkeypatch.setattr(dataset_cls, "batch", dying_batch)


# -- 5. a dataset changed on disk after a run was cached -----------------------------------------------

@pytest.fixture()
def folder_dataset(tiny_info, tmp_path):
    """A prepared dataset folder of our own (the tiny shapes, linked), whose dataset.json can be edited."""
    root = tmp_path / "dataset"
    root.mkdir()
    source = Path(tiny_info.root)
    for category in source.iterdir():
        if category.is_dir():
            (root / category.name).symlink_to(category, target_is_directory=True)
    (root / "dataset.json").write_text((source / "dataset.json").read_text())
    return root


def set_revision(root: Path, revision: str) -> None:
    info = json.loads((root / "dataset.json").read_text())
    info["revision"] = revision
    (root / "dataset.json").write_text(json.dumps(info))


def test_finished_run_of_another_dataset_revision_is_retrained(tiny_config, folder_dataset):
    data = {"name": "folder", "path": str(folder_dataset)}
    set_revision(folder_dataset, "rev-a")
    (first,), _ = quiet_run([onet(tiny_config, data=data)])
    assert first.status == "complete" and first.dataset["revision"] == "rev-a"

    set_revision(folder_dataset, "rev-b")
    (second,), logs = quiet_run([onet(tiny_config, data=data)])
    assert any("not reusing" in m and "rev-a" in m and "rev-b" in m for m in logs), logs
    assert not any("reusing finished run" in m for m in logs)
    assert second.status == "complete" and second.dataset["revision"] == "rev-b"
    assert read_result(onet(tiny_config, data=data).run_dir / RESULT_FILE).dataset["revision"] == "rev-b"

    (third,), logs = quiet_run([onet(tiny_config, data=data)])  # same revision again: reused
    assert any("reusing finished run" in m for m in logs)


def test_checkpoint_of_another_dataset_revision_is_not_resumed(tiny_config, folder_dataset, monkeypatch):
    from bench.data.dataset import ShapeDataset

    run = onet(tiny_config, data={"name": "folder", "path": str(folder_dataset)},
               train={"max_steps": 8, "checkpoint_every": 2, "eval_every": 4})
    set_revision(folder_dataset, "rev-a")
    kill_during_batch(monkeypatch, ShapeDataset, 6)
    with pytest.raises(SystemExit):
        quiet_run([run])
    monkeypatch.undo()
    assert load_checkpoint(run.run_dir / LAST)["dataset_revision"] == "rev-a"

    set_revision(folder_dataset, "rev-b")
    (result,), logs = quiet_run([run])
    assert any("not resuming" in m and "rev-a" in m and "rev-b" in m for m in logs), logs
    assert not any("resuming from step" in m for m in logs)
    assert result.status == "complete" and result.dataset["revision"] == "rev-b"
    assert result.steps == 8
