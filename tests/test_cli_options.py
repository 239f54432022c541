"""`bench` options through the command line, each checked by what it leaves behind: result.json fields,
output lines, files. Every run is a one-run tiny suite with a few steps."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app

ROOT = Path(__file__).resolve().parent.parent
SENTINEL = "2000-01-01T00:00:00+00:00"

SUITES = '''
[suites.one]
description = "one tiny reconstruction run (tests of the command-line options)"
profile = "tiny"

[[suites.one.runs]]
name = "onet"
tasks = ["reconstruction"]

[suites.bare]
description = "the same run without a profile"

[[suites.bare.runs]]
name = "onet"
tasks = ["reconstruction"]
'''


@pytest.fixture(scope="module")
def one_config(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("config") / "bench.toml"
    path.write_text((ROOT / "bench.toml").read_text() + SUITES)
    return path


def bench(*args, code: int = 0) -> str:
    res = CliRunner().invoke(app, [str(a) for a in args])
    assert res.exit_code == code, res.output + (repr(res.exception) if res.exception else "")
    return res.output


def results(root: Path) -> dict[int, dict]:
    """result.json files under ``root`` by seed."""
    found = [json.loads(p.read_text()) for p in sorted(Path(root).rglob("result.json"))]
    by_seed = {r["seed"]: r for r in found}
    assert len(by_seed) == len(found)
    return by_seed


def run_dir(root: Path, result: dict) -> Path:
    return Path(root) / result["suite"] / f"{result['run_name']}-{result['config_hash']}"


def table_rows(output: str) -> list[list[str]]:
    """Body rows of rich tables in ``output``, as lists of cells."""
    rows = []
    for line in output.splitlines():
        if line.startswith("│"):
            rows.append([c.strip() for c in line.strip().strip("│").split("│")])
    return rows


@pytest.fixture(scope="module")
def seeded(one_config, tmp_path_factory):
    """Two runs of suite `one` (pointnet, seeds 3 and 4) with their dataset generated into --data-dir."""
    root = tmp_path_factory.mktemp("seeded")
    common = ["run", "-c", one_config, "--suite", "one", "-r", root / "results", "--data-dir", root / "data",
              "--dataset", "synthetic", "--preset", "tiny", "--device", "cpu", "-e", "pointnet",
              "--max-steps", 3, "--no-eval-mesh", "--quiet"]
    outputs = {seed: bench(*common, "--seed", seed) for seed in (3, 4)}
    return SimpleNamespace(root=root, results_dir=root / "results", common=common, outputs=outputs)


def test_seed_is_recorded_and_changes_the_weights(seeded):
    runs = results(seeded.results_dir)
    assert set(runs) == {3, 4}
    assert runs[3]["config"]["train"]["seed"] == 3 and runs[4]["config"]["train"]["seed"] == 4
    assert runs[3]["config_hash"] != runs[4]["config_hash"]
    w3, w4 = (torch.load(run_dir(seeded.results_dir, runs[s]) / "model.pt", weights_only=True)["model"] for s in (3, 4))
    assert w3.keys() == w4.keys()
    assert any(not torch.equal(w3[k], w4[k]) for k in w3 if w3[k].is_floating_point())
    assert runs[3]["training"]["first_loss"] != runs[4]["training"]["first_loss"]  # other init, other batches


def test_encoder_dataset_device_and_data_dir_reach_the_result(seeded):
    r = results(seeded.results_dir)[3]
    assert r["status"] == "complete" and r["steps"] == 3 and r["step_limited"]
    assert r["encoder"]["name"] == "pointnet" and r["config"]["model"]["encoder"] == "pointnet"
    assert r["config"]["data"]["name"] == "synthetic" and r["config"]["data"]["preset"] == "tiny"
    assert r["dataset"]["name"] == "synthetic-tiny"
    assert r["device"] == "cpu"
    # the dataset was generated into --data-dir, and it is the one the run read
    (info,) = (seeded.root / "data").glob("synthetic-tiny*/dataset.json")
    assert json.loads(info.read_text())["revision"] == r["dataset"]["revision"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_option_reaches_the_trainer(one_config, tmp_path, tiny_info):
    out = bench("run", "-c", one_config, "--suite", "one", "-r", tmp_path, "--quiet", "--device", "cuda", code=1)
    (r,) = results(tmp_path).values()
    assert r["status"] == "failed" and "--device cuda" in r["error"]
    assert "--device cuda" in out


def test_rerun_retrains_and_plain_run_reuses(seeded):
    r = results(seeded.results_dir)[3]
    folder = run_dir(seeded.results_dir, r)
    stamped = {**r, "created": SENTINEL}
    (folder / "result.json").write_text(json.dumps(stamped))
    weights = (folder / "model.pt").stat().st_mtime_ns
    out = bench(*seeded.common, "--seed", 3)
    assert "reusing finished run" in out
    assert results(seeded.results_dir)[3]["created"] == SENTINEL
    out = bench(*seeded.common, "--seed", 3, "--rerun")
    assert "reusing finished run" not in out
    again = results(seeded.results_dir)[3]
    assert again["created"] != SENTINEL and again["config_hash"] == r["config_hash"]
    assert (folder / "model.pt").stat().st_mtime_ns != weights


def test_seeds_2_leaderboard_shows_mean_and_std(seeded):
    out = bench(*seeded.common, "--seed", 3, "--seeds", 2)  # seeds 3 and 4: the fixture's runs, reused
    plan = [row for row in table_rows(out) if row[0] == "onet" and row[1] == "single"]
    assert sorted((row[6], row[9]) for row in plan) == [("3", "reuse"), ("4", "reuse")], out
    runs = results(seeded.results_dir)
    assert set(runs) == {3, 4}
    ious = [runs[s]["metrics"]["reconstruction"]["iou"] for s in (3, 4)]
    table = bench("leaderboard", "-r", seeded.results_dir)
    assert "±" in table
    (row,) = csv.DictReader(io.StringIO(bench("leaderboard", "-r", seeded.results_dir, "--format", "csv")))
    assert int(row["seeds"]) == 2
    assert float(row["iou"]) == pytest.approx(statistics.mean(ious), abs=1e-9)
    assert float(row["iou_std"]) == pytest.approx(statistics.stdev(ious), abs=1e-9)


def test_profile_preset_and_dataset_options(one_config, tmp_path, tiny_info):
    toml = tomllib.loads((ROOT / "bench.toml").read_text())
    tiny, quick = toml["profiles"]["tiny"], toml["profiles"][toml["suites"]["default"]["profile"]]

    def plan(*opts):
        return {row[0]: row for row in table_rows(bench("run", "--suite", "default", "--dry-run", "-r", tmp_path, *opts))}

    plain, profiled = plan()["onet"], plan("--profile", "tiny")["onet"]
    # the suite's own profile, unless --profile replaces it
    assert plain[3] == quick["model"]["encoder"] and plain[4] == "synthetic/small"
    assert plain[5] == str(quick["train"]["max_steps"])
    assert profiled[3] == toml["model"]["encoder"] and profiled[5] == str(tiny["train"]["max_steps"])
    assert profiled[4] == f"synthetic/{tiny['data']['preset']}"
    assert plan("--preset", "tiny")["onet"][4] == "synthetic/tiny"
    assert plan("--dataset", "modelnet40")["onet"][4] == "modelnet40"
    # a suite without a profile, trained with --profile tiny: the profile's sizes are in result.json
    bench("run", "-c", one_config, "--suite", "bare", "--profile", "tiny", "--preset", "tiny", "-r", tmp_path / "r",
          "--max-steps", 1, "--no-eval-mesh", "--quiet")
    (r,) = results(tmp_path / "r").values()
    assert r["config"]["model"]["latent_dim"] == tiny["model"]["latent_dim"]
    assert r["config"]["train"]["batch_size"] == tiny["train"]["batch_size"]
    assert r["config"]["data"]["n_query_points"] == tiny["data"]["n_query_points"]


def _meshed_shapes(results_dir: Path) -> tuple[int, int, int]:
    """(shapes scored, shapes with a Chamfer distance, categories) from the run's scores.csv."""
    (path,) = Path(results_dir).rglob("scores.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    return len(rows), sum(1 for r in rows if r["reconstruction.chamfer_l1"] not in ("", None)), \
        len({r["category"] for r in rows})


def test_mesh_shapes(one_config, tmp_path, tiny_info):
    # the train split has more shapes than categories, so "one per category" and "all" differ
    common = ["run", "-c", one_config, "--suite", "one", "--max-steps", 1, "--quiet", "--set", "eval.split=train"]
    bench(*common, "-r", tmp_path / "few", "--mesh-shapes", 1)
    bench(*common, "-r", tmp_path / "all", "--mesh-shapes", 1000)
    n, meshed, categories = _meshed_shapes(tmp_path / "few")
    assert n > categories, "the tiny train split needs several shapes per category for this test"
    assert meshed == categories  # category-stratified: ceil(1 / K) = 1 shape of each category
    n_all, meshed_all, _ = _meshed_shapes(tmp_path / "all")
    assert n_all == n and meshed_all == n


def _bench_process(*args, **kw):
    return subprocess.run([sys.executable, "-m", "bench.cli", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, **kw)


def test_debug_shows_the_traceback_of_a_user_error():
    plain = _bench_process("run", "--suite", "defualt", "--dry-run")
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    lines = [line for line in plain.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: No suite named 'defualt'"), plain.stderr
    debug = _bench_process("--debug", "run", "--suite", "defualt", "--dry-run")
    assert debug.returncode == 1
    assert "Traceback (most recent call last)" in debug.stderr
    assert "ConfigError: No suite named 'defualt'" in debug.stderr


def test_datasets_and_tasks_list_the_builtins():
    datasets = {row[0]: row for row in table_rows(bench("datasets"))}
    for name in ("synthetic", "shapenet-onet", "folder", "modelnet40", "shapenetpart", "meshes"):
        assert datasets[name][1] == "built-in" and datasets[name][-1] == "ok", datasets
    tasks = {row[0]: row for row in table_rows(bench("tasks"))}
    for name in ("reconstruction", "classification", "segmentation"):
        assert tasks[name][1] == "built-in" and tasks[name][-1] == "ok", tasks


def test_data_generate_into_data_dir_then_check(tmp_path):
    out = bench("data", "generate", "--preset", "tiny", "--data-dir", tmp_path / "cache")
    (folder,) = (tmp_path / "cache").glob("synthetic-tiny*")
    assert "".join(f"ready at {folder}".split()) in "".join(out.split())  # however the console wrapped it
    info = json.loads((folder / "dataset.json").read_text())
    n = len({s for v in info["splits"].values() for s in v})
    assert n > 0 and all((folder / s / "points.npz").is_file() for v in info["splits"].values() for s in v)
    assert f"{n} shapes OK" in bench("data", "check", folder)


def test_data_figure_writes_a_png(tmp_path, tiny_info):
    from matplotlib.image import imread

    out = bench("data", "figure", "synthetic", "--preset", "tiny", "-o", tmp_path / "parts.png")
    assert "wrote" in out
    png = tmp_path / "parts.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(png)
    assert img.shape[0] > 100 and img.shape[1] > 100
    assert len({tuple(px) for px in img.reshape(-1, img.shape[-1])[::97]}) > 3  # coloured, not blank


def _wait_for(predicate, proc, what: str, timeout: float = 180.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"bench exited ({proc.returncode}) before {what}:\n{proc.communicate()[0]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def test_sigterm_saves_a_checkpoint_and_the_run_resumes(one_config, tmp_path, tiny_info):
    """SIGTERM (what schedulers send) stops training between steps with a resumable checkpoint and a
    message; the same command resumes from that step. max_steps is out of reach, so the signal always
    lands during training; the resumed run is stopped the same way once it has checkpointed."""
    results_dir = tmp_path / "results"
    args = ["run", "-c", one_config, "--suite", "one", "-r", results_dir, "--quiet", "--no-eval-mesh",
            "--set", "train.max_steps=1000000", "--set", "train.checkpoint_every=2",
            "--set", "train.eval_every=1000000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}

    def start():
        return subprocess.Popen([sys.executable, "-m", "bench.cli", *map(str, args)], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def last():
        found = list(results_dir.glob("one/onet-*/last.pt"))
        return found[0] if found else None

    first = start()
    _wait_for(lambda: last() is not None, first, "the first checkpoint")
    first.send_signal(signal.SIGTERM)
    out, _ = first.communicate(timeout=120)
    assert first.returncode == 1, out
    flat = " ".join(out.split())
    stopped = re.search(r"interrupted at step (\d+); checkpoint saved to (\S+?)\. Run the same command again", flat)
    assert stopped, out
    step = int(stopped.group(1))
    assert Path(stopped.group(2)) == last() and step >= 2
    assert "Traceback" not in out and not list(results_dir.rglob("result.json"))
    torch.load(last(), weights_only=True)  # a complete checkpoint
    saved = last().stat().st_mtime_ns

    second = start()
    _wait_for(lambda: last() is not None and last().stat().st_mtime_ns != saved, second, "a checkpoint after resuming")
    second.send_signal(signal.SIGTERM)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 1, out
    flat = " ".join(out.split())
    assert f"resuming from step {step} " in flat, out
    again = re.search(r"interrupted at step (\d+)", flat)
    assert again and int(again.group(1)) > step, out
