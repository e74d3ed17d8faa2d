"""The harmonic fill: the smoothest membrane through a hole's surroundings (Laplace's equation),
the default keyframe inpainter."""

from __future__ import annotations

import torch

from vidfill.config import PoissonConfig
from vidfill.stages.holes import hole_box, smooth_fill
from vidfill.stages.poisson import poisson_solve
from vidfill.types import stored, to_float


def harmonic_fill(image: torch.Tensor, hole: torch.Tensor, cfg: PoissonConfig) -> torch.Tensor:
    """Fill ``hole`` with the smoothest surface through its surroundings (Laplace's equation).

    Each hole pixel becomes the mean of its four neighbours, with the known pixels as
    boundary: the fill with the least squared gradient, a membrane stretched over the
    hole. It invents no structure, so where nothing is known it errs least in the mean
    (it reproduces linear ramps exactly). Solved by the fusion stage's Poisson solver with
    zero target differences, on the hole's bounding box grown by one pixel, from the
    push-pull fill as initial guess; hole pixels on the image border have no constraint
    beyond it (zero slope across the border).

    Args:
        image: ``(3, H, W)`` uint8 or float (:mod:`vidfill.types`); hole: ``(1, H, W)`` bool.
    Returns:
        ``(3, H, W)`` of the image's dtype, equal to ``image`` outside the hole.
    """
    if not bool(hole.any()):
        return image
    ys, xs = hole_box(hole, 1)
    unknown = hole[None, :, ys, xs]
    start = smooth_fill(to_float(image[None, :, ys, xs]), unknown)
    n, c, h, w = start.shape
    if h > 1 and w > 1 and not bool(unknown.all()):
        tx, ty = start.new_zeros(n, c, h, w - 1), start.new_zeros(n, c, h - 1, w)
        start = poisson_solve(start, unknown, tx, ty, cfg).values
    out = image.clone()
    out[:, ys, xs] = torch.where(unknown[0], stored(start[0], image.dtype), image[:, ys, xs])
    return out
