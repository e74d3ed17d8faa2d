"""Quality measures of the video-completion setting: PSNR, SSIM and the flow warping error."""

from __future__ import annotations

import kornia
import torch
import torch.nn.functional as F

from vidfill.config import FlowConfig
from vidfill.flow import estimate_flow, resize_flow
from vidfill.types import check_frames, to_float


def psnr_frames(result: torch.Tensor, truth: torch.Tensor) -> float:
    """PSNR in dB of each frame, averaged over frames (as published tables do); uint8 ``(T, 3, H, W)``."""
    mse = (result.float() - truth.float()).square().flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(255.0 ** 2 / mse)).mean())


def psnr_region(result: torch.Tensor, truth: torch.Tensor, region: torch.Tensor) -> float:
    """PSNR in dB over all pixels of ``region`` ``(T, 1, H, W)`` bool, pooled over the clip."""
    diff = (result.float() - truth.float())[region.expand_as(result)]
    return float(10 * torch.log10(255.0 ** 2 / diff.square().mean().clamp_min(1e-10)))


def ssim_frames(result: torch.Tensor, truth: torch.Tensor) -> float:
    """Mean SSIM (11x11 Gaussian window, kornia) over frames of uint8 ``(T, 3, H, W)`` clips."""
    return float(kornia.metrics.ssim(to_float(result), to_float(truth), 11).mean())


def warp_backward(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``image`` ``(N, C, H, W)`` at ``x + flow(x)``: brings frame t+1 onto frame t with flow_fwd."""
    h, w = image.shape[-2:]
    grid = kornia.geometry.create_meshgrid(h, w, normalized_coordinates=False, device=image.device)
    coords = grid + flow.permute(0, 2, 3, 1)
    coords = coords / torch.tensor([w - 1, h - 1], device=image.device) * 2 - 1
    return F.grid_sample(image, coords, mode="bilinear", padding_mode="border", align_corners=True)


def warping_error(result: torch.Tensor, truth: torch.Tensor, occlusion_px: float = 1.0) -> float:
    """Flow warping error E_warp (Lai et al. 2018) of ``result``, in units of 1e-3.

    The flow between consecutive frames is estimated on ``truth`` (OpenCV DIS, the
    same for every method compared); pixels failing a forward-backward check are
    left out. The error is the mean squared RGB difference (values in [0, 1])
    between frame t and frame t+1 warped onto it, averaged over frames.
    """
    t, h, w = check_frames(truth)
    flow = estimate_flow(truth, FlowConfig(method="dis", max_side=max(h, w)))
    fwd, bwd = resize_flow(flow.fwd, (h, w)), resize_flow(flow.bwd, (h, w))
    back = warp_backward(bwd, fwd)
    valid = ((fwd + back).square().sum(1, keepdim=True) < occlusion_px ** 2).float()
    frames = to_float(result)
    diff = (frames[:-1] - warp_backward(frames[1:], fwd)).square().sum(1, keepdim=True)
    per_frame = (diff * valid).flatten(1).sum(1) / valid.flatten(1).sum(1).clamp_min(1)
    return float(per_frame.mean()) * 1e3
