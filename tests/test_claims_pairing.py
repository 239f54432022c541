"""The paper's claims pair the right runs: those of one setup (one invocation of the suite, every seed of it),
never a step-limited one; a folder of several setups gets the claims per setup; the paper comparison averages
a run's seeds; Tables 3 and 5 fill both their columns; the verdicts carry p-values, the family-wise (Holm)
verdict, and the paper's own difference.

Most results here are written by hand (result.json + scores.csv with chosen values, configs laid out as
`bench run` records them); one module fixture trains the default suite for real, twice (the point-cloud
encoder and dgcnn), into one folder, as a new user would."""

from __future__ import annotations

import copy
import io
import math
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench._io import stable_hash
from bench.cli import app
from bench.config import load_config
from bench.evaluation.aggregate import aggregate
from bench.evaluation.scores import write_scores
from bench.reports.claims import CLAIMS, check_claims
from bench.reports.paper import paper_comparison, paper_difference, paper_tables
from bench.reports.select import split_setups
from bench.results import RunResult, scan_results, write_result
from tests.conftest import ROOT

# The default suite's runs as bench.toml has them: their own tables differ (a legitimate difference).
SPECS = {
    "onet": {"tasks": ["reconstruction"], "protocol": "single", "encoder_from": "", "overrides": {}},
    "joint-all": {"tasks": ["reconstruction", "classification", "segmentation"], "protocol": "joint",
                  "encoder_from": "", "overrides": {"model": {"layout": "joint"}}},
    "cls-probe-onet": {"tasks": ["classification"], "protocol": "frozen", "encoder_from": "onet",
                       "overrides": {"train": {"max_steps": 600}}},
}
KWARGS = {"onet_pointnet": {"hidden_dim": 16, "n_blocks": 2}, "dgcnn": {"k": 4, "emb_dim": 16}}
SHAPES = [(f"c{k % 4}/s{k}", f"c{k % 4}") for k in range(8)]  # 4 categories of 2 shapes: stratified intervals exist


def _merge(into: dict, tables: dict) -> None:
    for section, values in tables.items():
        into.setdefault(section, {}).update(copy.deepcopy(values))


def config_of(run: str, spec: dict, *, encoder: str = "onet_pointnet", seed: int = 0, cli: dict | None = None,
              stage_one: str | None = None, suite: str = "default", profile: str = "tiny") -> dict:
    """``result.config`` as `bench run` records it: base < profile < the run's own tables < the command line."""
    sections = {"data": {"name": "synthetic", "preset": "tiny", "n_query_points": 128},
                "model": {"encoder": "onet_pointnet", "latent_dim": 16, "layout": "parallel"},
                "train": {"lr": 0.001, "max_steps": 6, "seed": seed, "amp": "fp32"},
                "eval": {"iou_threshold": 0.5, "mesh_shapes": 1}}
    kwargs = copy.deepcopy(KWARGS)
    for tables in (spec["overrides"], {"model": {"encoder": encoder}}, cli or {}):
        _merge(sections, {k: v for k, v in tables.items() if k != "encoder_kwargs"})
        for name, kw in tables.get("encoder_kwargs", {}).items():
            kwargs.setdefault(name, {}).update(kw)
    all_sections = copy.deepcopy(sections)
    all_sections["data"].setdefault("data_dir", "")  # every setting, at its default too
    all_sections["data"].setdefault("test_view", -1)
    return {"tasks": spec["tasks"], "protocol": spec["protocol"], "lambdas": {t: 1.0 for t in spec["tasks"]},
            **sections, "encoder_kwargs": kwargs.get(sections["model"]["encoder"], {}), "stage_one": stage_one,
            "run": {"name": run, "tasks": spec["tasks"], "protocol": spec["protocol"],
                    "encoder_from": spec["encoder_from"], "lambdas": {}, "description": "",
                    "overrides": copy.deepcopy(spec["overrides"])},
            "suite": suite, "profile": profile, "all_sections": all_sections}


def write_run(root, run: str, spec: dict, scores: dict[str, list[float]], *, suite: str = "default",
              seed: int = 0, step_limited: bool = False, metrics: dict | None = None, categories=SHAPES,
              **config_kw) -> RunResult:
    """A finished run: result.json (metrics aggregated from ``scores``, "task.metric" -> one value per shape,
    unless ``metrics`` is given) and scores.csv."""
    cfg = config_of(run, spec, seed=seed, suite=suite, **config_kw)
    rows = []
    for k, (shape, category) in enumerate(categories):
        row = {"shape": shape, "category": category}
        for column, values in scores.items():
            task, metric = column.split(".")
            row.setdefault(task, {})[metric] = values[k]
        rows.append(row)
    tasks = list(dict.fromkeys(c.split(".")[0] for c in scores))
    agg, per_cat, _ = aggregate(rows, tasks, 0)
    lower = {"chamfer_l1"}
    info = {t: {"main": next(c.split(".")[1] for c in scores if c.startswith(t + ".")),
                "directions": {c.split(".")[1]: "lower" if c.split(".")[1] in lower else "higher"
                               for c in scores if c.startswith(t + ".")}} for t in tasks}
    result = RunResult(suite=suite, run_name=run, config_hash=stable_hash(cfg), config=cfg, status="complete",
                       protocol=spec["protocol"], tasks=spec["tasks"],
                       encoder={"name": cfg["model"]["encoder"], "params": 10},
                       dataset={"name": "synthetic-tiny", "revision": "d4b030197b"},
                       metrics=metrics or agg, per_category=per_cat, metric_info=info, seed=seed,
                       step_limited=step_limited, training={"precision": "fp32"})
    run_dir = root / suite / f"{run}-{result.config_hash}"
    write_result(result, run_dir)
    write_scores(rows, run_dir)
    return result


def _paper_csv(output: str, table: str) -> pd.DataFrame:
    """The paper's table from `bench report --paper -f csv`: its header and one line per row of the table."""
    lines = output[output.index("row,run"):].splitlines()[: 1 + len(paper_tables()[table]["rows"])]
    return pd.read_csv(io.StringIO("\n".join(lines))).set_index("row")


BASE = [0.50, 0.62, 0.55, 0.70, 0.58, 0.66, 0.52, 0.61]  # per-shape IoU of the baseline: shape difficulty


def write_default(root, *, joint_cost: float, encoder: str = "onet_pointnet", seed: int = 0, cli=None,
                  probe_accuracy=(1, 0, 1, 0, 1, 0, 1, 0)) -> dict[str, RunResult]:
    """One invocation of the default suite: joint-all's IoU is onet's less ``joint_cost`` (give or take 0.002
    per shape); joint-all classifies every shape right, the probe ``probe_accuracy``."""
    jitter = [0.002, -0.002, 0.001, -0.001, 0.0, 0.002, -0.002, 0.0]
    onet = write_run(root, "onet", SPECS["onet"], {"reconstruction.iou": BASE}, seed=seed, encoder=encoder, cli=cli)
    joint = write_run(root, "joint-all", SPECS["joint-all"],
                      {"reconstruction.iou": [b - joint_cost + j for b, j in zip(BASE, jitter)],
                       "classification.accuracy": [1.0] * 8}, seed=seed, encoder=encoder, cli=cli)
    probe = write_run(root, "cls-probe-onet", SPECS["cls-probe-onet"],
                      {"classification.accuracy": [float(a) for a in probe_accuracy]}, seed=seed, encoder=encoder,
                      cli=cli, stage_one=onet.config_hash)
    return {"onet": onet, "joint-all": joint, "cls-probe-onet": probe}


# ---------------------------------------------------------------------------------------------------
# Setups


def test_a_suites_own_run_tables_do_not_split_it(tmp_path):
    for seed in (0, 1):
        write_default(tmp_path, joint_cost=0.005, seed=seed)
    (setup,) = split_setups(scan_results(tmp_path))
    assert setup.label == setup.encoder == "onet_pointnet"
    assert sorted((r.run_name, r.seed) for r in setup.results) == [
        ("cls-probe-onet", 0), ("cls-probe-onet", 1), ("joint-all", 0), ("joint-all", 1), ("onet", 0), ("onet", 1)]


def test_another_encoder_or_a_set_value_is_another_setup(tmp_path):
    write_default(tmp_path, joint_cost=0.005)
    write_default(tmp_path, joint_cost=0.005, encoder="dgcnn")
    write_default(tmp_path, joint_cost=0.005, cli={"train": {"lr": 0.01}})
    setups = split_setups(scan_results(tmp_path))
    assert [s.label for s in setups] == ["dgcnn", "onet_pointnet, train.lr=0.001", "onet_pointnet, train.lr=0.01"]
    assert [s.encoder for s in setups] == ["dgcnn", "onet_pointnet", "onet_pointnet"]
    for s in setups:
        assert sorted(r.run_name for r in s.results) == ["cls-probe-onet", "joint-all", "onet"]
        assert len({r.config["train"]["lr"] for r in s.results if r.run_name != "cls-probe-onet"}) == 1


def test_a_command_line_value_over_a_runs_own_table_is_compared(tmp_path):
    """--set train.max_steps=100 overrides the probe's own 600 too: that probe belongs with the onet of 100
    steps, the probe of 600 with the onet of the profile's 6, whichever order they are found in."""
    plain = write_default(tmp_path, joint_cost=0.005)
    longer = write_default(tmp_path, joint_cost=0.005, cli={"train": {"max_steps": 100}})
    setups = split_setups(scan_results(tmp_path))
    assert len(setups) == 2
    by_onet = {next(r.config_hash for r in s.results if r.run_name == "onet"): s for s in setups}
    for invocation in (plain, longer):
        setup = by_onet[invocation["onet"].config_hash]
        assert {r.config_hash for r in setup.results} == {r.config_hash for r in invocation.values()}
    assert "train.max_steps=100" in by_onet[longer["onet"].config_hash].label


def test_a_probe_belongs_with_the_stage_one_run_it_probed(tmp_path):
    """Two onets that differ only in a setting the probe does not record (the reconstruction's task kwargs):
    the probe's recorded stage-one hash decides, even where the other onet is met first."""
    onets = sorted((write_run(tmp_path, "onet", SPECS["onet"], {"reconstruction.iou": BASE},
                              cli={"task_kwargs": {"reconstruction": {"n_surface_samples": n}}}) for n in (2000, 5000)),
                   key=lambda r: r.config_hash)
    probe = write_run(tmp_path, "cls-probe-onet", SPECS["cls-probe-onet"], {"classification.accuracy": [1.0] * 8},
                      stage_one=onets[1].config_hash)
    setups = split_setups(scan_results(tmp_path))
    assert len(setups) == 2
    home = next(s for s in setups if probe in s.results)
    assert onets[1] in home.results and onets[0] not in home.results
    assert "task_kwargs.reconstruction.n_surface_samples=" in home.label


def test_a_setting_recorded_by_one_run_only_is_read_from_the_others_every_setting_record(tmp_path):
    """A setting added later is left out of the recorded config at its default (so old hashes hold), but
    `all_sections` has it: a run that set it (data.test_view = 0) is not the same setup as one at -1."""
    write_default(tmp_path, joint_cost=0.005)
    write_run(tmp_path, "onet", SPECS["onet"], {"reconstruction.iou": BASE}, seed=1, cli={"data": {"test_view": 0}})
    setups = split_setups(scan_results(tmp_path))
    assert len(setups) == 2 and any("data.test_view=0" in s.label for s in setups)


# ---------------------------------------------------------------------------------------------------
# Claims per setup, never a step-limited run


def test_two_encoders_in_one_folder_are_never_paired_and_get_claims_per_setup(tmp_path):
    write_default(tmp_path, joint_cost=0.005)                     # joint training costs 0.005 IoU: within 0.03
    write_default(tmp_path, joint_cost=0.10, encoder="dgcnn")     # with dgcnn it costs 0.1: beyond it
    verdicts = check_claims(scan_results(tmp_path), "default", tmp_path)
    assert [(v.setup, v.claim.metric) for v in verdicts] == [
        ("dgcnn", "iou"), ("dgcnn", "accuracy"), ("onet_pointnet", "iou"), ("onet_pointnet", "accuracy")]
    iou = {v.setup: v for v in verdicts if v.claim.metric == "iou"}
    assert iou["onet_pointnet"].verdict == "reproduced" and iou["dgcnn"].verdict == "contradicted"
    assert iou["onet_pointnet"].diff == pytest.approx(-0.005) and iou["dgcnn"].diff == pytest.approx(-0.10)
    assert all(v.seeds == 1 and "1 seed, paired bootstrap" in v.evidence for v in verdicts)
    assert all(v.evidence.startswith(f"setup {v.setup}; ") for v in verdicts)
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "seeds, Student-t" not in res.output and res.output.count("1 seed, paired bootstrap") == 4
    assert "family-wise (setup dgcnn)" in res.output and "family-wise (setup onet_pointnet)" in res.output


def test_a_step_limited_run_never_enters_a_claim(tmp_path):
    for seed in (0, 1):
        write_run(tmp_path, "onet", SPECS["onet"], {"reconstruction.iou": BASE}, seed=seed)
    write_run(tmp_path, "joint-all", SPECS["joint-all"], {"reconstruction.iou": [b - 0.005 for b in BASE]})
    # seed 1 of joint-all was cut short (--max-steps): far worse, and flagged
    write_run(tmp_path, "joint-all", SPECS["joint-all"], {"reconstruction.iou": [b - 0.3 for b in BASE]}, seed=1,
              step_limited=True)
    iou = check_claims(scan_results(tmp_path), "default", tmp_path)[0]
    assert iou.seeds == 1 and iou.diff == pytest.approx(-0.005) and iou.verdict == "reproduced"
    # nothing but the step-limited run to pair: no claim at all
    only = [r for r in scan_results(tmp_path) if r.run_name == "onet" or r.step_limited]
    iou = check_claims(only, "default", tmp_path)[0]
    assert iou.verdict == "n/a" and "joint-all only cut short by --max-steps (step-limited)" in iou.evidence
    # nor does it enter the paper's table
    frame, _ = paper_comparison(scan_results(tmp_path), "table2", "default")
    joint = frame.set_index("row").loc["Joint Classification & ONet"]
    assert joint["iou (ours)"] == pytest.approx(sum(BASE) / 8 - 0.005)


def test_the_paper_comparison_averages_a_runs_seeds_and_reads_accuracy_as_overall_accuracy(tmp_path):
    for seed, (iou, acc, acc_cat) in enumerate(((0.6, 0.5, 0.40), (0.7, 0.6, 0.45), (0.8, 0.7, 0.50))):
        metrics = {"reconstruction": {"iou": iou + 0.05, "iou_class_mean": iou}}
        write_run(tmp_path, "onet", SPECS["onet"], {"reconstruction.iou": BASE}, seed=seed, metrics=metrics)
        metrics = {"classification": {"accuracy": acc, "accuracy_class_mean": acc_cat}}
        write_run(tmp_path, "cls-probe-onet", SPECS["cls-probe-onet"], {"classification.accuracy": [1.0] * 8},
                  seed=seed, metrics=metrics)
    frame, _ = paper_comparison(scan_results(tmp_path), "table2", "default")
    rows = frame.set_index("row")
    assert rows.loc["ONet baseline", "iou (ours)"] == pytest.approx(0.7)  # (0.6 + 0.7 + 0.8) / 3, category means
    assert rows.loc["Classification w/ ONet encoder", "accuracy (ours)"] == pytest.approx(0.6)  # overall, not 0.45
    res = CliRunner().invoke(app, ["report", "--suite", "default", "--paper", "-r", str(tmp_path), "-f", "csv"])
    assert res.exit_code == 0, res.output
    assert _paper_csv(res.output, "table2").loc["ONet baseline", "iou (ours)"] == pytest.approx(0.7)


def test_two_setups_get_a_column_of_ours_each_in_the_paper_table(tmp_path):
    write_default(tmp_path, joint_cost=0.005)
    write_default(tmp_path, joint_cost=0.10, encoder="dgcnn")
    frame, _ = paper_comparison(scan_results(tmp_path), "table2", "default")
    rows = frame.set_index("row")
    assert rows.loc["Joint Classification & ONet", "iou (ours, dgcnn)"] == pytest.approx(sum(BASE) / 8 - 0.10)
    assert rows.loc["Joint Classification & ONet", "iou (ours, onet_pointnet)"] == pytest.approx(sum(BASE) / 8 - 0.005)


# ---------------------------------------------------------------------------------------------------
# Seeds, p-values and the family-wise verdict (hand-computed: Student-t with 2 degrees of freedom, where
# P(|T| > t) = 1 - t / sqrt(t^2 + 2))


def _seeded(tmp_path, ious: list[tuple[float, float]], accuracies: list[tuple[float, float]]) -> None:
    """Three seeds of the default suite with the given (onet, joint-all) IoU category means and (probe,
    joint-all) overall accuracies (category means of accuracy set apart, at 0.9, to show they are not read)."""
    for seed, ((onet, joint), (probe, joint_acc)) in enumerate(zip(ious, accuracies)):
        o = write_run(tmp_path, "onet", SPECS["onet"], {"reconstruction.iou": BASE}, seed=seed,
                      metrics={"reconstruction": {"iou": 0.0, "iou_class_mean": onet}})
        write_run(tmp_path, "joint-all", SPECS["joint-all"], {"reconstruction.iou": BASE}, seed=seed,
                  metrics={"reconstruction": {"iou": 0.0, "iou_class_mean": joint},
                           "classification": {"accuracy": joint_acc, "accuracy_class_mean": 0.9}})
        write_run(tmp_path, "cls-probe-onet", SPECS["cls-probe-onet"], {"classification.accuracy": [1.0] * 8},
                  seed=seed, stage_one=o.config_hash, metrics={"classification": {"accuracy": probe,
                                                                                  "accuracy_class_mean": 0.9}})


def _p_df2(t: float) -> float:
    return 1 - t / math.sqrt(t * t + 2)


def test_three_seeds_lead_with_student_t_and_holm_holds_the_family(tmp_path):
    # IoU differences -0.005, +0.005, +0.015 (mean 0.005, sd 0.01) against the threshold -0.03;
    # accuracy differences 0.02, 0.03, 0.04 (mean 0.03, sd 0.01) against 0
    _seeded(tmp_path, [(0.70, 0.695), (0.70, 0.705), (0.70, 0.715)], [(0.50, 0.52), (0.50, 0.53), (0.50, 0.54)])
    iou, acc = check_claims(scan_results(tmp_path), "default", tmp_path)
    se = 0.01 / math.sqrt(3)
    half = 4.302652729911275 * se  # t_{0.975, 2}
    assert iou.seeds == 3 and "3 seeds, Student-t over seeds" in iou.evidence
    assert (iou.diff, iou.low, iou.high) == pytest.approx((0.005, 0.005 - half, 0.005 + half))
    assert (acc.diff, acc.low, acc.high) == pytest.approx((0.03, 0.03 - half, 0.03 + half))
    p_iou, p_acc = _p_df2(0.035 / se), _p_df2(0.03 / se)  # 0.0262, 0.0351
    assert iou.p_value == pytest.approx(p_iou, abs=1e-9) and acc.p_value == pytest.approx(p_acc, abs=1e-9)
    # each on its own: reproduced (both p < 0.05); together, Holm: min(1, 2 * 0.0262) = 0.0523 > 0.05
    assert iou.verdict == acc.verdict == "reproduced"
    assert iou.p_adjusted == pytest.approx(2 * p_iou) and acc.p_adjusted == pytest.approx(2 * p_iou)
    assert iou.family == acc.family == "inconclusive"
    assert "not significant at 5 % family-wise" in iou.evidence
    # Table 2's own difference for the probe claim is 0.92 - 0.80 = 0.12, above the whole interval
    assert acc.paper_diff == pytest.approx(0.12) and "smaller than the paper's +0.120" in acc.evidence
    assert "smaller than the paper's" not in iou.evidence  # a "not worse" claim has no such reading
    assert "(family-wise: inconclusive)" in iou.line()


def test_holm_lets_the_family_through_where_one_claim_is_strong(tmp_path):
    # IoU differences 0.02, 0.021, 0.022: t = 0.051 / (0.001 / sqrt 3) = 88.3, p = 0.00013
    _seeded(tmp_path, [(0.70, 0.72), (0.70, 0.721), (0.70, 0.722)], [(0.50, 0.52), (0.50, 0.53), (0.50, 0.54)])
    iou, acc = check_claims(scan_results(tmp_path), "default", tmp_path)
    p_iou, p_acc = _p_df2(0.051 / (0.001 / math.sqrt(3))), _p_df2(0.03 / (0.01 / math.sqrt(3)))
    assert iou.p_adjusted == pytest.approx(2 * p_iou) and acc.p_adjusted == pytest.approx(p_acc)
    assert iou.family == acc.family == "reproduced"


def test_two_seeds_are_bootstrapped_over_the_seed_means_and_say_they_ignore_training_variance(tmp_path):
    for seed, cost in ((0, 0.004), (1, 0.006)):
        write_default(tmp_path, joint_cost=cost, seed=seed)
    iou = check_claims(scan_results(tmp_path), "default", tmp_path)[0]
    assert iou.seeds == 2 and iou.diff == pytest.approx(-0.005)  # the mean of the seeds' per-shape differences
    assert "2 seeds, paired bootstrap over 8 shapes of the seed means" in iou.evidence
    assert "ignores training variance" in iou.evidence and "Student-t over the 2 seeds: [" in iou.evidence
    assert iou.verdict == "reproduced" and iou.p_value is not None and iou.p_value < 0.05


def test_one_seed_says_it_ignores_training_variance(tmp_path):
    write_default(tmp_path, joint_cost=0.005)
    iou = check_claims(scan_results(tmp_path), "default", tmp_path)[0]
    assert iou.seeds == 1 and "1 seed, paired bootstrap over 8 shapes (ignores training variance" in iou.evidence


# ---------------------------------------------------------------------------------------------------
# The paper's other findings


def test_the_thin_part_classes_claim_reads_table7s_classes(tmp_path):
    spec = {"tasks": ["segmentation"], "protocol": "single", "encoder_from": "", "overrides": {}}
    synsets = {"Earphone": "03261776", "Rocket": "04099429", "Airplane": "02691156", "Chair": "03001627"}
    shapes = [(f"{synsets[c]}/s{k}", synsets[c]) for c in synsets for k in range(2)]
    miou = [0.2, 0.3, 0.3, 0.4, 0.6, 0.7, 0.5, 0.6]  # Earphone 0.25, Rocket 0.35; Airplane 0.65, Chair 0.55
    write_run(tmp_path, "segmentation-baseline", spec, {"segmentation.miou": miou}, suite="table7", categories=shapes)
    (thin,) = [v for v in check_claims(scan_results(tmp_path), "table7", tmp_path) if v.claim.kind == "worst"]
    assert thin.diff == pytest.approx(0.60 - 0.30)  # the other classes' mean minus the thin ones'
    assert thin.verdict == "reproduced" and thin.low > 0  # every resample keeps the gap above 0.2
    # Table 7's "Seg. only" row: its 14 other classes average 7.77 / 14 = 0.555, Earphone and Rocket 0.35
    assert thin.paper_diff == pytest.approx(0.205)
    assert "Earphone, Rocket against 2 other classes" in thin.evidence
    # a dataset without those classes: nothing to say
    other = tmp_path / "other"
    write_run(other, "segmentation-baseline", spec, {"segmentation.miou": miou}, suite="table7")
    (thin,) = [v for v in check_claims(scan_results(other), "table7", other) if v.claim.kind == "worst"]
    assert thin.verdict == "n/a"


def test_every_claim_is_on_runs_of_its_suite_and_satisfied_by_the_paper():
    """Each claim names runs its suite has, and the paper's own numbers satisfy it (its tolerance is no
    smaller than the paper's own difference)."""
    cfg = load_config(ROOT / "bench.toml")
    for suite, claims in CLAIMS.items():
        names = {r.name for r in cfg.suites[suite].runs}
        for c in claims:
            assert {c.a, c.b} <= names, (suite, c.text)
            table = "table2" if suite == "default" else suite
            paper = paper_difference(c, suite, table)
            if paper is None:
                continue
            oriented = -paper if c.metric == "chamfer_l1" else paper
            assert oriented >= -c.tolerance - 1e-9 if c.kind == "not_worse" else oriented > c.tolerance, (suite, c.text)


# ---------------------------------------------------------------------------------------------------
# Tables 3 and 5: both columns


def test_tables_3_and_5_rows_name_the_runs_of_their_column():
    cfg = load_config(ROOT / "bench.toml")
    tables = paper_tables()
    for table in ("table3", "table5"):
        runs = {r.name: r for r in cfg.suites[table].runs}
        rows = tables[table]["rows"]
        assert {row["run"] for row in rows} == set(runs)  # every row is filled by a run, every run fills a row
        column = {row["run"]: row["column"] for row in rows}
        for name, spec in runs.items():
            pretrained = spec.overrides.get("encoder_kwargs", {}).get("resnet18", {}).get("pretrained", "")
            assert bool(pretrained) == (column[name] == "with pre-training"), name
            assert spec.overrides["model"]["encoder"] == "resnet18"  # image input whichever profile sizes it
        assert runs["classification-w-onet-encoder"].encoder_from == "onet-baseline-scratch"
        for claim in CLAIMS[table]:
            if claim.column:  # a claim of one column compares runs of that column
                assert column[claim.a] == column[claim.b] == claim.column, claim.text


def _image_run(root, name: str, iou: float | None, acc: float | None):
    spec = {r.name: r for r in load_config(ROOT / "bench.toml").suites["table3"].runs}[name]
    tasks = list(spec.tasks)
    metrics, scores = {}, {}
    if iou is not None:
        metrics["reconstruction"] = {"iou": iou, "iou_class_mean": iou, "chamfer_l1": 0.02,
                                     "chamfer_l1_class_mean": 0.02}
        scores["reconstruction.iou"] = [iou] * 8
        scores["reconstruction.chamfer_l1"] = [0.02] * 8
    if acc is not None:
        metrics["classification"] = {"accuracy": acc, "accuracy_class_mean": acc}
        scores["classification.accuracy"] = [acc] * 8
    spec_dict = {"tasks": tasks, "protocol": spec.protocol, "encoder_from": spec.encoder_from,
                 "overrides": copy.deepcopy(spec.overrides)}
    return write_run(root, name, spec_dict, scores, suite="table3", metrics=metrics, encoder="resnet18")


def test_report_paper_fills_both_columns_of_table3(tmp_path):
    ours = {"onet-baseline": (0.41, None), "classification-baseline": (None, 0.81),
            "joint-classification-onet": (0.42, 0.82), "onet-baseline-scratch": (0.31, None),
            "classification-w-onet-encoder": (None, 0.51), "joint-classification-onet-scratch": (0.32, 0.72)}
    for name, (iou, acc) in ours.items():
        _image_run(tmp_path, name, iou, acc)
    assert len(split_setups(scan_results(tmp_path))) == 1  # the pre-trained column's own tables do not split it
    res = CliRunner().invoke(app, ["report", "--suite", "table3", "--paper", "-r", str(tmp_path), "-f", "csv"])
    assert res.exit_code == 0, res.output
    table = _paper_csv(res.output, "table3")
    assert table.loc["ONet baseline", "iou (ours)"] == pytest.approx(0.41)
    assert table.loc["ONet baseline (no pre-training)", "iou (ours)"] == pytest.approx(0.31)
    assert table.loc["Classification baseline", "accuracy (ours)"] == pytest.approx(0.81)
    assert table.loc["Classification w/ ONet encoder (no pre-training)", "accuracy (ours)"] == pytest.approx(0.51)
    assert table.loc["Joint Classification & ONet (no pre-training)", "accuracy (ours)"] == pytest.approx(0.72)
    verdicts = {v.claim.text: v for v in check_claims(scan_results(tmp_path), "table3", tmp_path)}
    pre = verdicts["ImageNet pre-training reconstructs better than training from scratch (Tables 3, 5)"]
    assert pre.diff == pytest.approx(0.10) and pre.verdict == "reproduced"  # every shape 0.41 vs 0.31
    probe = [v for t, v in verdicts.items() if t.startswith("a frozen") and t.endswith("without pre-training")]
    assert probe and probe[0].diff == pytest.approx(0.72 - 0.51)
    assert probe[0].paper_diff == pytest.approx(0.91 - 0.63)


# ---------------------------------------------------------------------------------------------------
# The new user's folder, for real: `bench run --profile tiny`, then `--encoder dgcnn`, then `bench report`


@pytest.fixture(scope="module")
def two_encoders(tmp_path_factory):
    root = tmp_path_factory.mktemp("two_encoders")
    for extra in ([], ["--encoder", "dgcnn"]):
        res = CliRunner().invoke(app, ["run", "--profile", "tiny", "-r", str(root), "--quiet",
                                       "--set", "train.threads=1", *extra])
        assert res.exit_code == 0, res.output
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_bench_report_on_a_folder_of_two_encoders_gives_claims_per_setup(two_encoders):
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(two_encoders)])
    assert res.exit_code == 0, res.output
    assert "seeds, Student-t" not in res.output and "4 seeds" not in res.output
    for setup in ("dgcnn", "onet_pointnet"):
        assert res.output.count(f"setup {setup}; 1 seed") == len(CLAIMS["default"]), setup
    verdicts = check_claims(scan_results(two_encoders), "default", two_encoders)
    assert [v.setup for v in verdicts] == ["dgcnn"] * 2 + ["onet_pointnet"] * 2
    paper = CliRunner().invoke(app, ["report", "--suite", "default", "--paper", "-r", str(two_encoders), "-f", "csv"])
    assert paper.exit_code == 0, paper.output
    assert "iou (ours, dgcnn)" in paper.output and "iou (ours, onet_pointnet)" in paper.output
