"""`bench run --shard i/n` and `--runs`: disjoint shares whose union is the suite, probes with their encoders."""

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.errors import ConfigError
from bench.training.plan import resolve_suite, select_runs


def test_shards_partition_the_suite_and_keep_probes_with_their_stage_one(base_config):
    runs = resolve_suite(base_config, "table8", seeds=2)  # 14 runs; 3 probes per seed depend on others
    shards = [select_runs(runs, shard=(i, 3)) for i in range(3)]
    hashes = [r.config_hash for s in shards for r in s]
    assert sorted(hashes) == sorted(r.config_hash for r in runs) and len(set(hashes)) == len(hashes)
    for share in shards:
        done = set()
        for r in share:
            if r.stage_one is not None:
                assert r.stage_one.config_hash in done  # trained earlier in the same shard
            done.add(r.config_hash)
    assert all(share for share in shards)


def test_runs_filter_brings_the_stage_one_run(base_config):
    runs = resolve_suite(base_config, "table8")
    picked = select_runs(runs, ["classification-w-seg-onet-encoder"])
    assert [r.name for r in picked] == ["recon-seg", "classification-w-seg-onet-encoder"]
    with pytest.raises(ConfigError, match="Did you mean 'recon-seg'"):
        select_runs(runs, ["recon-sge"])


def test_shard_through_the_cli(tmp_path):
    res = CliRunner().invoke(app, ["run", "--suite", "table8", "--dry-run", "--shard", "1/2", "-r", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "recon-seg" in res.output and "onet-baseline" not in res.output
    bad = CliRunner().invoke(app, ["run", "--suite", "table8", "--dry-run", "--shard", "2/2"])
    assert bad.exit_code == 1 and "0 <= i < n" in bad.output
