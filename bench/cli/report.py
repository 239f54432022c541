"""`bench report`: a suite's report printed, or written as the report card (--format html)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from bench.cli._common import ConfigOption, DataPathOption, TrustOption, cli_errors, console, user_config
from bench.cli._output import Format, emit, print_frame, render
from bench.reports.claims import family_summary
from bench.reports.report_card import build_report_card
from bench.reports.suite import SuiteReport, build_suite_report
from bench.results import scan_results

app = typer.Typer()


@app.command("report")
@cli_errors
def report_cmd(
    suite: str = typer.Option("default", "--suite", "-s"),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r"),
    paper: bool = typer.Option(False, "--paper", help="Print the paper's table beside ours."),
    table: str = typer.Option(None, "--table", help="Paper table to compare with (default: the suite's name)."),
    dataset: str = typer.Option(None, "--dataset", help="Only runs on this dataset (a report never mixes datasets)."),
    profile: str = typer.Option(None, "--profile", help="Only runs of this profile (a report never mixes profiles)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | csv | markdown | html (the report card: one self-contained file with plots)."),
    out: Path = typer.Option(None, "--out", "-o", help="Output file (html default: <results>/<suite>/report.html)."),
    shapes: int = typer.Option(None, "--shapes", help="html: classes rendered, one test shape each, true and predicted parts side by side (default: every class; 0: none)."),
    precision: str = typer.Option(None, "--precision", help="Only runs trained in this precision (bf16 | fp32; a report never mixes them)."),
    trust_plugins: bool = TrustOption,
    data_path: Path = DataPathOption,
    config: Path = ConfigOption,
) -> None:
    """A suite's leaderboard with intervals, the paper's claims as verdicts (each with its family-wise verdict
    over the suite's claims; once per setup where the folder holds runs of several: another encoder, other
    --set values), the evaluation conventions, and (--paper) the paper's table beside ours. --format html
    writes the report card."""
    report = build_suite_report(scan_results(results_dir), suite, results_dir, table, dataset, profile, precision,
                                paper=paper, card=fmt == Format.html)
    if fmt == Format.html:  # the report card: one self-contained file
        text = build_report_card(
            report.results, suite, results_dir, report.verdicts, paper=report.paper_ours, paper_note=report.paper_note,
            per_class=report.per_class, conventions=report.conventions, shapes=shapes,
            trust_plugins=trust_plugins, user_cfg=user_config(config), data_path=data_path,
            paper_diffs=report.paper_diffs)
        emit(text, out or Path(results_dir) / suite / "report.html")
        return
    _print_report(report, fmt, out, f"paper {table or suite}")


def _print_report(report: SuiteReport, fmt: Format, out: Path | None, title: str) -> None:
    """The leaderboard (to ``out`` for csv / markdown), the paper's tables, then verdicts (each naming its setup
    where there are several), their family-wise summary per setup, and the conventions."""
    if report.results:
        render(report.results, fmt, title=f"suite {report.suite}", out=out if fmt != Format.table else None)
    if report.paper is not None:
        console.print(f"[yellow]{escape(report.paper_note)}[/yellow]", highlight=False, markup=True)
        paper = report.paper_ours if fmt == Format.table else report.paper  # CSV / Markdown: the table's own names
        print_frame(paper, f"{title}: {report.paper_dataset} (ours: category means, accuracy overall, as the "
                           "paper; mean over seeds)", fmt, None)
        if report.per_class is not None:
            print_frame(report.per_class, f"{title}, per category", fmt, None)
    for line in [v.line() for v in report.verdicts] + family_summary(report.verdicts):
        console.print(line, highlight=False, soft_wrap=True)  # one line each, whole: the terminal wraps it
    for line in report.conventions:
        console.print(line, highlight=False)
