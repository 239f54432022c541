"""Behaviour kept: the smoke suite, trained with a fixed seed, gives the metrics of its record.

smoke_before_refactor.json was recorded before the trainer/evaluator refactor, and the refactored code
matched it to 1e-6 (commit "Tasks own their evaluation ..."). Evaluation protocol v2 (segmentation on the
IoU points, the paper's absent-part rule, stratified subsets) and synthetic generator 4 (fine-grained
classes) then changed the numbers on purpose; smoke_protocol_v2.json is the record since, written by
`python tests/records/make_record.py`. A change that moves these numbers must say why and re-record."""

import json
from pathlib import Path

import pytest

from bench.training.plan import resolve_suite
from bench.training.runner import run_suite

RECORD = Path(__file__).parent / "records" / "smoke_protocol_v2.json"


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
