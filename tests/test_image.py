"""Image input: rendered views, ONet's img_choy2016 folders, the ResNet-18 encoder and an image run."""

import numpy as np
import pytest
import torch
import trimesh

from bench.data.format import read_views
from bench.data.render import Camera, render_view, render_views
from bench.errors import DataError, PluginLoadError
from encoders.resnet18 import ResNet18


def test_rendered_silhouette_matches_projected_vertices():
    box = trimesh.creation.box(extents=(0.6, 0.3, 0.4))
    for az in (0.3, 2.0, 4.0):
        cam = Camera(az, np.deg2rad(25))
        img = render_view(box, cam, 137)
        ys, xs = np.nonzero((img < 250).any(2))
        proj = cam.project(box.vertices, 137)
        assert abs(xs.min() - proj[:, 0].min()) <= 1.5 and abs(xs.max() + 1 - proj[:, 0].max()) <= 1.5
        assert abs(ys.min() - proj[:, 1].min()) <= 1.5 and abs(ys.max() + 1 - proj[:, 1].max()) <= 1.5
    views, az = render_views(box, 3, 32)
    assert views.shape == (3, 32, 32, 3) and views.dtype == np.uint8 and len(az) == 3


def test_onet_img_choy2016_is_read_as_is(tmp_path):
    from skimage.io import imsave

    folder = tmp_path / "shape" / "img_choy2016"
    folder.mkdir(parents=True)
    for k in range(3):
        imsave(folder / f"{k:03d}.jpg", np.full((137, 137, 3), 40 * k, np.uint8), check_contrast=False)
    views = read_views(tmp_path / "shape")
    assert views.shape == (3, 137, 137, 3)
    with pytest.raises(DataError, match="data.views"):
        read_views(tmp_path)


def test_resnet18_matches_torchvision_layout_and_loads_pretrained(tmp_path):
    enc = ResNet18(latent_dim=16)
    backbone = sum(p.numel() for n, p in enc.named_parameters() if not n.startswith("fc."))
    assert backbone == 11_176_512  # torchvision resnet18: 11,689,512 minus its 1000-way fc (513,000)
    state = {k: torch.randn_like(v) if v.is_floating_point() else v for k, v in enc.state_dict().items() if not k.startswith("fc.")}
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)  # ImageNet head, dropped
    torch.save(state, tmp_path / "resnet18.pth")
    loaded = ResNet18(latent_dim=16, pretrained=str(tmp_path / "resnet18.pth"))
    assert torch.equal(loaded.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(PluginLoadError, match="not a torchvision ResNet-18"):
        ResNet18(pretrained=str(tmp_path / "bad.pth"))


def test_image_run_trains_on_the_tiny_preset(tiny_config):
    from bench.training.plan import resolve_suite
    from bench.training.runner import run_suite

    cfg = tiny_config.with_overrides({"model": {"encoder": "resnet18"}, "data": {"views": 2, "image_size": 48},
                                      "train": {"max_steps": 3, "eval_every": 3}}, "test")
    runs = [r for r in resolve_suite(cfg, "smoke") if r.name in ("onet", "cls-probe")]
    results = run_suite(runs, progress=False, log=lambda m: None)
    assert [r.status for r in results] == ["complete", "complete"], [r.error for r in results]
    assert results[0].encoder["modality"] == "image"
