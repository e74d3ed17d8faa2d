"""Deep Image Prior inpainting (Ulyanov et al. 2018).

A randomly initialised encoder-decoder maps a fixed noise image to the crop
around the hole; it is fitted to the known pixels only, and its output inside
the hole is the fill: the network's structure favours natural images, so the
hole receives content that continues its surroundings. Nothing is trained in
advance and no weights are loaded; the weights and the noise are seeded.
"""

from __future__ import annotations

import torch

from vidfill.config import DipConfig
from vidfill.models.dip import DipNet
from vidfill.inpainters.crops import crop_around, paste


def complete(image: torch.Tensor, hole: torch.Tensor, cfg: DipConfig) -> torch.Tensor:
    """Fill ``hole`` by fitting a seeded random encoder-decoder to the known pixels around it.

    Args:
        image: ``(3, H, W)`` uint8 RGB.
        hole: ``(1, H, W)`` bool, True = fill.
        cfg: network size, crop, iterations and seed.
    Returns:
        ``(3, H, W)`` uint8, equal to ``image`` outside the hole; the same for the same input
        (on the CPU; CUDA kernels may differ in the last bits). Fitted on ``image``'s device.
    """
    if not bool(hole.any()):
        return image.clone()
    crop = crop_around(image, hole, cfg.margin, cfg.max_side, multiple=2 ** cfg.levels)
    device = image.device
    target, known = crop.image[None].to(device), (~crop.hole).float()[None].to(device)
    with torch.random.fork_rng(devices=[]):  # seeded without touching the caller's generator
        torch.manual_seed(cfg.seed)
        net = DipNet(cfg.input_channels, cfg.channels, cfg.levels).to(device)
        noise = (torch.rand(1, cfg.input_channels, *target.shape[-2:]) * 0.1).to(device)
    optimiser = torch.optim.Adam(net.parameters(), lr=cfg.learning_rate)
    with torch.enable_grad():
        for _ in range(cfg.iterations):
            optimiser.zero_grad()
            loss = ((net(noise) - target).square() * known).sum() / known.sum().clamp_min(1)
            loss.backward()
            optimiser.step()
    with torch.no_grad():
        fill = net(noise)[0].cpu()  # train-mode batch statistics, as during fitting
    return paste(image, hole, crop, fill)
