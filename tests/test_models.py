import pytest
import torch

from bench.checks import check_encoder
from bench.registry import ENCODERS
from implicit_bench_encoders.onet_pointnet import ResNetPointNet
from bench.decoders.cbn import CBNDecoder
from bench.decoders.concat import ConcatDecoder
from bench.heads import PointHeads


@pytest.mark.parametrize("name", ENCODERS.names())
def test_every_registered_encoder_passes_its_contract(name, base_config):
    kwargs = base_config.profiles["tiny"]["encoder_kwargs"].get(name, {})
    checks = check_encoder(name, latent_dim=12, kwargs=kwargs, devices=())
    failed = [c for c in checks if c.passed is False]
    assert not failed, failed


@pytest.mark.parametrize("attr, expect", [
    ("WrongShape", "output shape"), ("ReturnsNaN", "finite values"),
    ("BatchDependent", "batch-size independence"), ("Raises", "forward runs"),
    ("NoModality", "builds and declares"),
])
def test_broken_encoders_fail_with_a_clear_message(attr, expect):
    checks = check_encoder(f"tests.bad_encoders:{attr}", latent_dim=8, devices=())
    failed = [c for c in checks if c.passed is False]
    assert failed and failed[0].name.startswith(expect)
    assert failed[0].detail  # says what is wrong


def test_wrong_shape_message_is_actionable():
    checks = check_encoder("tests.bad_encoders:WrongShape", latent_dim=8, devices=())
    bad = next(c for c in checks if c.passed is False)
    assert "(4, 300, 8)" in bad.detail and "(4, 8)" in bad.detail


@pytest.mark.parametrize("cls", [CBNDecoder, ConcatDecoder])
def test_decoder_shapes(cls):
    dec = cls(latent_dim=10, out_channels=5, hidden=16, blocks=2)
    out = dec(torch.randn(3, 7, 3), torch.randn(3, 10))
    assert out.shape == (3, 7, 5)


def test_layouts_and_joint_slicing():
    torch.manual_seed(0)
    channels = {"reconstruction": 1, "segmentation": 4}
    par = PointHeads(channels, 10, "parallel", hidden=16, blocks=1)
    assert set(par.decoders) == {"reconstruction", "segmentation"}
    joint = PointHeads(channels, 10, "joint", hidden=16, blocks=1).eval()
    p, z = torch.randn(2, 9, 3), torch.randn(2, 10)
    for heads in (par.eval(), joint):
        out = heads(p, z)
        assert out["reconstruction"].shape == (2, 9, 1) and out["segmentation"].shape == (2, 9, 4)
    full = joint.decoders["joint"](p, z)
    out = joint(p, z)
    assert torch.equal(out["reconstruction"], full[..., :1]) and torch.equal(out["segmentation"], full[..., 1:5])


def _n(module):
    return sum(p.numel() for p in module.parameters())


def test_paper_size_parameter_counts():
    """ONet's point-cloud model: ResNet-PointNet (hidden 512, c_dim 512) and DecoderCBatchNorm (hidden 256)."""
    h, d = 512, 512
    block = (2 * h * h + h) + (h * h + h) + (2 * h * h)  # fc_0 2h->h, fc_1 h->h, shortcut 2h->h (no bias)
    expected_enc = (3 * 2 * h + 2 * h) + 5 * block + (h * d + d)
    assert _n(ResNetPointNet(latent_dim=d, hidden_dim=h)) == expected_enc == 6_825_472
    hd = 256
    cbn = 2 * (d * hd + hd)
    expected_dec = (3 * hd + hd) + 5 * (2 * cbn + 2 * (hd * hd + hd)) + cbn + (hd + 1)
    assert _n(CBNDecoder(latent_dim=d, out_channels=1, hidden=hd, blocks=5)) == expected_dec == 3_548_417
