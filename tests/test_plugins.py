"""Third-party plugins of all four kinds, installed as a real distribution and used through the CLI.

The plugin package is the one documented in docs/plugins.md: its code blocks (marked ``<!-- file: PATH -->``)
are written to a temporary folder, its pyproject snippet becomes a ``*.dist-info`` with ``entry_points.txt``
on sys.path (what ``pip install`` leaves behind), and its bench.toml snippet (``<!-- append: bench.toml -->``)
is appended to the repository's bench.toml. So the documented examples are the tested ones.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import re
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"<!-- (file|append): (\S+) -->\n```[a-z]*\n(.*?)```", re.S)
TOP_MODULES = ("bench_extras", "bench_testplugins", "local_decoder")

runner = CliRunner()

# Test-only plugins (not in the doc): plugins that break their contract, and one not installed at all.
TEST_PACKAGE = {
    "bench_testplugins/__init__.py": "",
    "bench_testplugins/decoders.py": '''
        import torch
        from torch import nn


        class WrongShape(nn.Module):
            """Returns (B, M) logits instead of (B, M, C)."""

            def __init__(self, latent_dim, out_channels=1, hidden=16, blocks=1):
                super().__init__()
                self.fc = nn.Linear(3, out_channels)

            def forward(self, points, z):
                return self.fc(points).sum(-1)


        class ExtraChannel(WrongShape):
            """Returns C + 1 channels."""

            def __init__(self, latent_dim, out_channels=1, hidden=16, blocks=1):
                super().__init__(latent_dim, out_channels + 1)

            def forward(self, points, z):
                return self.fc(points)


        class RaisesInForward(WrongShape):
            """Multiplies mismatched matrices in forward."""

            def forward(self, points, z):
                return self.fc(points.transpose(1, 2))
        ''',
    "bench_testplugins/broken.py": '''
        import not_a_real_module_for_bench_tests


        class Broken:
            """A decoder whose module never imports."""
        ''',
    "bench_testplugins/tasks.py": '''
        from bench.contracts import Metric
        from bench_extras.bbox import BoundingBox


        class ExtentOnly(BoundingBox):
            """The box's side lengths only: a second task with a lower-is-better 'extent_error'."""

            name = "extent"
            main_score = "extent_error"
            metrics = (Metric("extent_error", False, "mean absolute error of the side lengths"),)

            def score_shape(self, logits, store, i, indices):
                return {"extent_error": super().score_shape(logits, store, i, indices)["extent_error"]}
        ''',
    "bench_testplugins/datasets.py": '''
        class FailingDataset:
            """A dataset whose preparation fails with an unexpected exception."""

            def __init__(self, cfg, seed=0):
                self.cfg = cfg

            def prepare(self, progress=True):
                return {}["categories"]
        ''',
    "local_decoder.py": '''
        import torch
        from torch import nn


        class TinyMLPDecoder(nn.Module):
            """[p, z] -> one hidden layer -> logits; never installed, named by module:attr."""

            def __init__(self, latent_dim, out_channels=1, hidden=16, blocks=1):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(3 + latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_channels))

            def forward(self, points, z):
                return self.net(torch.cat([points, z[:, None].expand(-1, points.shape[1], -1)], -1))
        ''',
}
TEST_ENTRY_POINTS = {
    "bench.decoders": {"wrong_shape": "bench_testplugins.decoders:WrongShape",
                       "extra_channel": "bench_testplugins.decoders:ExtraChannel",
                       "raises_in_forward": "bench_testplugins.decoders:RaisesInForward",
                       "broken_dec": "bench_testplugins.broken:Broken"},
    "bench.tasks": {"extent": "bench_testplugins.tasks:ExtentOnly"},
    "bench.datasets": {"failing_ds": "bench_testplugins.datasets:FailingDataset"},
}
TEST_SUITES = """
[suites.one]
description = "One reconstruction run, for trying decoders"
profile = "tiny"

[[suites.one.runs]]
name = "recon"
tasks = ["reconstruction"]

[suites.shared]
description = "A second task reporting extent_error, probing the same frozen encoder"
profile = "tiny"

[[suites.shared.runs]]
name = "onet"
tasks = ["reconstruction"]

[[suites.shared.runs]]
name = "extent-probe"
tasks = ["extent"]
protocol = "frozen"
encoder_from = "onet"
"""


def doc_blocks() -> dict[tuple[str, str], str]:
    blocks = {(kind, path): text for kind, path, text in BLOCK.findall(DOC.read_text(encoding="utf-8"))}
    assert ("file", "pyproject.toml") in blocks and ("append", "bench.toml") in blocks, "docs/plugins.md lost its markers"
    return blocks


def write_dist(root: Path, name: str, version: str, entry_points: dict[str, dict[str, str]]) -> None:
    """What `pip install` leaves in site-packages: <name>-<version>.dist-info with METADATA and entry_points.txt."""
    dist = root / f"{name.replace('-', '_')}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n" for group, eps in entry_points.items()))


@pytest.fixture(scope="module")
def plugins(tmp_path_factory):
    """Installs bench-extras (from the doc) and bench-testplugins; yields the folder with the config."""
    root = tmp_path_factory.mktemp("plugins")
    blocks = doc_blocks()
    for (kind, path), text in blocks.items():
        if kind == "file" and path != "pyproject.toml":
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
    project = tomllib.loads(blocks[("file", "pyproject.toml")])["project"]
    write_dist(root, project["name"], project["version"], project["entry-points"])
    for path, text in TEST_PACKAGE.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text))
    write_dist(root, "bench-testplugins", "1.0", TEST_ENTRY_POINTS)
    (root / "bench.toml").write_text((ROOT / "bench.toml").read_text(encoding="utf-8") + "\n"
                                     + blocks[("append", "bench.toml")] + TEST_SUITES)
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    yield root
    sys.path.remove(str(root))
    for mod in [m for m in sys.modules if m.split(".")[0] in TOP_MODULES]:
        del sys.modules[mod]
    importlib.invalidate_caches()


def bench(*args: str):
    return runner.invoke(app, list(args))


def run_suite(plugins: Path, suite: str, results: Path, *extra: str):
    return bench("run", "--suite", suite, "-c", str(plugins / "bench.toml"), "-r", str(results), "--quiet",
                 "--no-eval-mesh", *extra)


def result_of(results: Path, suite: str, run: str) -> dict:
    (path,) = (results / suite).glob(f"{run}-*/result.json")
    return json.loads(path.read_text())


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def mine(plugins, tmp_path_factory):
    """The doc's suite `mine`: reconstruction, reconstruction + bbox jointly, and a frozen bbox probe."""
    results = tmp_path_factory.mktemp("results")
    res = run_suite(plugins, "mine", results)
    assert res.exit_code == 0, res.output
    return results


# --- tasks --------------------------------------------------------------------------------------------------

def test_task_plugin_trains_beside_reconstruction_and_its_metrics_are_recorded(mine):
    joint = result_of(mine, "mine", "joint-bbox")
    assert joint["status"] == "complete" and joint["tasks"] == ["reconstruction", "bbox"]
    box = joint["metrics"]["bbox"]
    assert set(box) == {"iou", "extent_error", "iou_class_mean", "extent_error_class_mean"}
    assert 0.0 <= box["iou"] <= 1.0 and box["extent_error"] > 0.0  # an untrained head is not exact
    assert 0.0 <= joint["metrics"]["reconstruction"]["iou"] <= 1.0
    info = joint["metric_info"]["bbox"]
    assert info["main"] == "iou" and info["kind"] == "shape"
    assert info["directions"] == {"iou": "higher", "extent_error": "lower",
                                  "iou_class_mean": "higher", "extent_error_class_mean": "lower"}
    assert info["labels"] == {"iou": "box IoU", "extent_error": "extent err"}
    assert info["conventions"] == {"box": "axis-aligned box of the stored query points inside the shape"}
    assert joint["per_category"]["bbox"] and all("extent_error" in v for v in joint["per_category"]["bbox"].values())
    probe = result_of(mine, "mine", "bbox-probe")
    assert probe["status"] == "complete" and list(probe["metrics"]) == ["bbox"]
    assert probe["encoder_from"]["run"] == "onet"


def test_task_metrics_in_leaderboard_table_csv_and_markdown(mine):
    joint = result_of(mine, "mine", "joint-bbox")["metrics"]
    table = bench("leaderboard", "-r", str(mine), "--suite", "mine")
    assert table.exit_code == 0, table.output
    assert "bbox box IoU" in table.output and "reconstruction IoU" in table.output  # each task's main score
    wide = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--wide")  # every metric
    assert wide.exit_code == 0, wide.output
    assert "extent err" in wide.output and f"{joint['bbox']['extent_error']:.4f}" in wide.output

    res = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = {r["run"]: r for r in csv_rows(res.output)}
    assert set(rows) == {"onet", "joint-bbox", "bbox-probe"}
    assert float(rows["joint-bbox"]["extent_error"]) == pytest.approx(joint["bbox"]["extent_error"])
    assert rows["onet"]["extent_error"] == ""  # a run without the task has no value, not a zero

    md = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--format", "markdown")
    assert md.exit_code == 0, md.output
    header = md.output.splitlines()[0]
    assert "| bbox.iou |" in header and "| extent_error |" in header
    (line,) = [ln for ln in md.output.splitlines() if "| joint-bbox |" in ln]
    assert f"| {joint['bbox']['extent_error']:.4f} |" in line


def test_task_metrics_in_compare_and_html_report(mine, tmp_path):
    joint = result_of(mine, "mine", "joint-bbox")["metrics"]["bbox"]
    probe = result_of(mine, "mine", "bbox-probe")["metrics"]["bbox"]
    res = bench("compare", "mine/joint-bbox", "mine/bbox-probe", "-r", str(mine), "--format", "csv")
    assert res.exit_code == 0, res.output
    rows = {(r["task"], r["metric"]): r for r in csv_rows(res.output)}
    err = rows[("bbox", "extent_error")]
    assert float(err["mine/joint-bbox"]) == pytest.approx(joint["extent_error"])
    assert float(err["delta mine/bbox-probe"]) == pytest.approx(probe["extent_error"] - joint["extent_error"])
    assert err["direction"] == "lower"
    if probe["extent_error"] != joint["extent_error"]:  # lower is better: the smaller error wins
        smaller = "mine/joint-bbox" if joint["extent_error"] < probe["extent_error"] else "mine/bbox-probe"
        assert err["better"] == smaller
    assert ("bbox", "iou") in rows and ("reconstruction", "iou") in rows
    table = bench("compare", "mine/joint-bbox", "mine/bbox-probe", "-r", str(mine))
    assert table.exit_code == 0 and "extent_error" in table.output

    out = tmp_path / "mine.html"
    res = bench("report", "--suite", "mine", "-r", str(mine), "--format", "html", "-o", str(out))
    assert res.exit_code == 0, res.output
    page = out.read_text()
    assert "<th>extent_error</th>" in page and "<th>bbox.iou</th>" in page
    assert f"<td>{joint['extent_error']:.4f}</td>" in page


def test_two_tasks_sharing_a_metric_name_get_separate_columns(mine):
    joint = result_of(mine, "mine", "joint-bbox")["metrics"]
    res = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--format", "csv")
    header = res.output.splitlines()[0].split(",")
    assert "reconstruction.iou" in header and "bbox.iou" in header and "iou" not in header
    rows = {r["run"]: r for r in csv_rows(res.output)}
    assert float(rows["joint-bbox"]["reconstruction.iou"]) == pytest.approx(joint["reconstruction"]["iou"])
    assert float(rows["joint-bbox"]["bbox.iou"]) == pytest.approx(joint["bbox"]["iou"])
    assert rows["onet"]["bbox.iou"] == "" and rows["bbox-probe"]["reconstruction.iou"] == ""
    # --sort takes the column name; the bare name is ambiguous and says which columns exist
    ok = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--sort", "bbox.iou", "--format", "csv")
    assert ok.exit_code == 0, ok.output
    assert [r["run"] for r in csv_rows(ok.output)][-1] == "onet"  # no bbox.iou: listed last
    bad = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--sort", "iou")
    assert bad.exit_code == 1 and "reconstruction.iou" in bad.output and "bbox.iou" in bad.output
    # results with one task reporting "iou" keep the plain name
    only = bench("leaderboard", "-r", str(mine), "--suite", "mine", "--task", "reconstruction", "--format", "csv")
    assert "reconstruction.iou" in only.output.splitlines()[0]  # joint-bbox still brings bbox's iou


def test_compare_keeps_direction_of_a_shared_lower_is_better_metric(plugins, mine, tmp_path):
    """Two tasks report 'extent_error' (lower is better): their columns are 'task.metric', and compare must
    still read each one's direction."""
    import shutil

    results = tmp_path / "results"
    shutil.copytree(mine, results)
    res = run_suite(plugins, "shared", results)  # reuses mine/onet, probes it with the 'extent' task
    assert res.exit_code == 0, res.output
    cmp = bench("compare", "mine/bbox-probe", "shared/extent-probe", "-r", str(results), "--format", "csv")
    assert cmp.exit_code == 0, cmp.output
    rows = {(r["task"], r["metric"]): r for r in csv_rows(cmp.output)}
    for key in (("bbox", "extent_error"), ("extent", "extent_error")):
        assert rows[key]["direction"] == "lower"
    shared = result_of(results, "shared", "extent-probe")
    assert shared["metric_info"]["extent"]["directions"]["extent_error"] == "lower"
    lb = bench("leaderboard", "-r", str(results), "--format", "csv")
    header = lb.output.splitlines()[0].split(",")
    assert "bbox.extent_error" in header and "extent.extent_error" in header and "extent_error" not in header


# --- decoders -----------------------------------------------------------------------------------------------

def test_registered_decoder_trains_with_its_decoder_kwargs(plugins, tmp_path):
    import torch

    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=film")
    assert res.exit_code == 0, res.output
    result = result_of(tmp_path, "one", "recon")
    assert result["status"] == "complete" and result["config"]["all_sections"]["model"]["decoder"] == "film"
    assert result["config"]["decoder_kwargs"] == {"n_freqs": 2}  # [decoder_kwargs.film] of the doc's bench.toml
    (model_pt,) = (tmp_path / "one").glob("recon-*/model.pt")
    state = torch.load(model_pt, weights_only=True)["model"]
    hidden = result["config"]["all_sections"]["model"]["decoder_hidden"]
    # FiLM's layers, with n_freqs = 2: 3 + 6 * 2 Fourier features in
    assert state["point_heads.decoders.reconstruction.fc_p.weight"].shape == (hidden, 15)
    assert "point_heads.decoders.reconstruction.film.0.weight" in state


def test_decoder_given_as_module_attr_trains(plugins, tmp_path):
    import torch

    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=local_decoder:TinyMLPDecoder")
    assert res.exit_code == 0, res.output
    result = result_of(tmp_path, "one", "recon")
    assert result["status"] == "complete"
    assert result["config"]["all_sections"]["model"]["decoder"] == "local_decoder:TinyMLPDecoder"
    (model_pt,) = (tmp_path / "one").glob("recon-*/model.pt")
    assert "point_heads.decoders.reconstruction.net.0.weight" in torch.load(model_pt, weights_only=True)["model"]


def test_decoder_returning_the_wrong_shape_fails_the_run_naming_it(plugins, tmp_path):
    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=wrong_shape")
    assert res.exit_code == 1
    result = result_of(tmp_path, "one", "recon")
    assert result["status"] == "failed"
    assert "decoder plugin 'wrong_shape' (bench_testplugins.decoders:WrongShape, from bench-testplugins)" in result["error"]
    assert "(B, M, C)" in result["error"]
    assert "decoder plugin 'wrong_shape'" in res.output


def test_bad_decoder_kwargs_name_the_table(plugins, tmp_path):
    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=film", "--set", "decoder_kwargs.film.n_freq=3")
    assert res.exit_code == 1
    error = result_of(tmp_path, "one", "recon")["error"]
    assert "decoder plugin 'film'" in error and "[decoder_kwargs.film]" in error and "n_freq" in error


def test_joint_decoder_with_extra_channels_fails(plugins, tmp_path):
    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=extra_channel", "--set", "model.layout=joint")
    assert res.exit_code == 1
    assert "decoder plugin 'extra_channel'" in result_of(tmp_path, "one", "recon")["error"]


def test_decoder_raising_in_forward_is_named(plugins, tmp_path):
    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=raises_in_forward")
    assert res.exit_code == 1
    assert "decoder plugin 'raises_in_forward'" in result_of(tmp_path, "one", "recon")["error"]


def test_decoders_command_lists_builtins_third_party_and_flags_broken(plugins):
    res = bench("decoders")
    assert res.exit_code == 0, res.output
    rows = {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.count("│") >= 4}
    assert {"cbn", "concat", "film", "broken_dec", "wrong_shape"} <= set(rows)
    assert "built-in" in rows["cbn"] and "ok" in rows["cbn"] and "built-in" in rows["concat"]
    assert "bench-extras" in rows["film"] and "FiLM-conditioned residual MLP" in rows["film"] and "ok" in rows["film"]
    assert "broken" in rows["broken_dec"] and "bench-testplugins" in rows["broken_dec"]
    assert "A decoder whose module never imports." in rows["broken_dec"]  # described from source
    assert "decoder plugin 'broken_dec'" in res.output and "not_a_real_module_for_bench_tests" in res.output
    quick = bench("decoders", "--no-check")  # metadata only: listed, not imported
    assert quick.exit_code == 0 and "broken_dec" in quick.output and "not_a_real_module" not in quick.output


def test_plugin_listing_shows_brackets_in_descriptions(plugins):
    res = bench("decoders", "--no-check")
    assert "[p, z]" in res.output


def test_failed_run_line_has_no_literal_markup(plugins, tmp_path):
    res = run_suite(plugins, "one", tmp_path, "--set", "model.decoder=wrong_shape")
    assert res.exit_code == 1 and "one/recon failed:" in res.output
    assert "[red]" not in res.output


# --- the other kinds, and all four together -----------------------------------------------------------------

@pytest.mark.parametrize("command, name, description", [
    ("encoders", "meanmax", "Per-point MLP, mean and max pooled"),
    ("decoders", "film", "FiLM-conditioned residual MLP"),
    ("tasks", "bbox", "Bounding box from the latent"),
    ("datasets", "primitives", "Ellipsoids and boxes of random proportions"),
])
def test_every_kind_is_listed_by_its_command(plugins, command, name, description):
    res = bench(command)
    assert res.exit_code == 0, res.output
    (row,) = [line for line in res.output.splitlines() if line.count("│") >= 4 and line.split("│")[1].strip() == name]
    assert "bench-extras" in row and description in row and "ok" in row


def test_encoder_example_passes_check_encoder(plugins):
    res = bench("check-encoder", "meanmax", "--cpu-only", "-c", str(plugins / "bench.toml"))
    assert res.exit_code == 0, res.output
    assert "all checks passed" in res.output


def test_all_four_plugins_in_one_run(plugins, tmp_path):
    res = run_suite(plugins, "extras", tmp_path)
    assert res.exit_code == 0, res.output
    result = result_of(tmp_path, "extras", "all-four")
    assert result["status"] == "complete"
    assert result["encoder"]["name"] == "meanmax" and result["encoder"]["package"] == "bench-extras"
    assert result["config"]["all_sections"]["model"]["decoder"] == "film"
    assert result["dataset"]["name"] == "primitives" and result["dataset"]["revision"] == "v1-seed0"
    assert result["dataset"]["test"] == 4 and set(result["per_category"]["bbox"]) == {"ellipsoid", "box"}
    assert result["metrics"]["bbox"]["extent_error"] is not None
    info = bench("data", "info", "primitives")
    assert info.exit_code == 0 and "train 16, val 4, test 4" in info.output, info.output
    (root,) = re.findall(r"at (\S+primitives-v1-seed0)", info.output)
    check = bench("data", "check", root)
    assert check.exit_code == 0 and "24 shapes OK" in check.output, check.output


def test_dataset_failing_in_prepare_is_named(plugins, tmp_path):
    res = run_suite(plugins, "one", tmp_path, "--dataset", "failing_ds")
    assert res.exit_code == 1
    assert "dataset plugin 'failing_ds'" in result_of(tmp_path, "one", "recon")["error"]
