"""Terminal tables that fit (issue 28): `bench leaderboard` shows one main score per task with its ± in the same
cell and never breaks a number across lines; `--wide` shows every column; the width follows the terminal (and
COLUMNS); `bench compare` leaves out the rows it cannot say anything about unless `--all`, and draws its paired
differences as a forest plot with `--plot`."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from bench.cli import app
from bench.reports.leaderboard import build_leaderboard, metric_cell
from bench.results import scan_results

FIXTURE = Path(__file__).resolve().parent / "records" / "reports" / "results"
ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
NUMBER = re.compile(r"-?\d+\.\d+(?: ± \d+\.\d+)?")


def printed(table, width: int) -> str:
    buf = io.StringIO()
    Console(file=buf, width=width, markup=False, color_system=None).print(table)
    return buf.getvalue()


def cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]


def default_board():
    return build_leaderboard(scan_results(FIXTURE), suite="default")


def test_default_suite_leaderboard_at_120_columns_breaks_no_number():
    board = default_board()
    out = printed(board.rich_table("leaderboard", width=120), 120)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 120
    rows = [cells(line) for line in lines if line.startswith("│")]
    assert len(rows) == len(board.frame)  # one line per run: nothing wrapped onto a second line
    for (_, row), line in zip(board.frame.iterrows(), rows):
        assert line[0] == row["run"]
        for c in board.main_columns():
            expected = metric_cell(row, c)
            assert expected in line, (expected, line)  # the value and its ± in one cell, whole
    for line in rows:
        for cell in line[2:]:  # every number cell is a whole number (with its ±) or "–", never a piece of one
            assert cell == "–" or NUMBER.fullmatch(cell) or re.fullmatch(r"\d+(\.\d+)? ?[a-z]*", cell), cell
    assert "±" in out and "…" not in out
    header = " ".join(" ".join(cells(line)) for line in lines if line.startswith("┃"))
    assert "IoU" in header and "part mIoU" in header and "accuracy" in header
    assert "Chamfer" not in header and "(cls)" not in out  # one main score per task by default


@pytest.mark.parametrize("width", [100, 80, 60])
def test_a_narrow_terminal_loses_columns_not_digits(width):
    board = default_board()
    out = printed(board.rich_table("leaderboard", width=width), width)
    assert max(len(line) for line in out.splitlines()) <= width
    rows = [cells(line) for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == len(board.frame)
    for line in rows:
        for cell in line[2:]:
            assert cell == "–" or NUMBER.fullmatch(cell) or re.fullmatch(r"\d+(\.\d+)? ?[a-z]*", cell), cell
    assert f"left out to fit {width} columns" in " ".join(out.split())  # and says so


def test_wide_shows_every_metric_with_category_means_labelled():
    res = runner.invoke(app, ["leaderboard", "-r", str(FIXTURE), "--suite", "default", "--wide"])
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    for label in ("Chamfer-L1", "normals", "F-score", "IoU (cat. mean)", "part mIoU (cat. mean)", "accuracy (cat. mean)"):
        assert label in flat, label
    assert "(cls)" not in res.output
    board = default_board()
    joint = board.frame.set_index("run").loc["joint-all"]
    assert metric_cell(joint, "chamfer_l1") in res.output  # whole, with its ±
    narrow = runner.invoke(app, ["leaderboard", "-r", str(FIXTURE), "--suite", "default"])
    assert "Chamfer-L1" not in narrow.output and "--wide" in narrow.output


def test_csv_and_markdown_keep_every_column():
    wide = runner.invoke(app, ["leaderboard", "-r", str(FIXTURE), "-f", "csv"]).output.splitlines()[0].split(",")
    assert {"chamfer_l1", "chamfer_l1_low", "iou_class_mean", "normal_consistency_class_mean_high"} <= set(wide)


def test_the_width_follows_columns(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run([sys.executable, "-m", "bench.cli", "leaderboard", "-r", str(FIXTURE)],
                         env={**env, "COLUMNS": "90", "OMP_NUM_THREADS": "1"}, cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert max(len(line) for line in out.stdout.splitlines()) <= 90
    assert "left out to fit 90 columns" in " ".join(out.stdout.split())


def test_compare_leaves_out_rows_without_a_verdict_unless_all():
    args = ["compare", "table7/joint-seg-onet", "table7/parallel-seg-onet", "-r", str(FIXTURE)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    flat = " ".join(res.output.split())
    assert "a category has one scored shape: no interval)" not in flat.replace("or a category with one scored shape", "")
    assert "(cat. mean)" not in res.output and "2 rows without a verdict left out" in flat and "--all" in flat
    assert "A: table7/joint-seg-onet (the reference)" in flat and "B: table7/parallel-seg-onet" in flat
    rows = [cells(line) for line in res.output.splitlines() if line.startswith("│")]
    assert [r[1] for r in rows] == ["iou ↑", "miou ↑"]
    assert all(re.fullmatch(r"-?\d\.\d{4} \[-?\d\.\d{4}, -?\d\.\d{4}\]", r[4]) for r in rows)  # Δ and its interval, one cell
    every = runner.invoke(app, [*args, "--all"])
    assert every.exit_code == 0, every.output
    rows = [cells(line) for line in every.output.splitlines() if line.startswith("│")]
    assert [r[1] for r in rows if r[1]] == ["iou ↑", "iou (cat. mean) ↑", "miou ↑", "miou (cat. mean) ↑"]
    assert "left out" not in every.output
    csv = runner.invoke(app, [*args, "-f", "csv"])  # CSV has every row, with or without --all
    assert csv.exit_code == 0 and "segmentation,miou_class_mean," in csv.output


def test_compare_plot_writes_a_forest_plot(tmp_path):
    out = tmp_path / "plots" / "diff.png"
    out.parent.mkdir()
    res = runner.invoke(app, ["compare", "table7/joint-seg-onet", "table7/parallel-seg-onet", "table7/joint-seg-cls-onet",
                              "-r", str(FIXTURE), "--plot", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in " ".join(res.output.split())
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [p.name for p in out.parent.iterdir()] == ["diff.png"]  # written atomically: no temporary left
    from PIL import Image

    width, height = Image.open(out).size
    assert width >= 800 and height >= 200
    bad = runner.invoke(app, ["compare", "table7/joint-seg-onet", "table7/parallel-seg-onet", "-r", str(FIXTURE),
                              "--per-category", "--plot", str(tmp_path / "x.png")])
    assert bad.exit_code != 0 and not (tmp_path / "x.png").exists()
