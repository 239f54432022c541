"""Registry discovery through real entry points: a distribution written to a temporary sys.path entry."""

import sys
import warnings

import pytest

from bench.errors import PluginLoadError, UnknownPluginError
from bench.registry import ENCODERS, TASKS, BrokenPluginWarning, Registry


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
    before = set(sys.modules)
    names = ENCODERS.names()
    assert {"onet_pointnet", "pointnet", "dgcnn", "voxel_cnn"} <= set(names)
    assert "encoders.dgcnn" not in set(sys.modules) - before
    assert "ResNet-PointNet" in ENCODERS.describe("onet_pointnet")
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
