"""Poisson blending of a fill (``leftover.poisson_blend``): the hole rebuilt from the fill's own
colour differences, so that it meets its surroundings without a step."""

from __future__ import annotations

import torch

from vidfill.config import PoissonConfig
from vidfill.stages.poisson import poisson_solve
from vidfill.types import stored, to_float


def _slope_targets(values: torch.Tensor, hole: torch.Tensor, dim: int) -> torch.Tensor:
    """Target differences along ``dim`` (-1: x, -2: y) for blending a fill into its surroundings.

    Inside the hole: the fill's own differences. On an edge from a known pixel into the
    hole: the known side's slope continued (the difference of the next edge outwards, 0 when
    that is not known), so that the fill meets its surroundings in level and slope.
    """
    n = values.shape[dim] - 1
    diff = values.narrow(dim, 1, n) - values.narrow(dim, 0, n)
    head, tail = hole.narrow(dim, 0, n), hole.narrow(dim, 1, n)
    known_edge = (~head & ~tail).to(values.dtype)
    known_diff = diff * known_edge
    zero = torch.zeros_like(known_diff.narrow(dim, 0, 1))
    before = torch.cat([zero, known_diff.narrow(dim, 0, n - 1)], dim)  # the edge one step back
    after = torch.cat([known_diff.narrow(dim, 1, n - 1), zero], dim)  # the edge one step on
    target = torch.where(~head & tail, before, diff)
    return torch.where(head & ~tail, after, target)


def poisson_blend(filled: torch.Tensor, hole: torch.Tensor, cfg: PoissonConfig) -> torch.Tensor:
    """Rebuild the hole of ``filled`` from its colour differences, with the known pixels as boundary.

    Args:
        filled: ``(3, H, W)`` uint8 or float, an inpainter's output.
        hole: ``(1, H, W)`` bool.
    Returns:
        ``(3, H, W)`` of the same dtype, equal to ``filled`` outside the hole; inside it, the fill's
        gradients with its level adjusted to meet the surroundings (see :func:`_slope_targets`).
    """
    if hole.shape[-1] < 2 or hole.shape[-2] < 2 or not bool(hole.any()) or bool(hole.all()):
        return filled
    values, unknown = to_float(filled)[None], hole[None]
    tx, ty = _slope_targets(values, unknown, -1), _slope_targets(values, unknown, -2)
    solved = poisson_solve(values, unknown, tx, ty, cfg).values[0]
    return torch.where(hole, stored(solved, filled.dtype), filled)
