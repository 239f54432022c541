"""The report card of a suite: one self-contained HTML file (no network needed to view it). Its first screen
answers the suite's question: the paper's claims as a forest plot (each difference with its interval, the band
where the claim holds, the paper's own difference), then one main score per task with its interval drawn as a
bar; below, the paper's table beside ours, one Fig. 3-style render per class (true and predicted parts side by
side), per-category bars and training curves; the full leaderboard and the conventions and units are one click
away. Plots are drawn with matplotlib (or inline SVG) and embedded."""

from __future__ import annotations

import html
import inspect
import io
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import BenchError
from bench.reports.claims import averaging
from bench.reports.figures import _pyplot, plain_text, png_bytes, verdict_colour
from bench.reports.html import figure_html, folded, page, scrolling, table_html
from bench.reports.leaderboard import build_leaderboard
from bench.results import RunResult, locate_run_dir
from bench.training.trainlog import LOG_FILE

def _log_of(r: RunResult, results_dir: Path) -> pd.DataFrame:
    path = locate_run_dir(r, results_dir) / LOG_FILE
    if path.is_file():
        return pd.read_csv(path)
    return pd.DataFrame(r.training.history)  # results without a log: the validation steps only


def training_curves(results: list[RunResult], results_dir: Path) -> bytes | None:
    """Loss and validation score per step, one line per run."""
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
    return png_bytes(fig)


def category_bars(results: list[RunResult]) -> list[tuple[str, bytes]]:
    """Per task, its main score per category, one bar per run."""
    plt = _pyplot()
    tasks: dict[str, list[RunResult]] = {}
    for r in results:
        for task in r.per_category:
            tasks.setdefault(task, []).append(r)
    out = []
    for task, runs in tasks.items():
        main = runs[0].task_info(task).main
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
        out.append((f"{task} per category", png_bytes(fig)))
    return out


def shape_renders(results: list[RunResult], results_dir: Path, shapes: int, trust_plugins: bool = False,
                  user_cfg=None, data_path: Path | None = None) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Fig. 3-style renders of test shapes of the run that best shows parts: one with a mesh-scoring and a
    point-labelling task if any, else one with a mesh-scoring task. Returns (figures, notes): a run that
    cannot be restored (e.g. its result names code to import, without ``trust_plugins``) is a note."""
    from bench.reports.export import export_shapes
    from bench.training.restore import restore_run

    def rank(r: RunResult) -> int:
        meshes = any(i.scores_mesh for i in r.metric_info.values())
        labels = any(i.labels_points for i in r.metric_info.values())
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


# --- the card ------------------------------------------------------------------------------------------------
# Its first screen answers the suite's question: the paper's claims as a forest plot (our difference with its
# interval, the band where the claim holds, the paper's own difference), then one main score per task with its
# interval drawn as a bar. Everything else is below or one click away (<details>).

CardSection = Callable[[list[RunResult], Path], list[tuple[str, str]]]
"""A section a later feature adds to the card: called with the card's runs and results folder, it returns
(heading, escaped HTML) pairs, [] when its results do not exist."""

def _robustness(results: list[RunResult], results_dir: Path) -> list[tuple[str, str]]:
    from bench.robustness.card import robustness_section

    return robustness_section(results, results_dir)


def _probe(results: list[RunResult], results_dir: Path) -> list[tuple[str, str]]:
    from bench.probe.card import probe_section

    return probe_section(results, results_dir)


EXTRA_SECTIONS: tuple[CardSection, ...] = (_robustness, _probe)
"""Sections shown after the leaderboard when their results exist (each returns [] otherwise): the
corruption curves of `bench robustness` and the probe profiles of `bench probe`."""

_CARD_CSS = (
    ".summary{display:flex;flex-wrap:wrap;gap:2px 18px;margin:0 0 .4em;padding:0;color:#57606a}"
    ".summary div{display:flex;gap:5px}.summary dt{font-weight:600;color:#1f2328}.summary dd{margin:0}"
    ".lede{margin:.2em 0 .5em;color:#57606a}"
    "ul.claims{list-style:none;margin:0;padding:0}"
    "li.claim,li.axis{display:grid;grid-template-columns:minmax(0,1fr) 400px;gap:16px;align-items:center;"
    "padding:5px 0;border-bottom:1px solid #eaeef2}li.axis{border:0;padding:0}"
    ".claim-what{font-weight:600}.evidence{color:#57606a;font-size:.9em;overflow-wrap:anywhere}"
    ".verdict{display:inline-block;color:#fff;border-radius:10px;padding:0 8px;margin-right:6px;font-size:.85em;"
    "font-weight:600;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "svg.forest{display:block}.legend{font-size:.85em;color:#57606a;margin:.3em 0}"
    "table.board{width:auto;max-width:100%}table.board th small{display:block;font-weight:400;color:#57606a}"
    "table.board td{min-width:150px}table.board td:nth-child(-n+2){min-width:0}"
    "table.board td:nth-child(2),table.board th:nth-child(2){text-align:left}"
    "td.score .num{font-variant-numeric:tabular-nums;white-space:nowrap}td.score .pm{color:#57606a;font-size:.85em}"
    ".track{position:relative;display:block;height:8px;margin-top:3px;background:#f6f8fa;border-radius:4px;"
    "-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    ".track .ci{position:absolute;top:1px;height:6px;background:#54aeff;border-radius:3px}"
    ".track .pt{position:absolute;top:-1px;width:2px;height:10px;margin-left:-1px;background:#0550ae}"
    "td small.flag{color:#cf222e}td small{color:#57606a}"
    ".renders{display:grid;grid-template-columns:repeat(auto-fill,minmax(270px,1fr));gap:8px}"
    ".renders .family{display:flex;gap:6px;margin:0}.renders .family.pair{grid-column:span 2}"
    ".renders figure{flex:1;margin:0;min-width:0}"
    ".paper td:nth-child(2),.paper th:nth-child(2){text-align:left;white-space:nowrap}"
    "@media print{li.claim{grid-template-columns:minmax(0,1fr) 360px}}"
)
_PLOT_W, _ROW_H, _PAD = 400, 30, 14


def _scale(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo < 0.02:
        mid = (hi + lo) / 2
        lo, hi = mid - 0.01, mid + 0.01
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def _ticks(lo: float, hi: float) -> list[float]:
    raw = (hi - lo) / 5
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [round(t, 10) + 0.0 for t in np.arange(np.ceil(lo / step) * step, hi + 1e-12, step)]  # + 0.0: no "-0"


def _claim_band(v, lower: bool) -> tuple[float, float | None, float | None]:
    """(threshold, band low, band high) of a claim in its metric's own direction: where its difference has to
    lie, wholly, for the claim to hold (None: open to that side)."""
    t = v.claim.tolerance
    threshold = -t if v.claim.kind == "not_worse" else t
    if lower:  # the difference is reported in the metric's own direction: a lower-is-better gain is negative
        return -threshold, None, -threshold
    return threshold, threshold, None


def _claims_html(verdicts: list, paper_diffs: list[float | None], lower_metrics: set[str]) -> str:
    """The claims as a forest plot: per claim its verdict (once), what it says, our difference B - A with its
    95 % interval, the band where the claim holds (its tolerance) and the paper's own difference."""
    paper_diffs = list(paper_diffs) + [None] * (len(verdicts) - len(paper_diffs))
    values = [0.0]
    for v, p in zip(verdicts, paper_diffs):
        values += [x for x in (v.diff, v.low, v.high, p) if x is not None]
        values.append(_claim_band(v, v.claim.metric in lower_metrics)[0])
    lo, hi = _scale(values)

    def x(value: float) -> float:
        return round(_PAD + (value - lo) / (hi - lo) * (_PLOT_W - 2 * _PAD), 1)

    zero = x(0.0)
    items = []
    for v, paper in zip(verdicts, paper_diffs):
        colour = verdict_colour(v.verdict)
        threshold, band_lo, band_hi = _claim_band(v, v.claim.metric in lower_metrics)
        left, right = x(band_lo) if band_lo is not None else 0, x(band_hi) if band_hi is not None else _PLOT_W
        mid = _ROW_H / 2
        svg = [f"<svg class='forest' width='{_PLOT_W}' height='{_ROW_H}' viewBox='0 0 {_PLOT_W} {_ROW_H}' role='img'>",
               f"<rect x='{left}' y='2' width='{max(0.0, right - left)}' height='{_ROW_H - 4}' fill='#dafbe1'>"
               f"<title>the claim holds where the whole interval lies here (threshold {threshold:+.3f})</title></rect>",
               f"<line x1='{zero}' x2='{zero}' y1='0' y2='{_ROW_H}' stroke='#8c959f' stroke-dasharray='3 3'/>"]
        if threshold:
            svg.append(f"<line x1='{x(threshold)}' x2='{x(threshold)}' y1='2' y2='{_ROW_H - 2}' stroke='#4ac26b'/>")
        if v.diff is None:
            svg.append(f"<text x='{_PLOT_W / 2}' y='{mid + 4}' text-anchor='middle' font-size='11' fill='#57606a'>"
                       "no estimate</text>")
        else:
            if v.low is not None and v.high is not None:
                svg.append(f"<line x1='{x(v.low)}' x2='{x(v.high)}' y1='{mid}' y2='{mid}' stroke='{colour}' "
                           "stroke-width='3'/>")
                svg += [f"<line x1='{x(e)}' x2='{x(e)}' y1='{mid - 5}' y2='{mid + 5}' stroke='{colour}' stroke-width='2'/>"
                        for e in (v.low, v.high)]
            svg.append(f"<circle cx='{x(v.diff)}' cy='{mid}' r='4.5' fill='{colour}'><title>ours: {v.diff:+.3f}</title></circle>")
        if paper is not None:
            px = x(paper)
            svg.append(f"<polygon points='{px},{mid - 6} {px + 6},{mid} {px},{mid + 6} {px - 6},{mid}' fill='#fff' "
                       f"stroke='#0969da' stroke-width='2'><title>the paper: {paper:+.3f}</title></polygon>")
        svg.append("</svg>")
        if v.diff is None:
            evidence = html.escape(v.evidence)
        else:
            ci = f" [{v.low:+.3f}, {v.high:+.3f}]" if v.low is not None and v.high is not None else " (no interval)"
            evidence = (f"{html.escape(v.comparison.replace(' - ', ' − '))}, {html.escape(averaging(v.claim.metric))}: "
                        f"<b>{v.diff:+.3f}</b>{html.escape(ci)} · {html.escape(v.evidence)}")
        if paper is not None:
            evidence += f" · the paper: {paper:+.3f}"
        items.append(f"<li class='claim'><div><span class='verdict' style='background:{colour}'>"
                     f"{html.escape(v.verdict)}</span><span class='claim-what'>{html.escape(v.claim.text)}</span>"
                     f"<div class='evidence'>{evidence}</div></div>{''.join(svg)}</li>")
    ticks = "".join(f"<line x1='{x(t)}' x2='{x(t)}' y1='0' y2='5' stroke='#8c959f'/>"
                    f"<text x='{x(t)}' y='17' text-anchor='middle' font-size='11' fill='#57606a'>{t:+g}</text>".replace(">+0<", ">0<")
                    for t in _ticks(lo, hi))
    axis = (f"<li class='axis'><div></div><svg class='forest' width='{_PLOT_W}' height='20' viewBox='0 0 {_PLOT_W} 20'>"
            f"<line x1='0' x2='{_PLOT_W}' y1='0' y2='0' stroke='#8c959f'/>{ticks}</svg></li>")
    legend = ("<p class='legend'>Each row: B − A on the claim's metric (averaged as the paper does, in the metric's own direction) — "
              "<b>●</b> our difference with its 95 % interval; green band: where the whole interval must lie for the "
              "claim to hold (its tolerance); <b style='color:#0969da'>◇</b> the paper's own difference; dashed: "
              "no difference.</p>")
    return f"<ul class='claims keep'>{''.join(items)}{axis}</ul>{legend}"


def _bar(value, low, high, lo: float, hi: float) -> str:
    def pct(v: float) -> float:
        return round(min(100.0, max(0.0, (v - lo) / (hi - lo) * 100)), 1) if hi > lo else 50.0

    ci = (f"<span class='ci' style='left:{pct(low)}%;width:{max(0.5, pct(high) - pct(low))}%'></span>"
          if low is not None and high is not None else "")
    return f"<span class='track'>{ci}<span class='pt' style='left:{pct(value)}%'></span></span>"


def _number(value) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


def _leaderboard_html(board) -> str:
    """One row per run (seeds merged), one column per task's main score: the value, the half-width of its 95 %
    interval, and the interval drawn as a bar (each column on its own scale, which includes 0)."""
    frame = board.frame
    columns = board.main_columns()
    tasks = {c.column: c.task for c in board.columns}
    arrows = {"higher": "↑", "lower": "↓"}
    head = "".join(f"<th>{html.escape(board.labels.get(c, c))} {arrows.get(board.directions.get(c, ''), '')}"
                   f"<small>{html.escape(tasks.get(c, ''))}</small></th>" for c in columns)
    scales = {}
    for c in columns:
        values = [0.0] + [float(v) for k in (c, f"{c}_low", f"{c}_high") if k in frame for v in frame[k] if _number(v)]
        scales[c] = (min(values), max(values))
    rows = []
    for _, row in frame.iterrows():
        seeds = int(row.get("seeds", 1) or 1)
        run = html.escape(str(row["run"])) + (f" <small>{seeds} seeds</small>" if seeds > 1 else "")
        if row.get("flags"):
            run += f" <small class='flag'>{html.escape(str(row['flags']))}</small>"
        cells = [f"<td>{run}</td><td>{html.escape(str(row['protocol']))}</td>"]
        for c in columns:
            value = row.get(c)
            if not _number(value):
                cells.append("<td class='score'>–</td>")
                continue
            low, high = row.get(f"{c}_low"), row.get(f"{c}_high")
            low, high = (float(low), float(high)) if _number(low) and _number(high) else (None, None)
            pm = f" <span class='pm'>± {(high - low) / 2:.4f}</span>" if low is not None else ""
            cells.append(f"<td class='score'><span class='num'>{float(value):.4f}</span>{pm}"
                         f"{_bar(float(value), low, high, *scales[c])}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    table = (f"<table class='board keep'><thead><tr><th>run</th><th>protocol</th>{head}</tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>")
    note = ("<p class='note'>The task's main score, mean over the test shapes (over seeds where a run has several); "
            "± and the blue bar: its 95 % interval (bootstrap over the test shapes for one seed, Student-t over "
            "seeds for several); the tick: the mean. Each column has its own scale, which includes 0.</p>")
    full_cols = board.display_columns(every_metric=True)
    full = folded(f"every metric, category mean and interval, with seeds, parameters and training time "
                  f"({len(full_cols)} columns)",
                  scrolling(table_html(frame[full_cols])) +
                  "<p class='note'>_low / _high: the 95 % interval (bootstrap over test shapes; Student-t over seeds); "
                  "_class_mean: the unweighted mean of the per-category means (how the paper averages).</p>")
    return scrolling(table) + note + full


_FAMILY = re.compile(r"^(?P<family>.+)_(?:with|no)_[^/]+$")


def class_family(category: str) -> str:
    """The family of a class: the synthetic pairs that differ by one part (``chair_with_arm``, ``chair_no_arm``)
    share one; any other class is its own."""
    m = _FAMILY.match(str(category))
    return m.group("family") if m else str(category)


@dataclass
class RenderChoice:
    """Which test shapes the card renders: one per class, the classes of a family (a pair that differs by one
    part) next to each other."""

    shapes: list[str]  # shape ids, in the order shown
    classes: dict[str, str]  # shape id -> class
    test_order: list[str] = field(default_factory=list)  # every scored test shape, in the split's order

    @property
    def families(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for sid in self.shapes:
            out.setdefault(class_family(self.classes[sid]), []).append(sid)
        return out


def choose_renders(results: list[RunResult], results_dir: Path, limit: int | None = None) -> RenderChoice | None:
    """One test shape per class (its first in the split's order), read from a finished run's scores.csv; with
    ``limit``, at most that many classes, every family before the second class of any. None without scores."""
    from bench.reports.select import scores_of

    for r in results:
        if r.status != "complete":
            continue
        scores = scores_of(r, results_dir)
        if scores is None or not {"shape", "category"} <= set(scores.columns) or scores.empty:
            continue
        first = scores.drop_duplicates("category")
        by_class = dict(zip(first["category"].astype(str), first["shape"].astype(str)))
        classes = sorted(by_class, key=lambda c: (class_family(c), c))
        if limit is not None and limit < len(classes):
            seen, firsts, rest = set(), [], []
            for c in classes:
                (rest if class_family(c) in seen else firsts).append(c)
                seen.add(class_family(c))
            keep = set((firsts + rest)[:limit])
            classes = [c for c in classes if c in keep]
        return RenderChoice([by_class[c] for c in classes], {by_class[c]: c for c in classes},
                            scores["shape"].astype(str).tolist())
    return None


def _shrink(png: bytes, width: int = 560) -> bytes:
    """A render as the card shows it: scaled down to ``width`` pixels, in 256 colours (flat-shaded parts lose
    nothing; the card stays a few hundred KB with one render per class)."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - matplotlib depends on pillow
        return png
    img = Image.open(io.BytesIO(png)).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.quantize(256).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


MAX_RENDERED = 64  # test shapes meshed for the renders while shape_renders takes no list of shape ids


def _render_section(results: list[RunResult], results_dir: Path, limit: int | None, trust_plugins: bool,
                    user_cfg, data_path: Path | None) -> str:
    """The renders of the chosen shapes (shape_renders draws them), one per class, pairs side by side."""
    choice = choose_renders(results, results_dir, limit)
    kwargs = {}
    if choice is None:
        n = limit if limit is not None else 4
    elif "shape_ids" in inspect.signature(shape_renders).parameters:
        n, kwargs = len(choice.shapes), {"shape_ids": choice.shapes}
    else:  # shape_renders draws the first n test shapes: enough of them to reach the chosen ones (at most 64)
        n = min(max(choice.test_order.index(s) for s in choice.shapes) + 1, MAX_RENDERED)
    figures, notes = shape_renders(results, results_dir, n, trust_plugins, user_cfg, data_path, **kwargs)
    kept = _one_per_class(figures, choice)
    if choice is not None and kept:
        missing = [choice.classes[s] for s in choice.shapes if s not in kept]
        if missing:
            notes.append(f"no render of {', '.join(missing)} (not among the {n} test shapes drawn, or no surface)")
    body = []
    if choice is not None and kept:
        for family, sids in choice.families.items():
            figs = [(sid, kept[sid]) for sid in sids if sid in kept]
            if figs:
                body.append(f"<div class='family{' pair' if len(figs) > 1 else ''}'>"
                            + "".join(figure_html(png, f"{choice.classes[sid]} ({caption.split(':')[0]})", alt=caption)
                                      for sid, (caption, png) in figs) + "</div>")
    else:
        body += [f"<div class='family'>{figure_html(png, caption)}</div>" for caption, png in figures]
    out = f"<div class='renders'>{''.join(body)}</div>" if body else "<p>none</p>"
    return out + "".join(f"<p class='note'>{html.escape(n)}</p>" for n in notes)


def _one_per_class(figures: list[tuple[str, bytes]], choice: RenderChoice | None) -> dict[str, tuple[str, bytes]]:
    """Chosen shape id -> (caption, PNG) among ``figures`` (captions end in the shape id, "/" written "_")."""
    if choice is None:
        return {}
    stems = {sid.replace("/", "_"): sid for sid in choice.shapes}
    kept: dict[str, tuple[str, bytes]] = {}
    for caption, png in figures:
        stem = caption.rsplit(": ", 1)[-1]
        if stem in stems and stems[stem] not in kept:
            kept[stems[stem]] = (caption, _shrink(png))
    return kept


_UNITS = {"iou": "fraction of 1", "accuracy": "fraction of 1", "miou": "fraction of 1", "fscore": "fraction of 1",
          "normal_consistency": "fraction of 1 (mean |cos| of matched normals)",
          "chamfer_l1": "distance in the unit-cube frame (shapes normalised to the unit cube)"}


def _conventions_html(conventions: list[str], results: list[RunResult]) -> str:
    """Units and directions of every metric, how intervals and means are taken, and each task's conventions."""
    rows, seen = [], set()
    for r in results:
        for task, info in r.metric_info.items():
            for m, d in info.directions.items():
                if m.endswith("_class_mean") or (task, m) in seen:
                    continue
                seen.add((task, m))
                rows.append(f"<tr><td>{html.escape(task)}</td><td>{html.escape(m)}</td>"
                            f"<td>{html.escape(info.labels.get(m, m))}</td><td>{html.escape(d)} is better</td>"
                            f"<td>{html.escape(_UNITS.get(m, 'as the task defines it'))}</td></tr>")
    table = ("<table><thead><tr><th>task</th><th>metric</th><th>heading</th><th>direction</th><th>unit</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>") if rows else ""
    means = ("<ul><li>A score is the mean over the test shapes; its <i>category mean</i> (_class_mean, “cat. mean”) is "
             "the unweighted mean of the per-category means, as the paper averages; the claims use category means, "
             "accuracy aside (overall accuracy, as the paper reads).</li>"
             "<li>Intervals are 95 %: a bootstrap over the test shapes for one seed, Student-t over seeds for several; "
             "a claim's interval is paired (the same shapes, or the same seeds, in both runs).</li></ul>")
    lines = "".join(f"<li>{html.escape(c)}</li>" for c in conventions)
    return folded("conventions and units", scrolling(table) + means + (f"<ul>{lines}</ul>" if lines else ""))


def build_report_card(results: list[RunResult], suite: str, results_dir: Path, verdicts: list,
                      paper: pd.DataFrame | None = None, paper_note: str = "", per_class: pd.DataFrame | None = None,
                      conventions: list[str] | None = None, shapes: int | None = None, trust_plugins: bool = False,
                      user_cfg=None, data_path: Path | None = None, paper_diffs: list[float | None] | None = None,
                      extra_sections: list[CardSection] | None = None) -> str:
    """The HTML text of the card. ``paper``: the paper's table with our run names; ``paper_diffs``: the paper's
    own difference per verdict; ``shapes``: classes rendered (None: every class, 0: none); ``trust_plugins`` /
    ``user_cfg``: how runs are restored for renders (bench/training/restore.py); ``extra_sections``: more
    sections after the leaderboard (default EXTRA_SECTIONS)."""
    results_dir = Path(results_dir)
    sections: list[tuple[str, str]] = []
    lower = {m for r in results for info in r.metric_info.values() for m, d in info.directions.items() if d == "lower"}
    if verdicts:
        sections.append(("the paper's claims on this suite",
                         "<p class='lede'>Does the paper's finding hold for these runs? Each claim compares two runs "
                         "of the suite.</p>" + _claims_html(verdicts, paper_diffs or [], lower)))
    if results:
        sections.append(("leaderboard: each task's main score", _leaderboard_html(build_leaderboard(results))))
    for section in EXTRA_SECTIONS if extra_sections is None else extra_sections:
        sections += section(results, results_dir)
    note = f"<p class='note'>{html.escape(paper_note)}</p>" if paper_note else ""
    if paper is not None and not paper.empty:
        sections.append(("the paper's table", note + "<p class='note'>Rows are labelled by the run of ours that plays "
                                              "them; ours are category means.</p>"
                         + f"<div class='scroll paper'>{table_html(paper)}</div>"))
        note = ""
    if per_class is not None:
        sections.append(("the paper's table, per category", note + scrolling(table_html(per_class))))
    if shapes != 0 and results:
        sections.append(("test shapes: true parts (left) and predicted (right), one per class",
                         _render_section(results, results_dir, shapes, trust_plugins, user_cfg, data_path)))
    for caption, png in category_bars(results):
        sections.append((caption, figure_html(png, caption)))
    curves = training_curves(results, results_dir) if results else None
    if curves:
        sections.append(("training", figure_html(curves, "training curves")))
    sections.append(("", _conventions_html(conventions or [], results)))
    return page(f"implicit-bench report card: suite {suite}", sections, css=_CARD_CSS, header=_summary_html(results))


def _summary_html(results: list[RunResult]) -> str:
    """One line under the title: what the runs are (dataset, profile, the seeds, encoders, device, precision)."""
    def values(get) -> str:
        return ", ".join(sorted({str(get(r)) for r in results})) or "–"

    seeds = sorted({r.seed for r in results})
    rows = [("runs", str(len(results))), ("dataset", values(lambda r: f"{r.dataset.name} ({r.dataset.revision})")),
            ("profile", values(lambda r: r.config.get("profile") or "none")),
            ("seed" if len(seeds) == 1 else "seeds", ", ".join(map(str, seeds)) or "–"),
            ("encoders", values(lambda r: r.encoder.name)), ("device", values(lambda r: r.device)),
            ("precision", values(lambda r: "?" if r.training.precision is None else r.training.precision)),
            ("bench", values(lambda r: f"{r.bench_version} ({(r.git.get('commit') or '?')[:10]})"))]
    return ("<dl class='summary'>" + "".join(f"<div><dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd></div>"
                                             for k, v in rows) + "</dl>")
