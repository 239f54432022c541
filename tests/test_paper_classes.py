"""The paper's per-category table (Table 7) beside our runs' per-category scores (bench/reports/per_category.py)."""

import pytest

from bench.config import load_config
from bench.errors import BenchError
from bench.reports.paper import paper_comparison, paper_tables
from bench.reports.per_category import per_class_comparison
from tests.test_results import make_result

# The paper's Table 7, typed in from the paper (not read from bench/reports/paper_tables.toml): Airplane .. Table, Mean.
PAPER_SEG_ONLY = [0.59, 0.46, 0.45, 0.52, 0.63, 0.31, 0.68, 0.55, 0.52, 0.59, 0.53, 0.58, 0.59, 0.39, 0.51, 0.57, 0.53]
PAPER_RECON_IOU_MEAN = 0.69
PAPER_PARALLEL_SEG_CLS_ROCKET = 0.38


def seg_result(run, per_category, class_mean, suite="table7", **kw):
    return make_result(suite=suite, run_name=run, tasks=["segmentation"],
                       metrics={"segmentation": {"miou": 0.4, "miou_class_mean": class_mean}},
                       per_category={"segmentation": {c: {"miou": v} for c, v in per_category.items()}},
                       metric_info={"segmentation": {"main": "miou", "directions": {"miou": "higher"}}}, **kw)


def test_table7_rows_name_our_runs_and_the_per_category_score():
    rows = {r["row"]: r for r in paper_tables()["table7"]["rows"]}
    assert len(rows) == 6 and all(r.get("run") for r in rows.values())
    assert (rows["Reconstruction IoU (ONet)"]["task"], rows["Reconstruction IoU (ONet)"]["metric"]) == ("reconstruction", "iou")
    for label, row in rows.items():
        if label != "Reconstruction IoU (ONet)":
            assert (row["task"], row["metric"]) == ("segmentation", "miou")
    # every mapped run is a run of the table7 suite, with the tasks its row needs
    suite = {r.name: r for r in load_config().suites["table7"].runs}
    for row in rows.values():
        assert row["run"] in suite and row["task"] in suite[row["run"]].tasks
    assert suite["joint-seg-onet"].overrides["model"]["layout"] == "joint"
    assert suite["parallel-seg-cls-onet"].overrides["model"]["layout"] == "parallel"


def test_values_go_to_their_columns_and_mean_is_our_category_mean():
    ours = {"airplane": 0.61, "Rocket": 0.22, "TABLE": 0.77}
    frame = per_class_comparison([seg_result("segmentation-baseline", ours, class_mean=0.4321)])
    row = frame.set_index("row").loc["Seg. only"]
    assert row["run"] == "segmentation-baseline" and row["metric"] == "miou"
    assert row["Airplane (ours)"] == 0.61
    assert row["Rocket (ours)"] == 0.22
    assert row["Table (ours)"] == 0.77
    assert row["Mean (ours)"] == 0.4321  # the category mean from metrics, not a mean of the three above
    assert row["Chair (ours)"] is None  # a category we did not score
    columns = ["Airplane", "Bag", "Cap", "Car", "Chair", "Earphone", "Guitar", "Knife", "Lamp", "Laptop",
               "Motorbike", "Mug", "Pistol", "Rocket", "Skateboard", "Table", "Mean"]
    assert [row[f"{c} (paper)"] for c in columns] == PAPER_SEG_ONLY


def test_missing_runs_are_none_and_every_mapped_row_is_listed():
    frame = per_class_comparison([seg_result("segmentation-baseline", {"chair": 0.5}, class_mean=0.5)])
    assert list(frame["run"]) == ["onet-baseline", "segmentation-baseline", "joint-seg-onet", "joint-seg-cls-onet",
                                  "parallel-seg-onet", "parallel-seg-cls-onet"]
    rows = frame.set_index("row")
    assert rows.loc["Reconstruction IoU (ONet)", "Mean (paper)"] == PAPER_RECON_IOU_MEAN
    assert rows.loc["Reconstruction IoU (ONet)", "Mean (ours)"] is None
    assert rows.loc["Parallel decoders: ONet + Seg. + Class.", "Rocket (paper)"] == PAPER_PARALLEL_SEG_CLS_ROCKET
    assert rows.loc["Parallel decoders: ONet + Seg. + Class.", "Rocket (ours)"] is None
    # failed runs and other suites' runs do not count
    failed = seg_result("joint-seg-onet", {"chair": 0.9}, 0.9, status="failed")
    other = seg_result("joint-seg-onet", {"chair": 0.8}, 0.8, suite="table6")
    frame = per_class_comparison([failed, other], suite="table7").set_index("row")
    assert frame.loc["Joint decoder: ONet + Seg.", "Chair (ours)"] is None


def test_the_first_row_reads_reconstruction_iou_not_segmentation():
    recon = make_result(suite="table7", run_name="onet-baseline", tasks=["reconstruction"],
                        metrics={"reconstruction": {"iou": 0.7, "iou_class_mean": 0.66},
                                 "segmentation": {"miou": 0.1, "miou_class_mean": 0.11}},
                        per_category={"reconstruction": {"mug": {"iou": 0.81, "chamfer_l1": 0.01}},
                                      "segmentation": {"mug": {"miou": 0.12}}})
    row = per_class_comparison([recon]).set_index("row").loc["Reconstruction IoU (ONet)"]
    assert row["Mug (ours)"] == 0.81 and row["Mean (ours)"] == 0.66


def test_shapenetpart_synset_ids_and_case_insensitive_names():
    # our shapenetpart adapter stores categories under ShapeNet synset ids
    synsets = {"02691156": 0.51, "03001627": 0.62, "04379243": 0.73}
    row = per_class_comparison([seg_result("parallel-seg-onet", synsets, 0.6)]).set_index("row").loc[
        "Parallel decoders: ONet + Seg."]
    assert (row["Airplane (ours)"], row["Chair (ours)"], row["Table (ours)"]) == (0.51, 0.62, 0.73)
    # names in any case; an explicit id -> name map for other datasets
    mixed = seg_result("parallel-seg-onet", {"eArPhOnE": 0.3, "c7": 0.44, "widget": 0.9}, 0.5)
    frame = per_class_comparison([mixed], category_names={"c7": "skateboard"})
    row = frame.set_index("row").loc["Parallel decoders: ONet + Seg."]
    assert row["Earphone (ours)"] == 0.3 and row["Skateboard (ours)"] == 0.44
    assert frame.attrs["unmatched"] == ["widget"]
    # a category called "mean" is not the Mean column
    odd = seg_result("parallel-seg-onet", {"Mean": 0.99}, 0.25)
    row = per_class_comparison([odd]).set_index("row").loc["Parallel decoders: ONet + Seg."]
    assert row["Mean (ours)"] == 0.25


def test_seeds_are_averaged():
    a = seg_result("joint-seg-cls-onet", {"car": 0.4}, 0.3, seed=0)
    b = seg_result("joint-seg-cls-onet", {"car": 0.6}, 0.5, seed=1)
    row = per_class_comparison([a, b]).set_index("row").loc["Joint decoder: ONet + Seg. + Class."]
    assert row["Car (ours)"] == pytest.approx(0.5) and row["Mean (ours)"] == pytest.approx(0.4)


def test_tables_without_columns_are_refused():
    with pytest.raises(BenchError, match="no per-category columns"):
        per_class_comparison([], table="table6")
    with pytest.raises(BenchError, match="no paper table"):
        per_class_comparison([], table="table9")


def test_new_suites_resolve_and_their_rows_map_to_runs():
    cfg = load_config()
    for table in ("table1", "table4", "table7"):
        suite = cfg.suites[table]
        assert suite.profile == "paper"
        names = {r.name for r in suite.runs}
        for row in paper_tables()[table]["rows"]:
            assert row.get("run") in names, (table, row["row"])
    table1 = {r.name: r for r in cfg.suites["table1"].runs}
    assert table1["cls-pointnet"].overrides["model"]["encoder"] == "pointnet"
    assert "model" not in table1["cls-onet-encoder"].overrides  # the default (ONet) encoder
    assert table1["seg-pointnet"].overrides["model"]["encoder"] == "pointnet"
    assert "modelnet40" in cfg.suites["table1"].dataset_note and "shapenetpart" in cfg.suites["table1"].dataset_note
    # the paper's Table 1 inputs: 1024 points with N(0, 0.02) for classification, 2048 points for segmentation
    assert table1["cls-pointnet"].overrides["data"] == {"n_input_points": 1024, "input_noise": 0.02}
    assert table1["seg-onet-encoder"].overrides["data"]["n_input_points"] == 2048
    table4 = cfg.suites["table4"]
    assert [r.name for r in table4.runs] == [r.name for r in cfg.suites["table2"].runs]
    assert all(r.overrides["output"] == {"results_dir": "results/modelnet40"} for r in table4.runs)
    assert "modelnet40" in table4.dataset_note


def test_table1_and_table4_rows_compare_with_runs():
    rs = [make_result(suite="table1", run_name="cls-onet-encoder", tasks=["classification"],
                      metrics={"classification": {"accuracy": 0.8}}),
          make_result(suite="table4", run_name="classification-w-onet-encoder", tasks=["classification"],
                      metrics={"classification": {"accuracy": 0.5}})]
    t1 = paper_comparison(rs, "table1")[0].set_index("row")
    assert t1.loc["(a) ONet Encoder + Classifier", "accuracy (paper)"] == 0.859
    assert t1.loc["(a) ONet Encoder + Classifier", "accuracy (ours)"] == 0.8
    t4 = paper_comparison(rs, "table4")[0].set_index("row")
    assert t4.loc["Classification w/ ONet encoder", "accuracy (ours)"] == 0.5


def test_table4_runs_write_under_their_own_results_folder():
    from bench.training.plan import resolve_suite

    runs = resolve_suite(load_config(), "table4")
    assert {str(r.run_dir.parent) for r in runs} == {"results/modelnet40/table4"}
