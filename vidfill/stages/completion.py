"""Stage 3: flow completion inside the hole.

The flow in the (dilated) hole is the least-squares smoothest fill of the known
flow around it: the discrete (weighted) Laplace equation is solved over the hole
pixels with the known flow as Dirichlet boundary (zero normal derivative at the
image border). Given flow edges (:mod:`vidfill.stages.edges`), the smoothness terms
that touch an edge pixel are down-weighted (FGVC's edge-guided completion), so
that the fill is smooth on each side of a motion boundary and not across it.

It is the fusion stage's solver (:func:`vidfill.stages.poisson.poisson_solve`, conjugate
gradients in torch) with zero target differences, batched over fields, on the flow's device.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from vidfill.config import CompletionConfig, PoissonConfig
from vidfill.stages.holes import smooth_fill
from vidfill.stages.poisson import poisson_solve
from vidfill.types import check_field_mask, check_flow

Progress = Callable[[int], None]

FIELDS_PER_SOLVE = 8
"""Flow fields solved together: bounds the solver's temporaries (a few copies of the crop)."""
SOLVER = PoissonConfig(tolerance=1e-6, max_iterations=5000)
"""CG settings of flow completion: 1e-6 of the boundary's norm, so that the completed flow
is within a few thousandths of a pixel of the exact solution (tests/test_completion.py)."""


@dataclass(frozen=True)
class CompletedFlow:
    flow: torch.Tensor
    """(N, 2, h, w) float32: the input flow with its hole filled."""


def _edge_weights(edges: torch.Tensor | None, shape: torch.Size, cut_weight: float,
                  device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the horizontal ``(N, 1, H, W-1)`` and vertical ``(N, 1, H-1, W)`` neighbour
    pairs: ``cut_weight`` where either pixel is an edge pixel, 1 elsewhere."""
    n, _, h, w = shape
    if edges is None:
        return (torch.ones(n, 1, h, w - 1, device=device),
                torch.ones(n, 1, h - 1, w, device=device))
    cut = torch.tensor(cut_weight, device=device)
    one = torch.ones((), device=device)
    return (torch.where(edges[..., :, 1:] | edges[..., :, :-1], cut, one),
            torch.where(edges[..., 1:, :] | edges[..., :-1, :], cut, one))


def complete_flow(flow: torch.Tensor, hole: torch.Tensor, progress: Progress | None = None,
                  edges: torch.Tensor | None = None,
                  cut_weight: float = CompletionConfig.cut_weight) -> CompletedFlow:
    """Fill each flow field inside its hole: diffusion, or edge-guided when ``edges`` are given.

    Minimises, for each field and channel, the sum over 4-neighbour pairs (p, q) with p or q
    in the hole of ``w_pq * |v_p - v_q|^2``, where ``w_pq`` is ``cut_weight`` if p or q is an
    edge pixel and 1 otherwise; from the push-pull fill as initial guess.

    Args:
        flow: ``(N, 2, h, w)`` float32 flow.
        hole: ``(N, 1, h, w)`` bool, True where the flow is unknown (the hole of
            the frame the flow starts from, dilated).
        progress: called with the number of fields completed, as they are.
        edges: ``(N, 1, h, w)`` bool flow edges (known and completed), or None.
        cut_weight: weight of the pairs that touch an edge, > 0.

    Returns:
        :class:`CompletedFlow` on the flow's device, equal to ``flow`` outside the hole; a
        field with no known pixel is zero.
    """
    n, _, h, w = flow.shape
    check_flow(flow, n, h, w)
    check_field_mask(hole, n, h, w)
    if edges is not None:
        check_field_mask(edges, n, h, w, "edges")
    filled = torch.empty_like(flow)
    for start in range(0, n, FIELDS_PER_SOLVE):
        part = slice(start, min(start + FIELDS_PER_SOLVE, n))
        fields, unknown = flow[part], hole[part]
        if h > 1 and w > 1:
            weight_x, weight_y = _edge_weights(None if edges is None else edges[part],
                                               fields.shape, cut_weight, flow.device)
            start_values = smooth_fill(fields, unknown)
            zero_x = start_values.new_zeros(*fields.shape[:3], w - 1)
            zero_y = start_values.new_zeros(*fields.shape[:2], h - 1, w)
            solved = poisson_solve(start_values, unknown, zero_x, zero_y, SOLVER,
                                   edge_x=weight_x, edge_y=weight_y).values
        else:
            solved = smooth_fill(fields, unknown)
        everywhere = unknown.flatten(1).all(1)[:, None, None, None]
        filled[part] = torch.where(everywhere, torch.zeros_like(solved), solved)
        if progress:
            progress(part.stop - part.start)
    return CompletedFlow(filled)
