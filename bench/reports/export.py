"""`bench export`: predicted meshes (PLY) of the run's mesh-scoring task, coloured by the labels of a
point-labelling task when the run has one, the same mesh coloured by ground-truth parts (Voronoi rule
from the labelled surface), and a Fig. 3-style PNG."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import trimesh

from bench.errors import ResultError
from bench.evaluation.evaluator import eval_inputs
from bench.geometry.voronoi import voronoi_labels
from bench.training.restore import RestoredRun


@dataclass
class Export:
    written: list[Path] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)
    """Shapes whose predicted occupancy field has no surface at the threshold (nothing to export)."""


def _coloured(mesh: trimesh.Trimesh, labels: np.ndarray) -> trimesh.Trimesh:
    from bench.reports.figures import part_colours

    out = mesh.copy()
    out.visual.vertex_colors = (part_colours(labels) * 255).astype(np.uint8)
    return out


def _write_ply(mesh: trimesh.Trimesh, path: Path) -> None:
    """Binary PLY, written atomically like every other file bench writes."""
    from bench._io import atomic_write_bytes

    atomic_write_bytes(path, mesh.export(file_type="ply"))


def export_shapes(run: RestoredRun, out_dir: Path, n_shapes: int = 4, split: str = "test", figure: bool = True) -> Export:
    """Write ``<shape>_pred.ply`` (+ ``_gt.ply`` and ``.png`` when the dataset has parts) for the first shapes."""
    built = run.built
    cfg, model, tasks = built.cfg, built.model, built.tasks
    mesh_task = next((n for n, t in tasks.items() if t.kind == "point" and t.scores_mesh), None)
    if mesh_task is None:
        raise ResultError(f"run {run.result.suite}/{run.result.run_name} has no task that scores meshes "
                          f"(its tasks: {', '.join(tasks)}), so there is no mesh to export.")
    labeller = next((n for n, t in tasks.items() if t.kind == "point" and t.labels_points), None)
    predictor = run.predictor()
    model.eval()
    store = built.load_split(split, max_shapes=n_shapes, with_parts=built.info.has_parts)  # true parts for colour
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = Export()
    shapes = np.arange(len(store))  # one batch, inputs drawn as an evaluation's first batch draws them
    z_all = predictor.encode(eval_inputs(store, cfg.data, built.modality)(shapes), store.ids, store.split)
    for i in shapes.tolist():
        z = z_all[i:i + 1]
        mesh = predictor.mesh(mesh_task, tasks[mesh_task], z, shape=store.ids[i], split=store.split)
        if len(mesh.faces) == 0:
            report.empty.append(store.ids[i])
            continue
        gt_labels = pred_labels = None
        if store.surface_labels is not None:
            sl = store.surf(i)
            gt_labels = voronoi_labels(mesh.vertices, store.surface[sl].astype(np.float32), store.surface_labels[sl])
        if labeller is not None:
            logits = predictor.decode(z, np.asarray(mesh.vertices, np.float32), only=(labeller,), shape=store.ids[i],
                                      split=store.split)[labeller]
            pred_labels = tasks[labeller].point_labels(logits, int(store.category[i]))
        name = store.ids[i].replace("/", "_")
        pred_path = out_dir / f"{name}_pred.ply"
        _write_ply(_coloured(mesh, pred_labels) if pred_labels is not None else mesh, pred_path)
        report.written.append(pred_path)
        if gt_labels is not None:
            gt_path = out_dir / f"{name}_gt.ply"
            _write_ply(_coloured(mesh, gt_labels), gt_path)
            report.written.append(gt_path)
        if figure:
            from bench.reports.figures import mesh_figure

            panels = [(mesh, gt_labels, "ground-truth parts")] if gt_labels is not None else []
            panels.append((mesh, pred_labels, "predicted parts" if pred_labels is not None else "reconstruction"))
            report.written.append(mesh_figure(panels, out_dir / f"{name}.png", title=store.ids[i]))
    return report
