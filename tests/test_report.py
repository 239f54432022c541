from typer.testing import CliRunner

from bench.cli import app
from bench.leaderboard import leaderboard_frame
from bench.report import compare_frame, findings, paper_comparison, paper_tables
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


def test_paper_comparison_and_findings():
    rs = [
        make_result(suite="table2", run_name="onet-baseline", metrics={"reconstruction": {"iou": 0.75}}),
        make_result(suite="table2", run_name="joint-classification-onet",
                    metrics={"reconstruction": {"iou": 0.745}, "classification": {"accuracy": 0.9}}),
        make_result(suite="table2", run_name="classification-baseline", metrics={"classification": {"accuracy": 0.905}}),
        make_result(suite="table2", run_name="classification-w-onet-encoder", metrics={"classification": {"accuracy": 0.7}}),
    ]
    frame, dataset = paper_comparison(rs, "table2")
    row = frame.set_index("row").loc["ONet baseline"]
    assert row["iou (paper)"] == 0.78 and row["iou (ours)"] == 0.75
    lines = [f.line() for f in findings(rs, "table2")]
    assert lines[0].startswith("joint training kept reconstruction IoU within 0.01 of the baseline: yes")
    assert any("frozen" in line and ": yes" in line for line in lines)
    assert any("recovers" in line and ": yes" in line for line in lines)


def test_html_escapes_hostile_names(tmp_path):
    evil = "<script>alert(1)</script>"
    write_result(make_result(run_name=evil), tmp_path / "s" / "evil-1")
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
    assert "within 0.01 of the baseline: yes" in res.output
    from bench.report import paper_comparison
    from bench.results import scan_results

    frame, _ = paper_comparison(scan_results(tmp_path), "table2", "default")  # default's runs play table2's roles
    assert frame.set_index("row").loc["ONet baseline", "iou (ours)"] == 0.7
    bad = CliRunner().invoke(app, ["compare", "default/onett", "default/onet", "-r", str(tmp_path)])
    assert bad.exit_code == 1 and "Did you mean 'default/onet'" in bad.output


def test_leaderboard_filters():
    rs = [make_result(run_name="a"), make_result(run_name="b", encoder={"name": "dgcnn"})]
    assert list(leaderboard_frame(rs, encoder="dgcnn")["run"]) == ["b"]
