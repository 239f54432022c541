"""`bench export`: PLY meshes coloured by predicted and true parts, and a PNG per shape."""

import numpy as np
import trimesh
from typer.testing import CliRunner

from bench.cli import app
from bench.training.plan import resolve_suite
from bench.training.runner import run_suite


def test_export_writes_coloured_meshes_and_figures(tiny_config, monkeypatch):
    runs = [r for r in resolve_suite(tiny_config, "smoke") if r.name == "joint"]
    (result,) = run_suite(runs, progress=False, log=lambda m: None)
    assert result.status == "complete"
    # A 6-step tiny model has no surface yet; meshing itself is tested in test_mesh.py, so give export a sphere.
    monkeypatch.setattr("bench.export.mesh_for_shape", lambda *a, **k: trimesh.creation.icosphere(2, 0.3))
    out = runs[0].run_dir.parent.parent.parent / "export"
    res = CliRunner().invoke(app, ["export", "smoke/joint", "-r", tiny_config.output.results_dir, "-n", "2", "-o", str(out)])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert len([n for n in names if n.endswith("_pred.ply")]) == 2 and len([n for n in names if n.endswith(".png")]) == 2
    pred = trimesh.load(next(out.glob("*_pred.ply")), process=False)
    gt = trimesh.load(next(out.glob("*_gt.ply")), process=False)
    assert len(pred.vertices) == len(gt.vertices) == len(trimesh.creation.icosphere(2, 0.3).vertices)
    colours = np.asarray(gt.visual.vertex_colors)[:, :3]
    assert len(np.unique(colours, axis=0)) >= 1 and not (colours == 255).all()
    assert next(out.glob("*.png")).read_bytes()[:4] == b"\x89PNG"


def test_export_refuses_a_run_without_reconstruction(tiny_config):
    runs = [r for r in resolve_suite(tiny_config, "smoke") if r.name in ("onet", "cls-probe")]
    run_suite(runs, progress=False, log=lambda m: None)
    res = CliRunner().invoke(app, ["export", "smoke/cls-probe", "-r", tiny_config.output.results_dir])
    assert res.exit_code == 1 and "no reconstruction head" in res.output
