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

import torch

from vidfill.config import PatchMatchConfig, TextureConfig
from vidfill.inpainters.crops import crop_around, paste
from vidfill.stages.patch_search import matched_sources, smooth_layer


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
