"""`bench report --format html`: one self-contained report card with plots, the paper's table and verdicts."""

import re

from typer.testing import CliRunner

from bench.cli import app


def test_report_card_of_a_tiny_default_suite(tmp_path):
    results = tmp_path / "results"
    # The analytic sphere decoder (tests/oracle.py) gives every shape a surface, so renders exist after 6 steps.
    run = CliRunner().invoke(app, ["run", "--suite", "default", "--profile", "tiny", "-r", str(results), "--quiet",
                                   "--set", "model.decoder=tests.oracle:SphereOracle"])
    assert run.exit_code == 0, run.output
    assert "joint training costs no reconstruction IoU" in run.output  # bench run prints the claims too
    out = tmp_path / "card.html"
    res = CliRunner().invoke(app, ["report", "--suite", "default", "-r", str(results), "--format", "html", "-o", str(out),
                                   "--trust-plugins"])  # the oracle decoder is module:attr code of this test
    assert res.exit_code == 0, res.output
    text = out.read_text()
    assert not re.search(r"https?://", text)  # nothing to fetch: the card works offline
    images = re.findall(r"<img alt='([^']*)' src='data:image/png;base64,", text)
    assert "training curves" in images
    assert any(alt.startswith("reconstruction per category") for alt in images)
    assert any(alt.startswith(("joint-all:", "onet:")) for alt in images)  # Fig. 3-style renders
    assert re.search(r"<span class='verdict' style='background:[^']*'>(reproduced|contradicted|inconclusive)</span>"
                     r"<span class='claim-what'>joint training costs", text)
    assert "ONet baseline" in text and "the paper&#x27;s table" in text  # Table 2 beside the default suite
    assert "absent_part_rule" in text  # the conventions the metrics followed
    assert (results / "default" / next(p.name for p in (results / "default").iterdir() if p.name.startswith("onet-"))
            / "train_log.csv").is_file()
