"""Stage 5: fusion of the propagated candidates, weighted by confidence."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vidfill.config import FusionConfig
from vidfill.propagation import Candidates


@dataclass(frozen=True)
class Fused:
    colour: torch.Tensor
    """(P, 3) float32 in [0, 1] for each hole pixel of the candidates; 0 where not ``filled``."""
    filled: torch.Tensor
    """(P,) bool: at least one candidate was found."""


def candidate_weights(candidates: Candidates, cfg: FusionConfig) -> torch.Tensor:
    """(D, P) confidence of each candidate: exp(-(err/sigma)^2) * 0.5^(distance/halflife), 0 if not found."""
    weight = torch.exp(-(candidates.error / cfg.error_sigma_px).square())
    weight = weight * torch.exp2(-candidates.distance / cfg.distance_halflife)
    # Floor so that a found candidate keeps a positive weight even when its error is large.
    return torch.where(candidates.found, weight.clamp_min(1e-12), torch.zeros_like(weight))


def fuse_colours(candidates: Candidates, cfg: FusionConfig) -> Fused:
    """Confidence-weighted average of the candidates' colours for every hole pixel."""
    weight = candidate_weights(candidates, cfg)
    total = weight.sum(0)
    filled = candidates.found.any(0)
    colour = (weight[..., None] * candidates.colour).sum(0) / total.clamp_min(1e-30)[:, None]
    return Fused(colour=torch.where(filled[:, None], colour, torch.zeros_like(colour)), filled=filled)
