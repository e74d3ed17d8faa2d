"""Stage 6: image inpainting for pixels that no frame shows, and a smooth pre-fill.

Every image inpainter maps ``image (3, H, W) uint8, hole (1, H, W) bool`` to
``(3, H, W) uint8`` equal to ``image`` outside the hole; the harmonic fill and the Poisson blend
also take float frames (a deep source) and fill them in float, and :class:`Inpainter` runs the
others on such frames through 8 bits, inside the hole only. :data:`INPAINTERS` holds
those that need no weights (the harmonic membrane fill, OpenCV Telea and
Navier-Stokes, exemplar PatchMatch, Deep Image Prior); ``"gated"`` (a
DeepFill-v2-shaped network) needs a checkpoint and is set up by
:func:`build_inpainter`, which falls back to the harmonic fill, with a note, when
there is none. :func:`poisson_blend` optionally rebuilds a fill from its own
colour differences so that it meets its surroundings without a step.

:func:`smooth_fill` is a cheap push-pull fill that removes the hard edges of a
hole before flow estimation.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from vidfill.inpainters import dip
from vidfill.inpainters import gated
from vidfill.inpainters import patchmatch
from vidfill.inpainters import texture
from vidfill.config import InpainterName, PipelineConfig, PoissonConfig
from vidfill.stages.holes import hole_box, smooth_fill
from vidfill.stages.poisson import poisson_solve
from vidfill.types import stored, to_display, to_float

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


def inpaint_image(image: torch.Tensor, hole: torch.Tensor, method: str = "telea",
                  radius: int = 5) -> torch.Tensor:
    """Fill ``hole`` in one image with OpenCV's inpainter.

    Args:
        image: ``(3, H, W)`` uint8 RGB.
        hole: ``(1, H, W)`` bool, True = fill.
    Returns:
        ``(3, H, W)`` uint8, equal to ``image`` outside the hole.
    """
    if method not in METHODS:
        raise ValueError(f"unknown inpainter {method!r}; have {sorted(METHODS)}")
    rgb = np.ascontiguousarray(image.permute(1, 2, 0).cpu().numpy())
    mask = hole[0].cpu().numpy().astype(np.uint8)
    out = torch.from_numpy(cv2.inpaint(rgb, mask, radius, METHODS[method])).permute(2, 0, 1)
    return torch.where(hole.cpu(), out, image.cpu()).to(image.device)


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


INPAINTERS: dict[str, Callable[[torch.Tensor, torch.Tensor, PipelineConfig], torch.Tensor]] = {
    "harmonic": lambda image, hole, cfg: harmonic_fill(image, hole, cfg.poisson),
    "texture": lambda image, hole, cfg: texture.complete(
        image, hole, harmonic_fill(image, hole, cfg.poisson), cfg.texture, cfg.patchmatch),
    "telea": lambda image, hole, cfg: inpaint_image(image, hole, "telea", cfg.leftover.radius),
    "ns": lambda image, hole, cfg: inpaint_image(image, hole, "ns", cfg.leftover.radius),
    "patchmatch": lambda image, hole, cfg: patchmatch.complete(image, hole, cfg.patchmatch),
    "dip": lambda image, hole, cfg: dip.complete(image, hole, cfg.dip),
}
"""Inpainters that need no weights: name -> ``(image, hole, cfg) -> filled image``."""

NAMES = typing.get_args(InpainterName)
"""Every value of ``leftover.method``: those of :data:`INPAINTERS`, and "gated" (a network
with weights, built by :func:`vidfill.models.build.build_inpainter`)."""



@dataclass(frozen=True)
class Inpainter:
    """An image inpainter ready to run: ``inpainter(image, hole) -> filled image``."""

    name: str
    """The method that runs (see :func:`vidfill.models.build.build_inpainter` for ``"gated"``)."""
    cfg: PipelineConfig
    model: torch.nn.Module | None = None
    """The gated generator with its weights, for ``name == "gated"``."""

    def __call__(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """``(3, H, W)`` frame and ``(1, H, W)`` bool -> ``(3, H, W)`` of the frame's dtype,
        equal outside the hole. A float frame goes through 8 bits for every method but the
        harmonic fill (they compute in 8 bits); only its hole takes their result."""
        if image.dtype != torch.uint8 and self.name not in ("harmonic", "texture"):
            filled = to_float(self(to_display(image), hole))
            return torch.where(hole, stored(filled, image.dtype), image)
        if self.name == "gated":
            filled = gated.complete(image, hole, self.model, self.cfg.gated)
        else:
            filled = INPAINTERS[self.name](image, hole, self.cfg)
        if self.cfg.leftover.poisson_blend:
            filled = poisson_blend(filled, hole, self.cfg.poisson)
        return filled


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


