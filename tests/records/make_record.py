"""Writes the smoke-suite record: python tests/records/make_record.py OUT.json (tiny preset, seed 0, 1 thread)."""

import json
import os
import sys
import tempfile

if __name__ == "__main__":  # data generation spawns workers that re-import this file
    os.environ.setdefault("IMPLICIT_BENCH_CACHE", tempfile.mkdtemp())
    from bench.config import load_config
    from bench.training.plan import resolve_suite
    from bench.training.runner import run_suite

    cfg = load_config("bench.toml")
    cfg = cfg.with_overrides(cfg.profiles["tiny"], "profile tiny")
    cfg = cfg.with_overrides({"output": {"results_dir": tempfile.mkdtemp()}, "train": {"seed": 0, "threads": 1}}, "record")
    results = run_suite(resolve_suite(cfg, "smoke", None), progress=False, log=lambda m: None)
    out = {r.run_name: {"metrics": r.metrics, "per_category": r.per_category} for r in results}
    with open(sys.argv[1], "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=True)
