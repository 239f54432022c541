"""Result files are data, never code: reading a results folder someone sent you imports nothing it names,
writes nowhere it points and reads no path it names; names in results and bench.toml cannot leave results/."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.config import parse_config
from bench.errors import ConfigError, ResultError
from bench.results import read_result, scan_results

EVIL = '''
from pathlib import Path
Path({marker!r}).write_text("imported")
Encoder = None
'''


@pytest.fixture(scope="module")
def sent(tmp_path_factory):
    """A tiny smoke suite's results folder, as it would arrive from someone else."""
    root = tmp_path_factory.mktemp("sent")
    res = CliRunner().invoke(app, ["run", "--suite", "smoke", "--profile", "tiny", "-r", str(root / "results"),
                                   "--quiet", "--runs", "joint"])
    assert res.exit_code == 0, res.output
    return root


def _poison(folder: Path, tmp_path: Path, monkeypatch) -> Path:
    """Rewrite the joint run's result.json: its encoder is a module that writes a marker on import, and its
    dataset lives in (and would be generated into) a folder of the sender's choosing."""
    import shutil

    results = tmp_path / "results"
    shutil.copytree(folder / "results", results)
    marker = tmp_path / "imported.marker"
    (tmp_path / "evil_pkg.py").write_text(EVIL.format(marker=str(marker)))
    monkeypatch.syspath_prepend(str(tmp_path))
    path = next(results.glob("smoke/joint-*/result.json"))
    data = json.loads(path.read_text())
    data["config"]["all_sections"]["model"]["encoder"] = "evil_pkg:Encoder"
    data["encoder"]["name"] = "evil_pkg:Encoder"
    elsewhere = tmp_path / "elsewhere"
    data["config"]["all_sections"]["data"]["data_dir"] = str(elsewhere)
    data["config"]["all_sections"]["output"]["results_dir"] = str(elsewhere / "results")
    path.write_text(json.dumps(data))
    return results


def test_reading_a_poisoned_results_folder_imports_and_writes_nothing(sent, tmp_path, monkeypatch):
    results = _poison(sent, tmp_path, monkeypatch)
    marker, elsewhere = tmp_path / "imported.marker", tmp_path / "elsewhere"
    runner = CliRunner()
    for args in (["leaderboard", "-r", str(results)],
                 ["leaderboard", "-r", str(results), "-f", "html", "-o", str(tmp_path / "lb.html")],
                 ["compare", "smoke/joint", "smoke/joint", "-r", str(results)],
                 ["report", "--suite", "smoke", "-r", str(results)],
                 ["report", "--suite", "smoke", "-r", str(results), "--paper", "--table", "table6"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
    card = tmp_path / "card.html"
    res = runner.invoke(app, ["report", "--suite", "smoke", "-r", str(results), "-f", "html", "-o", str(card)])
    assert res.exit_code == 0, res.output
    assert "joint: could not be restored" in card.read_text() and "--trust-plugins" in card.read_text()
    res = runner.invoke(app, ["export", "smoke/joint", "-r", str(results), "-o", str(tmp_path / "export")])
    assert res.exit_code == 1
    assert "smoke/joint" in res.output and "evil_pkg:Encoder" in res.output and "--trust-plugins" in res.output
    assert not marker.exists(), "a command imported the module a result file named"
    assert not elsewhere.exists(), "a command wrote where a result file pointed"
    # the user's explicit opt-in imports it (and the broken plugin then fails with a clear error)
    res = runner.invoke(app, ["export", "smoke/joint", "-r", str(results), "-o", str(tmp_path / "export"),
                              "--trust-plugins"])
    assert marker.exists() and res.exit_code == 1 and "evil_pkg:Encoder" in res.output
    assert not elsewhere.exists()


def test_a_run_folder_is_where_its_result_was_read_not_where_it_says(sent, tmp_path):
    import shutil

    shutil.copytree(sent / "results", tmp_path / "mine")
    path = next((tmp_path / "mine").glob("smoke/joint-*/result.json"))
    data = json.loads(path.read_text())
    data["config"]["all_sections"]["output"]["results_dir"] = "/nonexistent/elsewhere"
    path.write_text(json.dumps(data))
    (result,) = scan_results(tmp_path / "mine")
    assert result.run_dir == path.parent
    assert "run_dir" not in json.loads(path.read_text())  # never stored in the file


@pytest.mark.parametrize("field, value, says", [
    ("suite", "../..", "suite '../..' is not a valid name"),
    ("run_name", "a/b", "run_name 'a/b' is not a valid name"),
    ("config_hash", "../x", "not a hexadecimal hash"),
    ("per_category", [], "'per_category' must be dict"),
    ("metrics", {"reconstruction": {"iou": "high"}}, "metrics.reconstruction.iou' must be a number"),
    ("tasks", "reconstruction", "'tasks' must be list"),
    ("seed", "0", "'seed' must be int"),
    ("step_limited", "no", "'step_limited' must be bool"),
    ("intervals", {"reconstruction": {"iou": [0.1]}}, "must be [low, high]"),
])
def test_result_json_of_wrong_types_is_rejected_naming_the_field(sent, tmp_path, field, value, says):
    path = next((sent / "results").glob("smoke/joint-*/result.json"))
    data = json.loads(path.read_text())
    data[field] = value
    bad = tmp_path / "result.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="result.json") as err:
        read_result(bad)
    assert says in str(err.value)


def test_nested_wrong_types_are_rejected_and_the_leaderboard_skips_the_file(sent, tmp_path):
    import shutil

    shutil.copytree(sent / "results", tmp_path / "r")
    good = next((tmp_path / "r").glob("smoke/joint-*/result.json"))
    for name, edit in {"skipped": lambda d: d["dataset"].update(skipped=5),
                       "suite": lambda d: d.update(suite="../..")}.items():
        data = json.loads(good.read_text())
        edit(data)
        folder = tmp_path / "r" / "smoke" / f"bad{name}-0000000000"
        folder.mkdir()
        (folder / "result.json").write_text(json.dumps(data))
    res = CliRunner().invoke(app, ["leaderboard", "-r", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert "dataset.skipped' must be list" in res.output and "suite '../..' is not a valid name" in res.output
    assert res.output.count("joint") >= 1  # the good run is still listed


@pytest.mark.parametrize("toml, says", [
    ('[suites."../x"]\n[[suites."../x".runs]]\nname = "a"\ntasks = ["reconstruction"]\n', "not a valid suite name"),
    ('[suites.s]\n[[suites.s.runs]]\nname = "../../a"\ntasks = ["reconstruction"]\n', "not a valid run name"),
    ('[suites.s]\n[[suites.s.runs]]\nname = "a b"\ntasks = ["reconstruction"]\n', "not a valid run name"),
])
def test_suite_and_run_names_in_bench_toml_cannot_leave_results(toml, says):
    import tomllib

    with pytest.raises(ConfigError, match=says):
        parse_config(tomllib.loads(toml), "bench.toml")
