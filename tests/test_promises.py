"""Promises of docs/reliability.md that need a test of their own, each able to fail: a failed run does not
stop the runs after it; a write killed half-way leaves the old file, never half of the new one."""

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bench.cli import app
from bench.results import scan_results

ROOT = Path(__file__).resolve().parent.parent

SUITE = '''
[suites.goes-on]
profile = "tiny"

[[suites.goes-on.runs]]
name = "broken"
tasks = ["reconstruction"]
model = { encoder = "tests.bad_encoders:Raises" }

[[suites.goes-on.runs]]
name = "fine"
tasks = ["reconstruction"]
'''


def test_a_failed_run_does_not_stop_the_runs_after_it(tmp_path):
    cfg = tmp_path / "bench.toml"
    cfg.write_text((ROOT / "bench.toml").read_text() + SUITE)
    res = CliRunner().invoke(app, ["run", "--suite", "goes-on", "-c", str(cfg), "-r", str(tmp_path / "r"), "--quiet",
                                   "--no-eval-mesh"])
    assert res.exit_code == 1  # a suite with a failed run exits 1 ...
    found = {r.run_name: r for r in scan_results(tmp_path / "r")}
    assert found["broken"].status == "failed" and "kaboom inside the plugin" in found["broken"].error
    assert found["fine"].status == "complete"  # ... after finishing the runs after it
    assert "[broken] FAILED" in res.output


WRITER = '''
import os, sys, time
from pathlib import Path
from bench._io import atomic_write_bytes

path = Path(sys.argv[1])
atomic_write_bytes(path, b"old" * 1000)
real_fsync = os.fsync
def slow_fsync(fd):  # the new bytes are written, not yet renamed into place: the moment to be killed
    real_fsync(fd)
    print("writing", flush=True)
    time.sleep(60)
os.fsync = slow_fsync
atomic_write_bytes(path, b"new" * 1_000_000)
'''


def test_a_write_killed_half_way_leaves_the_old_file(tmp_path):
    path = tmp_path / "result.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        proc.kill()  # SIGKILL: no cleanup handler runs
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert path.read_bytes() == b"old" * 1000  # the old file, whole
    leftovers = [p.name for p in tmp_path.iterdir() if p != path]
    assert all(name.startswith(".result.json.") and name.endswith(".tmp") for name in leftovers), leftovers
