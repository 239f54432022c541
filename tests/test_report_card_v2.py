"""The report card as a researcher reads it (issue 28): its first screen answers the suite's question (the claims
as a forest plot, each verdict once; one main score per task with its interval as a bar), one render per class,
the rest one click away, everything embedded."""

import html
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.reports.claims import CLAIMS
from bench.reports.report_card import RenderChoice, build_report_card, choose_renders, class_family
from bench.reports.suite import build_suite_report
from bench.results import scan_results

FIXTURE = Path(__file__).resolve().parent / "records" / "reports" / "results"
VERDICTS = ("reproduced", "contradicted", "inconclusive", "n/a")


def text_of(fragment: str) -> str:
    """What a reader sees of an HTML fragment: no tags, scripts or styles; entities decoded."""
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def claim_blocks(page: str) -> list[str]:
    return re.findall(r"<li class='claim'>(.*?)</li>", page, flags=re.S)


def first_table_headers(page: str) -> list[str]:
    table = re.search(r"<table\b.*?</table>", page, flags=re.S).group(0)
    head = re.search(r"<thead>(.*?)</thead>", table, flags=re.S).group(1)
    return [text_of(h).split()[0] if text_of(h).split() else "" for h in re.findall(r"<th\b.*?</th>", head, flags=re.S)]


def assert_embedded(page: str) -> None:
    assert not re.search(r"https?://", page)  # nothing to fetch: the card works offline
    assert not re.search(r"<link\b|@import|url\(", page)
    sources = re.findall(r"\bsrc=['\"]([^'\"]*)", page)
    assert all(s.startswith("data:image/png;base64,") for s in sources), sources


def assert_claims_once(page: str, suite: str) -> None:
    claims = CLAIMS[suite]
    blocks = claim_blocks(page)
    assert len(blocks) == len(claims)
    for block, claim in zip(blocks, claims):
        words = re.findall(r"\b(reproduced|contradicted|inconclusive|n/a)\b", text_of(block))
        assert len(words) == 1, (claim.text, words)  # the verdict, once (it used to be printed twice)
        assert claim.text in text_of(block)
    what = [html.unescape(w) for w in re.findall(r"<span class='claim-what'>([^<]*)</span>", page)]
    assert what == [c.text for c in claims]  # each claim once
    seen = text_of(page)
    assert sum(len(re.findall(rf"(?<![\w/]){re.escape(v)}(?![\w/])", seen)) for v in VERDICTS) == len(claims)


def card_of_fixture(suite: str) -> str:
    report = build_suite_report(scan_results(FIXTURE), suite, FIXTURE, card=True)
    return build_report_card(report.results, suite, FIXTURE, report.verdicts, paper=report.paper_ours,
                             paper_note=report.paper_note, per_class=report.per_class,
                             conventions=report.conventions, shapes=0, paper_diffs=report.paper_diffs)


@pytest.mark.parametrize("suite", ["default", "table7"])
def test_card_of_the_fixed_results_reads_top_down(suite):
    page = card_of_fixture(suite)
    assert_embedded(page)
    assert_claims_once(page, suite)
    tasks = {t for r in scan_results(FIXTURE) if r.suite == suite for t in r.tasks}
    headers = first_table_headers(page)
    assert headers[:2] == ["run", "protocol"] and len(headers) <= len(tasks) + 2  # one main score per task
    assert page.index("class='claims") < page.index("<table class='board")  # the claims come first
    # the forest plot: one plot row per claim plus the axis, the tolerance band, the paper's own difference
    assert page.count("<svg class='forest'") == len(CLAIMS[suite]) + 1
    assert "fill='#dafbe1'" in page
    assert ("the paper: +0.030" if suite == "table7" else "the paper: -0.010") in page
    # the full table and the conventions are one click away
    details = re.findall(r"<details><summary>([^<]*)</summary>(.*?)</details>", page, flags=re.S)
    summaries = [s for s, _ in details]
    assert any(s.startswith("every metric") for s in summaries) and "conventions and units" in summaries
    full = next(body for s, body in details if s.startswith("every metric"))
    assert "_low</th>" in full and "_class_mean</th>" in full and "<div class='scroll'>" in full
    conventions = next(body for s, body in details if s == "conventions and units")
    assert "absent_part_rule" in conventions and "unit-cube" in conventions and "category mean" in conventions
    assert "@media print" in page and "beforeprint" in page  # prints with the folded sections open


def test_summary_names_the_seeds_and_the_paper_table_our_runs():
    page = card_of_fixture("default")
    summary = text_of(re.search(r"<dl class='summary'>.*?</dl>", page, flags=re.S).group(0)).split()
    assert summary[summary.index("seeds") + 1:summary.index("seeds") + 3] == ["0,", "1"]
    one_seed = text_of(re.search(r"<dl class='summary'>.*?</dl>", card_of_fixture("table7"), flags=re.S).group(0))
    assert re.search(r"\bseed 0\b", " ".join(one_seed.split())) and "seeds" not in one_seed
    paper = re.search(r"<h2>the paper&#x27;s table</h2>(.*?)(<h2>|$)", page, flags=re.S).group(1)
    assert "our run" in paper and "<td>onet</td>" in paper and "onet-baseline" not in paper
    assert "<td>joint-all</td>" in paper and "<td>cls-probe-onet</td>" in paper


def test_extension_point_for_later_sections():
    report = build_suite_report(scan_results(FIXTURE), "default", FIXTURE)
    seen = []

    def profile(results, results_dir):
        seen.append(len(results))
        return [("generality profile", "<p>probe battery</p>")]

    page = build_report_card(report.results, "default", FIXTURE, report.verdicts, shapes=0, extra_sections=[profile])
    assert seen == [len(report.results)]
    assert page.index("<table class='board") < page.index("<h2>generality profile</h2>")


def test_choice_of_renders_is_one_shape_per_class_families_first():
    results = [r for r in scan_results(FIXTURE) if r.suite == "default"]
    choice = choose_renders(results, FIXTURE)
    scores = pd.read_csv(next((FIXTURE / "default").glob("joint-all-*")) / "scores.csv")
    assert sorted(choice.classes.values()) == sorted(scores["category"].unique())  # every class, once
    assert len(choice.shapes) == len(set(choice.shapes)) == scores["category"].nunique()
    assert choice.families["chair"] == [s for s in choice.shapes if s.startswith("chair_")]  # the pair together
    few = choose_renders(results, FIXTURE, limit=10)  # 10 families: one class of each before any second
    assert sorted({class_family(c) for c in few.classes.values()}) == sorted({class_family(c) for c in choice.classes.values()})
    assert class_family("chair_with_arm") == class_family("chair_no_arm") == "chair" and class_family("lamp") == "lamp"
    assert isinstance(choice, RenderChoice)


def test_card_of_a_tiny_run_renders_one_shape_per_class(tmp_path):
    results = tmp_path / "results"
    # The analytic sphere decoder (tests/oracle.py) gives every shape a surface, so renders exist after 6 steps.
    run = CliRunner().invoke(app, ["run", "--suite", "default", "--profile", "tiny", "-r", str(results), "--quiet",
                                   "--set", "model.decoder=tests.oracle:SphereOracle"])
    assert run.exit_code == 0, run.output
    out = tmp_path / "card.html"
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(results), "--format", "html", "-o", str(out),
                                   "--trust-plugins"])  # the oracle decoder is module:attr code of this test
    assert res.exit_code == 0, res.output
    page = out.read_text(encoding="utf-8")
    assert_embedded(page)
    assert_claims_once(page, "default")
    finished = scan_results(results)
    tasks = {t for r in finished for t in r.tasks}
    headers = first_table_headers(page)
    assert headers[:2] == ["run", "protocol"] and len(headers) <= len(tasks) + 2
    section = re.search(r"<h2>test shapes[^<]*</h2>(.*?)<h2>", page, flags=re.S).group(1)
    captions = re.findall(r"<figcaption>([^<(]*) \(", section)
    scores = pd.read_csv(next((results / "default").glob("joint-all-*")) / "scores.csv")
    assert sorted(captions) == sorted(scores["category"].unique())  # one render per class, no class twice
    assert "class='family pair'" in section  # the classes that differ by a part sit side by side
    assert len(page) < 2_000_000  # renders are shrunk: the card stays small enough to mail
