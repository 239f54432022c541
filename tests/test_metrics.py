import numpy as np
import pytest

from bench.evaluation.metrics import accuracy, class_mean_accuracy, iou, part_miou
from bench.evaluation.mesh_metrics import EMPTY_CHAMFER, chamfer_l1, surface_metrics


def test_iou_hand_computed():
    pred = np.array([1, 1, 0, 0, 1], bool)
    gt = np.array([1, 0, 0, 1, 1], bool)
    assert iou(pred, gt) == pytest.approx(2 / 4)
    assert iou(gt, gt) == 1.0
    assert iou(np.zeros(4, bool), np.zeros(4, bool)) == 1.0  # both empty agree
    assert iou(np.zeros(4, bool), gt[:4]) == 0.0  # empty prediction


def test_part_miou_absent_part_rules():
    parts = [0, 1, 2]
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 1, 1, 1])
    # part 0: 1/2, part 1: 2/3, part 2 absent from both -> 1
    assert part_miou(pred, gt, parts, "both") == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    pred2 = np.array([0, 2, 1, 1])  # predicts part 2 which the truth lacks
    assert part_miou(pred2, gt, parts, "both") == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert part_miou(pred2, gt, parts, "gt") == pytest.approx((0.5 + 1.0 + 1.0) / 3)
    with pytest.raises(ValueError):
        part_miou(pred, gt, parts, "nope")


def test_accuracy_and_class_mean():
    gt = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 0, 0])
    assert accuracy(pred, gt) == 0.75
    assert class_mean_accuracy(pred, gt) == pytest.approx(0.5)
    assert accuracy(np.array([]), np.array([])) == 0.0


def test_chamfer_known_values():
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(500, 3))
    assert chamfer_l1(pts, pts) == 0.0
    a, b = np.zeros((1, 3)), np.array([[0.0, 0.3, 0.4]])
    assert chamfer_l1(a, b) == pytest.approx(0.5, rel=1e-6)  # unsquared Euclidean: the pytorch3d #1548 case
    assert chamfer_l1(a, b) == chamfer_l1(b, a)


def test_chamfer_concentric_spheres():
    rng = np.random.default_rng(1)

    def sphere(n, r):
        v = rng.normal(size=(n, 3))
        return r * v / np.linalg.norm(v, axis=1, keepdims=True)

    r = 0.7
    assert chamfer_l1(sphere(50000, 1.0), sphere(50000, r)) == pytest.approx(1 - r, abs=0.01)


def test_surface_metrics_and_empty_prediction():
    rng = np.random.default_rng(2)
    v = rng.normal(size=(2000, 3))
    n = v / np.linalg.norm(v, axis=1, keepdims=True)
    m = surface_metrics(n, n, n, -n, tau=0.01)  # flipped normals still count (|cos|)
    assert m["chamfer_l1"] == 0 and m["fscore"] == 1.0 and m["normal_consistency"] == pytest.approx(1.0)
    with pytest.warns(UserWarning, match="empty predicted mesh"):
        e = surface_metrics(np.zeros((0, 3)), None, n, n)
    assert e["chamfer_l1"] == EMPTY_CHAMFER and e["fscore"] == 0.0
