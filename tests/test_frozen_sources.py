"""A frozen run's encoder from anywhere: an earlier run of the suite (as before, same hashes), a run folder of
another suite, a weights file (encoder_weights, weights_prefix), or the encoder plugin's own weights
(encoder_from = "plugin", declared by provides_weights). Tiny runs through `bench run`, seconds each."""

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.config import load_config, parse_config
from bench.errors import ConfigError, PluginContractError
from bench.probe.weights import file_sha256, state_dict_sha256
from bench.results import read_result
from bench.training.build import build_run
from bench.training.plan import resolve_suite
from tests.frozen_plugins import ProvidesWeights, fixed_state

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "tests" / "records" / "smoke_protocol_v2.json"
PLUGIN = "tests.frozen_plugins:ProvidesWeights"


def pointnet_state(seed: int) -> dict[str, torch.Tensor]:
    """The weights of the tiny profile's pointnet (latent 16, widths [16, 32]), batch-norm statistics moved."""
    from bench.models import create_encoder

    torch.manual_seed(seed)
    encoder = create_encoder("pointnet", 16, {"widths": [16, 32]})
    with torch.no_grad():
        encoder(torch.randn(4, 32, 3))  # training mode: running statistics off their defaults
    return encoder.state_dict()


def frozen_suite(name: str, run: str = "cls", **keys: str) -> str:
    """A one-run suite on the tiny profile: a frozen classification probe with ``keys`` as its source."""
    lines = "".join(f"{k} = '{v}'\n" for k, v in keys.items())
    return (f'\n[suites.{name}]\nprofile = "tiny"\n\n[[suites.{name}.runs]]\nname = "{run}"\n'
            f'tasks = ["classification"]\nprotocol = "frozen"\n{lines}')


def write_config(tmp_path: Path, text: str, name: str = "bench.toml") -> Path:
    path = tmp_path / name
    path.write_text((ROOT / "bench.toml").read_text(encoding="utf-8") + text, encoding="utf-8")
    return path


def bench_run(config: Path, suite: str, results: Path, *extra: str):
    return CliRunner().invoke(app, ["run", "--suite", suite, "-c", str(config), "-r", str(results), "--quiet",
                                    "--no-eval-mesh", *extra])


def only_result(results: Path, suite: str):
    found = list((results / suite).glob("*/result.json"))
    assert len(found) == 1, found
    return read_result(found[0])


def encoder_of(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)["encoder"]


def assert_same_tensors(got: dict, expected: dict) -> None:
    assert list(got) == list(expected)
    for key, value in expected.items():
        assert torch.equal(got[key], value), key


def test_a_frozen_run_from_a_weights_file(tmp_path):
    weights = tmp_path / "pretrained.pt"
    state = pointnet_state(seed=7)
    torch.save(state, weights)
    config = write_config(tmp_path, frozen_suite("probe-file", encoder_weights=str(weights))
                          + 'model = { encoder = "pointnet" }\n')

    plan = bench_run(config, "probe-file", tmp_path / "r", "--dry-run")
    assert plan.exit_code == 0, plan.output
    assert "file:" in plan.output and "frozen)" in plan.output

    res = bench_run(config, "probe-file", tmp_path / "r")
    assert res.exit_code == 0, res.output
    result = only_result(tmp_path / "r", "probe-file")
    assert result.status == "complete" and result.protocol == "frozen"
    assert result.encoder_from == {"source": f"file:{weights.resolve()}", "sha256": file_sha256(weights), "prefix": ""}
    assert result.encoder.get("trainable") is False and result.encoder.get("name") == "pointnet"
    assert result.config["encoder_weights"] == {"sha256": file_sha256(weights), "prefix": ""}
    assert_same_tensors(encoder_of(result.run_dir), state)  # frozen: the file's tensors, statistics included


def test_the_config_hash_follows_the_weights_content_and_prefix_not_the_path(tmp_path):
    a, b = pointnet_state(seed=1), pointnet_state(seed=2)
    torch.save({**{f"a.{k}": v for k, v in a.items()}, **{f"b.{k}": v for k, v in b.items()}}, tmp_path / "two.pt")
    torch.save(a, tmp_path / "a.pt")

    def planned(path: Path, prefix: str = "") -> str:
        keys = {"encoder_weights": str(path), **({"weights_prefix": prefix} if prefix else {})}
        config = write_config(tmp_path, frozen_suite("s", **keys) + 'model = { encoder = "pointnet" }\n', "c.toml")
        (run,) = resolve_suite(load_config(config), "s")
        return run.config_hash

    first = planned(tmp_path / "a.pt")
    shutil.copy(tmp_path / "a.pt", tmp_path / "elsewhere.pt")
    assert planned(tmp_path / "elsewhere.pt") == first  # same bytes, another place: the same run
    torch.save(b, tmp_path / "a.pt")
    assert planned(tmp_path / "a.pt") != first  # other weights: another run
    assert planned(tmp_path / "two.pt", "a.") != planned(tmp_path / "two.pt", "b.")  # same file, other keys


def test_in_suite_probes_keep_their_recorded_hashes(base_config, bench_precision, tmp_path):
    cfg = base_config.with_overrides(base_config.profiles["tiny"], "profile tiny")
    cfg = cfg.with_overrides({"output": {"results_dir": str(tmp_path)}, "train": {"seed": 0, "threads": 1}}, "t")
    record = json.loads(RECORD.read_text())
    runs = resolve_suite(cfg, "smoke")
    for run in runs:
        assert run.config_hash == record[run.name][bench_precision]["config_hash"], run.name
        assert "encoder_weights" not in run.semantic_config() and run.weights is None
    probe = next(r for r in runs if r.name == "cls-probe")
    assert probe.stage_one.name == "onet" and probe.encoder_source == "onet"


def test_a_frozen_run_from_a_run_folder_of_another_suite(tmp_path):
    source_suite = ('\n[suites.source]\nprofile = "tiny"\n\n[[suites.source.runs]]\nname = "trained"\n'
                    'tasks = ["classification"]\nmodel = { encoder = "pointnet" }\n')
    config = write_config(tmp_path, source_suite)
    res = bench_run(config, "source", tmp_path / "r")
    assert res.exit_code == 0, res.output
    source = only_result(tmp_path / "r", "source")
    folder = source.run_dir

    # The probe names another encoder and size: the folder's family, latent_dim and kwargs win, as in a suite.
    probe_suite = frozen_suite("probe-folder", encoder_from=str(folder)) + \
        'model = { encoder = "onet_pointnet", latent_dim = 32 }\n'
    config = write_config(tmp_path, probe_suite, "probe.toml")
    res = bench_run(config, "probe-folder", tmp_path / "r")
    assert res.exit_code == 0, res.output
    result = only_result(tmp_path / "r", "probe-folder")
    assert result.status == "complete"
    model = result.config["all_sections"]["model"]
    assert (model["encoder"], model["latent_dim"]) == ("pointnet", 16)
    assert result.config["encoder_kwargs"] == source.config["encoder_kwargs"] == {"widths": [16, 32]}
    assert result.encoder_from == {"source": f"run:{folder.resolve()}", "sha256": file_sha256(folder / "model.pt"),
                                   "prefix": "", "suite": "source", "run": "trained",
                                   "config_hash": source.config_hash}
    assert_same_tensors(encoder_of(result.run_dir), encoder_of(folder))


def test_a_run_folder_that_is_not_one_fails_before_the_suite(tmp_path):
    (tmp_path / "empty").mkdir()
    config = write_config(tmp_path, frozen_suite("s", encoder_from=str(tmp_path / "empty")))
    res = bench_run(config, "s", tmp_path / "r")
    assert res.exit_code == 1
    assert "no such result file" in res.output and "A run folder holds the result.json and model.pt" in res.output
    assert not (tmp_path / "r").exists()


def test_a_frozen_run_from_the_plugins_own_weights(tmp_path):
    config = write_config(tmp_path, frozen_suite("probe-plugin", encoder_from="plugin")
                          + f'model = {{ encoder = "{PLUGIN}" }}\n')
    res = bench_run(config, "probe-plugin", tmp_path / "r")
    assert res.exit_code == 0, res.output
    result = only_result(tmp_path / "r", "probe-plugin")
    expected = fixed_state(ProvidesWeights(latent_dim=16))
    assert result.encoder_from == {"source": f"plugin:{PLUGIN}", "sha256": state_dict_sha256(expected), "prefix": ""}
    assert_same_tensors(dict(encoder_of(result.run_dir)), expected)


def test_a_plugin_must_declare_that_it_provides_weights(tmp_path):
    config = write_config(tmp_path, frozen_suite("s", encoder_from="plugin")
                          + 'model = { encoder = "tests.frozen_plugins:DoesNotDeclare" }\n')
    with pytest.raises(ConfigError) as err:
        resolve_suite(load_config(config), "s")
    text = str(err.value)
    assert "encoder plugin 'tests.frozen_plugins:DoesNotDeclare'" in text and "provides_weights = True" in text


def test_a_plugin_that_declares_but_draws_random_weights_is_caught(tmp_path):
    config = write_config(tmp_path, frozen_suite("s", encoder_from="plugin")
                          + 'model = { encoder = "tests.frozen_plugins:ClaimsButRandom" }\n')
    (run,) = resolve_suite(load_config(config), "s")
    torch.manual_seed(123)  # another draw than at plan time
    with pytest.raises(PluginContractError, match="must load the same ones each time it is built"):
        build_run(run.cfg, run.spec.tasks, weights=run.weights)


def test_wrong_keys_fail_before_the_suite_starts_with_one_error(tmp_path):
    weights = tmp_path / "renamed.pt"
    torch.save({f"backbone.{k}": v for k, v in pointnet_state(seed=0).items()}, weights)
    config = write_config(tmp_path, frozen_suite("s", encoder_weights=str(weights)) + 'model = { encoder = "pointnet" }\n')
    res = bench_run(config, "s", tmp_path / "r")
    assert res.exit_code == 1
    text = " ".join(res.output.split())  # the console wraps the red line
    assert "run 'cls'" in text and "encoder pointnet" in text and str(weights.resolve()) in text
    assert "missing keys" in text and "unexpected keys" in text and "backbone.mlp.0.weight" in text
    assert "--key-prefix 'backbone.'" in text
    assert not (tmp_path / "r").exists()  # nothing ran


def test_weights_prefix_picks_the_encoder_of_a_checkpoint(tmp_path):
    state = pointnet_state(seed=4)
    checkpoint = tmp_path / "checkpoint.pt"
    torch.save({"model": {f"encoder.{k}": v for k, v in state.items()}, "optimizer": {"lr": 0.1}}, checkpoint)
    config = write_config(tmp_path, frozen_suite("s", encoder_weights=str(checkpoint), weights_prefix="model.encoder.")
                          + 'model = { encoder = "pointnet" }\n')
    (run,) = resolve_suite(load_config(config), "s")
    assert run.weights.record() == {"source": f"file:{checkpoint.resolve()}", "sha256": file_sha256(checkpoint),
                                    "prefix": "model.encoder."}
    built = build_run(run.cfg, run.spec.tasks, weights=run.weights)
    assert_same_tensors(built.model.encoder.state_dict(), state)
    assert built.model.frozen_encoder and not any(p.requires_grad for p in built.model.encoder.parameters())

    torch.save(pointnet_state(seed=5), checkpoint)  # the file changes between planning and training
    with pytest.raises(ConfigError, match="changed since the suite was planned"):
        build_run(run.cfg, run.spec.tasks, weights=run.weights)


@pytest.mark.parametrize("run, message", [
    ({"protocol": "frozen"}, "protocol 'frozen' needs encoder_from"),
    ({"protocol": "frozen", "encoder_from": "plugin", "encoder_weights": "w.pt"}, "not both"),
    ({"protocol": "single", "encoder_weights": "w.pt"}, "encoder_weights is only meaningful with protocol"),
    ({"protocol": "frozen", "encoder_from": "plugin", "weights_prefix": "a."}, "does not go with encoder_from"),
    ({"protocol": "frozen", "encoder_from": "onet"}, "earlier run of the same suite"),
])
def test_frozen_sources_are_checked_when_the_config_is_read(run, message):
    raw = {"suites": {"s": {"runs": [{"name": "probe", "tasks": ["classification"], **run}]}}}
    with pytest.raises(ConfigError, match=message):
        parse_config(raw, "x.toml")


def test_paths_and_plugin_need_no_earlier_run():
    for source in ("results/other/onet-0123456789", "plugin"):
        raw = {"suites": {"s": {"runs": [{"name": "probe", "tasks": ["classification"], "protocol": "frozen",
                                          "encoder_from": source}]}}}
        assert parse_config(raw, "x.toml").suites["s"].runs[0].encoder_from == source


def test_the_documented_plugin_example_probes_its_own_weights(tmp_path, monkeypatch):
    """docs/plugins.md, "Frozen weights from anywhere": its plugin and its suite, as written."""
    doc = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Frozen weights from anywhere"):doc.index("## Point decoders")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    toml = re.search(r"```toml\n(.*?)```", section, re.S).group(1)
    (tmp_path / "pretrained_doc.py").write_text(code, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    state = {"mlp.0.weight": torch.randn(64, 3), "mlp.0.bias": torch.randn(64), "fc.weight": torch.randn(128, 64),
             "fc.bias": torch.randn(128)}
    torch.save(state, tmp_path / "meanmax.pt")
    name = "pretrained_doc:PretrainedMeanMax"
    toml = (toml.replace("[encoder_kwargs.pretrained_meanmax]", f'[encoder_kwargs."{name}"]')
            .replace('"pretrained_meanmax"', f'"{name}"').replace("checkpoints/meanmax.pt", str(tmp_path / "meanmax.pt")))
    config = write_config(tmp_path, '\n[suites.mine]\nprofile = "tiny"\n\n' + toml)
    (run,) = resolve_suite(load_config(config), "mine")
    assert run.weights.source == f"plugin:{name}" and run.weights.sha256 == state_dict_sha256(state)
    built = build_run(run.cfg, run.spec.tasks, weights=run.weights)
    assert_same_tensors(dict(built.model.encoder.state_dict()), state)
    assert built.model.frozen_encoder
