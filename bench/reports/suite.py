"""A suite's report (`bench report`): its runs of one setup, the paper's claims as verdicts, the evaluation
conventions its metrics followed and, where asked for, the paper's table beside ours. Everything is
computed once here; the CLI prints it (a table, CSV, Markdown) or writes the report card (HTML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bench.errors import BenchError, ResultError
from bench.reports.claims import Claim, Verdict, check_claims
from bench.reports.paper import FINDING_RUNS, dataset_warning, paper_comparison, paper_table_for, paper_tables, table_spec
from bench.reports.per_category import per_category_table
from bench.reports.select import select_results
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


def our_names(suite: str, table: str) -> dict[str, str]:
    """The paper table's run names -> the runs of ``suite`` that play them (bench/reports/paper.py:
    FINDING_RUNS); the names themselves where the suite is the table's own."""
    if suite == table or suite not in FINDING_RUNS or table not in FINDING_RUNS:
        return {}
    return {canonical: ours for canonical, ours in zip(FINDING_RUNS[table], FINDING_RUNS[suite]) if canonical and ours}


def _paper_value(spec: dict, run: str, metric: str) -> float | None:
    """The paper's ``metric`` of the row whose run is ``run``: its summary value, or for a per-category table
    (Table 7) its Mean column."""
    for row in spec.get("rows", []):
        if "values" in row:
            columns = [str(c).casefold() for c in spec.get("columns", [])]
            if row.get("run") == run and row.get("metric") == metric and "mean" in columns:
                return float(row["values"][columns.index("mean")])
        elif metric in row and row.get("metric_runs", {}).get(metric, row.get("run")) == run:
            return float(row[metric])
    return None


def paper_difference(claim: Claim, suite: str, table: str) -> float | None:
    """The paper's own B - A for ``claim`` (in the paper table the suite is set beside), or None where the paper
    has no such pair of numbers."""
    try:
        spec = table_spec(table)
    except BenchError:
        return None
    canonical = {ours: name for name, ours in our_names(suite, table).items()}
    a = _paper_value(spec, canonical.get(claim.a, claim.a), claim.metric)
    b = _paper_value(spec, canonical.get(claim.b, claim.b), claim.metric)
    return None if a is None or b is None else round(b - a, 6)


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
    report = SuiteReport(suite, selected, check_claims(selected, suite, results_dir), conventions(selected),
                         paper_table_for(suite, table))
    report.paper_diffs = [paper_difference(v.claim, suite, report.table) for v in report.verdicts]
    if paper or (card and report.table in paper_tables()):
        report.paper, report.paper_dataset = paper_comparison(selected, report.table, suite)
        report.per_class = per_category_table(selected, report.table)
    return report
