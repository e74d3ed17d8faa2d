"""A learned image inpainter of DeepFill v2's shape (Yu et al. 2019): the network
(:class:`vidfill.models.gated.GatedGenerator`) run on a crop around the hole.

Trained weights come only through the weights manifest (``vidfill.models.weights``, entry
``"gated_inpainter"``), from a file the user has. No such checkpoint is published
with vidfill, so without one the leftover stage says so and uses the harmonic fill.
"""

from __future__ import annotations

import torch

from vidfill.config import GatedConfig
from vidfill.models.gated import GatedGenerator
from vidfill.inpainters.crops import crop_around, paste


def complete(image: torch.Tensor, hole: torch.Tensor, model: GatedGenerator,
             cfg: GatedConfig) -> torch.Tensor:
    """Fill ``hole`` with the generator's refined output on a crop around it.

    Args:
        image: ``(3, H, W)`` uint8 RGB.
        hole: ``(1, H, W)`` bool, True = fill.
        model: the generator in eval mode (on any device), weights loaded by the caller.
    Returns:
        ``(3, H, W)`` uint8, equal to ``image`` outside the hole.
    """
    if not bool(hole.any()):
        return image.clone()
    crop = crop_around(image, hole, cfg.margin, cfg.max_side, multiple=8)
    device = next(model.parameters()).device
    x = (crop.image[None] * 2 - 1).to(device)
    with torch.no_grad():
        _, refined = model(x, crop.hole[None].float().to(device))
    return paste(image, hole, crop, (refined[0].cpu() + 1) / 2)
