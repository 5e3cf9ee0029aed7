"""Backbones for 1-channel spectrogram "images": ResNets (He et al. 2016) with named
sizes, and torchvision's EfficientNet-B0 (Tan & Le 2019) adapted to one input channel.

* ``resnet50`` — torchvision's ResNet-50 layout (bottleneck blocks 3-4-6-3, widths
  64-128-256-512 x4, 7x7/2 stem + 3x3/2 max-pool) -> 2048-d. SiamRec's and the LARP
  authors' CO-Playlist stand-in backbone.
* ``resnet18`` — basic blocks 2-2-2-2 -> 512-d.
* ``resnet-cpu`` — basic blocks 1-1-1-1, widths 16-32-64-128 -> 128-d (quick profile).
* ``resnet-tiny`` — basic blocks 1-1-1-1, widths 8-16-32-64 -> 64-d (ci profile).
* ``efficientnet-b0`` — torchvision EfficientNet-B0, random init, 1 input channel -> 1280-d
  (CO-Playlist's backbone family).

All return the globally average-pooled feature ``[B, dim]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ResNetSpec:
    block: str  # "basic" | "bottleneck"
    layers: tuple[int, int, int, int]
    widths: tuple[int, int, int, int]
    stem: int

    @property
    def dim(self) -> int:
        return self.widths[-1] * (4 if self.block == "bottleneck" else 1)


RESNETS: dict[str, ResNetSpec] = {
    "resnet50": ResNetSpec("bottleneck", (3, 4, 6, 3), (64, 128, 256, 512), 64),
    "resnet18": ResNetSpec("basic", (2, 2, 2, 2), (64, 128, 256, 512), 64),
    "resnet-cpu": ResNetSpec("basic", (1, 1, 1, 1), (16, 32, 64, 128), 16),
    "resnet-tiny": ResNetSpec("basic", (1, 1, 1, 1), (8, 16, 32, 64), 8),
}
BACKBONES = (*RESNETS, "efficientnet-b0")


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.last_bn = self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + (x if self.down is None else self.down(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin: int, width: int, stride: int) -> None:
        super().__init__()
        cout = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # stride on the 3x3 (v1.5)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.last_bn = self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + (x if self.down is None else self.down(x)))


class SpecResNet(nn.Module):
    """ResNet trunk on ``[B, 1, F, T]``; ``zero_init_residual`` as torchvision's flag
    (SimSiam and SiamRec set it)."""

    def __init__(self, spec: ResNetSpec, in_channels: int = 1, zero_init_residual: bool = True) -> None:
        super().__init__()
        self.spec = spec
        block = Bottleneck if spec.block == "bottleneck" else BasicBlock
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, spec.stem, 7, 2, 3, bias=False), nn.BatchNorm2d(spec.stem),
            nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1))
        stages = []
        cin = spec.stem
        for i, (n, w) in enumerate(zip(spec.layers, spec.widths)):
            blocks = []
            for j in range(n):
                blocks.append(block(cin, w, 2 if (j == 0 and i > 0) else 1))
                cin = w * block.expansion
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.dim = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock | Bottleneck):
                    nn.init.zeros_(m.last_bn.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.device.type == "cpu":  # oneDNN runs thin convolutions faster in NHWC
            x = x.contiguous(memory_format=torch.channels_last)
        return self.stages(self.stem(x)).mean(dim=(2, 3))


class EfficientNetB0(nn.Module):
    """torchvision's EfficientNet-B0 features (random init), first conv taking 1 channel."""

    def __init__(self, in_channels: int = 1) -> None:
        super().__init__()
        from torchvision.models import efficientnet_b0

        net = efficientnet_b0(weights=None)
        first = net.features[0][0]
        net.features[0][0] = nn.Conv2d(in_channels, first.out_channels, first.kernel_size,
                                       first.stride, first.padding, bias=False)
        nn.init.kaiming_normal_(net.features[0][0].weight, mode="fan_out")
        self.features = net.features
        self.dim = 1280

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.device.type == "cpu":  # oneDNN runs thin convolutions faster in NHWC
            x = x.contiguous(memory_format=torch.channels_last)
        return self.features(x).mean(dim=(2, 3))


def build_backbone(name: str) -> nn.Module:
    """A backbone by name (see module docstring); ``.dim`` is its output width."""
    if name in RESNETS:
        return SpecResNet(RESNETS[name])
    if name == "efficientnet-b0":
        return EfficientNetB0()
    raise ValueError(f"unknown backbone {name!r}; known: {list(BACKBONES)}")


def backbone_dim(name: str) -> int:
    if name in RESNETS:
        return RESNETS[name].dim
    if name == "efficientnet-b0":
        return 1280
    raise ValueError(f"unknown backbone {name!r}; known: {list(BACKBONES)}")
