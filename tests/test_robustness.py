"""`bench robustness`: saved runs re-evaluated under corruptions, without retraining. Severity 0 is the run's
own evaluation; the rotation-invariant sphere oracle scores the same IoU under every rotation (the query
points turn with the shape); every run sees the same corrupted inputs; the files are written and reused."""

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.results import scan_results
from bench.robustness.corruptions import CORRUPTIONS
from bench.training.plan import resolve_suite
from bench.training.runner import run_suite
from tests.oracle import write_sphere_dataset


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    results = tmp_path_factory.mktemp("rob")
    res = CliRunner().invoke(app, ["run", "--suite", "smoke", "--profile", "tiny", "-r", str(results), "--quiet",
                                   "--no-eval-mesh", "--runs", "joint,cls-probe"])
    assert res.exit_code == 0, res.output
    return results


def _robust(results, *args):
    res = CliRunner().invoke(app, ["robustness", *args, "-r", str(results), "-f", "csv"])
    assert res.exit_code == 0, res.output
    return res.output


def test_severity_zero_reproduces_the_runs_own_metrics_and_files_are_written(smoke):
    out = _robust(smoke, "smoke/joint", "--corruptions", "noise,outliers", "--severities", "1,5", "--points", "0")
    (joint,) = [r for r in scan_results(smoke) if r.run_name == "joint"]
    frame = pd.read_csv(joint.run_dir / "robustness.csv")
    clean = frame[frame["corruption"] == "clean"]
    for task, metric in (("reconstruction", "iou"), ("segmentation", "miou"), ("classification", "accuracy")):
        assert clean[f"{task}.{metric}"].mean() == pytest.approx(joint.metrics[task][metric], abs=1e-12), task
    assert set(frame["corruption"]) == {"clean", "noise", "outliers"} and set(frame["severity"]) == {0, 1, 5}
    assert len(frame) == len(clean) * 5
    summary = json.loads((joint.run_dir / "robustness.json").read_text())
    assert summary["settings"]["levels"]["noise"] == list(CORRUPTIONS["noise"].levels)
    header = next(line for line in out.splitlines() if line.startswith("run,"))
    assert "smoke/joint" in out and "mean corrupted" in header and "noise" in header
    # the latent moves more under the worse severity of noise
    shifts = frame[frame["corruption"] == "noise"].groupby("severity")["latent_shift"].mean()
    assert 0 < shifts[1] < shifts[5]
    # same settings: read back, not recomputed
    mtime = (joint.run_dir / "robustness.csv").stat().st_mtime_ns
    _robust(smoke, "smoke/joint", "--corruptions", "noise,outliers", "--severities", "1,5", "--points", "0")
    assert (joint.run_dir / "robustness.csv").stat().st_mtime_ns == mtime


def test_every_run_sees_the_same_corrupted_inputs(smoke):
    """A frozen probe shares its encoder with onet... here two runs with different encoders: their latent
    shifts differ, but the corrupted inputs are the same arrays (checked through the shared stream)."""
    from bench.robustness.corruptions import corrupt
    import numpy as np

    rng = np.random.default_rng(0)
    surface = rng.normal(size=(500, 3)).astype(np.float32)
    a = corrupt("partial", 3, surface, 300, 0.005, 2024, "chair_no_arm/test0")
    b = corrupt("partial", 3, surface, 300, 0.005, 2024, "chair_no_arm/test0")
    assert np.array_equal(a.points, b.points)


def test_the_sphere_oracle_scores_the_same_iou_under_every_rotation(tiny_config, tmp_path):
    root = tmp_path / "spheres"
    write_sphere_dataset(root, {"big": 0.4, "small": 0.3}, {"big": 2, "small": 1})
    overrides = {"data": {"name": "folder", "path": str(root)},
                 "model": {"decoder": "tests.oracle:SphereOracle", "layout": "joint"},
                 "decoder_kwargs": {"tests.oracle:SphereOracle": {"radius": 0.35}},
                 "train": {"lr": 0.0, "max_steps": 1, "eval_every": 1}, "eval": {"eval_mesh": False}}
    runs = [r for r in resolve_suite(tiny_config, "smoke", overrides) if r.name == "joint"]
    (result,) = run_suite(runs, progress=False, log=lambda m: None)
    assert result.status == "complete", result.error
    res = CliRunner().invoke(app, ["robustness", str(result.run_dir), "--corruptions", "rotate-up,rotate-so3",
                                   "--points", "0", "--trust-plugins", "--data-path", str(root), "-f", "csv"])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(result.run_dir / "robustness.csv")
    clean = frame[frame["corruption"] == "clean"].set_index("shape")["reconstruction.iou"]
    for (name, severity), rows in frame[frame["corruption"] != "clean"].groupby(["corruption", "severity"]):
        got = rows.set_index("shape")["reconstruction.iou"]
        assert got.to_numpy() == pytest.approx(clean.loc[got.index].to_numpy(), abs=1e-9), (name, severity)


def test_robustness_refuses_what_it_cannot_do(smoke):
    res = CliRunner().invoke(app, ["robustness", "smoke/joint", "-r", str(smoke), "--corruptions", "fog"])
    assert res.exit_code == 1 and "unknown corruption" in res.output and "noise" in res.output
    res = CliRunner().invoke(app, ["robustness", "smoke/nope", "-r", str(smoke)])
    assert res.exit_code == 1 and "no run or suite" in res.output


def test_corruption_curves_draw_one_figure_per_task(smoke):
    from bench.robustness.figures import corruption_curves

    _robust(smoke, "smoke/joint", "--corruptions", "noise,outliers", "--severities", "1,5", "--points", "0")
    (joint,) = [r for r in scan_results(smoke) if r.run_name == "joint"]
    frame = pd.read_csv(joint.run_dir / "robustness.csv")
    figures = corruption_curves({"smoke/joint": frame}, {"reconstruction": "iou", "segmentation": "miou", "nope": "x"})
    assert [caption for caption, _ in figures] == ["reconstruction under corruption", "segmentation under corruption"]
    assert all(png[:4] == b"\x89PNG" for _, png in figures)


def test_the_report_card_shows_the_corruption_curves(smoke, tmp_path):
    _robust(smoke, "smoke/joint", "--corruptions", "noise,outliers", "--severities", "1,5", "--points", "0")
    out = tmp_path / "card.html"
    res = CliRunner().invoke(app, ["report", "--suite", "smoke", "-r", str(smoke), "-f", "html", "--shapes", "0",
                                   "-o", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert "robustness: each task&#x27;s main score under corrupted input" in text or \
        "robustness: each task's main score under corrupted input" in text
    assert "alt='reconstruction under corruption'" in text and "alt='segmentation under corruption'" in text
