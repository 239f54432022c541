"""Hostile files and interruptions: a pickled payload must not run; a killed run leaves no half files."""

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from bench.errors import TrainingError
from bench.training.checkpoint import load_checkpoint, save_checkpoint

ROOT = Path(__file__).resolve().parent.parent


class _Payload:
    def __reduce__(self):
        return (os.system, ("touch /tmp/implicit_bench_pwned",))


def test_pickled_payload_in_checkpoint_does_not_execute(tmp_path):
    marker = Path("/tmp/implicit_bench_pwned")
    marker.unlink(missing_ok=True)
    path = tmp_path / "last.pt"
    with open(path, "wb") as fh:
        pickle.dump({"model": _Payload()}, fh)
    with pytest.raises(TrainingError, match="weights_only=True"):
        load_checkpoint(path)
    assert not marker.exists()


def test_checkpoint_round_trip_is_atomic(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"w": torch.arange(3), "state": {"step": 3, "history": [{"loss": 0.5}]}})
    assert load_checkpoint(path)["state"]["step"] == 3
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def _bench(args, env, **kw):
    return subprocess.Popen([sys.executable, "-m", "bench.cli", *args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_resumes(tmp_path, sig, tiny_info):
    """Kill a real `bench run` mid-training: no half-written files; the next run resumes and finishes."""
    env = {**os.environ, "IMPLICIT_BENCH_CACHE": os.environ["IMPLICIT_BENCH_CACHE"]}
    results = tmp_path / "results"
    args = ["run", "--suite", "smoke", "-r", str(results), "--quiet",
            "--set", "train.max_steps=150", "--set", "train.checkpoint_every=5", "--set", "train.eval_every=100"]
    proc = _bench(args, env)
    deadline = time.time() + 120
    last = None
    while time.time() < deadline:
        found = list(results.glob("smoke/onet-*/last.pt"))
        if found:
            last = found[0]
            time.sleep(0.2)
            break
        time.sleep(0.05)
    assert last is not None, "no checkpoint appeared"
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 1 and "checkpoint saved" in out, out
    leftovers = [p for p in results.rglob("*") if p.name.endswith(".tmp")]
    assert not leftovers or sig == signal.SIGKILL  # SIGKILL may leave a temp file, never a half result
    assert not list(results.rglob("result.json"))
    torch.load(last, weights_only=True)  # whatever is there is a complete checkpoint
    again = _bench(args, env)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert "resuming from step" in out
    assert len(list(results.rglob("result.json"))) == 4


def test_two_processes_on_one_results_folder(tmp_path, tiny_info):
    env = dict(os.environ)
    results = tmp_path / "results"
    args = ["run", "--suite", "smoke", "-r", str(results), "--quiet", "--set", "train.max_steps=20"]
    a, b = _bench(args, env), _bench(args, env)
    out_a, _ = a.communicate(timeout=300)
    out_b, _ = b.communicate(timeout=300)
    assert a.returncode == 0 and b.returncode == 0, out_a + out_b
    from bench.results import scan_results

    found = scan_results(results)
    assert len(found) == 4 and all(r.status == "complete" for r in found)
    # each run was trained once: the other process waited for it and reused its result
    assert (out_a + out_b).count("reusing finished run") == 4


def test_lock_is_exclusive(tmp_path):
    from bench.training.lock import run_lock

    code = ("import sys, time\nfrom bench.training.lock import run_lock\n"
            "with run_lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(1.5)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert holder.stdout.readline().strip() == "locked"
    waited = []
    t = time.time()
    with run_lock(tmp_path, on_wait=lambda: waited.append(True)):
        elapsed = time.time() - t
    holder.wait(timeout=10)
    assert waited and elapsed > 0.5
