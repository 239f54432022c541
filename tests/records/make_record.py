"""Writes the smoke-suite record (tiny preset, seed 0, 1 thread):

    python tests/records/make_record.py tests/records/smoke_protocol_v2.json

The metrics are the fp32 run's; both precisions' config hashes and first losses are recorded, since those
are exact (hashes) or nearly so (a first loss moves by kernel rounding only). ``--single OUT THREADS``
writes one run of the suite in the precision IMPLICIT_BENCH_AMP pins (what tests/records/spread.py runs
under its kernel variants); an optional SEED after THREADS."""

import json
import os
import sys
import tempfile


def smoke_record(threads: int = 1, seed: int = 0) -> dict:
    from bench.config import load_config
    from bench.training.plan import resolve_suite
    from bench.training.runner import run_suite

    cfg = load_config("bench.toml")
    cfg = cfg.with_overrides(cfg.profiles["tiny"], "profile tiny")
    cfg = cfg.with_overrides({"output": {"results_dir": tempfile.mkdtemp()}, "train": {"seed": seed, "threads": threads}},
                             "record")
    results = run_suite(resolve_suite(cfg, "smoke", None), progress=False, log=lambda m: None)
    return {r.run_name: {"metrics": r.metrics, "per_category": r.per_category, "config_hash": r.config_hash,
                         "precision": r.precision, "steps": r.steps, "first_loss": r.training.get("first_loss"),
                         "dataset_revision": r.dataset.get("revision"), "error": r.error}
            for r in results}


def combined_record() -> dict:
    records = {}
    for precision, pin in (("fp32", "false"), ("bf16", "true")):
        os.environ["IMPLICIT_BENCH_AMP"] = pin  # read when each run is planned
        records[precision] = smoke_record()
    out = {}
    for run, r in records["fp32"].items():
        out[run] = {"metrics": r["metrics"], "per_category": r["per_category"], "steps": r["steps"],
                    "dataset_revision": r["dataset_revision"],
                    **{p: {"config_hash": records[p][run]["config_hash"], "first_loss": records[p][run]["first_loss"]}
                       for p in records}}
    return out


if __name__ == "__main__":  # data generation spawns workers that re-import this file
    os.environ.setdefault("IMPLICIT_BENCH_CACHE", tempfile.mkdtemp())
    if sys.argv[1] == "--single":
        record = smoke_record(int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
        out = sys.argv[2]
    else:
        record, out = combined_record(), sys.argv[1]
    with open(out, "w") as fh:
        json.dump(record, fh, indent=1, sort_keys=True)
