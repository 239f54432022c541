"""`bench export`: predicted meshes (PLY) coloured by the segmentation head's part prediction, the same
mesh coloured by ground-truth parts (Voronoi rule from the labelled surface), and a Fig. 3-style PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import trimesh

from bench.data.dataset import ShapeDataset, ShapeStore
from bench.evaluation.evaluator import decode_points, mesh_for_shape
from bench.geometry.voronoi import voronoi_labels
from bench.training.restore import RestoredRun


def _coloured(mesh: trimesh.Trimesh, labels: np.ndarray) -> trimesh.Trimesh:
    from bench.figures import part_colours

    out = mesh.copy()
    out.visual.vertex_colors = (part_colours(labels) * 255).astype(np.uint8)
    return out


def export_shapes(run: RestoredRun, out_dir: Path, n_shapes: int = 4, split: str = "test", figure: bool = True) -> list[Path]:
    """Write ``<shape>_pred.ply`` (+ ``_gt.ply`` and ``.png`` when the dataset has parts) for the first shapes."""
    cfg, model = run.cfg, run.model
    device = torch.device("cpu")
    has_parts = run.info.has_parts
    store = ShapeStore.load(run.info, split, with_parts=has_parts, with_voxels=run.modality == "voxels",
                            max_shapes=n_shapes, n_views=cfg.data.views if run.modality == "image" else -1)
    data = ShapeDataset(store, cfg.data, run.modality, seed=12345)
    batch = data.batch(np.arange(len(store)), np.random.default_rng(12345), n_query=1)
    written: list[Path] = []
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        z_all = model.encode(batch["inputs"])
    for i in range(len(store)):
        z = z_all[i:i + 1]
        name = store.ids[i].replace("/", "_")
        if "reconstruction" not in run.tasks:
            continue
        mesh = mesh_for_shape(model, z, cfg.eval, device)
        if len(mesh.faces) == 0:
            continue
        parts = run.info.categories[int(store.category[i])].parts
        gt_labels = pred_labels = None
        if has_parts:
            sl = store.surf(i)
            gt_labels = voronoi_labels(mesh.vertices, store.surface[sl].astype(np.float32), store.surface_labels[sl])
        if "segmentation" in run.tasks:
            logits = decode_points(model, z, np.asarray(mesh.vertices, np.float32), device)["segmentation"]
            pred_labels = np.asarray(parts)[np.argmax(logits[:, parts], axis=1)]
        pred_path = out_dir / f"{name}_pred.ply"
        (_coloured(mesh, pred_labels) if pred_labels is not None else mesh).export(pred_path)
        written.append(pred_path)
        if gt_labels is not None:
            gt_path = out_dir / f"{name}_gt.ply"
            _coloured(mesh, gt_labels).export(gt_path)
            written.append(gt_path)
        if figure:
            from bench.figures import mesh_figure

            panels = [(mesh, gt_labels, "ground-truth parts")] if gt_labels is not None else []
            panels.append((mesh, pred_labels, "predicted parts" if pred_labels is not None else "reconstruction"))
            written.append(mesh_figure(panels, out_dir / f"{name}.png", title=store.ids[i]))
    return written
