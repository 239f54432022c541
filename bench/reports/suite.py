"""A suite's report (`bench report`): its runs of one dataset, profile and precision, the paper's claims as
verdicts (once per setup where the folder holds several: bench/reports/select.py, split_setups), the evaluation
conventions its metrics followed and, where asked for, the paper's table beside ours (one column of ours per
setup). Everything is computed once here; the CLI prints it (a table, CSV, Markdown) or writes the report card
(HTML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.errors import ResultError
from bench.reports.claims import Verdict, check_claims, claim_results
from bench.reports.paper import dataset_warning, our_names, paper_comparison, paper_table_for, paper_tables
from bench.reports.per_category import per_category_table
from bench.reports.select import select_results, split_setups
from bench.results import RunResult


@dataclass
class SuiteReport:
    suite: str
    results: list[RunResult]
    verdicts: list[Verdict]
    conventions: list[str]
    table: str  # the paper table the suite is set beside
    paper: pd.DataFrame | None = None  # the paper's rows with ours beside them (None: not asked for)
    paper_dataset: str = ""
    per_class: pd.DataFrame | None = field(default=None)  # per category, for tables that have them (Table 7)
    paper_diffs: list[float | None] = field(default_factory=list)  # per verdict: the paper's own B - A, or None

    @property
    def paper_note(self) -> str:
        """What the paper's numbers were measured on, against ours ("" without the paper's table)."""
        return dataset_warning(self.results, self.paper_dataset) if self.paper is not None else ""

    @property
    def paper_ours(self) -> pd.DataFrame | None:
        """The paper's table with each row labelled by the run of ours that plays it ("our run"; "–" where the
        suite has none): the default suite's ``onet`` stands in Table 2's "ONet baseline" row, whose run the
        paper's table calls ``onet-baseline``. CSV and Markdown keep the table's own ``run`` column."""
        if self.paper is None or "run" not in self.paper:
            return self.paper
        ours = our_names(self.suite, self.table)
        have = {r.run_name for r in self.results}
        frame = self.paper.copy()
        frame["run"] = [ours.get(run, run) if ours.get(run, run) in have else "–" for run in frame["run"]]
        return frame.rename(columns={"run": "our run"})


def conventions(results: list[RunResult]) -> list[str]:
    """One line per task: the evaluation conventions its metrics followed (from result.json)."""
    seen: dict[str, str] = {}
    for r in results:
        for task, info in r.metric_info.items():
            if info.conventions:
                seen.setdefault(task, ", ".join(f"{k}={v}" for k, v in info.conventions.items()
                                                if not isinstance(v, dict)))
    return [f"conventions of {task}: {text}" for task, text in seen.items()]


def build_suite_report(results: list[RunResult], suite: str, results_dir: Path, table: str | None = None,
                       dataset: str | None = None, profile: str | None = None, precision: str | None = None,
                       paper: bool = False, card: bool = False) -> SuiteReport:
    """The report of ``suite`` from ``results`` (every result under ``results_dir``). ``paper``: with the
    paper's table (``table``, default the one the suite mirrors); ``card``: for the report card, which shows
    the paper's table whenever the suite has one."""
    selected = select_results(results, suite, dataset, profile, precision)
    if not selected and not paper:
        raise ResultError(f"no results of suite '{suite}' under {results_dir}; run `bench run --suite {suite}` "
                          "first (or pass --paper to see the paper's table alone).")
    table = paper_table_for(suite, table)
    report = SuiteReport(suite, selected, check_claims(selected, suite, results_dir, table), conventions(selected),
                         table)
    report.paper_diffs = [v.paper_diff for v in report.verdicts]
    if paper or (card and report.table in paper_tables()):
        report.paper, report.paper_dataset = paper_comparison(selected, report.table, suite)
        report.per_class = _per_class(selected, report.table)
    return report


def _per_class(results: list[RunResult], table: str) -> pd.DataFrame | None:
    """The per-category table (Table 7) of the complete, full-length runs, averaged over seeds within a setup:
    one frame for one setup; for several, each setup's columns of ours side by side (``"<run> ours, <setup>"``)."""
    setups = split_setups(claim_results(results))
    if len(setups) <= 1:
        return per_category_table(list(setups[0].results) if setups else [], table)
    merged: pd.DataFrame | None = None
    for setup in setups:
        frame = per_category_table(list(setup.results), table)
        if frame is None:
            return None
        ours = {c: f"{c}, {setup.label}" for c in frame.columns if c.endswith(" ours")}
        frame = frame.rename(columns=ours)
        merged = frame if merged is None else merged.join(frame[list(ours.values())])
    papers = [c for c in merged.columns if c.endswith(" paper")]
    columns = [c for p in papers for c in (p, *[o for o in merged.columns if o.startswith(p[:-len("paper")] + "ours")])]
    return merged[["category", *columns]]
