"""Runs of different precisions are different experiments: compare refuses to pair them unless asked (and
then every verdict says so), a report selects one precision, and claims never pair a bf16 run with an
fp32 one."""

from typer.testing import CliRunner

from bench.cli import app
from bench.evaluation.scores import write_scores
from bench.reports.claims import check_claims
from bench.results import scan_results, write_result
from tests.test_results import make_result

SHAPES = [(f"c{k % 2}/s{k}", f"c{k % 2}") for k in range(8)]


def _write(root, name, precision, iou, seed=0):
    folder = root / "default" / f"{name}-{precision}{seed}"
    r = make_result(suite="default", run_name=name, seed=seed, training={"precision": precision},
                    metrics={"reconstruction": {"iou": iou}},
                    metric_info={"reconstruction": {"main": "iou", "directions": {"iou": "higher"}}})
    write_result(r, folder)
    # per-shape scores around the mean, so that paired intervals exist
    write_scores([{"shape": s, "category": c, "reconstruction": {"iou": iou + 0.01 * (k % 3 - 1)}}
                  for k, (s, c) in enumerate(SHAPES)], folder)


def test_compare_refuses_mixed_precision_unless_asked_and_then_says_so(tmp_path):
    _write(tmp_path, "onet", "fp32", 0.70)
    _write(tmp_path, "joint-all", "bf16", 0.69)
    runner = CliRunner()
    res = runner.invoke(app, ["compare", str(tmp_path / "default" / "onet-fp320"), str(tmp_path / "default" / "joint-all-bf160")])
    assert res.exit_code == 1
    assert "different precisions" in res.output and "default/onet fp32" in res.output and "--mixed-precision" in res.output
    res = runner.invoke(app, ["compare", str(tmp_path / "default" / "onet-fp320"),
                              str(tmp_path / "default" / "joint-all-bf160"), "--mixed-precision", "-f", "csv"])
    assert res.exit_code == 0, res.output
    verdicts = [line for line in res.output.splitlines() if line.startswith("reconstruction,iou")]
    assert verdicts and "mixed precision: default/onet fp32" in verdicts[0]


def test_report_refuses_to_mix_precisions_and_selects_one(tmp_path):
    for precision in ("fp32", "bf16"):
        _write(tmp_path, "onet", precision, 0.70)
        _write(tmp_path, "joint-all", precision, 0.69)
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(tmp_path)])
    assert res.exit_code == 1 and "must not mix" in res.output and "--precision" in res.output
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(tmp_path), "--precision", "bf16"])
    assert res.exit_code == 0, res.output
    assert "joint training costs no reconstruction IoU" in res.output and "1 seed, paired bootstrap" in res.output


def test_claims_never_pair_a_bf16_run_with_an_fp32_one(tmp_path):
    _write(tmp_path, "onet", "fp32", 0.70)
    _write(tmp_path, "joint-all", "bf16", 0.69)
    (verdict, _) = check_claims(scan_results(tmp_path), "default", tmp_path)
    assert verdict.verdict == "n/a" and "different precisions are not paired" in verdict.evidence
    # two seeds, one precision each: not two seeds of one experiment
    _write(tmp_path, "onet", "bf16", 0.70, seed=1)
    _write(tmp_path, "joint-all", "fp32", 0.69, seed=1)
    _write(tmp_path, "onet", "fp32", 0.71, seed=2)
    _write(tmp_path, "joint-all", "fp32", 0.70, seed=2)
    _write(tmp_path, "onet", "bf16", 0.71, seed=3)
    _write(tmp_path, "joint-all", "bf16", 0.70, seed=3)
    (verdict, _) = check_claims(scan_results(tmp_path), "default", tmp_path)
    assert verdict.verdict == "n/a" and "more than one precision" in verdict.evidence
