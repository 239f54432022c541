"""Writes the fixed results folder that tests/test_report_outputs.py renders (tiny runs of the default suite
over two seeds and of table7's runs), keeping only what reports read: result.json, scores.csv and
train_log.csv (no weights). Run from the repository root:

    python tests/records/reports/make_fixture.py

then `python tests/records/reports/make_fixture.py --expected` to record the outputs beside it (only when an
output is meant to change; say why in the commit)."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURE = HERE / "results"
KEEP = ("result.json", "scores.csv", "train_log.csv")


def bench(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "bench.cli", *args], check=True,
                   env={**os.environ, "IMPLICIT_BENCH_AMP": "false", "OMP_NUM_THREADS": "1"})


if __name__ == "__main__":
    if sys.argv[1:] == ["--expected"]:
        sys.path.insert(0, str(HERE.parent.parent.parent))
        from tests.test_report_outputs import CASES, render

        for name in CASES:
            (HERE / "expected" / f"{name}.txt").parent.mkdir(exist_ok=True)
            (HERE / "expected" / f"{name}.txt").write_text(render(name), encoding="utf-8")
        sys.exit(0)
    tmp = Path(tempfile.mkdtemp())
    bench("run", "--suite", "default", "--profile", "tiny", "--seeds", "2", "-r", str(tmp), "--quiet")
    bench("run", "--suite", "table7", "--profile", "tiny", "-r", str(tmp), "--quiet", "--no-eval-mesh")
    shutil.rmtree(FIXTURE, ignore_errors=True)
    for path in tmp.rglob("*"):
        if path.name in KEEP:
            target = FIXTURE / path.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
