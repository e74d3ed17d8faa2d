"""The region around a hole that an image inpainter works on, and pasting its fill back.

Image inpainters look only at the hole's bounding box grown by a margin
(:func:`vidfill.stages.holes.hole_box`: the context they draw from); the network ones also
shrink it to a working size.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vidfill.stages.holes import hole_box
from vidfill.types import stored, to_float


@dataclass(frozen=True)
class Crop:
    image: torch.Tensor
    """(3, h, w) float32 in [0, 1] at working size: mean of the known pixels under each pixel."""
    hole: torch.Tensor
    """(1, h, w) bool at working size: any hole pixel under it."""
    box: tuple[slice, slice]
    """Rows and columns of the crop in the full image."""


def crop_around(image: torch.Tensor, hole: torch.Tensor, margin: int, max_side: int,
                multiple: int = 1) -> Crop:
    """The hole's bounding box plus ``margin``, shrunk so that its longer side is at most ``max_side``.

    Args:
        image: ``(3, H, W)`` uint8; hole: ``(1, H, W)`` bool with at least one True.
        multiple: the working height and width are multiples of this (networks that halve
            the resolution several times need it); the crop is stretched slightly to fit.
    """
    box = hole_box(hole, margin)
    img, hl = to_float(image[:, box[0], box[1]].cpu()), hole[:, box[0], box[1]].cpu()
    h, w = hl.shape[-2:]
    scale = min(1.0, max_side / max(h, w))
    size = tuple(max(multiple, round(s * scale / multiple) * multiple) for s in (h, w))
    if size == (h, w):
        return Crop(img, hl, box)
    known = (~hl).float()[None]
    value = F.interpolate(img[None] * known, size=size, mode="area")
    weight = F.interpolate(known, size=size, mode="area")
    return Crop((value / weight.clamp_min(1e-8))[0], (weight < 1 - 1e-6)[0], box)


def paste(image: torch.Tensor, hole: torch.Tensor, crop: Crop, fill: torch.Tensor) -> torch.Tensor:
    """``image`` ``(3, H, W)`` (uint8 or float, :mod:`vidfill.types`) with its hole pixels taken
    from ``fill`` ``(3, h, w)`` float at working size, stored as the image's dtype."""
    ys, xs = crop.box
    out = image.cpu().clone()
    region = out[:, ys, xs]
    if fill.shape[-2:] != region.shape[-2:]:
        fill = F.interpolate(fill[None], size=region.shape[-2:], mode="bilinear", align_corners=False)[0]
    out[:, ys, xs] = torch.where(hole.cpu()[:, ys, xs], stored(fill, image.dtype), region)
    return out.to(image.device)
