"""Registry discovery through real entry points: a distribution written to a temporary sys.path entry."""

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from bench.errors import PluginLoadError, UnknownPluginError
from bench.registry import ENCODERS, TASKS, BrokenPluginWarning, Registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def plugin_dist(tmp_path, monkeypatch):
    """An installed-looking distribution 'thirdparty-enc' with a good encoder and a broken one."""
    pkg = tmp_path / "thirdparty_enc"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(
        "import torch\n"
        "class TinyEncoder(torch.nn.Module):\n"
        "    '''A third-party mean-pool encoder.'''\n"
        "    modality = 'pointcloud'\n"
        "    def __init__(self, latent_dim=8):\n"
        "        super().__init__(); self.latent_dim = latent_dim; self.fc = torch.nn.Linear(3, latent_dim)\n"
        "    def forward(self, x):\n"
        "        return self.fc(x).mean(1)\n")
    (pkg / "broken.py").write_text("import not_a_real_module_xyz\nclass Broken: '''Never imports.'''\n")
    dist = tmp_path / "thirdparty_enc-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-enc\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[bench.encoders]\ntiny_enc = thirdparty_enc.good:TinyEncoder\nbroken_enc = thirdparty_enc.broken:Broken\n"
        "onet_pointnet = thirdparty_enc.good:TinyEncoder\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "thirdparty-enc"
    for mod in [m for m in sys.modules if m.startswith("thirdparty_enc")]:
        del sys.modules[mod]


def test_builtins_are_listed_without_import():
    # in a fresh interpreter: in this one other tests may have imported the plugin modules already
    code = ("import sys\n"
            "from bench.registry import DATASETS, DECODERS, ENCODERS, TASKS\n"
            "def plugin_modules():\n"
            "    return sorted(m for m in sys.modules if m.split('.')[0] in ('implicit_bench_encoders', 'implicit_bench_tasks', 'torch')\n"
            "                  or m.startswith(('bench.data.', 'bench.decoders.')))\n"
            "names = [*ENCODERS.names(), *TASKS.names(), *DATASETS.names(), *DECODERS.names()]\n"
            "print(sorted(names))\n"
            "print(plugin_modules())\n"
            "print(ENCODERS.describe('onet_pointnet'))\n"
            "print([m for m in plugin_modules() if '.' in m or m == 'torch'])\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    names, after_listing, description, after_describe = out.stdout.strip().splitlines()
    assert {"onet_pointnet", "pointnet", "dgcnn", "voxel_cnn", "reconstruction", "classification",
            "segmentation", "synthetic", "modelnet40"} <= set(ast.literal_eval(names))
    assert after_listing == "[]", f"listing names imported {after_listing}"
    assert "ResNet-PointNet" in description
    # describing reads the source (finding it may import the empty parent package, never the module)
    assert after_describe == "[]", f"describing imported {after_describe}"
    assert {"reconstruction", "classification", "segmentation"} <= set(TASKS.names())


def test_unknown_name_suggests():
    with pytest.raises(UnknownPluginError, match="Did you mean 'pointnet'"):
        ENCODERS.entry("pointnt")


def test_third_party_plugin_discovered_and_loaded(plugin_dist):
    entries = ENCODERS.entries(warn=False)
    assert entries["tiny_enc"].package == plugin_dist
    cls = ENCODERS.load("tiny_enc")
    assert cls(latent_dim=4).latent_dim == 4
    assert ENCODERS.describe("tiny_enc") == "A third-party mean-pool encoder."


def test_broken_plugin_names_itself_and_package(plugin_dist):
    with pytest.raises(PluginLoadError) as err:
        ENCODERS.load("broken_enc")
    assert "broken_enc" in str(err.value) and plugin_dist in str(err.value) and "not_a_real_module_xyz" in str(err.value)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        obj, problem = ENCODERS.try_load("broken_enc")
    assert obj is None and problem and [w.category for w in caught].count(BrokenPluginWarning) == 1
    # a broken plugin still gets described, from its source
    assert ENCODERS.describe("broken_enc") == "Never imports."


def test_collision_reported_and_builtin_wins(plugin_dist):
    with pytest.warns(UserWarning, match="registered twice"):
        entries = ENCODERS.entries()
    assert entries["onet_pointnet"].builtin


def test_module_attr_on_command_line(plugin_dist):
    cls = ENCODERS.load("thirdparty_enc.good:TinyEncoder")
    assert cls.__name__ == "TinyEncoder"
    with pytest.raises(PluginLoadError, match="failed to import"):
        ENCODERS.load("thirdparty_enc.good:Missing")


def test_cli_survives_broken_plugin(plugin_dist):
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["encoders"])
    assert res.exit_code == 0, res.output
    assert "broken_enc" in res.output and "broken" in res.output and "tiny_enc" in res.output


def test_empty_group():
    assert Registry("bench.nothing_here", "thing").names() == []


@pytest.fixture()
def broken_task_and_dataset(tmp_path, monkeypatch):
    """An installed-looking distribution 'thirdparty-more' whose task and dataset modules fail to import."""
    pkg = tmp_path / "thirdparty_more"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "tasks.py").write_text("import not_a_real_task_dep\nclass Chamfer:\n    '''A task that never imports.'''\n")
    (pkg / "datasets.py").write_text("raise RuntimeError('dataset module exploded at import')\n"
                                     "class Scans:\n    '''A dataset that never imports.'''\n")
    dist = tmp_path / "thirdparty_more-0.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty-more\nVersion: 0.3\n")
    (dist / "entry_points.txt").write_text("[bench.tasks]\nbroken_task = thirdparty_more.tasks:Chamfer\n\n"
                                           "[bench.datasets]\nbroken_ds = thirdparty_more.datasets:Scans\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "thirdparty-more"
    for mod in [m for m in sys.modules if m.startswith("thirdparty_more")]:
        del sys.modules[mod]


def _rows(output: str) -> dict[str, list[str]]:
    """A rich table's rows by their first cell: name -> [package, description, status]."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) >= 5 and cells[1]:
            rows[cells[1]] = cells[2:-1]
    return rows


@pytest.mark.parametrize("command, name, builtins, error", [
    ("tasks", "broken_task", {"reconstruction", "classification", "segmentation"}, "not_a_real_task_dep"),
    ("datasets", "broken_ds", {"synthetic", "modelnet40", "shapenetpart", "meshes", "folder"},
     "dataset module exploded at import"),
])
def test_cli_lists_broken_task_and_dataset_plugins(broken_task_and_dataset, command, name, builtins, error):
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, [command])
    assert res.exit_code == 0, res.output
    rows = _rows(res.output)
    assert rows[name][0] == broken_task_and_dataset and rows[name][-1] == "broken"
    assert rows[name][1].endswith("that never imports.")  # described from its source, not imported
    assert all(rows[b][0] == "built-in" and rows[b][-1] == "ok" for b in builtins), rows
    kind = command[:-1]
    # the warning names the plugin, its entry point, its package and the import error
    assert f"{kind} plugin '{name}'" in res.output and broken_task_and_dataset in res.output
    assert error in res.output
    help_ = CliRunner().invoke(app, ["--help"])
    assert help_.exit_code == 0 and command in help_.output and "Traceback" not in help_.output


def test_run_on_a_broken_dataset_plugin_fails_by_name(broken_task_and_dataset, tmp_path):
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["run", "--suite", "smoke", "-r", str(tmp_path), "--quiet", "--dataset", "broken_ds"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "dataset plugin 'broken_ds'" in res.output and "dataset module exploded at import" in res.output
    assert broken_task_and_dataset in res.output
