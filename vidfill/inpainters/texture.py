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
from vidfill.stages.crops import crop_around, paste


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
    radius = max(1, round(3 * cfg.sigma))
    smooth = kornia.filters.gaussian_blur2d(values[None], (2 * radius + 1,) * 2,
                                            (cfg.sigma, cfg.sigma), border_type="reflect")[0]
    level = _Level(smooth, inside, search.patch_size)
    if not len(level.valid_index):  # no whole patch is known: the membrane alone
        return membrane.clone()
    gen = torch.Generator().manual_seed(search.seed)
    sy, sx = level.random_sources(len(level.targets), gen)
    sy, sx, _ = _search(level, sy, sx, search, gen)
    source_y, source_x = level.dense(sy, sx)
    detail = values - smooth
    return paste(membrane, hole, crop, values + cfg.gain * detail[:, source_y, source_x])
