"""bench.probe.weights: encoder weights read from files (plain state dicts, checkpoints with a key prefix, a
bench run's model.pt), hashed, and loaded strictly, with one clear error for each way a file can be wrong."""

import hashlib
import struct
from collections import OrderedDict

import pytest
import torch

from bench.errors import ConfigError
from bench.models import create_encoder
from bench.probe.weights import (EncoderWeights, file_sha256, load_into, plugin_weights, read_weights,
                                 state_dict_sha256)

KWARGS = {"widths": [16, 32]}


def pointnet(latent_dim: int = 16, seed: int = 0) -> torch.nn.Module:
    """A real built-in encoder; its batch-norm statistics moved off their defaults by a training-mode pass."""
    torch.manual_seed(seed)
    encoder = create_encoder("pointnet", latent_dim, KWARGS)
    encoder.train()
    with torch.no_grad():
        encoder(torch.randn(4, 32, 3))
    return encoder.eval()


def fixed_input() -> torch.Tensor:
    return torch.randn(3, 50, 3, generator=torch.Generator().manual_seed(5))


def saved(tmp_path, obj, name="w.pt"):
    path = tmp_path / name
    torch.save(obj, path)
    return path


def test_a_plain_state_dict_reads_back_with_the_file_hash_and_reproduces_the_encoder(tmp_path):
    source = pointnet(seed=0)
    path = saved(tmp_path, source.state_dict())
    weights = read_weights(path)
    assert weights.sha256 == hashlib.sha256(path.read_bytes()).hexdigest() == file_sha256(path)
    assert weights.source == f"file:{path}" and weights.prefix == ""
    assert weights.describe() == {"sha256": weights.sha256, "source": f"file:{path}", "prefix": ""}
    assert list(weights.state) == list(source.state_dict())

    target = pointnet(seed=1)  # other random weights and statistics
    x = fixed_input()
    with torch.no_grad():
        assert not torch.allclose(target(x), source(x))
        load_into(target, weights, "encoder pointnet")
        assert torch.equal(target(x), source(x))  # parameters and batch-norm buffers both loaded
    assert torch.equal(target.mlp[1].running_var, source.mlp[1].running_var)
    assert int(target.mlp[1].num_batches_tracked) == 1


def test_state_dict_hash_is_over_sorted_keys_dtype_shape_and_bytes():
    one = torch.tensor([1.0])
    # by hand: key, NUL, dtype and shape, NUL, the little-endian float32 bytes of 1.0
    by_hand = hashlib.sha256(b"a\0" + b"torch.float32(1,)\0" + struct.pack("<f", 1.0)).hexdigest()
    assert state_dict_sha256({"a": one}) == by_hand
    two = {"a": torch.arange(4.0), "b": torch.ones(2, 2)}
    assert state_dict_sha256(two) == state_dict_sha256(OrderedDict(reversed(list(two.items()))))  # order-free
    assert state_dict_sha256(two) != state_dict_sha256({**two, "b": two["b"].reshape(4)})  # shape counts
    assert state_dict_sha256(two) != state_dict_sha256({**two, "a": two["a"].double()})  # dtype counts
    changed = {**two, "a": two["a"].clone()}
    changed["a"][3] = 3.5
    assert state_dict_sha256(two) != state_dict_sha256(changed)  # one value counts
    assert state_dict_sha256({"a": torch.ones(3, dtype=torch.bfloat16)})  # a dtype numpy lacks hashes too


def test_prefix_selects_the_encoder_keys_of_a_checkpoint(tmp_path):
    source = pointnet()
    sd = source.state_dict()
    flat = saved(tmp_path, {**{f"encoder.{k}": v for k, v in sd.items()}, "decoder.w": torch.zeros(2)}, "flat.pt")
    nested = saved(tmp_path, {"model": {f"encoder.{k}": v for k, v in sd.items()}, "optimizer": {"lr": 0.1}},
                   "nested.pt")
    deep = saved(tmp_path, {"state_dict": {"backbone": dict(sd)}, "epoch": 3}, "deep.pt")
    for path, prefix, stripped in [(flat, "encoder.", "encoder."), (flat, "encoder", "encoder."),
                                   (nested, "model.encoder.", "model.encoder."),
                                   (deep, "state_dict.backbone", "state_dict.backbone.")]:
        weights = read_weights(path, prefix)
        assert list(weights.state) == list(sd), (path.name, prefix)
        assert weights.prefix == stripped
        target = pointnet(seed=3)
        load_into(target, weights, "encoder pointnet")
        assert all(torch.equal(target.state_dict()[k], v) for k, v in sd.items())


def test_a_bench_model_pt_gives_its_encoder_dict_without_a_prefix(tmp_path):
    sd = pointnet().state_dict()
    path = saved(tmp_path, {"encoder": sd, "model": {f"encoder.{k}": v for k, v in sd.items()}, "step": 6},
                 "model.pt")
    weights = read_weights(path)
    assert list(weights.state) == list(sd) and all(torch.equal(weights.state[k], v) for k, v in sd.items())


def test_a_checkpoint_without_a_prefix_names_the_dicts_to_pick(tmp_path):
    sd = pointnet().state_dict()
    path = saved(tmp_path, {"model": dict(sd), "optimizer": {"lr": 0.1}, "epoch": 2})
    with pytest.raises(ConfigError) as err:
        read_weights(path)
    text = str(err.value)
    assert str(path) in text and "not a plain state dict" in text
    assert "top-level keys: model, optimizer, epoch" in text and "'model.'" in text and "--key-prefix" in text


def test_a_prefix_that_matches_nothing_lists_the_prefixes_found(tmp_path):
    sd = pointnet().state_dict()
    path = saved(tmp_path, {**{f"encoder.{k}": v for k, v in sd.items()}, **{f"decoder.{k}": v for k, v in sd.items()}})
    with pytest.raises(ConfigError) as err:
        read_weights(path, "encodr.")
    text = str(err.value)
    assert str(path) in text and "no key starts with the prefix 'encodr.'" in text
    assert "'encoder.', 'decoder.'" in text and "Did you mean 'encoder.'?" in text


def test_a_truncated_file_is_one_error_naming_it(tmp_path):
    path = saved(tmp_path, pointnet().state_dict())
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ConfigError, match="truncated, or not a torch file") as err:
        read_weights(path)
    assert str(path) in str(err.value)


class SomeObject:
    """Unpickling it would create ``marker`` (open(marker, "w")): the file says whether code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def test_a_pickled_object_is_refused_and_never_unpickled(tmp_path):
    marker = tmp_path / "code-ran"
    for obj, name in [(SomeObject(marker), "io.open"), (pointnet(), "implicit_bench_encoders.pointnet.PointNet")]:
        path = saved(tmp_path, obj, f"{type(obj).__name__}.pt")
        with pytest.raises(ConfigError) as err:
            read_weights(path)
        text = str(err.value)
        assert str(path) in text and f"holds a pickled Python object ({name})" in text, text
        assert "bench never unpickles code" in text and "torch.save(encoder.state_dict(), path)" in text
    assert not marker.exists()


def test_files_that_hold_no_state_dict(tmp_path):
    with pytest.raises(ConfigError, match="holds a Tensor, not a dict of tensors"):
        read_weights(saved(tmp_path, torch.zeros(3), "tensor.pt"))
    with pytest.raises(ConfigError, match=r"not a dict of tensors: b \(str\) is not a tensor"):
        read_weights(saved(tmp_path, {"model": {"a": torch.zeros(1), "b": "text"}}, "mixed.pt"), "model.")
    with pytest.raises(ConfigError, match="weights file not found"):
        read_weights(tmp_path / "missing.pt")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "model.pt").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"is a folder, not a weights file \(a bench run folder: give .*model.pt\)"):
        read_weights(tmp_path / "run")


def test_renamed_keys_are_one_error_with_the_key_prefix_to_pass(tmp_path):
    sd = pointnet().state_dict()
    path = saved(tmp_path, {f"backbone.{k}": v for k, v in sd.items()})
    with pytest.raises(ConfigError) as err:
        load_into(pointnet(), read_weights(path), "encoder pointnet")
    text = str(err.value)
    n = len(sd)
    assert text.startswith(f"encoder pointnet: the weights from file:{path} do not fit: ")
    assert f"{n} missing keys (in the encoder, not in the weights): mlp.0.weight, mlp.0.bias," in text
    assert f"{n} unexpected keys (in the weights, not in the encoder): backbone.mlp.0.weight," in text
    assert f"and {n - 10} more" in text  # each list capped at 10
    assert "--key-prefix 'backbone.'" in text and 'weights_prefix = "backbone."' in text


def test_a_wrong_shape_names_the_keys_and_both_shapes(tmp_path):
    path = saved(tmp_path, pointnet(latent_dim=16).state_dict())
    encoder = pointnet(latent_dim=8)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    with pytest.raises(ConfigError) as err:
        load_into(encoder, read_weights(path), "encoder pointnet")
    text = str(err.value)
    assert str(path) in text and "2 keys of another shape: fc.weight: weights (16, 32) vs encoder (8, 32), " \
                                 "fc.bias: weights (16,) vs encoder (8,)" in text
    assert "missing" not in text and "unexpected" not in text
    assert all(torch.equal(encoder.state_dict()[k], v) for k, v in before.items())  # nothing half-loaded


def test_all_three_groups_in_one_error(tmp_path):
    sd = dict(pointnet().state_dict())
    sd["extra.weight"] = torch.zeros(1)
    del sd["mlp.0.bias"]
    sd["fc.bias"] = torch.zeros(5)
    with pytest.raises(ConfigError) as err:
        load_into(pointnet(), EncoderWeights(OrderedDict(sd), "0" * 64, "file:x.pt"), "encoder pointnet")
    text = str(err.value)
    assert "1 missing keys (in the encoder, not in the weights): mlp.0.bias;" in text
    assert "1 unexpected keys (in the weights, not in the encoder): extra.weight;" in text
    assert "1 keys of another shape: fc.bias: weights (5,) vs encoder (16,)" in text


def test_plugin_weights_are_a_hashed_copy(tmp_path):
    encoder = pointnet()
    weights = plugin_weights(encoder, "my_encoder")
    assert weights.source == "plugin:my_encoder" and weights.prefix == ""
    assert weights.sha256 == state_dict_sha256(encoder.state_dict())
    with torch.no_grad():
        encoder.fc.weight.add_(1.0)
    assert weights.sha256 == state_dict_sha256(weights.state) != state_dict_sha256(encoder.state_dict())
