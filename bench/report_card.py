"""The report card of a suite: one self-contained HTML file (no network needed to view it) with the
leaderboard and its intervals, the paper's table beside it, the claims with their verdicts, training curves,
per-category bars, and Fig. 3-style renders of test shapes coloured by predicted and true parts.
Plots are drawn with matplotlib and embedded as PNG."""

from __future__ import annotations

import html
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.results import RunResult, locate_run_dir

VERDICT_COLOURS = {"reproduced": "#1a7f37", "contradicted": "#cf222e", "inconclusive": "#9a6700", "n/a": "#57606a"}


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _log_of(r: RunResult, results_dir: Path) -> pd.DataFrame:
    from bench.training.trainlog import LOG_FILE

    path = locate_run_dir(r, results_dir) / LOG_FILE
    if path.is_file():
        return pd.read_csv(path)
    return pd.DataFrame(r.training.get("history", []))  # results without a log: the validation steps only


def training_curves(results: list[RunResult], results_dir: Path) -> bytes | None:
    """Loss and validation score per step, one line per run."""
    from bench.figures import _pyplot, plain_text

    plt = _pyplot()
    logs = {plain_text(f"{r.run_name} (seed {r.seed})"): _log_of(r, results_dir) for r in results}
    logs = {k: v for k, v in logs.items() if not v.empty and "step" in v}
    if not logs:
        return None
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 3.6))
    for name, log in logs.items():
        if "loss" in log:
            rows = log.dropna(subset=["loss"])
            ax_loss.plot(rows["step"], rows["loss"], label=name, lw=1)
        if "val_score" in log:
            rows = log.dropna(subset=["val_score"])
            ax_val.plot(rows["step"], rows["val_score"], marker="o", ms=3, label=name, lw=1)
    ax_loss.set(xlabel="step", ylabel="training loss (weighted sum)", yscale="log", title="training loss")
    ax_val.set(xlabel="step", ylabel="mean of the tasks' main scores", title="validation (model selection)")
    ax_loss.legend(fontsize=7)
    return _png(fig)


def category_bars(results: list[RunResult]) -> list[tuple[str, bytes]]:
    """Per task, its main score per category, one bar per run."""
    from bench.figures import _pyplot, plain_text

    plt = _pyplot()
    tasks: dict[str, list[RunResult]] = {}
    for r in results:
        for task in r.per_category:
            tasks.setdefault(task, []).append(r)
    out = []
    for task, runs in tasks.items():
        main = runs[0].metric_info.get(task, {}).get("main")
        cats = sorted({c for r in runs for c in r.per_category[task]})
        if not main or not cats:
            continue
        fig, ax = plt.subplots(figsize=(max(6, 0.5 * len(cats) * max(1, len(runs)) / 2), 3.4))
        width = 0.8 / len(runs)
        for k, r in enumerate(runs):
            values = [r.per_category[task].get(c, {}).get(main) for c in cats]
            ax.bar(np.arange(len(cats)) + k * width, [np.nan if v is None else v for v in values], width,
                   label=plain_text(f"{r.run_name} (seed {r.seed})"))
        # every label here comes from result files: "$" in a category or metric name is text, not a formula
        ax.set_xticks(np.arange(len(cats)) + 0.4 - width / 2, [plain_text(c) for c in cats], rotation=45, ha="right",
                      fontsize=8)
        ax.set(ylabel=plain_text(main), title=plain_text(f"{task}: {main} per category"))
        ax.legend(fontsize=7)
        out.append((f"{task} per category", _png(fig)))
    return out


def shape_renders(results: list[RunResult], results_dir: Path, shapes: int, trust_plugins: bool = False,
                  user_cfg=None, data_path: Path | None = None) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Fig. 3-style renders of test shapes of the run that best shows parts: one with a mesh-scoring and a
    point-labelling task if any, else one with a mesh-scoring task. Returns (figures, notes): a run that
    cannot be restored (e.g. its result names code to import, without ``trust_plugins``) is a note."""
    from bench.export import export_shapes
    from bench.training.restore import restore_run

    def rank(r: RunResult) -> int:
        meshes = any(i.get("scores_mesh") for i in r.metric_info.values())
        labels = any(i.get("labels_points") for i in r.metric_info.values())
        return 2 * meshes + labels

    candidates = sorted((r for r in results if r.status == "complete"), key=rank, reverse=True)
    notes: list[str] = []
    for r in candidates:
        try:
            restored = restore_run(locate_run_dir(r, results_dir), trust_plugins=trust_plugins, user_cfg=user_cfg,
                                   data_path=data_path)
            with tempfile.TemporaryDirectory() as tmp:
                report = export_shapes(restored, Path(tmp), shapes, figure=True)
                figures = [(f"{r.run_name}: {p.stem}", p.read_bytes()) for p in report.written if p.suffix == ".png"]
            if report.empty:
                notes.append(f"{r.run_name}: no surface for {', '.join(report.empty)} (the model predicts empty space there)")
            if figures:
                return figures, notes
        except BenchError as exc:
            notes.append(f"{r.run_name}: could not be restored for renders: {exc}")
        except Exception as exc:  # noqa: BLE001 - a card without renders is still a card; say why
            notes.append(f"{r.run_name}: no renders ({type(exc).__name__}: {exc})")
    return [], notes


def build_report_card(results: list[RunResult], suite: str, results_dir: Path, verdicts: list,
                      paper: pd.DataFrame | None = None, paper_note: str = "", per_class: pd.DataFrame | None = None,
                      conventions: list[str] | None = None, shapes: int = 2, trust_plugins: bool = False,
                      user_cfg=None, data_path: Path | None = None) -> str:
    """The HTML text of the card. ``trust_plugins`` / ``user_cfg``: how runs are restored for renders
    (bench/training/restore.py)."""
    from bench.html import page, table_html
    from bench.leaderboard import display_columns, leaderboard_frame

    sections: list[tuple[str, str]] = [("summary", _summary_html(results))]
    if verdicts:
        items = "".join(f"<li><b style='color:{VERDICT_COLOURS.get(v.verdict, '#000')}'>{html.escape(v.verdict)}</b> "
                        f"{html.escape(v.line())}</li>" for v in verdicts)
        sections.append(("the paper's claims", f"<ul class='claims'>{items}</ul>"))
    if results:
        frame = leaderboard_frame(results)
        sections.append(("leaderboard", table_html(frame[display_columns(frame)]) +
                         "<p class='note'>_low / _high: the 95 % interval (bootstrap over test shapes; "
                         "Student-t over seeds).</p>"))
    if paper is not None:
        sections.append(("the paper's table", f"<p class='note'>{html.escape(paper_note)}</p>" + table_html(paper)))
    if per_class is not None:
        sections.append(("the paper's table, per category", table_html(per_class)))
    curves = training_curves(results, Path(results_dir)) if results else None
    if curves:
        sections.append(("training", _img(curves, "training curves")))
    for caption, png in category_bars(results):
        sections.append((caption, _img(png, caption)))
    if shapes and results:
        figures, notes = shape_renders(results, Path(results_dir), shapes, trust_plugins, user_cfg, data_path)
        body = "".join(_img(png, caption) for caption, png in figures)
        body += "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)
        sections.append(("test shapes: true parts (left) and predicted (right)", body or "<p>none</p>"))
    if conventions:
        sections.append(("conventions", "<ul>" + "".join(f"<li>{html.escape(c)}</li>" for c in conventions) + "</ul>"))
    return page(f"implicit-bench report card: suite {suite}", sections)


def _img(png: bytes, caption: str) -> str:
    import base64

    return (f"<figure><img alt='{html.escape(caption, quote=True)}' src='data:image/png;base64,"
            f"{base64.b64encode(png).decode()}'><figcaption>{html.escape(caption)}</figcaption></figure>")


def _summary_html(results: list[RunResult]) -> str:
    def values(get) -> str:
        return ", ".join(sorted({str(get(r)) for r in results})) or "–"

    rows = [("runs", str(len(results))), ("dataset", values(lambda r: f"{r.dataset.get('name')} ({r.dataset.get('revision')})")),
            ("profile", values(lambda r: r.config.get("profile") or "none")), ("seeds", values(lambda r: r.seed)),
            ("encoders", values(lambda r: r.encoder.get("name"))), ("device", values(lambda r: r.device)),
            ("precision", values(lambda r: r.training.get("precision", "?"))),
            ("bench", values(lambda r: f"{r.bench_version} ({(r.git.get('commit') or '?')[:10]})"))]
    return "<table>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"
