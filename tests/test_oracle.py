"""The evaluation against closed forms: a decoder whose field is a sphere of radius r, on spheres of radius
R, must give IoU = (min / max)^3, Chamfer-L1 = |R - r|, F-score 1 / 0 either side of tau, part mIoU 1, and
category means that differ from instance means on unbalanced categories."""

import pytest

from bench.training.plan import resolve_suite
from bench.training.runner import run_suite
from tests.oracle import write_sphere_dataset

R_BIG, R_SMALL, R_PRED = 0.4, 0.3, 0.35
IOU_BIG, IOU_SMALL = (R_PRED / R_BIG) ** 3, (R_SMALL / R_PRED) ** 3


@pytest.fixture(scope="module")
def spheres(tmp_path_factory):
    root = tmp_path_factory.mktemp("spheres")
    write_sphere_dataset(root, {"big": R_BIG, "small": R_SMALL}, {"big": 3, "small": 1})
    return root


def _oracle_run(tiny_config, spheres, tau):
    overrides = {
        "data": {"name": "folder", "path": str(spheres)},
        "model": {"decoder": "tests.oracle:SphereOracle", "layout": "joint"},
        "decoder_kwargs": {"tests.oracle:SphereOracle": {"radius": R_PRED}},
        "train": {"lr": 0.0, "max_steps": 1, "eval_every": 1},
        "eval": {"n_iou_points": 100_000, "mesh_shapes": 0, "mise_resolution": 32, "mise_upsampling": 2,
                 "n_surface_samples": 20_000, "fscore_tau": tau, "val_shapes": 0},
    }
    runs = [r for r in resolve_suite(tiny_config, "smoke", overrides) if r.name == "joint"]
    (result,) = run_suite(runs, progress=False, log=lambda m: None)
    assert result.status == "complete", result.error
    return result


def test_metrics_match_closed_forms(tiny_config, spheres):
    result = _oracle_run(tiny_config, spheres, tau=0.06)
    rec, seg = result.metrics["reconstruction"], result.metrics["segmentation"]
    per_cat = result.per_category["reconstruction"]
    assert per_cat["big"]["iou"] == pytest.approx(IOU_BIG, abs=0.02)
    assert per_cat["small"]["iou"] == pytest.approx(IOU_SMALL, abs=0.02)
    assert rec["iou"] == pytest.approx((3 * IOU_BIG + IOU_SMALL) / 4, abs=0.02)
    assert rec["iou_class_mean"] == pytest.approx((IOU_BIG + IOU_SMALL) / 2, abs=0.02)
    # unbalanced categories: the category mean weighs 'small' three times more than the instance mean does
    assert rec["iou_class_mean"] - rec["iou"] == pytest.approx((IOU_SMALL - IOU_BIG) / 4, abs=0.004)
    assert rec["chamfer_l1"] == pytest.approx(abs(R_BIG - R_PRED), abs=0.003)
    assert per_cat["small"]["chamfer_l1"] == pytest.approx(abs(R_SMALL - R_PRED), abs=0.003)
    assert rec["fscore"] == 1.0  # every distance (0.05) is within tau = 0.06
    assert rec["normal_consistency"] == pytest.approx(1.0, abs=0.01)  # concentric spheres: parallel normals
    assert seg["miou"] == 1.0 and seg["miou_class_mean"] == 1.0
    lo, hi = result.intervals["reconstruction"]["iou"]
    assert lo <= rec["iou"] <= hi
    assert result.dataset["test"] == 4


def test_fscore_is_zero_below_the_distance(tiny_config, spheres):
    result = _oracle_run(tiny_config, spheres, tau=0.04)
    assert result.metrics["reconstruction"]["fscore"] == 0.0
