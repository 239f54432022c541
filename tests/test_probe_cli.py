"""`bench probe` through the CLI (typer's CliRunner), on the tiny dataset with the tiny battery: weights saved
outside bench, a run folder, bad weight files, the cached latents, and the generality score against
hand-made reference results."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.probe.battery import BATTERIES, MAIN_METRIC
from bench.results import RunResult, read_result, write_result

runner = CliRunner()
TINY = ["--profile", "tiny", "--battery", "probe-v1-tiny", "-q"]


def _encoder_file(path: Path, seed: int = 1) -> Path:
    """A pointnet encoder of the tiny profile's size, saved with plain torch.save, as any script would."""
    from bench.models import create_encoder

    torch.manual_seed(seed)
    encoder = create_encoder("pointnet", 16, {"widths": [16, 32]})
    torch.save(encoder.state_dict(), path)
    return path


def _probe(*args) -> object:
    return runner.invoke(app, ["probe", *map(str, args)])


def _only(pattern: str, root: Path) -> RunResult:
    (path,) = sorted(root.glob(pattern))
    return read_result(path)


def test_weights_saved_outside_bench_run_every_probe(tmp_path, tiny_info):
    weights = _encoder_file(tmp_path / "my_encoder.pt")
    results = tmp_path / "results"
    res = _probe("pointnet", "--weights", weights, *TINY, "-r", results, "--references", tmp_path / "no-refs")
    assert res.exit_code == 0, res.output
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    mine = _only(f"probe/pointnet-{sha[:8]}-*/result.json", results)
    assert mine.tasks == list(BATTERIES["probe-v1-tiny"].probes)
    assert mine.config["weights"]["sha256"] == sha and mine.config["weights"]["source"] == f"file:{weights}"
    assert mine.protocol == "probe" and mine.suite == "probe" and mine.precision == "fp32"
    assert mine.config["battery"]["settings"]["draws"] == 2 and mine.config["profile"] == "tiny"
    scores = pd.read_csv(Path(mine.run_dir) / "scores.csv")
    assert list(scores["shape"]) == tiny_info.splits["test"]  # one row per test shape, in split order
    assert {f"{p}.{MAIN_METRIC[p]}" for p in mine.tasks if p != "fewshot"} <= set(scores.columns)
    # the random weights of the same architecture were probed too, and every probe compared with them
    random = _only("probe/pointnet-random-*/result.json", results)
    assert random.config["role"] == "random" and random.config["weights"]["source"].startswith("random")
    stored = read_result(Path(mine.run_dir) / "result.json").analysis
    assert {v["reference"] for v in stored["verdicts"]} == {"probe/pointnet-random"}
    assert {v["probe"] for v in stored["verdicts"]} >= {"reconstruction", "linear", "knn", "fewshot"}
    assert stored["generality"] is None and "jointly trained reference" in stored["generality_note"]
    out = " ".join(res.output.split())
    assert "probe/pointnet-random" in out and "no generality score" in out and str(mine.run_dir) in res.output
    for probe in mine.tasks:
        assert probe in out


def test_bad_weight_files_give_one_clear_error(tmp_path):
    good = _encoder_file(tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:200])
    pickled = tmp_path / "pickled.pt"
    torch.save({"fc.weight": torch.zeros(2), "config": argparse.Namespace(width=3)}, pickled)
    wrong = tmp_path / "wrong.pt"
    torch.save({"backbone.weight": torch.zeros(3)}, wrong)
    for path, expected in ((truncated, "truncated, or not a torch file"),
                           (pickled, "pickled Python object (argparse.Namespace)"),
                           (wrong, "do not fit")):
        res = _probe("pointnet", "--weights", path, *TINY, "-r", tmp_path / "results")
        assert res.exit_code != 0
        assert expected in " ".join(res.output.split()) and str(path) in res.output, res.output
        assert "Traceback" not in res.output
    res = " ".join(_probe("pointnet", "--weights", wrong, *TINY, "-r", tmp_path / "results").output.split())
    assert "missing" in res and "unexpected" in res and "backbone.weight" in res and "mlp.0.weight" in res
    assert not (tmp_path / "results").exists()  # nothing was written


def test_command_line_mistakes_are_one_clear_error(tmp_path):
    weights = _encoder_file(tmp_path / "w.pt")
    cases = [
        ([*TINY], "no encoder given"),
        (["pointnet", "--weights", weights, "--battery", "probe-v2"], "Did you mean 'probe-v1'"),
        (["pointnet", "--weights", weights, "--from-run", tmp_path], "--weights and --from-run both give weights"),
        (["pointnet", *TINY], "Give --weights FILE"),
        (["pointnet", "--random", "--weights", weights], "does not go with --weights"),
        (["--from-run", tmp_path / "nothing", *TINY], "no result.json there"),
        (["pointnet", "--weights", weights, "--profile", "tiyn"], "Did you mean 'tiny'"),
    ]
    for args, expected in cases:
        res = _probe(*args)
        assert res.exit_code == 1 and expected in " ".join(res.output.split()), (args, res.output)


def _run_folder(root: Path, with_model: bool = True) -> Path:
    """A finished run's folder as bench run leaves it (result.json + model.pt), of a tiny pointnet."""
    from bench.models import create_encoder

    result = RunResult(suite="s", run_name="onet", config_hash="abc123", status="complete", protocol="single",
                       tasks=["reconstruction"], encoder={"name": "pointnet"}, dataset={"name": "synthetic-tiny"},
                       config={"all_sections": {"model": {"encoder": "pointnet", "latent_dim": 16}},
                               "encoder_kwargs": {"widths": [16, 32]}})
    run_dir = root / "s" / "onet-abc123"
    write_result(result, run_dir)
    if with_model:
        torch.manual_seed(2)
        encoder = create_encoder("pointnet", 16, {"widths": [16, 32]})
        torch.save({"encoder": encoder.state_dict(), "model": {}, "step": 6}, run_dir / "model.pt")
    return run_dir


def test_from_run_reads_the_encoder_its_settings_and_weights(tmp_path):
    run_dir = _run_folder(tmp_path / "runs")
    results = tmp_path / "results"
    # the run's latent_dim (16) and widths win over a profile that says otherwise
    res = _probe("--from-run", run_dir, "--profile", "quick", "--set", "data.preset=tiny",
                 "--battery", "probe-v1-tiny", "-q", "--no-random", "-r", results,
                 "--set", "eval.n_iou_points=512", "--set", "eval.mesh_shapes=1", "--set", "eval.mise_resolution=8",
                 "--set", "eval.mise_upsampling=1", "--set", "task_kwargs.reconstruction.n_surface_samples=2000")
    assert res.exit_code == 0, res.output
    sha = hashlib.sha256((run_dir / "model.pt").read_bytes()).hexdigest()
    mine = _only("probe/pointnet-*/result.json", results)
    assert mine.config["weights"] == {"sha256": sha, "source": f"file:{run_dir / 'model.pt'}", "prefix": ""}
    assert mine.config["encoder"] == {"name": "pointnet", "latent_dim": 16, "kwargs": {"widths": [16, 32]}}
    assert mine.tasks == list(BATTERIES["probe-v1-tiny"].probes)
    no_model = _run_folder(tmp_path / "other", with_model=False)
    res = _probe("--from-run", no_model, *TINY)
    assert res.exit_code == 1 and "has no model.pt" in res.output
    res = _probe("dgcnn", "--from-run", run_dir, *TINY)
    assert res.exit_code == 1 and "disagree" in res.output


def test_cached_latents_are_read_again_and_keyed_by_the_weights(tmp_path, monkeypatch):
    import bench.probe.latents as latents

    first = _encoder_file(tmp_path / "a.pt", seed=1)
    results = tmp_path / "results"
    args = [*TINY, "-r", results, "--no-random", "--references", tmp_path / "no-refs"]
    assert _probe("pointnet", "--weights", first, *args).exit_code == 0
    cache = sorted((results / "probe" / "latents").glob("*.npz"))
    assert len(cache) == 1
    stamp = cache[0].stat().st_mtime_ns
    before = _only("probe/pointnet-*/result.json", results)

    def no_encoding(*a, **k):
        raise AssertionError("the encoder ran although its latents were cached")

    monkeypatch.setattr(latents, "encode_split", no_encoding)
    res = _probe("pointnet", "--weights", first, *args, "--rerun")
    assert res.exit_code == 0, res.output
    assert cache[0].stat().st_mtime_ns == stamp
    again = _only("probe/pointnet-*/result.json", results)
    assert again.metrics == before.metrics and again.config["latent_cache"] == before.config["latent_cache"]
    monkeypatch.undo()
    second = _encoder_file(tmp_path / "b.pt", seed=2)
    assert _probe("pointnet", "--weights", second, *args).exit_code == 0
    assert len(list((results / "probe" / "latents").glob("*.npz"))) == 2
    other = _only(f"probe/pointnet-{hashlib.sha256(second.read_bytes()).hexdigest()[:8]}-*/result.json", results)
    assert other.config["latent_cache"] != before.config["latent_cache"]


def _reference(root: Path, name: str, role: str, info, value: float, episode: float) -> None:
    """A hand-made reference result: every test shape scores ``value`` on every probe's main metric, every
    few-shot episode ``episode``."""
    probes = BATTERIES["probe-v1-tiny"].probes
    result = RunResult(suite="probe", run_name=name, config_hash=hashlib.sha256(name.encode()).hexdigest()[:10],
                       status="complete", protocol="probe", tasks=list(probes), encoder={"name": "pointnet"},
                       dataset={"name": info.name, "revision": str(info.revision)},
                       config={"battery": {"name": "probe-v1-tiny", "settings": {}}, "role": role,
                               "encoder": {"name": "pointnet", "latent_dim": 16, "kwargs": {"widths": [16, 32]}}},
                       metrics={p: {MAIN_METRIC[p]: value} for p in probes})
    run_dir = root / f"{name}-{result.config_hash}"
    write_result(result, run_dir)
    shapes = info.splits["test"]
    pd.DataFrame({"shape": shapes, "category": [s.split("/")[0] for s in shapes],
                  **{f"{p}.{MAIN_METRIC[p]}": value for p in probes if p != "fewshot"}}).to_csv(
        run_dir / "scores.csv", index=False)
    (run_dir / "probes").mkdir()
    pd.DataFrame({"unit": ["2way_1shot/0", "2way_1shot/1"], "setting": "2way_1shot", "fold": [0, 1],
                  "accuracy": episode}).to_csv(run_dir / "probes" / "fewshot.csv", index=False)


def test_generality_between_hand_made_references(tmp_path, tiny_info):
    refs = tmp_path / "refs"
    _reference(refs, "joint-ref", "joint", tiny_info, 0.95, 1.0)
    _reference(refs, "random-ref", "random", tiny_info, 0.05, 0.5)
    weights = _encoder_file(tmp_path / "w.pt")
    results = tmp_path / "results"
    res = _probe("pointnet", "--weights", weights, *TINY, "-r", results, "--references", refs, "--no-random")
    assert res.exit_code == 0, res.output
    mine = _only("probe/pointnet-*/result.json", results)
    scores = pd.read_csv(Path(mine.run_dir) / "scores.csv")
    episodes = pd.read_csv(Path(mine.run_dir) / "probes" / "fewshot.csv")
    expected = {}
    for probe in mine.tasks:
        units = episodes["accuracy"] if probe == "fewshot" else scores[f"{probe}.{MAIN_METRIC[probe]}"]
        units = units.dropna()
        if len(units):
            zero, one = (0.5, 1.0) if probe == "fewshot" else (0.05, 0.95)
            expected[probe] = (units.mean() - zero) / (one - zero)
    assert "retrieval" not in expected  # one test shape a class: no shape has a relevant item, no AP
    g = mine.analysis["generality"]
    assert g["zero"]["run"] == "probe/random-ref" and g["one"]["run"] == "probe/joint-ref"
    assert g["per_probe"] == pytest.approx(expected)
    assert g["mean"] == pytest.approx(np.mean(list(expected.values())))
    assert set(g["left_out"]) == {"retrieval"}
    out = " ".join(res.output.split())
    assert f"generality {g['mean']:.3f}" in out
    for probe, value in expected.items():
        assert f"{value:.3f}" in out, probe
    verdicts = {(v["reference"], v["probe"]): v for v in mine.analysis["verdicts"]}
    iou = scores["reconstruction.iou"]
    assert verdicts[("probe/joint-ref", "reconstruction")]["difference"] == pytest.approx(iou.mean() - 0.95)
    assert verdicts[("probe/joint-ref", "reconstruction")]["verdict"] == "lower"  # every shape is below 0.95
    assert verdicts[("probe/joint-ref", "reconstruction")]["n"] == len(tiny_info.splits["test"])
    assert "lower" in out and "probe/joint-ref" in out


def test_the_shipped_references_are_the_current_battery_and_listed_by_the_leaderboard(tmp_path):
    """results/reference holds probe-v1 on the default suite's encoders, pointnet and (--encoder) onet_pointnet:
    random weights, reconstruction only, jointly trained; if probe-v1's settings change, these must be measured
    again (docs/metrics.md)."""
    from bench.results import reference_results_dir, scan_results

    refs = {r.run_name: r for r in scan_results(reference_results_dir() / "probe")}
    assert {name: r.config["role"] for name, r in refs.items()} == {
        f"{encoder}-{run}": role for encoder in ("pointnet", "onet_pointnet")
        for run, role in (("random", "random"), ("onet", "reference"), ("joint-all", "joint"))}
    for r in refs.values():
        settings = json.loads(json.dumps(BATTERIES["probe-v1"].settings()))  # tuples read back as lists
        assert r.config["battery"] == {"name": "probe-v1", "settings": settings}
        assert r.tasks == list(BATTERIES["probe-v1"].probes) and r.dataset.name == "synthetic-small"
        assert r.training.precision == "fp32"
        scores = pd.read_csv(Path(r.run_dir) / "scores.csv")
        assert len(scores) == r.dataset.test == 64  # per-shape scores: what a user's encoder is paired with
    for encoder in ("pointnet", "onet_pointnet"):
        assert {r.encoder.name for r in refs.values() if r.run_name.startswith(f"{encoder}-")} == {encoder}
        generality = refs[f"{encoder}-onet"].analysis["generality"]
        assert generality["zero"]["run"] == f"probe/{encoder}-random"  # the same architecture's anchors
        assert generality["one"]["run"] == f"probe/{encoder}-joint-all"
    # the default suite's reconstruction-only encoder is below its jointly trained one on the pooled
    # classification probes, and its generality is below 1 (docs/metrics.md, Reference results)
    onet = {(v["reference"], v["probe"]): v for v in refs["pointnet-onet"].analysis["verdicts"]}
    pooled = onet[("probe/pointnet-joint-all", "classification")]
    assert pooled["verdict"] == "lower" and pooled["high"] < 0
    assert refs["pointnet-onet"].analysis["generality"]["interval"][1] < 1
    out = runner.invoke(app, ["leaderboard", "--with-reference", "--suite", "probe", "-r", str(tmp_path)], env={"COLUMNS": "250"})
    assert out.exit_code == 0, out.output
    assert all(name in out.output for name in refs)
    assert "pointnet-onet" not in runner.invoke(app, ["leaderboard", "--suite", "probe", "-r", str(tmp_path)]).output
