"""Stage 5: fusion of the propagated candidates, weighted by confidence.

Colour domain (:func:`fuse`): each hole pixel gets the confidence-weighted average
of its candidates' colours. Gradient domain (:func:`reconstruct`, FGVC's
fusion): the candidates' colour differences to their neighbours are averaged
the same way, and the frame is rebuilt from those differences by a Poisson
solve with the known pixels as boundary, so that candidates from frames with
other exposure or lighting meet without seams.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vidfill.config import FusionConfig, PoissonConfig
from vidfill.stages.poisson import PoissonResult, poisson_solve
from vidfill.stages.propagation import Candidates


@dataclass(frozen=True)
class Fused:
    colour: torch.Tensor
    """(P, 3) float32 in [0, 1] for each hole pixel of the candidates; 0 where not ``filled``."""
    filled: torch.Tensor
    """(P,) bool: at least one candidate was found."""
    diff: torch.Tensor
    """(P, 4, 3) float32: fused colour differences to the +x, -x, +y, -y neighbours; 0 where not ``diff_ok``."""
    diff_ok: torch.Tensor
    """(P, 4) bool: at least one candidate had that difference."""


def candidate_weights(candidates: Candidates, cfg: FusionConfig) -> torch.Tensor:
    """(D, P) confidence of each candidate: exp(-(err/sigma)^2) * 0.5^(distance/halflife), 0 if not found."""
    weight = torch.exp(-(candidates.error / cfg.error_sigma_px).square())
    weight = weight * torch.exp2(-candidates.distance / cfg.distance_halflife)
    # Floor so that a found candidate keeps a positive weight even when its error is large.
    return torch.where(candidates.found, weight.clamp_min(1e-12), torch.zeros_like(weight))


def _weighted_mean(weight: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Average over the first dimension of ``values`` with ``weight`` (same leading shape)."""
    total = weight.sum(0)
    return (weight[..., None] * values).sum(0) / total.clamp_min(1e-30)[..., None]


def fuse(candidates: Candidates, cfg: FusionConfig) -> Fused:
    """Confidence-weighted average of the candidates' colours and colour differences."""
    weight = candidate_weights(candidates, cfg)
    filled = candidates.found.any(0)
    colour = torch.where(filled[:, None], _weighted_mean(weight, candidates.colour), 0.0)
    diff_weight = weight[..., None] * candidates.diff_ok  # (D, P, 4)
    diff_ok = (diff_weight > 0).any(0)
    diff = torch.where(diff_ok[..., None], _weighted_mean(diff_weight, candidates.diff), 0.0)
    return Fused(colour=colour, filled=filled, diff=diff, diff_ok=diff_ok)


def _edge_targets(values: torch.Tensor, unknown: torch.Tensor, blocked: torch.Tensor,
                  forward: torch.Tensor, forward_ok: torch.Tensor, backward: torch.Tensor,
                  backward_ok: torch.Tensor, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Target differences and weights of the edges along ``dim`` (-1: x, -2: y).

    An edge p -> q (q the next pixel along ``dim``) takes the mean of p's fused forward
    difference and minus q's fused backward difference, whichever exist for unknown
    pixels; with neither, the difference of the current values. Edges touching a
    blocked pixel, or joining two fixed pixels, carry no constraint.
    """
    size = values.shape[dim]

    def head(x: torch.Tensor) -> torch.Tensor:
        return x.narrow(dim, 0, size - 1)

    def tail(x: torch.Tensor) -> torch.Tensor:
        return x.narrow(dim, 1, size - 1)

    ok_p = head(forward_ok & unknown).float()
    ok_q = tail(backward_ok & unknown).float()
    count = ok_p + ok_q
    estimate = (head(forward) * ok_p - tail(backward) * ok_q) / count.clamp_min(1)
    target = torch.where(count > 0, estimate, tail(values) - head(values))
    weight = (head(unknown) | tail(unknown)) & ~head(blocked) & ~tail(blocked)
    return target, weight


def reconstruct(values: torch.Tensor, unknown: torch.Tensor, blocked: torch.Tensor,
                diff: torch.Tensor, diff_ok: torch.Tensor, cfg: FusionConfig,
                poisson: PoissonConfig) -> PoissonResult:
    """Rebuild the ``unknown`` pixels of frames from fused colour differences (Poisson solve).

    Args:
        values: ``(N, 3, H, W)`` float in [0, 1]: fixed colours outside ``unknown``, the fused
            colours inside it (initial guess, and the data term weighted by ``cfg.colour_weight``).
        unknown: ``(N, 1, H, W)`` bool, the pixels to rebuild.
        blocked: ``(N, 1, H, W)`` bool, pixels with no colour yet (still holes); edges to
            them are ignored. Must not overlap ``unknown``.
        diff: ``(N, 4, 3, H, W)`` fused differences to the +x, -x, +y, -y neighbours.
        diff_ok: ``(N, 4, 1, H, W)`` bool, where those differences exist.
        cfg: the data-term weight.
        poisson: solver tolerance and iteration cap.
    """
    tx, ex = _edge_targets(values, unknown, blocked, diff[:, 0], diff_ok[:, 0], diff[:, 1],
                           diff_ok[:, 1], -1)
    ty, ey = _edge_targets(values, unknown, blocked, diff[:, 2], diff_ok[:, 2], diff[:, 3],
                           diff_ok[:, 3], -2)
    return poisson_solve(values, unknown, tx, ty, poisson, edge_x=ex, edge_y=ey,
                         data_weight=cfg.colour_weight)
