"""`bench export` on the analytic sphere oracle (tests/oracle.py): the exported mesh is the predicted sphere,
coloured by the predicted parts (split by z = 0) and by the true parts, which must agree."""

import numpy as np
import pytest
import trimesh
from typer.testing import CliRunner

from bench.cli import app
from bench.training.plan import resolve_suite
from bench.training.runner import run_suite
from tests.oracle import write_sphere_dataset

R_PRED = 0.35


@pytest.fixture()
def oracle_run(tiny_config, tmp_path):
    root = tmp_path / "spheres"
    write_sphere_dataset(root, {"big": 0.4, "small": 0.3}, {"big": 2, "small": 1})
    overrides = {"data": {"name": "folder", "path": str(root)},
                 "model": {"decoder": "tests.oracle:SphereOracle", "layout": "joint"},
                 "decoder_kwargs": {"tests.oracle:SphereOracle": {"radius": R_PRED}},
                 "train": {"lr": 0.0, "max_steps": 1, "eval_every": 1}, "eval": {"eval_mesh": False}}
    runs = [r for r in resolve_suite(tiny_config, "smoke", overrides) if r.name == "joint"]
    (result,) = run_suite(runs, progress=False, log=lambda m: None)
    assert result.status == "complete", result.error
    return tiny_config.output.results_dir, tmp_path / "export", root


def test_export_writes_the_predicted_mesh_coloured_by_predicted_and_true_parts(oracle_run):
    results_dir, out, data = oracle_run
    # the oracle decoder is module:attr code and the dataset a folder of this test: both said, as a user would
    res = CliRunner().invoke(app, ["export", "smoke/joint", "-r", results_dir, "-n", "2", "-o", str(out),
                                   "--trust-plugins", "--data-path", str(data)])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in out.iterdir())
    assert len([n for n in names if n.endswith("_pred.ply")]) == 2 and len([n for n in names if n.endswith(".png")]) == 2
    pred = trimesh.load(next(out.glob("*_pred.ply")), process=False)
    gt = trimesh.load(next(out.glob("*_gt.ply")), process=False)
    radii = np.linalg.norm(pred.vertices, axis=1)
    assert np.abs(radii - R_PRED).max() < 0.01  # the oracle's sphere, not the true one
    assert len(pred.vertices) == len(gt.vertices)
    pred_c = np.asarray(pred.visual.vertex_colors)[:, :3]
    gt_c = np.asarray(gt.visual.vertex_colors)[:, :3]
    top = pred.vertices[:, 2] > 0.02
    bottom = pred.vertices[:, 2] < -0.02
    # two parts, split by the plane: one colour above, another below, in both colourings
    for colours in (pred_c, gt_c):
        assert len(np.unique(colours[top], axis=0)) == 1 and len(np.unique(colours[bottom], axis=0)) == 1
        assert not np.array_equal(colours[top][0], colours[bottom][0])
    assert (pred_c[top | bottom] == gt_c[top | bottom]).all()  # predicted parts = true parts
    assert next(out.glob("*.png")).read_bytes()[:4] == b"\x89PNG"


def test_export_says_which_shapes_had_no_surface(oracle_run, tiny_config):
    results_dir, out, root = oracle_run
    # A radius-0 field is empty everywhere: nothing to mesh, and the command must say so and fail.
    import json
    from pathlib import Path

    result_path = next(Path(results_dir).glob("smoke/joint-*/result.json"))
    data = json.loads(result_path.read_text())
    data["config"]["decoder_kwargs"] = {"radius": 0.0}
    result_path.write_text(json.dumps(data))
    res = CliRunner().invoke(app, ["export", "smoke/joint", "-r", results_dir, "-n", "2", "-o", str(out),
                                   "--trust-plugins", "--data-path", str(root)])
    assert res.exit_code == 1
    assert "had no surface" in res.output and "big/test0" in res.output and "nothing was exported" in res.output


def test_export_refuses_a_run_without_a_mesh_task(tiny_config):
    runs = [r for r in resolve_suite(tiny_config, "smoke") if r.name in ("onet", "cls-probe")]
    run_suite(runs, progress=False, log=lambda m: None)
    res = CliRunner().invoke(app, ["export", "smoke/cls-probe", "-r", tiny_config.output.results_dir])
    assert res.exit_code == 1 and "no task that scores meshes" in res.output
