"""The gated generator: DeepFill v2's network (Yu et al. 2019), gated convolutions and
contextual attention, coarse-to-refine (weights: manifest entry ``"gated_inpainter"`` in
:mod:`vidfill.models.weights`; how it is applied: :func:`vidfill.inpainters.gated.complete`).

Built with random weights; no trained checkpoint is published with vidfill.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

ATTENTION_SCALE = 10.0
"""Softmax temperature of contextual attention over cosine similarities (DeepFill's value)."""


class GatedConv(nn.Module):
    """``act(conv_f(x)) * sigmoid(conv_g(x))``: the gate learns where the input is valid.

    ``(N, cin, H, W)`` -> ``(N, cout, H / stride, W / stride)``; ``act=None`` for the output layer.
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1,
                 act: nn.Module | None = nn.ELU()):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride, dilation * (kernel - 1) // 2, dilation)
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature, gate = self.conv(x).chunk(2, 1)
        if self.act is not None:
            feature = self.act(feature)
        return feature * torch.sigmoid(gate)


class Up(nn.Module):
    """Nearest-neighbour x2 upsampling then a gated convolution (DeepFill's gen_deconv)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = GatedConv(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


def _encoder(cin: int, c: int, dilated: bool) -> list[nn.Module]:
    """Down to 1/4 resolution with 4c channels, then (optionally) dilated convolutions 2, 4, 8, 16."""
    layers = [GatedConv(cin, c, 5), GatedConv(c, 2 * c, 3, 2), GatedConv(2 * c, 2 * c),
              GatedConv(2 * c, 4 * c, 3, 2), GatedConv(4 * c, 4 * c), GatedConv(4 * c, 4 * c)]
    if dilated:
        layers += [GatedConv(4 * c, 4 * c, dilation=d) for d in (2, 4, 8, 16)]
    return layers


def _decoder(cin: int, c: int) -> nn.Sequential:
    """From 1/4 resolution back to full, ending in 3 channels through tanh."""
    return nn.Sequential(GatedConv(cin, 4 * c), GatedConv(4 * c, 4 * c), Up(4 * c, 2 * c),
                         GatedConv(2 * c, 2 * c), Up(2 * c, c), GatedConv(c, c // 2),
                         GatedConv(c // 2, 3, act=None), nn.Tanh())


def contextual_attention(features: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Rebuild hole features from the known ones they resemble most (DeepFill's attention layer).

    Matching is done at half the feature resolution: every 3x3 patch of known features is a
    filter; the cosine similarity of each location with each filter, softmaxed over the
    filters, weights the patches pasted back (a transposed convolution).

    Args:
        features: ``(N, C, H, W)`` with H, W even.
        hole: ``(N, 1, H, W)`` float, 1 = hole.
    Returns:
        ``(N, C, H, W)``: the attention's reconstruction (the caller composites it).
    """
    small = F.avg_pool2d(features, 2)
    known = F.max_pool2d(hole, 2) == 0
    outs = []
    for f, k in zip(small, known):
        # (L, C, 3, 3) patches of this image, L = h * w.
        patches = F.unfold(f[None], 3, padding=1)[0].T.reshape(-1, f.shape[0], 3, 3)
        # A patch is usable when all its 3x3 cells are known and inside the map (no zero padding).
        outside = F.pad((~k).float()[None], [1] * 4, value=1.0)
        valid = (F.max_pool2d(outside, 3, stride=1) == 0).flatten()  # (L,)
        if not bool(valid.any()):
            outs.append(f)
            continue
        norm = patches.flatten(1).norm(dim=1).clamp_min(1e-4)
        score = F.conv2d(f[None], patches / norm[:, None, None, None], padding=1)  # (1, L, h, w)
        score = score.masked_fill(~valid[None, :, None, None], float("-inf"))
        attention = torch.softmax(score * ATTENTION_SCALE, dim=1)
        outs.append(F.conv_transpose2d(attention, patches, padding=1)[0] / 9.0)
    return F.interpolate(torch.stack(outs), scale_factor=2, mode="bilinear", align_corners=False)


class GatedGenerator(nn.Module):
    """DeepFill v2's generator: a coarse network, then a refinement network with a dilated branch
    and a contextual-attention branch.

    Input: image ``(N, 3, H, W)`` in [-1, 1] and hole ``(N, 1, H, W)`` float (1 = hole),
    H and W multiples of 8. Output: ``(coarse, refined)``, each ``(N, 3, H, W)`` in [-1, 1].
    ``channels`` 24 matches DeepFill v2's cnum 48 (its gated layers split 48 outputs into
    24 features and 24 gates): about 4.2 M parameters.
    """

    def __init__(self, channels: int = 24):
        super().__init__()
        c = channels
        self.coarse = nn.Sequential(*_encoder(5, c, dilated=True), _decoder(4 * c, c))
        self.refine_conv = nn.Sequential(*_encoder(5, c, dilated=True))
        self.refine_attention_in = nn.Sequential(*_encoder(5, c, dilated=False)[:-1],
                                                 GatedConv(4 * c, 4 * c, act=nn.ReLU()))
        self.refine_attention_out = nn.Sequential(GatedConv(4 * c, 4 * c), GatedConv(4 * c, 4 * c))
        self.refine_out = _decoder(8 * c, c)

    def forward(self, image: torch.Tensor, hole: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ones = torch.ones_like(hole)
        x = image * (1 - hole)
        coarse = self.coarse(torch.cat([x, ones, hole], 1))
        x = coarse * hole + image * (1 - hole)
        inputs = torch.cat([x, ones, hole], 1)
        conv = self.refine_conv(inputs)
        attended = self.refine_attention_in(inputs)
        small_hole = F.interpolate(hole, size=attended.shape[-2:], mode="nearest")
        attended = self.refine_attention_out(contextual_attention(attended, small_hole))
        refined = self.refine_out(torch.cat([conv, attended], 1))
        return coarse, refined
