"""`bench robustness`."""

from __future__ import annotations

from pathlib import Path

import typer

from bench.cli._common import ConfigOption, DataPathOption, TrustOption, cli_errors, err_console, user_config
from bench.cli._output import Format, print_frame
from bench.errors import BenchError
from bench.reports.select import find_runs
from bench.results import locate_run_dir

app = typer.Typer()


def _ints(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    if not text:
        return default
    try:
        return tuple(int(t) for t in text.split(","))
    except ValueError:
        raise BenchError(f"--severities {text!r}: expected comma-separated integers 1..5, e.g. 1,3,5") from None


@app.command("robustness")
@cli_errors
def robustness_cmd(
    items: list[str] = typer.Argument(..., help="Runs (suite/run, a run folder) or whole suites."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", "-r"),
    corruptions: str = typer.Option(None, "--corruptions", help="Comma-separated, of noise, sparsity, partial, outliers, density, rotate-up, rotate-so3 (default: all)."),
    severities: str = typer.Option(None, "--severities", help="Comma-separated severities 1..5 (default: all)."),
    points: int = typer.Option(None, "--points", help="IoU / mIoU points per shape (default 20000; 0: all the run used)."),
    mesh: bool = typer.Option(False, "--mesh/--no-mesh", help="Also mesh the run's meshed sample under every setting (Chamfer-L1; slow)."),
    baseline: str = typer.Option(None, "--baseline", help="suite/run the mCE is relative to (default: default/onet when present)."),
    rerun: bool = typer.Option(False, "--rerun", help="Recompute even when the run has robustness results of these settings."),
    fmt: Format = typer.Option(Format.table, "--format", "-f", help="table | csv | markdown."),
    out: Path = typer.Option(None, "--out", "-o", help="Write csv/markdown to this file."),
    trust_plugins: bool = TrustOption,
    data_path: Path = DataPathOption,
    config: Path = ConfigOption,
) -> None:
    """Re-evaluate saved runs under test-time corruptions of their input (noise, sparsity, partial, outliers,
    density, rotations) at 5 severities, without retraining; print each task's main metric per corruption,
    the mean corrupted score and the mCE against a baseline run (paired bootstrap intervals)."""
    from bench.robustness.corruptions import SEVERITIES, CORRUPTIONS
    from bench.robustness.run import DEFAULT_MAX_POINTS, Settings

    settings = Settings(corruptions=tuple(corruptions.split(",")) if corruptions else tuple(CORRUPTIONS),
                        severities=_ints(severities, SEVERITIES),
                        max_points=DEFAULT_MAX_POINTS if points is None else points, mesh=mesh)
    results = [r for item in items for r in find_runs(item, results_dir) if r.ranked]
    if not results:
        raise BenchError(f"no finished (and not step-limited) run among {', '.join(items)} under {results_dir}.")
    scores = [_scores(r, results_dir, settings, rerun, trust_plugins, config, data_path) for r in results]
    from bench.robustness.table import robustness_frame

    base = _baseline(baseline, results_dir, scores, settings, trust_plugins, config, data_path)
    frame = robustness_frame(scores, base)
    print_frame(frame, f"robustness ({len(settings.corruptions)} corruptions x {len(settings.severities)} severities; "
                       f"mCE vs {base.name if base else 'no baseline'})", fmt, out)


def _scores(result, results_dir, settings, rerun, trust_plugins, config, data_path):
    """The run's robustness scores: read back when made with these settings, else computed and written."""
    from bench.robustness.run import evaluate_robustness, read_robustness, read_summary, write_robustness
    from bench.robustness.table import RunScores
    from bench.training.restore import restore_run

    run_dir = locate_run_dir(result, results_dir)
    summary = read_summary(run_dir)
    frame = read_robustness(run_dir)
    wanted = settings.identity()
    have = {k: (summary or {}).get("settings", {}).get(k) for k in wanted}
    if rerun or frame is None or have != wanted:
        restored = restore_run(run_dir, trust_plugins=trust_plugins, user_cfg=user_config(config), data_path=data_path)
        # progress on stderr: stdout is the table (or CSV / Markdown)
        rob = evaluate_robustness(restored, settings, lambda m: err_console.print(f"[{result.run_name}] {m}", highlight=False))
        csv_path, _ = write_robustness(rob)
        err_console.print(f"[{result.run_name}] wrote {csv_path}", highlight=False)
        frame = rob.frame
    infos = {t: result.task_info(t) for t in result.tasks}
    mains = {t: (i.main, i.directions.get(i.main) != "lower") for t, i in infos.items() if i.main}
    return RunScores(f"{result.suite}/{result.run_name}", frame, mains)


def _baseline(name, results_dir, scores, settings, trust_plugins, config, data_path):
    if name is None:
        named = {s.name: s for s in scores}
        if "default/onet" in named:
            return named["default/onet"]
        try:
            (result,) = [r for r in find_runs("default/onet", results_dir) if r.ranked][:1]
        except (BenchError, ValueError):
            return None
    else:
        found = [r for r in find_runs(name, results_dir) if r.ranked]
        if not found:
            raise BenchError(f"--baseline {name}: no finished run of that name under {results_dir}.")
        result = found[0]
    return _scores(result, results_dir, settings, False, trust_plugins, config, data_path)
