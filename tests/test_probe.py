"""The probe battery's library (bench/probe/: battery, latents, decoders, latent probes, run): on the tiny
dataset with the tiny battery, seconds each; the analysis on hand-made results with known scores."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from bench._io import stable_hash
from bench.errors import ConfigError, PluginContractError
from bench.probe.battery import MAIN_METRIC, PROBES, get_battery
from bench.results import RunResult, read_result, write_result

TINY = "probe-v1-tiny"


@pytest.fixture()
def cfg(tiny_config, tiny_info):
    return tiny_config


def _probe(cfg, tmp_path, weights=None, **kw):
    from bench.probe.run import probe_encoder

    lines: list[str] = []
    result = probe_encoder(cfg, "pointnet", weights, battery=TINY, results_dir=tmp_path / "results",
                           log=lines.append, progress=False, **kw)
    return result, lines


# --- battery definitions ---------------------------------------------------------------------------------------

def test_probe_v1_settings_are_the_documented_ones():
    spec = get_battery("probe-v1")
    assert spec.probes == PROBES == ("reconstruction", "segmentation", "mlp", "linear", "knn", "fewshot", "retrieval")
    assert (spec.draws, spec.fewshot_ways, spec.fewshot_shots, spec.fewshot_folds, spec.retrieval_k) == \
        (4, (5, 10), (1, 5, 10), 10, 10)
    assert spec.fewshot_settings()[:3] == [(5, 1), (5, 5), (5, 10)] and len(spec.fewshot_settings()) == 6
    settings = spec.settings()
    assert json.loads(json.dumps(settings)) == {**settings, "probes": list(spec.probes),
                                                "fewshot_ways": [5, 10], "fewshot_shots": [1, 5, 10]}
    tiny = get_battery(TINY)
    assert tiny.name != spec.name and tiny.draws == 2
    assert tiny.fewshot_settings() == [(2, 1)] and tiny.fewshot_folds == 2
    assert set(MAIN_METRIC) == set(PROBES)
    with pytest.raises(AttributeError):
        spec.draws = 3  # frozen: a published battery never changes


def test_unknown_battery_names_the_known_ones():
    with pytest.raises(ConfigError, match="unknown probe battery 'probe-v2'.*Did you mean 'probe-v1'.*probe-v1-tiny"):
        get_battery("probe-v2")


# --- the latent table and the head batches ---------------------------------------------------------------------

def test_latent_table_is_the_identity_inside_a_frozen_model(cfg, tiny_info):
    from bench.models import create_tasks
    from bench.probe.decoders import LatentTable, latent_model

    table = LatentTable(16, "pointcloud")
    z = torch.randn(3, 16)
    assert torch.equal(table(z), z) and table.latent_dim == 16 and table.modality == "pointcloud"
    tasks = create_tasks(["classification"], tiny_info, cfg)
    a, b = latent_model(tasks, cfg, 16, "pointcloud", 7), latent_model(tasks, cfg, 16, "pointcloud", 7)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    out = a(z)
    assert out["classification"].shape == (3, len(tiny_info.categories))
    assert torch.equal(a.encode(z), z) and a.frozen_encoder


def test_latent_batches_use_one_draw_per_shape_and_depend_on_the_step_alone(cfg, tiny_info):
    from bench.data.dataset import ShapeStore
    from bench.probe.decoders import latent_batches

    store = ShapeStore.load(tiny_info, "train", with_parts=True)
    k, s, d = 3, len(store), 4
    latents = np.arange(k * s * d, dtype=np.float32).reshape(k, s, d)
    batch = latent_batches(latents, store, cfg, 5, (0, 1), with_points=True)
    b1, b2 = batch(3), batch(3)
    assert torch.equal(b1["inputs"], b2["inputs"]) and torch.equal(b1["points"], b2["points"])
    assert b1["inputs"].shape == (5, d) and b1["points"].shape == (5, cfg.data.n_query_points, 3)
    rows = b1["inputs"].numpy()
    flat = rows[:, 0].astype(int) // d  # latents[draw, shape, 0] = (draw * s + shape) * d
    draws, shapes = flat // s, flat % s
    assert np.array_equal(b1["category"].numpy(), store.category[shapes])
    assert set(draws) <= set(range(k))
    assert not torch.equal(batch(4)["inputs"], b1["inputs"])
    only = latent_batches(latents, store, cfg, 5, (0, 1), with_points=False)(3)
    assert set(only) == {"inputs", "category"}


# --- cached latents --------------------------------------------------------------------------------------------

def _holder(cfg, weights=None):
    from bench.models import MultiTaskModel
    from bench.probe.run import build_encoder

    encoder, w = build_encoder("pointnet", cfg.model.latent_dim, cfg.encoder_kwargs["pointnet"], weights)
    return MultiTaskModel(encoder, {}, cfg, frozen_encoder=True), w


def test_latents_follow_the_documented_draws_and_a_corrupt_cache_is_recomputed(cfg, tiny_info, tmp_path):
    from bench.data.dataset import ShapeDataset, ShapeStore
    from bench.probe.latents import SPLIT_INDEX, cache_path, cached_latents

    spec = get_battery(TINY)
    test = ShapeStore.load(tiny_info, "test")
    holder, _ = _holder(cfg)
    lines: list[str] = []
    first = cached_latents(holder, "pointnet", {"test": test}, cfg, spec, "k1", tmp_path, torch.device("cpu"),
                           progress=False, log=lines.append)
    z = first.of("test")
    assert z.shape == (spec.draws, len(test), 16) and z.dtype == np.float32 and not first.reused
    # draw 1 of the test split, by hand: ShapeDataset.inputs with default_rng([draw_seed, 1, 2]), in batches
    rng = np.random.default_rng([spec.draw_seed, 1, SPLIT_INDEX["test"]])
    dataset = ShapeDataset(test, cfg.data)
    holder.eval()
    with torch.no_grad():
        batches = [np.arange(i, min(len(test), i + spec.encode_batch)) for i in range(0, len(test), spec.encode_batch)]
        by_hand = np.concatenate([holder.encoder(dataset.inputs(idx, rng)).numpy() for idx in batches])
    np.testing.assert_allclose(z[1], by_hand, rtol=1e-5, atol=1e-6)
    assert not np.allclose(z[0], z[1])  # another draw: other points, other noise
    again = cached_latents(holder, "pointnet", {"test": test}, cfg, spec, "k1", tmp_path, torch.device("cpu"),
                           progress=False, log=lines.append)
    assert again.reused and np.array_equal(again.of("test"), z) and not lines
    path = cache_path(tmp_path, "k1")
    path.write_bytes(path.read_bytes()[:100])  # cut short, as by a crash of another writer
    third = cached_latents(holder, "pointnet", {"test": test}, cfg, spec, "k1", tmp_path, torch.device("cpu"),
                           progress=False, log=lines.append)
    assert not third.reused and np.array_equal(third.of("test"), z)
    assert len(lines) == 1 and "unreadable" in lines[0] and str(path) in lines[0]


def test_an_encoder_of_the_wrong_output_shape_is_named(cfg, tiny_info, tmp_path):
    from bench.data.dataset import ShapeStore
    from bench.models import MultiTaskModel, create_encoder
    from bench.probe.latents import cached_latents

    encoder = create_encoder("tests.bad_encoders:WrongShape", 8)
    holder = MultiTaskModel(encoder, {}, cfg, frozen_encoder=True)
    test = ShapeStore.load(tiny_info, "test")
    with pytest.raises(PluginContractError, match=r"tests.bad_encoders:WrongShape.*contract is \(B, latent_dim\)"):
        cached_latents(holder, "tests.bad_encoders:WrongShape", {"test": test}, cfg, get_battery(TINY), "bad",
                       tmp_path, torch.device("cpu"), progress=False, log=lambda m: None)


def test_the_cache_key_changes_with_what_the_latents_depend_on(cfg):
    from bench.probe.latents import cache_key

    spec = get_battery(TINY)
    args = ("a" * 64, "pointnet", 16, {"widths": [16, 32]}, cfg, ("synthetic-tiny", "r1"), "pointcloud", spec)
    base = cache_key(*args)
    assert cache_key(*args) == base
    assert cache_key("b" * 64, *args[1:]) != base
    assert cache_key(*args[:3], {"widths": [16, 16]}, *args[4:]) != base
    assert cache_key(*args[:5], ("synthetic-tiny", "r2"), *args[6:]) != base
    noisier = replace(cfg, data=replace(cfg.data, input_noise=0.01))
    assert cache_key(*args[:4], noisier, *args[5:]) != base
    assert cache_key(*args[:7], replace(spec, draws=3)) != base


# --- the battery end to end ------------------------------------------------------------------------------------

def test_random_weights_and_the_same_weights_from_a_file_give_identical_numbers(cfg, tmp_path):
    from bench.probe.run import build_encoder
    from bench.probe.weights import read_weights

    first, _ = _probe(cfg, tmp_path)
    assert first.tasks == list(PROBES) and first.config["weights"]["source"].startswith("random")
    _, random_weights = build_encoder("pointnet", 16, cfg.encoder_kwargs["pointnet"], None)
    path = tmp_path / "random.pt"
    torch.save(random_weights.state, path)
    from_file, _ = _probe(cfg, tmp_path, read_weights(path))
    assert from_file.config["weights"]["sha256"] != first.config["weights"]["sha256"]  # a file: its bytes' hash
    assert from_file.config["latent_cache"] != first.config["latent_cache"]
    assert from_file.metrics == first.metrics and from_file.intervals == first.intervals
    a = pd.read_csv(Path(first.run_dir) / "scores.csv")
    b = pd.read_csv(Path(from_file.run_dir) / "scores.csv")
    pd.testing.assert_frame_equal(a, b)


def test_an_interrupted_battery_resumes_at_the_next_probe(cfg, tmp_path, monkeypatch):
    import bench.probe.decoders as decoders
    from bench.probe.outcome import probe_paths

    first, _ = _probe(cfg, tmp_path)
    run_dir = Path(first.run_dir)
    (run_dir / "result.json").unlink()
    for probe in ("fewshot", "retrieval"):  # as if stopped after knn
        probe_paths(run_dir, probe)[0].unlink()

    def no_training(*args, **kwargs):
        raise AssertionError("a finished decoder probe was run again")

    monkeypatch.setattr(decoders, "decoder_probe", no_training)
    resumed, lines = _probe(cfg, tmp_path)
    assert resumed.tasks == list(PROBES) and resumed.metrics == first.metrics
    assert sum("done before" in line for line in lines) == 5
    assert any(line.endswith(")") and "fewshot: accuracy" in line and "done before" not in line for line in lines)
    reused, lines = _probe(cfg, tmp_path)
    assert reused.metrics == first.metrics and any("reusing" in line for line in lines)


def test_a_dataset_without_parts_skips_segmentation_with_the_reason(cfg, tiny_info, tmp_path):
    from bench.probe.decoders import decoder_probe

    no_parts = replace(tiny_info, part_names=[])
    assert not no_parts.has_parts
    out = decoder_probe("segmentation", 1, cfg, get_battery(TINY), no_parts, None, None, None, None,
                        torch.device("cpu"), "pointnet")
    assert out.status == "skipped" and "no part labels" in out.reason


# --- generality and verdicts on hand-made results ----------------------------------------------------------------

SHAPES = [f"c{k}/s{i}" for k in range(2) for i in range(3)]


def _hand_made(root: Path, name: str, role: str, scores: dict[str, list[float]], episodes: list[float] | None,
               encoder: str = "pointnet") -> RunResult:
    """A probe result with the given per-shape main scores ({probe: one value per SHAPES}) and few-shot
    episode accuracies."""
    tasks = list(scores) + (["fewshot"] if episodes is not None else [])
    result = RunResult(
        suite="probe", run_name=name, config_hash=stable_hash(name), protocol="probe",
        config={"battery": {"name": TINY, "settings": {"n_bootstrap": 200}},
                "encoder": {"name": encoder, "latent_dim": 16, "kwargs": {}}, "role": role},
        status="complete", tasks=tasks, encoder={"name": encoder}, dataset={"name": "synthetic-tiny", "revision": "r1"},
        metrics={p: {MAIN_METRIC[p]: float(np.mean(v))} for p, v in scores.items()}, created="2024-01-01")
    run_dir = root / f"{name}-{result.config_hash}"
    write_result(result, run_dir)
    frame = pd.DataFrame({"shape": SHAPES, "category": [s.split("/")[0] for s in SHAPES],
                          **{f"{p}.{MAIN_METRIC[p]}": v for p, v in scores.items()}})
    frame.to_csv(run_dir / "scores.csv", index=False)
    if episodes is not None:
        (run_dir / "probes").mkdir()
        pd.DataFrame({"unit": [f"2way_1shot/{f}" for f in range(len(episodes))], "setting": "2way_1shot",
                      "fold": range(len(episodes)), "accuracy": episodes}).to_csv(run_dir / "probes" / "fewshot.csv",
                                                                                  index=False)
    return read_result(run_dir / "result.json")


def test_generality_normalises_each_probe_between_the_references(tmp_path):
    from bench.probe.run import assess, find_references

    mine = _hand_made(tmp_path / "mine", "mine", "", {"linear": [0.5, 0.6, 0.7, 0.5, 0.6, 0.7],
                                                      "knn": [0.2, 0.4, 0.3, 0.2, 0.4, 0.3]}, [0.8, 0.6])
    refs = tmp_path / "refs"
    _hand_made(refs, "zero", "random", {"linear": [0.1] * 6, "knn": [0.2] * 6}, [0.5, 0.5])
    _hand_made(refs, "one", "joint", {"linear": [0.9] * 6, "knn": [0.4] * 6}, [1.0, 1.0])
    _hand_made(refs, "other-arch", "random", {"linear": [0.0] * 6}, None, encoder="dgcnn")
    found = find_references(mine, [refs, tmp_path / "nowhere"])
    assert sorted(r.run_name for r in found) == ["one", "other-arch", "zero"]
    analysis = assess(mine, found)
    g = analysis["generality"]
    assert g["zero"]["run"] == "probe/zero" and g["one"]["run"] == "probe/one"  # the same architecture's random
    # linear: (0.6 - 0.1) / (0.9 - 0.1); knn: (0.3 - 0.2) / (0.4 - 0.2); fewshot: (0.7 - 0.5) / (1 - 0.5)
    assert g["per_probe"] == pytest.approx({"linear": 0.625, "knn": 0.5, "fewshot": 0.4})
    assert g["mean"] == pytest.approx((0.625 + 0.5 + 0.4) / 3)
    low, high = g["interval"]
    assert low <= g["mean"] <= high
    verdicts = {(v["reference"], v["probe"]): v for v in analysis["verdicts"]}
    assert verdicts[("probe/one", "linear")]["difference"] == pytest.approx(0.6 - 0.9)
    assert verdicts[("probe/one", "linear")]["verdict"] == "lower"
    assert verdicts[("probe/zero", "linear")]["verdict"] == "higher"
    assert verdicts[("probe/zero", "knn")]["difference"] == pytest.approx(0.1)
    assert ("probe/other-arch", "knn") not in verdicts and verdicts[("probe/other-arch", "linear")]["n"] == 6
    # the classification verdict pools linear and knn per shape: mine (0.35, 0.5, 0.5, ...) - one's 0.65 each
    pooled = verdicts[("probe/one", "classification")]
    assert pooled["metric"] == "accuracy, mean of linear, knn" and pooled["n"] == 6
    assert pooled["difference"] == pytest.approx((0.6 + 0.3) / 2 - 0.65) and pooled["verdict"] == "lower"
    assert ("probe/other-arch", "classification") not in verdicts  # it ran one classification probe only


def test_the_report_card_shows_the_probe_profiles_of_the_folder(tmp_path):
    from bench.probe.card import probe_results, probe_section
    from bench.probe.run import assess, find_references, store_analysis

    folder = tmp_path / "results"
    mine = _hand_made(folder / "probe", "mine", "", {"linear": [0.5, 0.6, 0.7, 0.5, 0.6, 0.7]}, None)
    _hand_made(folder / "probe", "zero", "random", {"linear": [0.1] * 6}, None)
    _hand_made(folder / "probe", "one", "joint", {"linear": [0.9] * 6}, None)
    store_analysis(mine, assess(mine, find_references(mine, [folder / "probe"])))
    assert sorted(r.run_name for r in probe_results(folder, with_reference=False)) == ["mine", "one", "zero"]
    [(heading, body)] = probe_section([], folder)
    assert heading.startswith("probe battery") and "data:image/png;base64," in body
    # the generality table: mine's (0.6 - 0.1) / (0.9 - 0.1) = 0.625 between its two anchors
    assert "<td>mine</td><td>0.625</td>" in body and "probe/zero" in body and "probe/one" in body
    assert probe_section([], tmp_path / "empty") == []


def test_references_of_another_battery_or_revision_are_not_used(tmp_path):
    from bench.probe.run import assess, find_references

    mine = _hand_made(tmp_path / "mine", "mine", "", {"linear": [0.5] * 6}, None)
    refs = tmp_path / "refs"
    other = _hand_made(refs, "joint-v2", "joint", {"linear": [0.9] * 6}, None)
    data = json.loads((Path(other.run_dir) / "result.json").read_text())
    data["config"]["battery"]["name"] = "probe-v1"
    (Path(other.run_dir) / "result.json").write_text(json.dumps(data))
    moved = _hand_made(refs, "joint-rev", "joint", {"linear": [0.9] * 6}, None)
    data = json.loads((Path(moved.run_dir) / "result.json").read_text())
    data["dataset"]["revision"] = "r2"
    (Path(moved.run_dir) / "result.json").write_text(json.dumps(data))
    _hand_made(refs, "no-role", "", {"linear": [0.9] * 6}, None)
    assert find_references(mine, [refs]) == []
    analysis = assess(mine, [])
    assert analysis["generality"] is None and "random-weights" in analysis["generality_note"]
    assert analysis["verdicts"] == []
