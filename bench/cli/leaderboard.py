"""`bench leaderboard`."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from bench.cli._common import ConfigOption, cli_errors, console

# Result folders are data from anywhere: code they name is imported only when the user says so, and the
# dataset is read where the user's bench.toml (or --data-path) keeps it, never where the file points.
TrustOption = typer.Option(False, "--trust-plugins", help="Restore runs whose result.json names a plugin as module:attr code (imports it; only for results you trust).")
DataPathOption = typer.Option(None, "--data-path", help="Folder of the run's dataset when it is not where bench.toml says (restoring never uses the path in result.json).")


def _user_config(path: Path | None):
    """The user's bench.toml: where datasets live when a run is restored (never the result file's paths)."""
    from bench.config import load_config

    return load_config(path)

app = typer.Typer()


class Format(str, Enum):
    table = "table"
    csv = "csv"
    markdown = "markdown"
    html = "html"


def render(results, fmt: Format = Format.table, sort: str | None = None, title: str = "leaderboard",
           out: Path | None = None, **filters) -> None:
    from bench.leaderboard import display_columns, leaderboard_frame, rich_table, to_csv, to_markdown

    frame = leaderboard_frame(results, sort=sort, **filters)
    if frame.empty:
        console.print("no results match (run `bench run` first)")
        return
    if fmt == Format.table:
        from rich.markup import escape

        console.print(rich_table(frame, title))
        failed = frame[frame["error"].notna()] if "error" in frame else frame.iloc[0:0]
        for _, row in failed.iterrows():
            console.print(f"[red]{escape(str(row['suite']))}/{escape(str(row['run']))} failed:[/red] "
                          f"{escape(str(row['error']))}", highlight=False, markup=True)
        return
    if fmt == Format.csv:
        text = to_csv(frame)
    elif fmt == Format.markdown:
        text = to_markdown(frame) + "\n"
    else:
        from bench.html import page, table_html

        images = sorted(p for r in results for p in _run_dir_pngs(r))
        text = page(title, [("runs", table_html(frame[display_columns(frame)]))], images=images)
    _emit(text, out)


def _run_dir_pngs(result) -> list[Path]:
    from bench.results import locate_run_dir

    run_dir = locate_run_dir(result)
    return sorted(run_dir.glob("*.png")) if run_dir.is_dir() else []


def _emit(text: str, out: Path | None) -> None:
    if out is None:
        print(text, end="")
        return
    from bench._io import atomic_write_text

    atomic_write_text(out, text)
    console.print(f"wrote {out}")


@app.command("leaderboard")
@cli_errors
def leaderboard_cmd(
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r", help="Folder of result files."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | csv | markdown."),
    sort: str = typer.Option(None, "--sort", help="Metric to rank by (direction-aware), e.g. iou, chamfer_l1."),
    suite: str = typer.Option(None, "--suite", help="Only this suite."),
    dataset: str = typer.Option(None, "--dataset", help="Only this dataset name."),
    encoder: str = typer.Option(None, "--encoder", help="Only this encoder."),
    task: str = typer.Option(None, "--task", help="Only runs that trained this task."),
    out: Path = typer.Option(None, "--out", "-o", help="Write csv/markdown/html to this file."),
) -> None:
    """Print every run's metrics from the result files; unfinished runs are marked and never ranked."""
    from bench.results import scan_results

    render(scan_results(results_dir), fmt, sort, out=out, suite=suite, dataset=dataset, encoder=encoder, task=task)


def _resolve_run(arg: str, results_dir: Path):
    """A result folder, a result.json, or suite/run under results_dir."""
    from bench.errors import ResultError
    from bench.results import RESULT_FILE, read_result, scan_results

    path = Path(arg)
    if path.is_file():
        return [read_result(path)]
    if (path / RESULT_FILE).is_file():
        return [read_result(path / RESULT_FILE)]
    every = scan_results(results_dir)
    suite, _, run = arg.partition("/")
    found = [r for r in every if r.suite == suite and (not run or r.run_name == run)]
    if not found:
        names = sorted({f"{r.suite}/{r.run_name}" for r in every} | {r.suite for r in every})
        from bench.errors import did_you_mean

        raise ResultError(f"no run or suite '{arg}' under {results_dir}.{did_you_mean(arg, names)}")
    return found


@app.command("compare")
@cli_errors
def compare_cmd(
    items: list[str] = typer.Argument(..., help="Runs (suite/run, a run folder) or whole suites; the first is the reference."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r"),
    per_category: bool = typer.Option(False, "--per-category", help="Per-category main scores (the paper's Table 7 layout)."),
    fmt: Format = typer.Option(Format.table, "--format", "-f"),
    out: Path = typer.Option(None, "--out", "-o"),
    mixed_precision: bool = typer.Option(False, "--mixed-precision", help="Compare runs of different precisions (bf16 vs fp32) anyway; each verdict says so."),
) -> None:
    """Metrics side by side with deltas and, per metric, which run is better (direction-aware)."""
    import pandas as pd

    from bench.leaderboard import metric_directions
    from bench.report import compare_frame

    groups = [_resolve_run(a, results_dir) for a in items]
    if all(len(g) == 1 for g in groups):
        pairs = {"runs": [g[0] for g in groups]}
    else:  # whole suites: pair runs by name
        names = [r.run_name for r in groups[0]]
        pairs = {n: [next((r for r in g if r.run_name == n), None) for g in groups] for n in names}
        pairs = {n: rs for n, rs in pairs.items() if all(rs)}
    for label, runs in pairs.items():
        directions = metric_directions(runs)
        frame = compare_frame(runs, directions, [_scores_of(r, results_dir) for r in runs],
                              allow_mixed_precision=mixed_precision)
        if per_category:
            rows = []
            for r in runs:
                for task, cats in r.per_category.items():
                    main = r.metric_info.get(task, {}).get("main")
                    rows.append({"run": f"{r.suite}/{r.run_name}", "task": task, "metric": main,
                                 **{c: v.get(main) for c, v in cats.items()}})
            frame = pd.DataFrame(rows)
        _print_frame(frame, f"compare: {label}", fmt, out)


def _scores_of(result, results_dir: Path):
    from bench.evaluation.scores import read_scores
    from bench.results import locate_run_dir

    return read_scores(locate_run_dir(result, results_dir))


def _print_frame(frame, title: str, fmt: Format, out: Path | None) -> None:
    from bench.leaderboard import _fmt

    if fmt == Format.table:
        from rich.table import Table

        table = Table(title=title)
        for c in frame.columns:
            table.add_column(str(c), justify="left" if c in ("task", "metric", "better", "direction", "run", "row") else "right")
        for _, row in frame.iterrows():
            table.add_row(*(_fmt(v) for v in row))
        console.print(table)
    elif fmt == Format.csv:
        _emit(frame.to_csv(index=False), out)
    elif fmt == Format.markdown:
        from bench.leaderboard import to_markdown

        _emit(to_markdown(frame, list(frame.columns)) + "\n", out)
    else:
        from bench.html import page, table_html

        _emit(page(title, [(title, table_html(frame))]), out)


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
    shapes: int = typer.Option(2, "--shapes", help="html: test shapes rendered with true and predicted parts (0: none)."),
    precision: str = typer.Option(None, "--precision", help="Only runs trained in this precision (bf16 | fp32; a report never mixes them)."),
    trust_plugins: bool = TrustOption,
    data_path: Path = DataPathOption,
    config: Path = ConfigOption,
) -> None:
    """A suite's leaderboard with intervals, the paper's claims as verdicts, the evaluation conventions,
    and (--paper) the paper's table beside ours. --format html writes the report card."""
    from bench.claims import check_claims
    from bench.report import dataset_warning, paper_comparison, select_results
    from bench.results import scan_results

    results = select_results(scan_results(results_dir), suite, dataset, profile, precision)
    if not results and not paper:
        from bench.errors import ResultError

        raise ResultError(f"no results of suite '{suite}' under {results_dir}; run `bench run --suite {suite}` first "
                          "(or pass --paper to see the paper's table alone).")
    checked = check_claims(results, suite, results_dir)
    verdicts = [v.line() for v in checked]
    conventions = _conventions(results)
    from bench.report import paper_tables

    # a suite that is not one of the paper's tables is set beside the table its runs mirror (default: Table 2)
    paper_table = table or (suite if suite in paper_tables() else {"default": "table2"}.get(suite, suite))

    if paper:
        comp, paper_ds = paper_comparison(results, paper_table, suite)
    if fmt == Format.html:  # the report card: one self-contained file
        from bench.report_card import build_report_card

        has_table = paper or paper_table in paper_tables()
        comp_html = paper_comparison(results, paper_table, suite) if has_table else None
        text = build_report_card(
            results, suite, results_dir, checked, paper=comp_html[0] if comp_html else None,
            paper_note=dataset_warning(results, comp_html[1]) if comp_html else "",
            per_class=_per_class(results, paper_table) if has_table else None, conventions=conventions, shapes=shapes,
            trust_plugins=trust_plugins, user_cfg=_user_config(config), data_path=data_path)
        _emit(text, out or Path(results_dir) / suite / "report.html")
        return
    if results:
        render(results, fmt, title=f"suite {suite}", out=out if fmt != Format.table else None)
    if paper:
        from rich.markup import escape

        console.print(f"[yellow]{escape(dataset_warning(results, paper_ds))}[/yellow]", highlight=False, markup=True)
        _print_frame(comp, f"paper {table or suite}: {paper_ds} (ours: category means)",
                     fmt if fmt != Format.html else Format.table, None)
        per_class = _per_class(results, table or suite)
        if per_class is not None:
            _print_frame(per_class, f"paper {table or suite}, per category", fmt if fmt != Format.html else Format.table, None)
    for line in verdicts + conventions:
        console.print(line, highlight=False)


def _per_class(results, table: str):
    """The per-category comparison for tables that have per-category rows (Table 7), else None."""
    from bench.paper_classes import per_class_comparison
    from bench.report import paper_tables

    spec = paper_tables().get(table, {})
    if not any("values" in row for row in spec.get("rows", [])):
        return None
    wide = per_class_comparison(results, table)
    rows = []  # one row per category, a paper / ours column pair per run: readable in a terminal
    for column in spec.get("columns", []):
        out = {"category": column}
        for _, r in wide.iterrows():
            out[f"{r['run']} paper"] = r.get(f"{column} (paper)")
            out[f"{r['run']} ours"] = r.get(f"{column} (ours)")
        rows.append(out)
    import pandas as pd

    return pd.DataFrame(rows)


def _conventions(results) -> list[str]:
    """One line per task: the evaluation conventions its metrics followed (from result.json)."""
    seen: dict[str, str] = {}
    for r in results:
        for task, info in r.metric_info.items():
            conv = info.get("conventions") if isinstance(info, dict) else None
            if conv:
                seen.setdefault(task, ", ".join(f"{k}={v}" for k, v in conv.items() if not isinstance(v, dict)))
    return [f"conventions of {task}: {text}" for task, text in seen.items()]


@app.command("export")
@cli_errors
def export_cmd(
    run: str = typer.Argument(..., help="Run folder, or suite/run under --results-dir."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r"),
    shapes: int = typer.Option(4, "--shapes", "-n", help="How many test shapes to export."),
    out: Path = typer.Option(None, "--out", "-o", help="Folder (default: <run folder>/export)."),
    figure: bool = typer.Option(True, "--figure/--no-figure", help="Also draw PNGs (needs matplotlib)."),
    trust_plugins: bool = TrustOption,
    data_path: Path = DataPathOption,
    config: Path = ConfigOption,
) -> None:
    """Predicted meshes as PLY, coloured by predicted parts when the run has a point-labelling head (e.g.
    segmentation), next to the ground-truth-coloured mesh, and a PNG per shape."""
    from bench.export import export_shapes
    from bench.results import locate_run_dir
    from bench.training.restore import restore_run

    (result,) = _resolve_run(run, results_dir)[:1]
    run_dir = locate_run_dir(result, results_dir)
    restored = restore_run(run_dir, trust_plugins=trust_plugins, user_cfg=_user_config(config), data_path=data_path)
    report = export_shapes(restored, out or run_dir / "export", shapes, figure=figure)
    for p in report.written:
        console.print(str(p), highlight=False)
    if report.empty:
        from rich.markup import escape

        console.print(f"[yellow]{len(report.empty)} shape(s) had no surface: the predicted occupancy never crosses "
                      f"the threshold (eval.iou_threshold) inside the box, so there was no mesh to write: "
                      f"{escape(', '.join(report.empty))}[/yellow]", highlight=False, markup=True)
    if not report.written:
        from bench.errors import ResultError

        raise ResultError(f"{run_dir}: nothing was exported (no shape had a surface). An undertrained model predicts "
                          "empty space; train longer (more train.max_steps) and export again.")
