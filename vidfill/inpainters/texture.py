"""Texture over the membrane: the harmonic fill with the detail of similar known places on top.

The harmonic fill (a membrane through the hole's surroundings) errs least in the mean but has
no detail: on a crowd or foliage it reads as a smudge. Here the known pixels around the hole
are split into a smooth layer (a Gaussian blur) and the detail above it; every hole pixel is
matched, by PatchMatch on the smooth layer (the membrane inside the hole), to a known place
whose surroundings have the same colours and slopes, and takes that place's detail, added to
the membrane. Neighbouring hole pixels keep neighbouring sources wherever PatchMatch's
propagation finds them as good, so the detail is copied in coherent pieces, at its own
amplitude (no averaging of patches, which would blur it away).
"""

from __future__ import annotations

import kornia
import torch

from vidfill.config import PatchMatchConfig, TextureConfig
from vidfill.inpainters.patchmatch import _Level, _search
from vidfill.inpainters.crops import crop_around, paste


def smooth_layer(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, 3, h, w)`` float images blurred by a Gaussian of ``sigma`` px (reflected at the
    border): the layer that is matched; the images minus it are the detail that is copied."""
    radius = max(1, round(3 * sigma))
    return kornia.filters.gaussian_blur2d(images, (2 * radius + 1,) * 2, (sigma, sigma),
                                          border_type="reflect")


def matched_sources(smooth: torch.Tensor, hole: torch.Tensor, search: PatchMatchConfig,
                    blocked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For every pixel of ``smooth`` ``(3, h, w)``, the row and column ``(h, w)`` of the known
    place whose patch matches its own best (PatchMatch, seeded): for the patches that overlap
    ``hole`` ``(h, w)`` a match among those that cover neither the hole nor ``blocked``,
    elsewhere the pixel itself. None when no such patch exists."""
    level = _Level(smooth, hole, search.patch_size, blocked)
    if not len(level.valid_index):
        return None
    gen = torch.Generator().manual_seed(search.seed)
    sy, sx = level.random_sources(len(level.targets), gen)
    sy, sx, _ = _search(level, sy, sx, search, gen)
    return level.dense(sy, sx)


def complete(image: torch.Tensor, hole: torch.Tensor, membrane: torch.Tensor,
             cfg: TextureConfig, search: PatchMatchConfig) -> torch.Tensor:
    """Add detail to the ``membrane`` fill of ``hole`` in ``image``.

    Args:
        image: ``(3, H, W)`` frame, uint8 or float (:mod:`vidfill.types`).
        hole: ``(1, H, W)`` bool, True = fill.
        membrane: ``image`` with the hole filled smoothly (the harmonic fill), same dtype.
        cfg: the blur that separates detail from the smooth layer, and the detail's gain.
        search: patch size, context around the hole, PatchMatch passes and seed.
    Returns:
        ``(3, H, W)`` of the image's dtype, equal to ``image`` outside the hole.
    """
    if not bool(hole.any()):
        return image.clone()
    crop = crop_around(membrane, hole, search.context, max_side=max(image.shape[-2:]))
    values, inside = crop.image, crop.hole[0]
    smooth = smooth_layer(values[None], cfg.sigma)[0]
    sources = matched_sources(smooth, inside, search)
    if sources is None:  # no whole patch is known: the membrane alone
        return membrane.clone()
    source_y, source_x = sources
    detail = values - smooth
    return paste(membrane, hole, crop, values + cfg.gain * detail[:, source_y, source_x])
