import pytest
from typer.testing import CliRunner

from bench.cli import app
import numpy as np
import pandas as pd

from bench.reports.claims import check_claims
from bench.reports.compare import compare_frame
from bench.reports.leaderboard import build_leaderboard
from bench.reports.paper import paper_comparison, paper_tables
from bench.results import write_result
from tests.test_results import make_result


def test_paper_tables_load_with_rows():
    tables = paper_tables()
    assert set(tables) == {f"table{i}" for i in range(1, 9)}
    assert tables["table2"]["rows"][0] == {"row": "ONet baseline", "run": "onet-baseline", "iou": 0.78, "chamfer_l1": 0.0081}
    assert len(tables["table7"]["columns"]) == len(tables["table7"]["rows"][0]["values"]) == 17


def test_compare_deltas_and_direction():
    a = make_result(run_name="a", metrics={"reconstruction": {"iou": 0.6, "chamfer_l1": 0.02}})
    b = make_result(run_name="b", metrics={"reconstruction": {"iou": 0.7, "chamfer_l1": 0.03}})
    frame = compare_frame([a, b], {"iou": "higher", "chamfer_l1": "lower"}).set_index("metric")
    assert frame.loc["iou", "delta s/b"] == 0.7 - 0.6
    assert frame.loc["iou", "better"] == "s/b" and frame.loc["chamfer_l1", "better"] == "s/a"


def test_paper_comparison_and_claims_without_scores_are_inconclusive():
    rs = [
        make_result(suite="table2", run_name="onet-baseline", metrics={"reconstruction": {"iou": 0.75, "iou_class_mean": 0.75}}),
        make_result(suite="table2", run_name="joint-classification-onet",
                    metrics={"reconstruction": {"iou": 0.745, "iou_class_mean": 0.745},
                             "classification": {"accuracy": 0.9, "accuracy_class_mean": 0.9}}),
        make_result(suite="table2", run_name="classification-baseline", metrics={"classification": {"accuracy": 0.905, "accuracy_class_mean": 0.905}}),
        make_result(suite="table2", run_name="classification-w-onet-encoder", metrics={"classification": {"accuracy": 0.7, "accuracy_class_mean": 0.7}}),
    ]
    frame, dataset = paper_comparison(rs, "table2")
    row = frame.set_index("row").loc["ONet baseline"]
    assert row["iou (paper)"] == 0.78 and row["iou (ours)"] == 0.75
    verdicts = check_claims(rs, "table2")  # no results folder: no per-shape scores, so nothing can be bounded
    assert [v.verdict for v in verdicts] == ["inconclusive"] * 4 + ["n/a"]
    assert verdicts[0].diff == pytest.approx(-0.005) and "no per-shape scores" in verdicts[0].line()


def _scored(tmp_path, run, metrics_by_task, rows, suite="default", seed=0):
    """A finished run with result.json and a scores.csv of the given per-shape rows."""
    from bench.evaluation.aggregate import aggregate
    from bench.evaluation.scores import write_scores

    metrics, per_cat, intervals = aggregate(rows, list(metrics_by_task), 200)
    r = make_result(suite=suite, run_name=run, tasks=list(metrics_by_task), metrics=metrics, seed=seed,
                    metric_info={t: {"main": m, "directions": {m: "higher"}} for t, m in metrics_by_task.items()})
    run_dir = tmp_path / suite / f"{run}-{r.config_hash}"
    write_result(r, run_dir)
    write_scores(rows, run_dir)
    return r


def _rows(task, metric, values, n_cat=4):
    return [{"shape": f"c{k % n_cat}/s{k}", "category": f"c{k % n_cat}", task: {metric: float(v)}}
            for k, v in enumerate(values)]


def test_compare_noise_is_no_difference_and_a_real_gap_is_better(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.uniform(0.5, 0.9, 200)  # shape difficulty, shared by both runs
    a = _rows("reconstruction", "iou", base + rng.normal(0, 0.01, 200))
    noise = _rows("reconstruction", "iou", base + rng.normal(0, 0.01, 200))
    gap = _rows("reconstruction", "iou", base + 0.05 + rng.normal(0, 0.01, 200))
    results = [_scored(tmp_path, n, {"reconstruction": "iou"}, rows) for n, rows in (("a", a), ("noise", noise), ("gap", gap))]
    scores = [pd.read_csv(tmp_path / "default" / f"{n}-abc" / "scores.csv") for n in ("a", "noise", "gap")]
    frame = compare_frame(results, {"iou": "higher"}, scores).set_index("metric")
    assert frame.loc["iou", "verdict default/noise"] == "no significant difference"
    assert frame.loc["iou", "verdict default/gap"] == "better"
    assert frame.loc["iou", "low default/gap"] > 0.04 and frame.loc["iou", "high default/gap"] < 0.06
    res = CliRunner().invoke(app, ["compare", "default/a", "default/gap", "-r", str(tmp_path), "-f", "csv"])
    assert res.exit_code == 0 and "better" in res.output


def test_claims_are_verdicts_from_paired_intervals(tmp_path):
    rng = np.random.default_rng(1)
    base = rng.uniform(0.5, 0.9, 120)
    onet = _rows("reconstruction", "iou", base)
    joint_iou = _rows("reconstruction", "iou", base - 0.005 + rng.normal(0, 0.005, 120))
    probe = [{**r, "classification": {"accuracy": float(k % 2)}} for k, r in enumerate(_rows("x", "y", base))]
    for r, j in zip(probe, joint_iou):
        r.pop("x")
    joint = [{**j, "classification": {"accuracy": 1.0}} for j in joint_iou]
    rs = [_scored(tmp_path, "onet", {"reconstruction": "iou"}, onet),
          _scored(tmp_path, "joint-all", {"reconstruction": "iou", "classification": "accuracy"}, joint),
          _scored(tmp_path, "cls-probe-onet", {"classification": "accuracy"}, probe)]
    verdicts = {v.claim.metric: v for v in check_claims(rs, "default", tmp_path)}
    assert verdicts["iou"].verdict == "reproduced"  # a 0.005 cost, tightly bounded, is within the 0.03 tolerance
    assert verdicts["accuracy"].verdict == "reproduced"  # joint 1.0 vs probe 0.5
    assert "paired bootstrap" in verdicts["iou"].line()
    # The same joint run 0.1 IoU below the baseline contradicts the claim.
    worse = _rows("reconstruction", "iou", base - 0.1 + rng.normal(0, 0.005, 120))
    rs[1] = _scored(tmp_path, "joint-all", {"reconstruction": "iou"}, worse)
    assert check_claims(rs, "default", tmp_path)[0].verdict == "contradicted"


def test_report_without_results_prints_the_paper_table(tmp_path):
    res = CliRunner().invoke(app, ["report", "--suite", "table6", "-r", str(tmp_path), "--paper"])
    assert res.exit_code == 0, res.output
    assert "Joint Segmentation" in res.output and "0.53" in res.output


def test_report_refuses_to_mix_datasets(tmp_path):
    for name, ds in (("onet", "synthetic-small"), ("joint-all", "shapenet-onet")):
        write_result(make_result(suite="default", run_name=name, dataset={"name": ds, "revision": ds}),
                     tmp_path / "default" / f"{name}-1")
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(tmp_path)])
    assert res.exit_code == 1 and "must not mix" in res.output and "--dataset" in res.output
    ok = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(tmp_path), "--dataset", "shapenet-onet"])
    assert ok.exit_code == 0, ok.output


def test_html_escapes_hostile_names(tmp_path):
    evil = "<script>alert(1)</script>"
    # run names are path components and must be safe names; free text (an encoder's name, a dataset's) is not
    write_result(make_result(encoder={"name": evil, "params": 10}, dataset={"name": evil, "revision": "r"}),
                 tmp_path / "s" / "evil-1")
    out = tmp_path / "lb.html"
    res = CliRunner().invoke(app, ["leaderboard", "-r", str(tmp_path), "--format", "html", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert evil not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<table" in text and "sortable" in text


def test_cli_compare_and_report(tmp_path):
    for name, iou in (("onet", 0.7), ("joint-all", 0.69)):
        write_result(make_result(suite="default", run_name=name, metrics={"reconstruction": {"iou": iou}}),
                     tmp_path / "default" / f"{name}-1")
    res = CliRunner().invoke(app, ["compare", "default/onet", "default/joint-all", "-r", str(tmp_path), "-f", "csv"])
    assert res.exit_code == 0, res.output
    assert "default/onet" in res.output.splitlines()[0]
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(tmp_path), "--paper", "--table", "table2"])
    assert res.exit_code == 0, res.output
    assert "different datasets" in res.output
    assert "joint training costs no reconstruction IoU" in res.output and "inconclusive" in res.output
    from bench.reports.paper import paper_comparison
    from bench.results import scan_results

    frame, _ = paper_comparison(scan_results(tmp_path), "table2", "default")  # default's runs play table2's roles
    assert frame.set_index("row").loc["ONet baseline", "iou (ours)"] == 0.7
    bad = CliRunner().invoke(app, ["compare", "default/onett", "default/onet", "-r", str(tmp_path)])
    assert bad.exit_code == 1 and "Did you mean 'default/onet'" in bad.output


def test_leaderboard_filters():
    rs = [make_result(run_name="a"), make_result(run_name="b", encoder={"name": "dgcnn"})]
    assert list(build_leaderboard(rs, encoder="dgcnn").frame["run"]) == ["b"]


def test_compare_whole_suites_pairs_runs_by_name_and_per_category(tmp_path):
    for suite, iou in (("s1", 0.6), ("s2", 0.7)):
        for run in ("a", "b"):
            r = make_result(suite=suite, run_name=run, metrics={"reconstruction": {"iou": iou, "chamfer_l1": 0.01}},
                            per_category={"reconstruction": {"chair": {"iou": iou - 0.1}, "table": {"iou": iou + 0.1}}})
            write_result(r, tmp_path / suite / f"{run}-x")
    res = CliRunner().invoke(app, ["compare", "s1", "s2", "-r", str(tmp_path), "-f", "csv"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    headers = [line for line in lines if line.startswith("task,metric")]
    assert len(headers) == 2 and all("s1/a" in h or "s1/b" in h for h in headers)  # one table per run name
    iou_rows = [line for line in lines if line.startswith("reconstruction,iou,")]
    assert all(",0.6,0.7," in line and ",s2/" in line for line in iou_rows)  # s2 is better on iou
    per_cat = CliRunner().invoke(app, ["compare", "s1/a", "s2/a", "-r", str(tmp_path), "--per-category", "-f", "csv"])
    assert per_cat.exit_code == 0, per_cat.output
    header, first, second = per_cat.output.splitlines()[:3]
    assert header.split(",")[:5] == ["run", "task", "metric", "chair", "table"]
    assert first.startswith("s1/a,reconstruction,iou,0.5") and second.startswith("s2/a,reconstruction,iou,0.6")


def test_compare_of_runs_over_seeds_pairs_them_seed_by_seed():
    """Two runs of a suite run with --seeds 2 (the fixed folder of tests/test_report_outputs.py)."""
    from pathlib import Path

    results = Path(__file__).parent / "records" / "reports" / "results"
    res = CliRunner().invoke(app, ["compare", "default/onet", "default/joint-all", "-r", str(results), "--all"])
    assert res.exit_code == 0, res.output
    assert "compare: seed 0" in res.output and "compare: seed 1" in res.output
    # table7 ran seed 0 only: that seed alone is paired
    res = CliRunner().invoke(app, ["compare", "default/onet", "table7/onet-baseline", "-r", str(results)])
    assert res.exit_code == 0 and "compare: seed 0" in res.output and "seed 1" not in res.output
