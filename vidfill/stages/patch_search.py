"""Patch search: for every patch that overlaps a hole, the most similar patch of the known
pixels (PatchMatch, Barnes et al. 2009), and the smooth layer that texture is matched on.

Shared by the PatchMatch inpainter (:mod:`vidfill.inpainters.patchmatch`, which votes the
matches into a fill on a pyramid), the texture inpainter (:mod:`vidfill.inpainters.texture`) and
the detail stage (:mod:`vidfill.stages.detail`), which copy the detail of the matched places.
Batched over the target patches in torch: propagation is done for all pixels at once in each of
four directions and at jumps of 1, 2, 4, ... pixels, as GPU PatchMatch does.
"""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F

from vidfill.config import PatchMatchConfig


class Level:
    """One pyramid level: patches of the current estimate, valid sources, the target set."""

    def __init__(self, estimate: torch.Tensor, hole: torch.Tensor, patch: int,
                 blocked: torch.Tensor | None = None):
        """``blocked``: ``(h, w)`` bool, known pixels that no source patch may cover either."""
        self.h, self.w = hole.shape
        self.patch, self.r = patch, patch // 2
        self.hole = hole
        # A source patch lies entirely in the known region and inside the image.
        unusable = hole if blocked is None else hole | blocked
        outside = F.pad(unusable.float()[None, None], [self.r] * 4, value=1.0)
        self.valid = F.max_pool2d(outside, patch, stride=1)[0, 0] == 0  # (h, w)
        self.valid_index = self.valid.flatten().nonzero().flatten()
        # Targets: every patch centre whose patch overlaps the hole.
        reach = F.max_pool2d(hole.float()[None, None], patch, stride=1, padding=self.r)[0, 0] > 0
        self.targets = reach.flatten().nonzero().flatten()  # (M,) flat indices
        self.ty, self.tx = self.targets // self.w, self.targets % self.w
        self.set_estimate(estimate)

    def set_estimate(self, estimate: torch.Tensor) -> None:
        self.estimate = estimate
        # (h*w, 3*p*p) patches of the estimate, zero-padded at the border (never a valid source).
        self.patches = F.unfold(estimate[None], self.patch, padding=self.r)[0].T.contiguous()
        self.target_patches = self.patches[self.targets]

    def distance(self, sy: torch.Tensor, sx: torch.Tensor) -> torch.Tensor:
        """(M,) SSD between each target patch and the source patch at (sy, sx); inf if invalid."""
        inside = (sy >= 0) & (sy < self.h) & (sx >= 0) & (sx < self.w)
        flat = (sy.clamp(0, self.h - 1) * self.w + sx.clamp(0, self.w - 1))
        ok = inside & self.valid.flatten()[flat]
        d = (self.target_patches - self.patches[flat]).square().sum(1)
        return torch.where(ok, d, torch.full_like(d, float("inf")))

    def dense(self, sy: torch.Tensor, sx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h, w) maps of every pixel's source row and column: the targets' matches, and
        themselves elsewhere (a known patch is its own best match)."""
        device = self.hole.device
        field_y = torch.arange(self.h, device=device).view(-1, 1).expand(self.h, self.w).clone()
        field_x = torch.arange(self.w, device=device).view(1, -1).expand(self.h, self.w).clone()
        field_y.view(-1)[self.targets], field_x.view(-1)[self.targets] = sy, sx
        return field_y, field_x

    def random_sources(self, count: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        draw = torch.randint(len(self.valid_index), (count,), generator=gen)  # gen is the host's
        pick = self.valid_index[draw.to(self.valid_index.device)]
        return pick // self.w, pick % self.w


def _improve(level: Level, sy: torch.Tensor, sx: torch.Tensor, dist: torch.Tensor,
             cand_y: torch.Tensor, cand_x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Keep each target's candidate where it is closer than its current match."""
    d = level.distance(cand_y, cand_x)
    better = d < dist
    return (torch.where(better, cand_y, sy), torch.where(better, cand_x, sx),
            torch.where(better, d, dist))


def search(level: Level, sy: torch.Tensor, sx: torch.Tensor, cfg: PatchMatchConfig,
            gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PatchMatch passes over all targets at once: jump-flood propagation, then random search.

    Args:
        sy, sx: ``(M,)`` long, current source centre of each target.
    Returns:
        Improved ``sy``, ``sx`` and their ``(M,)`` patch distances.
    """
    dist = level.distance(sy, sx)
    h, w = level.h, level.w
    for _ in range(cfg.search_rounds):
        for k in (2 ** j for j in range(cfg.jumps)):
            for dy, dx in ((0, k), (0, -k), (k, 0), (-k, 0)):
                # The match of the neighbour at (y - dy, x - dx), shifted by (dy, dx).
                field_y, field_x = level.dense(sy, sx)
                ny, nx = (level.ty - dy).clamp(0, h - 1), (level.tx - dx).clamp(0, w - 1)
                sy, sx, dist = _improve(level, sy, sx, dist, field_y[ny, nx] + dy, field_x[ny, nx] + dx)
        radius = max(h, w)
        while radius >= 1:
            jitter = ((torch.rand(2, len(sy), generator=gen) * 2 - 1) * radius).to(sy.device)
            sy, sx, dist = _improve(level, sy, sx, dist, sy + jitter[0].round().long(),
                                    sx + jitter[1].round().long())
            radius //= 2
    return sy, sx, dist


def smooth_layer(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """``(N, 3, h, w)`` float images blurred by a Gaussian of ``sigma`` px (reflected at the
    border): the layer that is matched; the images minus it are the detail that is copied."""
    radius = max(1, round(3 * sigma))
    return kornia.filters.gaussian_blur2d(images, (2 * radius + 1,) * 2, (sigma, sigma),
                                          border_type="reflect")


def matched_sources(smooth: torch.Tensor, hole: torch.Tensor, cfg: PatchMatchConfig,
                    blocked: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor] | None:
    """For every pixel of ``smooth`` ``(3, h, w)``, the row and column ``(h, w)`` of the known
    place whose patch matches its own best (PatchMatch, seeded): for the patches that overlap
    ``hole`` ``(h, w)`` a match among those that cover neither the hole nor ``blocked``,
    elsewhere the pixel itself. None when no such patch exists. ``cfg``: patch size,
    passes and seed."""
    level = Level(smooth, hole, cfg.patch_size, blocked)
    if not len(level.valid_index):
        return None
    gen = torch.Generator().manual_seed(cfg.seed)
    sy, sx = level.random_sources(len(level.targets), gen)
    sy, sx, _ = search(level, sy, sx, cfg, gen)
    return level.dense(sy, sx)
