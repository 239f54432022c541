"""Property tests: the config loader never crashes with anything but ConfigError; metric invariants hold."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.config import parse_config
from bench.errors import ConfigError
from bench.evaluation.metrics import iou, part_miou
from bench.evaluation.mesh_metrics import chamfer_l1

scalars = st.one_of(st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=5), st.booleans())
keys = st.sampled_from(["data", "model", "train", "eval", "output", "suites", "profiles", "encoder_kwargs",
                        "lr", "name", "runs", "tasks", "preset", "max_steps", "bogus"])
docs = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, docs, max_size=4))
def test_config_loader_only_raises_config_errors(raw):
    try:
        parse_config(raw, "fuzz.toml")
    except ConfigError as exc:
        assert "fuzz.toml" in str(exc)


bools = st.lists(st.booleans(), min_size=1, max_size=50)


@given(bools, bools)
def test_iou_bounds_and_symmetry(a, b):
    n = min(len(a), len(b))
    x, y = np.array(a[:n]), np.array(b[:n])
    v = iou(x, y)
    assert 0.0 <= v <= 1.0 and v == iou(y, x)
    assert iou(x, x) == 1.0


@given(st.lists(st.integers(0, 3), min_size=1, max_size=40), st.lists(st.integers(0, 3), min_size=1, max_size=40),
       st.sampled_from(["both", "gt"]))
def test_part_miou_bounds(a, b, rule):
    n = min(len(a), len(b))
    v = part_miou(np.array(a[:n]), np.array(b[:n]), [0, 1, 2, 3], rule)
    assert 0.0 <= v <= 1.0
    assert part_miou(np.array(b[:n]), np.array(b[:n]), [0, 1, 2, 3], rule) == 1.0


coords = st.floats(-10, 10, allow_nan=False, width=32)
clouds = st.lists(st.tuples(coords, coords, coords), min_size=1, max_size=30).map(lambda v: np.array(v, np.float32))


@given(clouds, clouds)
def test_chamfer_non_negative_and_symmetric(a, b):
    d = chamfer_l1(a, b)
    assert d >= 0 and abs(d - chamfer_l1(b, a)) <= 1e-5 * max(1.0, d)
    assert chamfer_l1(a, a) == 0.0


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="OFF0123456789 .-\n#e", max_size=80))
def test_off_parser_never_crashes_with_anything_but_data_error(text):
    from bench.data.meshio import parse_off
    from bench.errors import DataError

    try:
        v, f = parse_off(text)
    except DataError:
        return
    assert v.shape[1] == 3 and f.shape[1] == 3 and f.max() < len(v)
