"""The training log: train_log.csv in every run folder (and across a resume), TensorBoard events on request."""

import pandas as pd
from typer.testing import CliRunner

from bench.cli import app


def _run(results, *args):
    res = CliRunner().invoke(app, ["run", "--suite", "smoke", "--runs", "onet", "-r", str(results), "--quiet",
                                   "--no-eval-mesh", "--set", "train.max_steps=12", "--set", "train.eval_every=6",
                                   "--set", "output.log_every=2", *args])
    assert res.exit_code == 0, res.output
    return next((results / "smoke").glob("onet-*"))


def test_csv_log_has_each_tasks_loss_lr_and_validation(tmp_path):
    run_dir = _run(tmp_path / "r")
    log = pd.read_csv(run_dir / "train_log.csv")
    assert list(log["step"]) == [1, 2, 4, 6, 8, 10, 12]
    assert {"lr", "loss", "loss_reconstruction", "val_score"} <= set(log.columns)
    assert log["val_score"].notna().sum() == 2  # validations at steps 6 and 12
    assert (log["loss"] == log["loss_reconstruction"]).all()  # one task, lambda 1
    assert log["lr"].iloc[-1] < log["lr"].iloc[0]  # the cosine schedule of the tiny profile's base


def test_tensorboard_events(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = _run(tmp_path / "r", "--log", "tensorboard")
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"loss", "lr", "loss/reconstruction", "val_score"} <= tags
    assert [e.step for e in events.Scalars("loss")] == [1, 2, 4, 6, 8, 10, 12]
