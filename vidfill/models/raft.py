"""RAFT (Teed and Deng 2020): torchvision's networks and published weights, and what their input
needs, read from torchvision's weights enums (never retyped, never a vendored copy).

The manifest entries (:mod:`vidfill.models.weights`) take their url and hash from :data:`WEIGHTS`;
the flow stage (:func:`vidfill.stages.flow.estimate_flow`) brings frames into range with
:func:`network_input` and pads them to :data:`MIN_SIZE`.
"""

from __future__ import annotations

import torch
from torchvision.models import optical_flow

WEIGHTS = {"raft_small": optical_flow.Raft_Small_Weights.C_T_V2,
           "raft_large": optical_flow.Raft_Large_Weights.C_T_SKHT_V2}
"""torchvision's weights of each network ``flow.raft_model`` names."""

BUILDERS = {"raft_small": optical_flow.raft_small, "raft_large": optical_flow.raft_large}
"""Each network with random weights (torchvision's builders, called without weights)."""

(MIN_SIZE,) = {published.meta["min_size"] for published in WEIGHTS.values()}
"""``(h, w)``: the smallest input (the correlation pyramid needs feature maps of 16 px), from the
weights' ``meta["min_size"]``: one for all of them (the unpacking fails if torchvision ever
gives them different ones)."""

(_PRESET,) = {published.transforms for published in WEIGHTS.values()}
"""torchvision's input preset of the weights (``OpticalFlow``): one for all of them."""


def network_input(frames: torch.Tensor) -> torch.Tensor:
    """``(N, 3, h, w)`` uint8 RGB -> float32 in [-1, 1], by the weights' own transforms.

    The preset takes a pair of images; here frames go through RAFT's encoders one by one, so
    they are given as both images and the first is kept. Bit-identical to ``x / 127.5 - 1``.
    """
    converted, _ = _PRESET()(frames, frames)
    return converted
