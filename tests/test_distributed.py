"""DDP through torchrun with 2 CPU processes (gloo): the first step's loss matches a single process."""

import os
import subprocess
import sys
from pathlib import Path

from bench.results import scan_results

ROOT = Path(__file__).resolve().parent.parent


def _config(tmp_path) -> Path:
    text = (ROOT / "bench.toml").read_text() + '''
[suites.ddp]
profile = "tiny"

[[suites.ddp.runs]]
name = "onet"
tasks = ["reconstruction", "classification"]
protocol = "joint"

[[suites.ddp.runs]]
name = "probe"
tasks = ["classification"]
protocol = "frozen"
encoder_from = "onet"
'''
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_ddp_two_cpu_processes_match_single_process_first_loss(tmp_path, tiny_info):
    cfg = _config(tmp_path)
    # no batch norm anywhere (onet_pointnet + concat decoder), so the split batch is exactly equivalent
    common = ["run", "--suite", "ddp", "-c", str(cfg), "--quiet", "--device", "cpu", "--no-eval-mesh",
              "--set", "model.decoder=concat", "--set", "train.batch_size=4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run([sys.executable, "-m", "bench.cli", *common, "-r", str(tmp_path / "single")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert single.returncode == 0, single.stdout + single.stderr
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29531",
                          "-m", "bench.cli", *common, "-r", str(tmp_path / "ddp")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stdout[-3000:] + ddp.stderr[-3000:]
    one = {r.run_name: r for r in scan_results(tmp_path / "single")}
    two = {r.run_name: r for r in scan_results(tmp_path / "ddp")}
    assert set(two) == {"onet", "probe"} and all(r.status == "complete" for r in two.values())
    assert two["onet"].training["world_size"] == 2 and one["onet"].training["world_size"] == 1
    assert abs(two["onet"].training["first_loss"] - one["onet"].training["first_loss"]) < 1e-5
    assert ddp.stdout.count("suite ddp") == 2  # plan and leaderboard printed once, by rank 0
