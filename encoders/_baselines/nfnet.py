"""SF-NFNet: the slow-fast normaliser-free ResNet MULE uses (McCallum et al. 2022).

A PyTorch re-implementation following MULE's Keras model (``mule/models/sfnfnetf0.py``
in PandoraMedia/music-audio-representations), which follows Wang et al. 2021
("Towards learning universal audio representations") and DeepMind's NFNet reference:

* input ``[B, 1, 96 mel bands, 300 frames]`` (frequency first, time second);
* two stems: *slow* (channels 16-32-64-128, first conv strides freq 2 x time 8) and
  *fast* (channels 2-4-8-16, strides 2 x 2); the last stem conv has no activation;
* four NF stages on each path (depths ``(1, 2, 6, 3) * (F + 1)``), blocks with
  scaled-weight-standardised convs (1x1 -> 1x3 time -> 3x1 freq (grouped) -> 1x1),
  squeeze-and-excite (hidden C/2, output ``2 * sigmoid``), a learnable skip gain
  initialised to 0, residual scaling α = 0.2 and β = 1/expected std, stochastic depth
  (rates 0.1 * i / n over blocks; off at inference and unscaled there);
* the first block of each stage is a transition block (shortcut: avg-pool when the
  frequency is downsampled, then a WS 1x1 conv on ``act(x) * β``);
* fast -> slow fusion before each slow stage: WS conv 1x7 over time, stride 4, then a
  WS 1x1 conv, concatenated to the slow path's channels;
* head: global average pool of both paths, concatenation (1536 + 192 = 1728 for F0),
  scaled GELU (``gelu(x) * 1.7015043497``). That 1728-d vector is MULE's embedding.
* convs use TensorFlow's ``"same"`` padding (asymmetric when needed) and keep a bias,
  as Keras' Conv2D does, so converted official weights line up.

``SPECS`` names the real F0 and two smaller CPU variants (same topology, fewer channels
and blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

GELU_GAMMA = 1.7015043497085571  # DeepMind's scaled-GELU constant (MULE uses it too)


@dataclass(frozen=True)
class SFNFNetSpec:
    slow_stem: tuple[int, int, int, int]
    fast_stem: tuple[int, int, int, int]
    slow_out: tuple[int, int, int, int]
    fast_out: tuple[int, int, int, int]
    fusion_mid: tuple[int, int, int, int]  # channels of the 1x7 fusion conv (its "input_channels")
    fusion_out: tuple[int, int, int, int]  # channels the fast path adds to the slow path
    depths: tuple[int, int, int, int]
    slow_group: int
    fast_group: int
    alpha: float = 0.2
    stochastic_depth: float = 0.1

    @property
    def dim(self) -> int:
        return self.slow_out[-1] + self.fast_out[-1]


SPECS: dict[str, SFNFNetSpec] = {
    # The real SF-NFNet-F0 (~62M parameters), 1728-d embedding.
    "sf-nfnet-f0": SFNFNetSpec(
        slow_stem=(16, 32, 64, 128), fast_stem=(2, 4, 8, 16),
        slow_out=(256, 512, 1536, 1536), fast_out=(32, 64, 192, 192),
        fusion_mid=(32, 32, 64, 192), fusion_out=(128, 256, 512, 3072),
        depths=(1, 2, 6, 3), slow_group=128, fast_group=16),
    # Same topology, few channels and one block per stage (~17 MFLOP per 3 s slice instead
    # of ~8.6 GFLOP): 136-d. For the quick profile on CPU.
    "nfnet-f0-cpu": SFNFNetSpec(
        slow_stem=(4, 8, 8, 16), fast_stem=(2, 2, 2, 4),
        slow_out=(16, 32, 96, 128), fast_out=(4, 8, 8, 8),
        fusion_mid=(4, 4, 8, 8), fusion_out=(16, 16, 16, 32),
        depths=(1, 1, 1, 1), slow_group=8, fast_group=2),
    # Smallest variant for tests and the ci profile (~11 MFLOP per slice): 56-d.
    "nfnet-f0-tiny": SFNFNetSpec(
        slow_stem=(4, 8, 8, 16), fast_stem=(2, 2, 2, 4),
        slow_out=(16, 32, 48, 48), fast_out=(4, 8, 8, 8),
        fusion_mid=(4, 4, 8, 8), fusion_out=(16, 16, 16, 48),
        depths=(1, 1, 1, 1), slow_group=8, fast_group=2),
}


def get_spec(name: str) -> SFNFNetSpec:
    if name not in SPECS:
        raise ValueError(f"unknown SF-NFNet variant {name!r}; known: {sorted(SPECS)}")
    return SPECS[name]


def scaled_gelu(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``gelu(x) * 1.7015 * scale`` (one extra in-place multiply; GELU's backward needs only x)."""
    return F.gelu(x).mul_(GELU_GAMMA * scale)


def _same_pads(shape: torch.Size, kernel: tuple[int, int], stride: tuple[int, int]) -> list[tuple[int, int]]:
    """TensorFlow ``padding="same"``: output = ceil(in / stride); an odd extra pad goes after."""
    pads = []
    for size, k, s in zip(shape[-2:], kernel, stride):
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return pads


class WSConv2d(nn.Conv2d):
    """Conv2d with scaled weight standardisation (Brock et al. 2021) and TF "same" padding.

    ``W' = gain * (W - mean) / sqrt(max(fan_in * var, 1e-4))`` with mean and (biased)
    variance over each output filter, ``fan_in = in/groups * kh * kw``.
    """

    def __init__(self, cin: int, cout: int, kernel: tuple[int, int], stride: tuple[int, int] = (1, 1),
                 groups: int = 1, eps: float = 1e-4) -> None:
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=True)
        self.gain = nn.Parameter(torch.ones(cout))
        self.eps = eps
        nn.init.normal_(self.weight, 0.0, 1.0 / math.sqrt(self.weight[0].numel()))
        nn.init.zeros_(self.bias)

    def standardized_weight(self) -> torch.Tensor:
        w = self.weight
        fan_in = w[0].numel()
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        scale = torch.rsqrt(torch.clamp(var * fan_in, min=self.eps)) * self.gain.view(-1, 1, 1, 1)
        return w * scale - mean * scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        (fb, fa), (tb, ta) = _same_pads(x.shape, self.kernel_size, self.stride)
        if fb == fa and tb == ta:  # symmetric: let the convolution pad (no copy)
            pad: tuple[int, int] = (fb, tb)
        else:
            x, pad = F.pad(x, (tb, ta, fb, fa)), (0, 0)
        return F.conv2d(x, self.standardized_weight(), self.bias, self.stride, pad, 1, self.groups)


class SqueezeExcite(nn.Module):
    """GAP -> Dense(C/2, relu) -> Dense(C, sigmoid); output ``x * 2 * s`` (NFNet style)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(channels, max(1, channels // 2))
        self.fc2 = nn.Linear(max(1, channels // 2), channels)
        for fc in (self.fc1, self.fc2):
            nn.init.xavier_uniform_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3))
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(s))))
        return x * (2.0 * s)[:, :, None, None]


class NFBlock(nn.Module):
    def __init__(self, cin: int, cout: int, *, freq_down: int, group_size: int, alpha: float,
                 beta: float, drop_rate: float, transition: bool) -> None:
        super().__init__()
        mid = cout // 2
        if mid % group_size:
            raise ValueError(f"NF block: {mid} mid channels not divisible by group size {group_size}")
        groups = mid // group_size
        self.transition = transition or freq_down > 1 or cin != cout
        self.freq_down, self.alpha, self.beta, self.drop_rate = freq_down, alpha, beta, drop_rate
        self.conv1 = WSConv2d(cin, mid, (1, 1))
        self.conv2 = WSConv2d(mid, mid, (1, 3), stride=(freq_down, 1), groups=groups)
        self.conv3 = WSConv2d(mid, mid, (3, 1), groups=groups)
        self.conv4 = WSConv2d(mid, cout, (1, 1))
        self.se = SqueezeExcite(cout)
        self.skip_gain = nn.Parameter(torch.zeros(()))
        self.shortcut = WSConv2d(cin, cout, (1, 1)) if self.transition else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = scaled_gelu(x, self.beta)
        if self.shortcut is not None:
            skip = out
            if self.freq_down > 1:
                skip = F.avg_pool2d(skip, (self.freq_down, 1), (self.freq_down, 1), ceil_mode=True)
            skip = self.shortcut(skip)
        else:
            skip = x
        r = scaled_gelu(self.conv1(out))
        r = scaled_gelu(self.conv2(r))
        r = scaled_gelu(self.conv3(r))
        r = self.se(self.conv4(r))
        r = r * self.skip_gain * self.alpha
        if self.training and self.drop_rate > 0:
            keep = torch.rand(r.shape[0], 1, 1, 1, device=r.device) >= self.drop_rate
            r = r * keep.to(r.dtype)  # TFA StochasticDepth: no rescaling in training or at test
        return skip + r


class _Stem(nn.Module):
    def __init__(self, channels: tuple[int, ...], kernels: tuple[tuple[int, int], ...],
                 strides: tuple[tuple[int, int], ...]) -> None:
        super().__init__()
        cin = 1
        self.convs = nn.ModuleList()
        for c, k, s in zip(channels, kernels, strides):
            self.convs.append(WSConv2d(cin, c, k, stride=s))
            cin = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = scaled_gelu(x)
        return x


class _Fusion(nn.Module):
    def __init__(self, cin: int, mid: int, cout: int) -> None:
        super().__init__()
        self.time_conv = WSConv2d(cin, mid, (1, 7), stride=(1, 4))
        self.proj = WSConv2d(mid, cout, (1, 1))

    def forward(self, slow: torch.Tensor, fast: torch.Tensor) -> torch.Tensor:
        f = self.proj(self.time_conv(fast))
        if f.shape[-2:] != slow.shape[-2:]:  # can only happen for unusual input sizes
            f = F.interpolate(f, size=slow.shape[-2:], mode="nearest")
        return torch.cat([slow, f], dim=1)


class SFNFNet(nn.Module):
    """Slow-fast NFNet trunk: ``[B, 1, F, T]`` log-mel -> ``[B, spec.dim]`` embedding."""

    def __init__(self, spec: SFNFNetSpec | str = "sf-nfnet-f0") -> None:
        super().__init__()
        self.spec = get_spec(spec) if isinstance(spec, str) else spec
        s = self.spec
        self.slow_stem = _Stem(s.slow_stem, ((3, 1), (3, 1), (3, 1), (3, 3)),
                               ((2, 8), (1, 1), (1, 1), (2, 2)))
        self.fast_stem = _Stem(s.fast_stem, ((3, 3),) * 4, ((2, 2), (1, 1), (1, 1), (2, 2)))
        total = sum(s.depths)
        rates = [s.stochastic_depth * i / total for i in range(total)]
        expected = [1.0] + [math.sqrt(1.0 + s.alpha**2)] * 3
        downs = [1, 2, 2, 2]
        self.fusions = nn.ModuleList()
        self.slow_stages = nn.ModuleList()
        self.fast_stages = nn.ModuleList()
        slow_c, fast_c, k = s.slow_stem[-1], s.fast_stem[-1], 0
        for i in range(4):
            self.fusions.append(_Fusion(fast_c, s.fusion_mid[i], s.fusion_out[i]))
            slow_in = slow_c + s.fusion_out[i]
            self.slow_stages.append(self._stage(slow_in, s.slow_out[i], downs[i], s.slow_group,
                                                expected[i], rates[k:k + s.depths[i]]))
            self.fast_stages.append(self._stage(fast_c, s.fast_out[i], downs[i], s.fast_group,
                                                expected[i], rates[k:k + s.depths[i]]))
            k += s.depths[i]
            slow_c, fast_c = s.slow_out[i], s.fast_out[i]
        self.dim = s.dim

    def _stage(self, cin: int, cout: int, down: int, group: int, expected_std: float,
               rates: list[float]) -> nn.Sequential:
        alpha = self.spec.alpha
        blocks = [NFBlock(cin, cout, freq_down=down, group_size=group, alpha=alpha,
                          beta=1.0 / expected_std, drop_rate=rates[0], transition=True)]
        std = (expected_std**2 + alpha**2) ** 0.5
        for r in rates[1:]:
            blocks.append(NFBlock(cout, cout, freq_down=1, group_size=group, alpha=alpha,
                                  beta=1.0 / std, drop_rate=r, transition=False))
            std = (std**2 + alpha**2) ** 0.5
        return nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.device.type == "cpu":  # oneDNN is markedly faster on NHWC for these thin layers
            x = x.contiguous(memory_format=torch.channels_last)
        slow = self.slow_stem(x)
        fast = self.fast_stem(x)
        for fuse, slow_stage, fast_stage in zip(self.fusions, self.slow_stages, self.fast_stages):
            slow = slow_stage(fuse(slow, fast))
            fast = fast_stage(fast)
        out = torch.cat([slow.mean(dim=(2, 3)), fast.mean(dim=(2, 3))], dim=1)
        return scaled_gelu(out)


class Projector(nn.Module):
    """MULE's SimCLR head: Dense+ReLU layers, then a bias-free ``fc`` (init N(0, 0.01))."""

    def __init__(self, dim_in: int, hidden: tuple[int, ...], dim_out: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = dim_in
        for h in hidden:
            lin = nn.Linear(d, h)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            layers += [lin, nn.ReLU()]
            d = h
        self.mlp = nn.Sequential(*layers)
        self.fc = nn.Linear(d, dim_out, bias=False)
        nn.init.normal_(self.fc.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.mlp(x))
