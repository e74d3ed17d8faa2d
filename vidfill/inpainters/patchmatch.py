"""Exemplar-based image completion: multi-scale PatchMatch search and patch voting.

Wexler et al. (2007) fill a hole by alternating two steps on an image pyramid,
coarse to fine: find for every patch that overlaps the hole its most similar
patch in the known region (here by PatchMatch, Barnes et al. 2009: matches
spread to neighbours, then random search), and set each hole pixel to the
weighted average of the colours that the matched patches covering it put there.

Everything is batched over the target patches in torch (gathers, scatter-adds); the search
(:mod:`vidfill.stages.patch_search`, shared with the texture inpainter and the detail stage)
propagates for all pixels at once in each of four directions and at jumps of 1, 2, 4, ...
pixels, as GPU PatchMatch does, instead of a per-pixel scan.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidfill.config import PatchMatchConfig
from vidfill.inpainters.crops import crop_around, paste
from vidfill.stages.patch_search import Level, search
from vidfill.types import to_float, to_uint8


def _pyramid(image: torch.Tensor, hole: torch.Tensor, cfg: PatchMatchConfig
             ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Levels ``[(image (3, h, w) float, hole (h, w) bool), ...]``, finest first.

    A coarse pixel is a hole when any pixel under it is; its colour is the mean of the
    known pixels under it.
    """
    levels = [(image, hole)]
    while True:
        img, hl = levels[-1]
        extent = max(int(hl.any(1).sum()), int(hl.any(0).sum()))
        h, w = hl.shape
        if extent <= cfg.coarsest_side or min(h, w) < 4 * cfg.patch_size:
            return levels
        size = ((h + 1) // 2, (w + 1) // 2)
        known = (~hl).to(img.dtype)[None, None]
        value = F.interpolate(img[None] * known, size=size, mode="area")
        weight = F.interpolate(known, size=size, mode="area")
        levels.append(((value / weight.clamp_min(1e-8))[0], (weight < 1 - 1e-6)[0, 0]))


def _telea(image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """(3, h, w) float: the coarsest level's starting guess (OpenCV Telea)."""
    rgb = np.ascontiguousarray(to_uint8(image).permute(1, 2, 0).numpy())
    out = cv2.inpaint(rgb, hole.numpy().astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return to_float(torch.from_numpy(out).permute(2, 0, 1))


def _vote(level: Level, sy: torch.Tensor, sx: torch.Tensor, dist: torch.Tensor,
          cfg: PatchMatchConfig) -> torch.Tensor:
    """(3, h, w): hole pixels set to the weighted mean of the matched patches covering them."""
    p, r, h, w = level.patch, level.r, level.h, level.w
    finite = torch.isfinite(dist)
    per_pixel = dist / (3 * p * p)
    sigma2 = cfg.sigma ** 2 if cfg.sigma > 0 else float(per_pixel[finite].mean().clamp_min(1e-6))
    weight = torch.where(finite, torch.exp(-per_pixel / (2 * sigma2)), torch.zeros_like(dist))
    src = level.patches[sy * w + sx].view(-1, 3, p * p)  # (M, 3, p*p) colours of the matches
    oy, ox = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    # Where each patch pixel lands, in a frame padded by r so that every offset fits.
    dest = (level.ty[:, None] + oy.flatten() + r) * (w + 2 * r) + (level.tx[:, None] + ox.flatten() + r)
    acc = torch.zeros(3, (h + 2 * r) * (w + 2 * r))
    wsum = torch.zeros((h + 2 * r) * (w + 2 * r))
    acc.index_add_(1, dest.flatten(), (src * weight[:, None, None]).permute(1, 0, 2).reshape(3, -1))
    wsum.index_add_(0, dest.flatten(), weight[:, None].expand(-1, p * p).flatten())
    acc = acc.view(3, h + 2 * r, w + 2 * r)[:, r:r + h, r:r + w]
    wsum = wsum.view(h + 2 * r, w + 2 * r)[r:r + h, r:r + w]
    voted = acc / wsum.clamp_min(1e-12)
    return torch.where(level.hole & (wsum > 0), voted, level.estimate)


def complete(image: torch.Tensor, hole: torch.Tensor, cfg: PatchMatchConfig) -> torch.Tensor:
    """Fill ``hole`` with patches of the known pixels around it (multi-scale PatchMatch + voting).

    Args:
        image: ``(3, H, W)`` uint8 RGB.
        hole: ``(1, H, W)`` bool, True = fill.
        cfg: patch size, search area, pyramid and iteration counts, seed.
    Returns:
        ``(3, H, W)`` uint8, equal to ``image`` outside the hole.
    """
    if cfg.patch_size < 3 or cfg.patch_size % 2 == 0:
        raise ValueError(f"patchmatch.patch_size must be odd and >= 3, got {cfg.patch_size}")
    if not bool(hole.any()):
        return image.clone()
    crop = crop_around(image, hole, cfg.context, max_side=max(image.shape[-2:]))
    gen = torch.Generator().manual_seed(cfg.seed)
    levels = _pyramid(crop.image, crop.hole[0], cfg)
    estimate = _telea(*levels[-1])
    match: tuple[torch.Tensor, torch.Tensor] | None = None
    for depth in range(len(levels) - 1, -1, -1):
        known, hl = levels[depth]
        if match is not None:  # finer level: start from the coarser level's fill and matches
            coarse_y, coarse_x = match
            estimate = F.interpolate(estimate[None], size=hl.shape, mode="bilinear",
                                     align_corners=False)[0]
        estimate = torch.where(hl, estimate, known)
        level = Level(estimate, hl, cfg.patch_size)
        if not len(level.valid_index):  # no whole patch is known: nothing to copy from
            return paste(image, hole, crop, _telea(crop.image, crop.hole[0]))
        sy, sx = level.random_sources(len(level.targets), gen)
        if match is not None:  # a coarse match, scaled, where it is a valid source here
            flat = (level.ty // 2) * coarse_y.shape[1] + level.tx // 2
            up_y = coarse_y.flatten()[flat] * 2 + level.ty % 2
            up_x = coarse_x.flatten()[flat] * 2 + level.tx % 2
            usable = torch.isfinite(level.distance(up_y, up_x))
            sy, sx = torch.where(usable, up_y, sy), torch.where(usable, up_x, sx)
            # Vote with the scaled matches before searching: coherent matches carry the sources'
            # detail into the hole, which the blurry upsampled estimate does not have.
            level.set_estimate(_vote(level, sy, sx, level.distance(sy, sx), cfg))
        for _ in range(cfg.iterations):
            sy, sx, dist = search(level, sy, sx, cfg, gen)
            level.set_estimate(_vote(level, sy, sx, dist, cfg))
        estimate = level.estimate
        match = level.dense(sy, sx)
    return paste(image, hole, crop, estimate)

