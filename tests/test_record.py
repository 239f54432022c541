"""Behaviour kept: the smoke suite, trained with a fixed seed, gives the metrics recorded before the
trainer/evaluator refactor (tests/records/smoke_before_refactor.json, written by make_record.py)."""

import json
from pathlib import Path

import pytest

from bench.training.plan import resolve_suite
from bench.training.runner import run_suite

RECORD = Path(__file__).parent / "records" / "smoke_before_refactor.json"


def test_smoke_suite_matches_the_record(tiny_config):
    cfg = tiny_config.with_overrides({"train": {"seed": 0, "threads": 1}}, "record")
    results = {r.run_name: r for r in run_suite(resolve_suite(cfg, "smoke"), progress=False, log=lambda m: None)}
    record = json.loads(RECORD.read_text())
    assert set(results) == set(record)
    for run, expected in record.items():
        for task, metrics in expected["metrics"].items():
            for name, value in metrics.items():
                got = results[run].metrics[task][name]
                assert got == pytest.approx(value, abs=1e-6), (run, task, name)
