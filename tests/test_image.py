"""Image input: rendered views, ONet's img_choy2016 folders, the ResNet-18 encoder and an image run."""

import numpy as np
import pytest
import torch
import trimesh

from bench.data.format import read_views
from bench.data.render import Camera, render_view, render_views
from bench.errors import DataError, PluginLoadError
from implicit_bench_encoders.resnet18 import ResNet18


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


def torchvision_resnet18_layout() -> dict[str, tuple[int, ...]]:
    """The key layout of torchvision's resnet18-f37072fd.pth, written out from torchvision's ResNet-18:
    102 tensors, saved by an old torch, so no BatchNorm has a num_batches_tracked buffer; a 1000-way fc."""
    def bn(prefix, c):
        return {f"{prefix}.{n}": (c,) for n in ("weight", "bias", "running_mean", "running_var")}

    layout = {"conv1.weight": (64, 3, 7, 7), **bn("bn1", 64)}
    c_in = 64
    for i, c in enumerate((64, 128, 256, 512), start=1):
        for b in (0, 1):
            p = f"layer{i}.{b}"
            first_in = c_in if b == 0 else c
            layout[f"{p}.conv1.weight"] = (c, first_in, 3, 3)
            layout.update(bn(f"{p}.bn1", c))
            layout[f"{p}.conv2.weight"] = (c, c, 3, 3)
            layout.update(bn(f"{p}.bn2", c))
            if b == 0 and i > 1:  # layer2-4 halve the resolution: a 1x1 strided projection
                layout[f"{p}.downsample.0.weight"] = (c, c_in, 1, 1)
                layout.update(bn(f"{p}.downsample.1", c))
        c_in = c
    layout["fc.weight"], layout["fc.bias"] = (1000, 512), (1000,)
    return layout


def test_resnet18_matches_torchvision_layout_and_loads_pretrained(tmp_path):
    enc = ResNet18(latent_dim=16)
    backbone = sum(p.numel() for n, p in enc.named_parameters() if not n.startswith("fc."))
    assert backbone == 11_176_512  # torchvision resnet18: 11,689,512 minus its 1000-way fc (513,000)
    layout = torchvision_resnet18_layout()
    assert len(layout) == 102
    assert sum(int(np.prod(s)) for k, s in layout.items() if "running" not in k) == 11_689_512
    gen = torch.Generator().manual_seed(0)
    state = {k: torch.randn(s, generator=gen) for k, s in layout.items()}
    for k in state:
        if k.endswith("running_var"):
            state[k] = state[k].abs() + 0.1
    torch.save(state, tmp_path / "resnet18-f37072fd.pth")
    loaded = ResNet18(latent_dim=16, pretrained=str(tmp_path / "resnet18-f37072fd.pth"))
    got = loaded.state_dict()
    for k, v in state.items():
        if not k.startswith("fc."):
            assert torch.equal(got[k], v), k
    assert loaded.fc.weight.shape == (16, 512)  # the ImageNet head is dropped, ours kept
    # a newer torchvision file (with num_batches_tracked) loads as well
    newer = {**state, **{k: torch.tensor(7) for k in enc.state_dict() if k.endswith("num_batches_tracked")}}
    torch.save(newer, tmp_path / "newer.pth")
    assert torch.equal(ResNet18(latent_dim=16, pretrained=str(tmp_path / "newer.pth")).bn1.running_var,
                       state["bn1.running_var"])
    # only the counters may be missing: a file without a real buffer or weight is refused
    for drop in ("layer2.0.downsample.1.running_mean", "layer4.1.conv2.weight"):
        torch.save({k: v for k, v in state.items() if k != drop}, tmp_path / "partial.pth")
        with pytest.raises(PluginLoadError, match="not a torchvision ResNet-18"):
            ResNet18(pretrained=str(tmp_path / "partial.pth"))
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
