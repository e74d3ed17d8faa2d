"""Quality measures of the video-completion setting: PSNR, SSIM, the flow warping error and
the texture ratio."""

from __future__ import annotations

import kornia
import torch

from vidfill.config import FlowConfig
from vidfill.stages.flow import estimate_flow, resize_flow, warp_backward
from vidfill.types import check_frames, to_float


def psnr_frames(result: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR in dB of each frame, averaged over frames (as published tables do); uint8 ``(T, 3, H, W)``."""
    mse = (result.float() - truth.float()).square().flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(255.0 ** 2 / mse)).mean())


def psnr_region(result: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> float:
    """PSNR in dB over all pixels of ``region`` ``(T, 1, H, W)`` bool, pooled over the clip."""
    diff = (result.float() - truth.float())[region.expand_as(result)]
    return float(10 * torch.log10(255.0 ** 2 / diff.square().mean().clamp_min(1e-10)))


def seam_error(result: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor) -> float:
    """Mean absolute error (8-bit levels) of the colour differences across the hole boundary.

    Every pair of neighbouring pixels with one inside ``hole`` ``(T, 1, H, W)`` and one outside
    counts; a fill that matches its surroundings in level and slope scores 0, a visible
    seam (a colour jump at the boundary) scores its height.
    """
    r, g = result.float(), truth.float()
    errors = []
    for dim in (-1, -2):
        n = r.shape[dim] - 1
        cross = (hole.narrow(dim, 1, n) ^ hole.narrow(dim, 0, n)).expand(-1, r.shape[1], -1, -1)
        dr = r.narrow(dim, 1, n) - r.narrow(dim, 0, n)
        dg = g.narrow(dim, 1, n) - g.narrow(dim, 0, n)
        errors.append((dr - dg).abs()[cross])
    both = torch.cat(errors)
    return float(both.mean()) if both.numel() else 0.0


def texture_ratio(result: torch.Tensor, truth: torch.Tensor, hole: torch.Tensor) -> float:
    """How much detail a fill has against the real scene: the 3x3 Sobel gradient magnitude of
    the grey image summed over ``hole`` ``(T, 1, H, W)`` eroded by one pixel (so the boundary
    step does not count) and over all frames, ``result``'s over ``truth``'s (uint8
    ``(T, 3, H, W)``). 1 = as much texture as the scene; a smooth membrane scores near 0; 0
    when the eroded hole is empty."""
    inner = -torch.nn.functional.max_pool2d(-hole.float(), 3, stride=1, padding=1) > 0.5
    if not bool(inner.any()):
        return 0.0

    def detail(frames: torch.Tensor) -> torch.Tensor:
        grey = kornia.color.rgb_to_grayscale(to_float(frames))
        return kornia.filters.sobel(grey, normalized=False)[inner].sum()

    return float(detail(result) / detail(truth).clamp_min(1e-12))


def ssim_frames(result: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean SSIM (11x11 Gaussian window, kornia) over frames of uint8 ``(T, 3, H, W)`` clips."""
    return float(kornia.metrics.ssim(to_float(result), to_float(truth), 11).mean())


def ssim_region(result: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> float:
    """Mean of the SSIM map (11x11 Gaussian window, kornia) over the pixels of ``region``.

    ``result``, ``truth``: uint8 ``(T, 3, H, W)``; ``region``: ``(T, 1, H, W)`` bool, not empty.
    """
    ssim_map = kornia.metrics.ssim(to_float(result), to_float(truth), 11)
    return float(ssim_map[region.expand_as(ssim_map)].mean())


def warping_error(result: torch.Tensor, truth: torch.Tensor, occlusion_px: float = 1.0,
                  region: torch.Tensor | None = None) -> float:
    """Flow warping error E_warp (Lai et al. 2018) of ``result``, in units of 1e-3.

    The flow between consecutive frames is estimated on ``truth`` (OpenCV DIS, the
    same for every method compared); pixels failing a forward-backward check are
    left out. The error is the mean squared RGB difference (values in [0, 1])
    between frame t and frame t+1 warped onto it, averaged over frames. With
    ``region`` ``(T, 1, H, W)`` bool, only frame t's pixels in ``region[t]`` count
    (flicker of a fill, without the motion around it).
    """
    t, h, w = check_frames(truth)
    flow = estimate_flow(truth, FlowConfig(method="dis", max_side=max(h, w)))
    fwd, bwd = resize_flow(flow.fwd, (h, w)), resize_flow(flow.bwd, (h, w))
    back = warp_backward(bwd, fwd)
    valid = ((fwd + back).square().sum(1, keepdim=True) < occlusion_px ** 2).float()
    if region is not None:
        valid = valid * region[:-1].to(valid.device).float()
    frames = to_float(result)
    diff = (frames[:-1] - warp_backward(frames[1:], fwd)).square().sum(1, keepdim=True)
    per_frame = (diff * valid).flatten(1).sum(1) / valid.flatten(1).sum(1).clamp_min(1)
    return float(per_frame.mean()) * 1e3
