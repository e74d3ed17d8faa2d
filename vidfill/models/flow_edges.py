"""The flow-edge network: an EdgeConnect-style generator that draws the motion boundaries of a
flow field inside its hole (weights: manifest entry ``"flow_edges"`` in :mod:`vidfill.models.weights`;
how it is applied: :func:`vidfill.stages.edges.complete_edges`; trained by :mod:`vidfill.models.train`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

MULTIPLE = 4
"""Network inputs are padded to a multiple of this (two stride-2 levels)."""

MIN_SIDE = 16
"""Network inputs are padded to at least this: at 1/4 resolution its residual blocks reflect
2 px, which needs more than 2 px there."""


class _ResidualBlock(nn.Module):
    def __init__(self, channels: int, dilation: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(dilation),
            spectral_norm(nn.Conv2d(channels, channels, 3, dilation=dilation, bias=False)),
            nn.InstanceNorm2d(channels, track_running_stats=False),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            spectral_norm(nn.Conv2d(channels, channels, 3, bias=False)),
            nn.InstanceNorm2d(channels, track_running_stats=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class EdgeGenerator(nn.Module):
    """EdgeConnect's edge generator, narrower: ``(N, 4, h, w)`` -> ``(N, 1, h, w)`` edge logits.

    Encoder (7x7 conv, two stride-2 convs), ``blocks`` residual blocks with dilation 2
    at 1/4 resolution, decoder (two transposed convs, 7x7 conv); spectral normalisation
    and instance normalisation throughout, as in EdgeConnect. ``h`` and ``w`` must be
    multiples of 4 (:func:`vidfill.stages.edges.complete_edges` pads).
    """

    def __init__(self, width: int = 16, blocks: int = 4) -> None:
        super().__init__()
        c = width

        def down(cin: int, cout: int, k: int, stride: int, pad: nn.Module) -> list[nn.Module]:
            return [pad, spectral_norm(nn.Conv2d(cin, cout, k, stride, bias=False)),
                    nn.InstanceNorm2d(cout), nn.ReLU(True)]

        def up(cin: int, cout: int) -> list[nn.Module]:
            return [spectral_norm(nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False)),
                    nn.InstanceNorm2d(cout), nn.ReLU(True)]

        self.net = nn.Sequential(
            *down(4, c, 7, 1, nn.ReflectionPad2d(3)),
            *down(c, 2 * c, 4, 2, nn.ZeroPad2d(1)),
            *down(2 * c, 4 * c, 4, 2, nn.ZeroPad2d(1)),
            *[_ResidualBlock(4 * c, 2) for _ in range(blocks)],
            *up(4 * c, 2 * c),
            *up(2 * c, c),
            nn.ReflectionPad2d(3),
            nn.Conv2d(c, 1, 7),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != 4 or x.shape[2] % MULTIPLE or x.shape[3] % MULTIPLE:
            raise ValueError(f"EdgeGenerator takes (N, 4, h, w) with h, w multiples of {MULTIPLE}, "
                             f"got {tuple(x.shape)}")
        return self.net(x)
