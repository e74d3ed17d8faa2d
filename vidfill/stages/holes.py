"""Hole helpers every layer uses: grow a hole, and fill it smoothly (push-pull) as a start."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def on_host(x: torch.Tensor) -> bool:
    """Whether ``x`` lives in host memory, where OpenCV's routines read it without a copy
    (and are the fastest there); elsewhere the torch equivalents run on its device."""
    return x.device.type == "cpu"


def dilate_holes(masks: torch.Tensor, radius: int) -> torch.Tensor:
    """Grow ``(T, 1, H, W)`` bool masks by a disk of ``radius`` pixels (OpenCV's elliptic
    structuring element), on the masks' device."""
    if radius <= 0:
        return masks
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    if on_host(masks):
        grown = [cv2.dilate(m[0].numpy().astype(np.uint8), kernel) for m in masks]
        return torch.from_numpy(np.stack(grown)[:, None] > 0)
    weights = torch.from_numpy(kernel).to(masks.device, torch.float32)[None, None]
    return F.conv2d(masks.to(torch.float32), weights, padding=radius) > 0.5


def smooth_fill(frames: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """Push-pull fill: each hole pixel gets the mask-weighted average of a coarser level.

    Args:
        frames: ``(T, C, H, W)`` float.
        hole: ``(T, 1, H, W)`` bool.
    Returns:
        ``(T, C, H, W)`` float, equal to ``frames`` outside the hole, smooth inside.
    """
    known = (~hole).to(frames.dtype)
    if frames.shape[-1] <= 1 or frames.shape[-2] <= 1 or bool(known.all()):
        return frames
    value, weight = frames * known, known
    coarse_v = F.avg_pool2d(value, 2, ceil_mode=True)
    coarse_w = F.avg_pool2d(weight, 2, ceil_mode=True)
    coarse = smooth_fill(coarse_v / coarse_w.clamp_min(1e-8), coarse_w <= 0)
    up = F.interpolate(coarse, size=frames.shape[-2:], mode="bilinear", align_corners=False)
    return torch.where(hole, up, frames)
