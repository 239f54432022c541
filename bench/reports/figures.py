"""Figures with matplotlib (optional extra ``implicit-bench[plot]``): surface points coloured by part."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.errors import BenchError


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise BenchError("figures need matplotlib: pip install 'implicit-bench[plot]'") from exc
    return plt


def plain_text(value: object) -> str:
    """``value`` as matplotlib text that is never read as mathtext: a "$" in a run, category or part name
    would start a formula (and "$x_$" raises at draw time). An escaped "\\$" is drawn as "$"."""
    return str(value).replace("$", r"\$")


def png_bytes(fig, dpi: int = 100) -> bytes:
    """The figure as PNG bytes (cropped to its content), then closed."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def save_figure(fig, path: Path) -> Path:
    """Draw ``fig`` to ``path`` (format from the suffix, PNG without one) atomically and with the user's usual
    file permissions, like every other file bench writes; then close it."""
    import io

    from bench._io import atomic_write_bytes

    path = Path(path)
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png")
    finally:
        _pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return path


def part_colours(labels: np.ndarray) -> np.ndarray:
    """(P,) int part labels -> (P, 4) RGBA, a stable colour per label (tab20), grey for -1."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab20")
    colours = cmap(np.mod(labels, 20))
    colours[labels < 0] = (0.6, 0.6, 0.6, 1.0)
    return colours


def parts_figure(panels: list[tuple[np.ndarray, np.ndarray, str]], path: Path, columns: int = 5,
                 max_points: int = 6000) -> Path:
    """One 3D scatter per (points (P, 3), labels (P,), title); y is drawn upwards. Writes a PNG."""
    plt = _pyplot()
    rows = (len(panels) + columns - 1) // columns
    fig = plt.figure(figsize=(3.2 * columns, 3.2 * rows), dpi=110)
    rng = np.random.default_rng(0)
    for k, (pts, labels, title) in enumerate(panels):
        ax = fig.add_subplot(rows, columns, k + 1, projection="3d")
        idx = rng.choice(len(pts), min(max_points, len(pts)), replace=False)
        p, lab = pts[idx].astype(np.float32), labels[idx]
        ax.scatter(p[:, 0], p[:, 2], p[:, 1], c=part_colours(lab), s=1.5, depthshade=False, linewidths=0)
        ax.set_xlim(-0.5, 0.5), ax.set_ylim(-0.5, 0.5), ax.set_zlim(-0.5, 0.5)
        ax.view_init(elev=20, azim=-60)
        ax.set_axis_off()
        ax.set_title(plain_text(title), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def mesh_figure(panels: list, path: Path, title: str = "") -> Path:
    """Meshes side by side, faces coloured by part (the majority label of their vertices); like the paper's Fig. 3.

    ``panels``: (trimesh, (V,) labels or None, caption).
    """
    plt = _pyplot()
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    fig = plt.figure(figsize=(4 * len(panels), 4), dpi=110)
    for k, (mesh, labels, caption) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1, projection="3d")
        v = np.asarray(mesh.vertices)[:, [0, 2, 1]]  # draw y upwards
        faces = np.asarray(mesh.faces)
        if labels is not None:
            colours = part_colours(np.asarray(labels)[faces[:, 0]])
        else:
            colours = np.tile([0.7, 0.7, 0.75, 1.0], (len(faces), 1))
        shade = 0.55 + 0.45 * np.abs(np.asarray(mesh.face_normals)[:, 2:3])  # simple headlight shading
        colours[:, :3] *= shade
        ax.add_collection3d(Poly3DCollection(v[faces], facecolors=colours, linewidths=0))
        ax.set_xlim(-0.5, 0.5), ax.set_ylim(-0.5, 0.5), ax.set_zlim(-0.5, 0.5)
        ax.view_init(elev=20, azim=-60)
        ax.set_axis_off()
        ax.set_title(plain_text(caption), fontsize=10)
    if title:
        fig.suptitle(plain_text(title))
    fig.tight_layout()
    return save_figure(fig, path)


# Verdict colours shared by the forest plots (bench compare --plot) and the report card.
VERDICT_COLOURS = {"better": "#1a7f37", "worse": "#cf222e", "no significant difference": "#57606a",
                   "reproduced": "#1a7f37", "contradicted": "#cf222e", "inconclusive": "#9a6700", "n/a": "#57606a"}


def verdict_colour(verdict: str) -> str:
    """The colour of a verdict (its first words decide: "better (mixed precision: ...)" is "better")."""
    return next((c for v, c in VERDICT_COLOURS.items() if str(verdict).startswith(v)), "#57606a")


def forest_plot(rows: list[dict], path: Path, title: str = "") -> Path:
    """A forest plot: per row a difference with its interval, grouped into one panel per ``group`` (each with its
    own scale, since metrics differ in scale), a dashed line at no difference, colours by verdict. ``rows``:
    dicts with group, run (the row's label), diff, low, high, verdict; optional ``band`` (low, high): a shaded
    region (e.g. a tolerance), ``marker``: a value drawn as a diamond (e.g. the paper's difference).
    Writes ``path`` atomically (save_figure)."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    groups: dict[str, list[dict]] = {}
    for r in rows:
        groups.setdefault(str(r["group"]), []).append(r)
    if not groups:
        raise BenchError("nothing to plot: no difference has an interval")
    row_in, title_in, top_in, bottom_in = 0.3, 0.55, 0.45 if title else 0.15, 0.5
    height = top_in + bottom_in + sum(title_in + row_in * (len(g) + 0.4) for g in groups.values())
    fig = plt.figure(figsize=(10, height))
    y_top = height - top_in
    for k, (group, members) in enumerate(groups.items()):
        h = row_in * (len(members) + 0.4)
        y_top -= title_in
        ax = fig.add_axes((0.36, (y_top - h) / height, 0.3, h / height))
        y_top -= h
        ys = np.arange(len(members))[::-1]
        for y, r in zip(ys, members):
            colour = verdict_colour(r.get("verdict", ""))
            if r.get("band") is not None:
                lo, hi = r["band"]
                ax.fill_betweenx([y - 0.4, y + 0.4], lo, hi, color="#1a7f37", alpha=0.12, lw=0)
            ax.plot([r["low"], r["high"]], [y, y], color=colour, lw=2.2, solid_capstyle="butt")
            ax.plot([r["diff"]], [y], "o", color=colour, ms=6)
            if r.get("marker") is not None:
                ax.plot([r["marker"]], [y], "D", color="#0969da", ms=6, mfc="white", mew=1.5)
            ax.text(1.04, y, plain_text(f"{r['diff']:+.4f} [{r['low']:+.4f}, {r['high']:+.4f}]  {r.get('verdict', '')}"),
                    transform=ax.get_yaxis_transform(), va="center", fontsize=8, color=colour)
        values = [0.0] + [v for r in members for v in (r["low"], r["high"], r.get("marker"), *(r.get("band") or ()))
                          if v is not None and np.isfinite(v)]
        lo, hi = min(values), max(values)
        pad = 0.08 * (hi - lo) or 0.01
        ax.set_xlim(lo - pad, hi + pad)
        ax.axvline(0, color="#888", ls="--", lw=1)
        ax.set_yticks(ys, [plain_text(r["run"]) for r in members], fontsize=8)
        ax.set_ylim(-0.7, len(members) - 0.3)
        ax.set_title(plain_text(group), fontsize=9, loc="left")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.tick_params(axis="x", labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        if k == len(groups) - 1:
            ax.set_xlabel("difference (its 95 % interval; dashed: none)", fontsize=8)
    if title:
        fig.suptitle(plain_text(title), fontsize=10, y=1 - 0.2 / height, va="top")
    return save_figure(fig, path)
