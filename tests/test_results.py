import json

import pytest

from bench.errors import ResultError
from bench.results import RunResult, read_result, scan_results, write_result


def make_result(**kw):
    base = dict(suite="s", run_name="r", config_hash="abc", config={"a": 1}, status="complete", protocol="single",
                tasks=["reconstruction"], encoder={"name": "onet_pointnet", "params": 10},
                dataset={"name": "synthetic-tiny", "revision": "rev1"},
                metrics={"reconstruction": {"iou": 0.5, "chamfer_l1": 0.01}},
                metric_info={"reconstruction": {"main": "iou", "directions": {"iou": "higher", "chamfer_l1": "lower"}}})
    base.update(kw)
    return RunResult(**base)


def test_round_trip(tmp_path):
    res = make_result()
    path = write_result(res, tmp_path / "run")
    back = read_result(path)
    assert back == res
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["result.json"]  # no temp file left behind


def test_nan_written_as_null(tmp_path):
    res = make_result(metrics={"reconstruction": {"iou": float("nan"), "chamfer_l1": float("inf")}})
    path = write_result(res, tmp_path)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["metrics"]["reconstruction"] == {"iou": None, "chamfer_l1": None}


def test_invalid_files_rejected(tmp_path):
    p = tmp_path / "result.json"
    p.write_text("{not json")
    with pytest.raises(ResultError, match="not valid JSON"):
        read_result(p)
    p.write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(ResultError, match="schema_version 99"):
        read_result(p)
    data = make_result().to_dict()
    data["metrics"] = {"reconstruction": {"iou": "high"}}
    p.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="metrics.reconstruction"):
        read_result(p)
    data = make_result().to_dict()
    del data["status"]
    p.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="missing keys status"):
        read_result(p)


def test_scan_skips_bad_files(tmp_path):
    write_result(make_result(run_name="good"), tmp_path / "s" / "good-1")
    (tmp_path / "s" / "bad-2").mkdir(parents=True)
    (tmp_path / "s" / "bad-2" / "result.json").write_text("{")
    with pytest.warns(UserWarning, match="skipping"):
        found = scan_results(tmp_path)
    assert [r.run_name for r in found] == ["good"]


def test_records_write_back_exactly_what_was_read(tmp_path):
    """The typed records keep a file's keys, their order and keys they do not know (a newer bench's)."""
    data = make_result().to_dict()
    data["encoder"] = {"params": 10, "name": "onet_pointnet", "from_the_future": [1, 2]}
    data["dataset"] = {"name": "synthetic-tiny"}  # a failed run records only the name
    data["training"] = {"precision": "bf16", "note": "x"}
    data["metric_info"]["reconstruction"]["extra_key"] = {"a": 1}
    path = tmp_path / "result.json"
    path.write_text(json.dumps(data, indent=2))
    result = read_result(path)
    assert json.dumps(result.to_dict()) == json.dumps(data)
    assert result.encoder.params == 10 and result.encoder.extra == {"from_the_future": [1, 2]}
    assert result.dataset.revision is None and result.dataset.skipped == [] and result.precision == "bf16"
    assert result.task_info("reconstruction").main == "iou" and result.task_info("segmentation").main is None
    # code written against the dict records still reads them
    assert result.dataset.get("revision") is None and result.encoder["name"] == "onet_pointnet"
    assert "revision" not in result.dataset and dict(result.training) == {"precision": "bf16", "note": "x"}


def test_summary_is_the_category_mean_else_the_instance_mean():
    r = make_result(metrics={"reconstruction": {"iou": 0.5, "iou_class_mean": 0.4, "chamfer_l1": 0.01,
                                                "chamfer_l1_class_mean": None}})
    assert r.summary("reconstruction", "iou") == 0.4
    assert r.summary("reconstruction", "iou", mean="instance") == 0.5
    assert r.summary("reconstruction", "chamfer_l1") == 0.01  # no category mean: the instance mean
    assert r.summary("reconstruction", "fscore") is None and r.summary("segmentation", "miou") is None
    with pytest.raises(ValueError):
        r.summary("reconstruction", "iou", mean="median")


def test_metric_info_types_are_checked(tmp_path):
    data = make_result().to_dict()
    data["metric_info"]["reconstruction"]["directions"] = ["iou"]
    p = tmp_path / "result.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ResultError, match="metric_info.reconstruction.directions"):
        read_result(p)
