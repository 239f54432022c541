"""train.amp: the auto rule, the CLI switches, what result.json records, and bf16 vs fp32 training parity."""

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import ConfigError
from bench.results import scan_results
from bench.training.precision import resolve_precision

CPU = torch.device("cpu")


@pytest.mark.parametrize("amx, avx512bf16, expect", [(True, False, True), (False, True, True), (False, False, False)])
def test_auto_uses_bf16_only_on_cpus_that_run_it_natively(monkeypatch, amx, avx512bf16, expect):
    # the hardware probes are the input here; the rule that reads them is what is tested
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512bf16)
    p = resolve_precision("auto", CPU, env={})  # no pin: the hardware decides
    assert p.bf16 is expect and p.reason.startswith("CPU with " + ("no " if not expect else ""))
    assert ("AMX" in p.reason.split("(")[0].replace("no AMX", "")) is amx
    assert resolve_precision(True, CPU).bf16 and not resolve_precision(False, CPU).bf16
    assert resolve_precision("auto", torch.device("cuda"), env={}).bf16  # CUDA always has bf16 autocast
    assert not resolve_precision("auto", torch.device("mps"), env={}).bf16


def test_amp_must_be_auto_or_a_boolean():
    res = CliRunner().invoke(app, ["run", "--dry-run", "--set", "train.amp=1"])
    assert res.exit_code == 1 and "train.amp" in res.output and "auto" in res.output


def _run(tmp_path, name, *args):
    out = tmp_path / name
    res = CliRunner().invoke(app, ["run", "--suite", "smoke", "-r", str(out), "--quiet", "--no-eval-mesh",
                                   "--set", "train.max_steps=40", "--set", "train.eval_every=40", *args])
    assert res.exit_code == 0, res.output
    return {r.run_name: r for r in scan_results(out)}["onet"]


def test_bf16_and_fp32_training_reach_the_same_metrics_within_seed_noise(tmp_path):
    fp32 = _run(tmp_path, "fp32", "--no-amp")
    bf16 = _run(tmp_path, "bf16", "--amp")
    other_seed = _run(tmp_path, "seed1", "--no-amp", "--seed", "1")
    assert fp32.training["precision"] == "fp32" and bf16.training["precision"] == "bf16"
    iou = {k: r.metrics["reconstruction"]["iou"] for k, r in (("fp32", fp32), ("bf16", bf16), ("seed", other_seed))}
    seed_noise = abs(iou["fp32"] - iou["seed"])
    assert abs(iou["bf16"] - iou["fp32"]) <= max(2 * seed_noise, 0.05), iou


def test_the_environment_pins_what_auto_means_and_an_explicit_setting_still_wins():
    assert not resolve_precision("auto", torch.device("cuda"), env={"IMPLICIT_BENCH_AMP": "false"}).bf16
    assert resolve_precision("auto", CPU, env={"IMPLICIT_BENCH_AMP": "true"}).bf16
    assert not resolve_precision(False, CPU, env={"IMPLICIT_BENCH_AMP": "true"}).bf16
    assert resolve_precision(True, CPU, env={"IMPLICIT_BENCH_AMP": "false"}).bf16
    with pytest.raises(ConfigError, match="IMPLICIT_BENCH_AMP='maybe'"):
        resolve_precision("auto", CPU, env={"IMPLICIT_BENCH_AMP": "maybe"})


def _plan(*args):
    res = CliRunner().invoke(app, ["run", "--dry-run", "--profile", "tiny", *args])
    assert res.exit_code == 0, res.output
    return {line.split("│")[1].strip(): line for line in res.output.splitlines() if line.startswith("│")}


def test_precision_is_part_of_the_config_hash():
    """A bf16 run and an fp32 run of the same settings are two runs: neither result is reused for the other."""
    fp32, bf16 = _plan("--no-amp"), _plan("--amp")
    assert set(fp32) == set(bf16) == {"onet", "joint-all", "cls-probe-onet"}
    for run in fp32:
        assert " fp32 " in fp32[run] and " bf16 " in bf16[run]
        hash32 = [c.strip() for c in fp32[run].split("│")][9]
        hash16 = [c.strip() for c in bf16[run].split("│")][9]
        assert len(hash32) == len(hash16) == 10 and hash32 != hash16, run
