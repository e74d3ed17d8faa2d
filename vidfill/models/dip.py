"""Deep Image Prior's network (Ulyanov et al. 2018): a small U-Net-shaped generator, fitted
afresh to every image, never loaded from weights (how it is fitted:
:func:`vidfill.inpainters.dip.complete`).
"""

from __future__ import annotations

import torch
from torch import nn


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, padding_mode="reflect"),
                         nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class DipNet(nn.Module):
    """U-Net-shaped generator of DIP: ``levels`` halvings, skip connections, sigmoid output.

    Input ``(1, input_channels, H, W)`` with H and W multiples of ``2**levels``;
    output ``(1, 3, H, W)`` in [0, 1].
    """

    def __init__(self, input_channels: int, channels: int, levels: int):
        super().__init__()
        self.down = nn.ModuleList(
            nn.Sequential(_block(input_channels if i == 0 else channels, channels, 2),
                          _block(channels, channels)) for i in range(levels))
        self.skip = nn.ModuleList(_block(input_channels if i == 0 else channels, 4) for i in range(levels))
        self.up = nn.ModuleList(_block(channels + 4, channels) for _ in range(levels))
        self.out = nn.Conv2d(channels, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for down, skip in zip(self.down, self.skip):
            skips.append(skip(x))
            x = down(x)
        for up, s in zip(self.up, reversed(skips)):
            x = nn.functional.interpolate(x, size=s.shape[-2:], mode="bilinear", align_corners=False)
            x = up(torch.cat([x, s], 1))
        return torch.sigmoid(self.out(x))
