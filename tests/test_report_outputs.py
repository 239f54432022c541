"""What the report commands print for a fixed results folder (tests/records/reports/results: tiny runs of
the default suite over two seeds and of table7's runs) is what they printed when it was recorded: a
restructuring of the report code changes no output. Re-record with
`python tests/records/reports/make_fixture.py --expected` only when an output is meant to change."""

import re
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import app

HERE = Path(__file__).resolve().parent / "records" / "reports"
RESULTS = HERE / "results"

CASES = {
    "leaderboard-table": ["leaderboard"],
    "leaderboard-csv": ["leaderboard", "-f", "csv"],
    "leaderboard-markdown": ["leaderboard", "-f", "markdown"],
    "leaderboard-sorted": ["leaderboard", "--suite", "default", "--sort", "chamfer_l1", "-f", "csv"],
    "compare-runs": ["compare", "default/onet", "default/joint-all", "-f", "csv"],
    "compare-table": ["compare", "default/onet", "default/joint-all"],
    "compare-per-category": ["compare", "table7/joint-seg-onet", "table7/parallel-seg-onet", "--per-category", "-f", "csv"],
    "report-default-paper": ["report", "--suite", "default", "--paper"],
    "report-table7-paper": ["report", "--suite", "table7", "--paper"],
    "report-default-markdown": ["report", "--suite", "default", "-f", "markdown"],
    "report-card-default": ["report", "--suite", "default", "-f", "html", "--shapes", "0"],
    "report-card-table7": ["report", "--suite", "table7", "-f", "html", "--shapes", "0"],
}


def _card_tables(html: str) -> str:
    """The card's text and tables, without its embedded images (matplotlib's pixels vary by version)."""
    html = re.sub(r"<img [^>]*>", "<img>", html)
    return html


def render(name: str) -> str:
    from bench.cli._common import console

    args = CASES[name]
    width, console.width = console.width, 180  # as recorded, whatever COLUMNS says
    try:
        return _render(args)
    finally:
        console.width = width


def _render(args: list[str]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        extra = ["-o", str(Path(tmp) / "card.html")] if "html" in args else []
        res = CliRunner().invoke(app, [*args, "-r", str(RESULTS), *extra])
        assert res.exit_code == 0, res.output
        out = _card_tables((Path(tmp) / "card.html").read_text(encoding="utf-8")) if extra else res.output
    return out.replace(str(RESULTS), "<results>")


@pytest.mark.parametrize("name", list(CASES))
def test_report_output_is_unchanged(name):
    expected = (HERE / "expected" / f"{name}.txt").read_text(encoding="utf-8")
    assert render(name) == expected
