"""ResNet-18 image encoder (He et al. 2016) + a linear layer to D, as Occupancy Networks' Resnet18.

ONet renders Choy et al.'s views at 137 px and resizes them to 224 px (torchvision's bilinear ``Resize``) before
the network; ``input_size = 224`` does the same here (the image profile sets it), on the device, so the
stored views stay at their rendered size. 0 feeds the views as they come.

Written in plain torch with torchvision's module names, so that torchvision's ImageNet state dict
(``resnet18-*.pth``) loads with ``--set encoder_kwargs.resnet18.pretrained=PATH`` without torchvision being
installed (PyPI's torchvision does not import beside the CPU torch wheel this project installs).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import ConfigError, PluginLoadError


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """ResNet-18 (torchvision layout) + linear layer to D; from scratch, or ImageNet weights from a local file."""

    modality: ClassVar[str] = "image"

    def __init__(self, latent_dim: int = 256, pretrained: str = "", normalize: bool = True, input_size: int = 0):
        super().__init__()
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 0:
            raise ConfigError(f"encoder_kwargs.resnet18.input_size = {input_size!r}: the side in pixels the views are "
                              "resized to (ONet: 224), or 0 to feed them at their own size.")
        self.latent_dim = latent_dim
        self.normalize = normalize
        self.input_size = input_size
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        widths = (64, 128, 256, 512)
        c_in = 64
        for i, w in enumerate(widths):
            stride = 1 if i == 0 else 2
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(c_in, w, stride), BasicBlock(w, w)))
            c_in = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, latent_dim)  # ONet: the 1000-way ImageNet head is replaced by this
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)
        if pretrained:
            self.load_imagenet(pretrained)

    def load_imagenet(self, path: str) -> None:
        """torchvision's resnet18 state dict from a local file (weights_only); its 'fc' head is dropped."""
        file = Path(path).expanduser()
        if not file.is_file():
            raise PluginLoadError(f"resnet18: pretrained weights {file} not found (download torchvision's "
                                  "resnet18-f37072fd.pth on a machine with network and pass its path).")
        state = torch.load(file, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        own = {k: v for k, v in self.state_dict().items() if not k.startswith("fc.")}
        # torchvision's resnet18-f37072fd.pth predates BatchNorm's num_batches_tracked counter: those (and
        # only those) may be missing; they only matter for momentum=None, which ResNet-18 does not use.
        missing = [k for k in own if k not in state and not k.endswith(".num_batches_tracked")]
        unexpected = [k for k in state if k not in own]
        wrong = [k for k in own if k in state and state[k].shape != own[k].shape]
        if missing or unexpected or wrong:
            raise PluginLoadError(f"resnet18: {file} is not a torchvision ResNet-18 state dict "
                                  f"(missing {missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}).")
        self.load_state_dict(state, strict=False)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) images in [0, 1] -> (B, latent_dim); resized to (B, 3, input_size, input_size) first
        when input_size is set (bilinear with antialiasing, as PIL's resize that torchvision's Resize calls)."""
        x = inputs
        if self.input_size and tuple(x.shape[-2:]) != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bilinear", align_corners=False,
                              antialias=True)
        x = (x - self.mean) / self.std if self.normalize else x
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))
