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
