import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.reports.leaderboard import build_leaderboard
from bench.results import write_result
from tests.test_results import make_result


def results():
    return [
        make_result(run_name="a", metrics={"reconstruction": {"iou": 0.6, "chamfer_l1": 0.02}}),
        make_result(run_name="b", metrics={"reconstruction": {"iou": 0.8, "chamfer_l1": 0.03}}),
        make_result(run_name="failed-best", status="failed", metrics={"reconstruction": {"iou": 0.99, "chamfer_l1": 0.001}}),
        make_result(run_name="limited", step_limited=True, metrics={"reconstruction": {"iou": 0.95, "chamfer_l1": 0.001}}),
        make_result(run_name="failed", status="failed", metrics={}, error="boom"),
    ]


def test_sort_is_direction_aware_and_unfinished_never_ranked():
    frame = build_leaderboard(results(), sort="iou").frame
    assert list(frame["run"][:2]) == ["b", "a"]
    assert list(frame["rank"][:2]) == [1, 2]
    assert frame["rank"][2:].isna().all()
    frame = build_leaderboard(results(), sort="chamfer_l1").frame
    assert list(frame["run"][:2]) == ["a", "b"]  # lower is better
    flags = dict(zip(frame["run"], frame["flags"]))
    assert flags["failed-best"] == "failed" and flags["limited"] == "step-limited" and flags["failed"] == "failed"


def test_different_revisions_ranked_separately():
    rs = results()[:2] + [make_result(run_name="other-rev", dataset={"name": "synthetic-tiny", "revision": "rev2"},
                                      metrics={"reconstruction": {"iou": 0.7, "chamfer_l1": 0.02}})]
    frame = build_leaderboard(rs, sort="iou").frame
    ranks = dict(zip(frame["run"], frame["rank"]))
    assert ranks == {"b": 1, "other-rev": 1, "a": 2}


def test_formats():
    board = build_leaderboard(results(), sort="iou")
    csv = board.to_csv().splitlines()
    assert csv[0].startswith("rank,suite,run") and csv[1].startswith("1,s,b,")
    md = board.to_markdown().splitlines()
    assert md[0].startswith("| rank | suite | run") and "| 1 | s | b |" in md[2]


def test_cli_leaderboard(tmp_path):
    for r in results():
        write_result(r, tmp_path / r.suite / f"{r.run_name}-x")
    res = CliRunner().invoke(app, ["leaderboard", "-r", str(tmp_path), "--format", "csv", "--sort", "iou"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[1].startswith("1,s,b,")
    res = CliRunner().invoke(app, ["leaderboard", "-r", str(tmp_path), "--sort", "ioou"])
    assert res.exit_code == 1 and "Did you mean 'iou'" in res.output


def test_seeds_are_merged_into_mean_and_std():

    def seeded(seed, iou):
        r = make_result(run_name="a", seed=seed, metrics={"reconstruction": {"iou": iou, "chamfer_l1": 0.01}},
                        config={"train": {"seed": seed, "lr": 1e-3}, "stage_one": f"h{seed}"})
        return r

    rs = [seeded(0, 0.6), seeded(1, 0.8), make_result(run_name="b", metrics={"reconstruction": {"iou": 0.65}})]
    frame = build_leaderboard(rs, sort="iou").frame.set_index("run")
    assert frame.loc["a", "seeds"] == 2 and frame.loc["a", "iou"] == pytest.approx(0.7)
    assert frame.loc["a", "iou_std"] == pytest.approx(0.1414, abs=1e-3)
    assert frame.loc["a", "rank"] == 1 and frame.loc["b", "rank"] == 2
    assert "iou_std" in build_leaderboard(rs).to_csv().splitlines()[0]
