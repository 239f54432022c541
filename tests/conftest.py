"""Shared fixtures: the tiny synthetic dataset (generated once per session) and the tiny config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRECISIONS = ("fp32", "bf16")


def pytest_addoption(parser):
    parser.addoption("--bench-precision", choices=PRECISIONS, default=os.environ.get("BENCH_TEST_PRECISION", "fp32"),
                     help="What train.amp = auto resolves to in the tests (default fp32, so that their numbers do not "
                          "depend on the CPU kind; bf16 exercises the AMX / AVX512-BF16 path, slowly where emulated).")


@pytest.fixture(scope="session", autouse=True)
def bench_precision(pytestconfig):
    """The tests' precision, pinned through IMPLICIT_BENCH_AMP for this process and every subprocess it starts.
    Tests that are about precision pass --amp / --no-amp (or train.amp) explicitly, which wins over the pin."""
    name = pytestconfig.getoption("--bench-precision")
    old = os.environ.get("IMPLICIT_BENCH_AMP")
    os.environ["IMPLICIT_BENCH_AMP"] = "true" if name == "bf16" else "false"
    yield name
    if old is None:
        os.environ.pop("IMPLICIT_BENCH_AMP", None)
    else:
        os.environ["IMPLICIT_BENCH_AMP"] = old


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory):
    """Never touch the user's ~/.cache: generated datasets go to a session folder."""
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("IMPLICIT_BENCH_CACHE")
    os.environ["IMPLICIT_BENCH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("IMPLICIT_BENCH_CACHE", None)
    else:
        os.environ["IMPLICIT_BENCH_CACHE"] = old


@pytest.fixture(scope="session")
def tiny_info(_isolated_cache):
    from bench.config import DataConfig
    from bench.data.dataset import open_dataset

    return open_dataset(DataConfig(preset="tiny"), progress=False)


@pytest.fixture(scope="session")
def base_config():
    from bench.config import load_config

    return load_config(ROOT / "bench.toml")


@pytest.fixture()
def tiny_config(base_config, tmp_path):
    """The shipped config with the tiny profile, writing results under tmp_path."""
    cfg = base_config.with_overrides(base_config.profiles["tiny"], "profile tiny")
    return cfg.with_overrides({"output": {"results_dir": str(tmp_path / "results")}}, "test")
