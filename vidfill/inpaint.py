"""Stage 6: image inpainting for pixels that no frame shows, and a smooth pre-fill.

:func:`inpaint_image` is the per-frame image inpainter (OpenCV Telea or
Navier-Stokes) used on keyframes; :func:`smooth_fill` is a cheap push-pull fill
that removes the hard edges of a hole before flow estimation.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

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
