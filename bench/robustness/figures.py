"""Robustness curves for the report card: per task, its main metric against severity (0 = clean) for each
corruption, one line per run."""

from __future__ import annotations

import pandas as pd

from bench.reports.figures import _pyplot, plain_text, png_bytes


def corruption_curves(frames: dict[str, pd.DataFrame], mains: dict[str, str]) -> list[tuple[str, bytes]]:
    """``frames``: run name -> its robustness.csv; ``mains``: task -> main metric. One PNG per task."""
    plt = _pyplot()
    out = []
    for task, metric in mains.items():
        column = f"{task}.{metric}"
        runs = {name: f for name, f in frames.items() if column in f}
        if not runs:
            continue
        corruptions = [c for c in dict.fromkeys(c for f in runs.values() for c in f["corruption"]) if c != "clean"]
        cols = min(4, max(1, len(corruptions)))
        rows = -(-len(corruptions) // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharey=True)
        for ax, name in zip(axes.flat, corruptions):
            for run, frame in runs.items():
                clean = frame[frame["corruption"] == "clean"][column].mean()
                curve = frame[frame["corruption"] == name].groupby("severity")[column].mean()
                ax.plot([0, *curve.index], [clean, *curve.to_numpy()], marker="o", ms=3, lw=1, label=plain_text(run))
            ax.set(title=plain_text(name), xlabel="severity")
        for ax in list(axes.flat)[len(corruptions):]:
            ax.axis("off")
        axes[0, 0].set_ylabel(plain_text(metric))
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(plain_text(f"{task}: {metric} under corruption"))
        out.append((f"{task} under corruption", png_bytes(fig, dpi=90)))
    return out
