"""Stage 3: flow completion inside the hole.

The flow in the (dilated) hole is the least-squares smoothest fill of the known
flow around it: the discrete (weighted) Laplace equation is solved over the hole
pixels with the known flow as Dirichlet boundary (zero normal derivative at the
image border). Given flow edges (:mod:`vidfill.stages.edges`), the smoothness terms
that touch an edge pixel are down-weighted (FGVC's edge-guided completion), so
that the fill is smooth on each side of a motion boundary and not across it.
Both channels share one sparse factorisation per frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from vidfill.config import CompletionConfig
from vidfill.types import check_field_mask, check_flow

Progress = Callable[[int], None]

_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0))


@dataclass(frozen=True)
class CompletedFlow:
    flow: torch.Tensor
    """(N, 2, h, w) float32: the input flow with its hole filled."""


def laplace_fill(values: np.ndarray, hole: np.ndarray, edges: np.ndarray | None = None,
                 cut_weight: float = CompletionConfig.cut_weight) -> np.ndarray:
    """Harmonic fill of ``values`` inside ``hole``, optionally cut along ``edges``.

    Minimises the sum over 4-neighbour pairs (p, q) with p or q in the hole of
    ``w_pq * |v_p - v_q|^2``, where ``w_pq`` is ``cut_weight`` if p or q is an edge
    pixel and 1 otherwise.

    Args:
        values: ``(C, H, W)`` float array; values under ``hole`` are ignored.
        hole: ``(H, W)`` bool, True where values are unknown.
        edges: ``(H, W)`` bool or None (plain harmonic fill).
        cut_weight: weight of the pairs that touch an edge, > 0.

    Returns:
        ``(C, H, W)`` float64 array equal to ``values`` outside the hole and the
        solution of the 5-point (weighted) Laplace equation inside it. A frame with
        no known pixel is returned as zeros.
    """
    c, h, w = values.shape
    out = values.astype(np.float64, copy=True)
    ys, xs = np.nonzero(hole)
    n = ys.size
    if n == 0:
        return out
    if n == h * w:
        return np.zeros_like(out)
    index = np.full((h, w), -1, dtype=np.int64)
    index[ys, xs] = np.arange(n)
    rows, cols, data = [], [], []
    diag = np.zeros(n)
    rhs = np.zeros((n, c))
    for dy, dx in _NEIGHBOURS:
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        src = np.nonzero(inside)[0]
        ty, tx = ny[src], nx[src]
        weight = np.ones(src.size)
        if edges is not None:
            weight[edges[ys[src], xs[src]] | edges[ty, tx]] = cut_weight
        np.add.at(diag, src, weight)
        nbr = index[ty, tx]
        unknown = nbr >= 0
        rows.append(src[unknown])
        cols.append(nbr[unknown])
        data.append(-weight[unknown])
        known = ~unknown
        rhs[src[known]] += weight[known, None] * out[:, ty[known], tx[known]].T
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    data.append(diag)
    matrix = sp.csc_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n, n))
    solution = spla.splu(matrix).solve(rhs)
    out[:, ys, xs] = solution.T
    return out


def complete_flow(flow: torch.Tensor, hole: torch.Tensor, progress: Progress | None = None,
                  edges: torch.Tensor | None = None,
                  cut_weight: float = CompletionConfig.cut_weight) -> CompletedFlow:
    """Fill each flow field inside its hole: diffusion, or edge-guided when ``edges`` are given.

    Args:
        flow: ``(N, 2, h, w)`` float32 flow.
        hole: ``(N, 1, h, w)`` bool, True where the flow is unknown (the hole of
            the frame the flow starts from, dilated).
        progress: called with 1 per completed field.
        edges: ``(N, 1, h, w)`` bool flow edges (known and completed), or None.
        cut_weight: see :func:`laplace_fill`.
    """
    n, _, h, w = flow.shape
    check_flow(flow, n, h, w)
    check_field_mask(hole, n, h, w)
    if edges is not None:
        check_field_mask(edges, n, h, w, "edges")
    flow_np = flow.detach().cpu().numpy()
    hole_np = hole[:, 0].cpu().numpy()
    edges_np = None if edges is None else edges[:, 0].cpu().numpy()
    filled = np.empty_like(flow_np)
    for i in range(n):
        filled[i] = laplace_fill(flow_np[i], hole_np[i], None if edges_np is None else edges_np[i],
                                 cut_weight)
        if progress:
            progress(1)
    return CompletedFlow(torch.from_numpy(filled).to(flow.device))
