"""The report card's robustness section: per task, the main metric against severity for each corruption,
one line per run that has robustness results (robustness.csv, written by `bench robustness`)."""

from __future__ import annotations

from pathlib import Path

from bench.results import RunResult, locate_run_dir
from bench.robustness.run import read_robustness


def robustness_section(results: list[RunResult], results_dir: Path) -> list[tuple[str, str]]:
    """[(heading, HTML)] with the corruption curves; [] when no run of the card has robustness results."""
    from bench.reports.html import figure_html
    from bench.robustness.figures import corruption_curves

    frames, mains = {}, {}
    for r in results:
        frame = read_robustness(locate_run_dir(r, results_dir))
        if frame is None:
            continue
        frames[f"{r.run_name} (seed {r.seed})"] = frame
        for task in r.tasks:
            mains.setdefault(task, r.task_info(task).main)
    mains = {t: m for t, m in mains.items() if m}
    if not frames:
        return []
    body = "".join(figure_html(png, caption) for caption, png in corruption_curves(frames, mains))
    note = ("<p class='note'>Severity 0 is the run's clean evaluation; corruptions and severities are defined in "
            "docs/metrics.md (Robustness). `bench robustness` prints the mean corrupted scores and mCE.</p>")
    return [("robustness: each task's main score under corrupted input", note + body)]
