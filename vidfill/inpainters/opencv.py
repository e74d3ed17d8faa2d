"""OpenCV's image inpainters: Telea's fast marching and Navier-Stokes (``cv2.inpaint``)."""

from __future__ import annotations

import cv2
import numpy as np
import torch

METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
"""``leftover.method`` -> the OpenCV flag of that method."""


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
