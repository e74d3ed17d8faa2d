"""Stage 3: flow completion inside the hole.

The flow in the (dilated) hole is replaced by the harmonic fill of the known
flow around it: the discrete Laplace equation is solved over the hole pixels
with the known flow as Dirichlet boundary (zero normal derivative at the image
border). Both channels share one sparse factorisation per frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch

from vidfill.types import check_flow

Progress = Callable[[int], None]

_NEIGHBOURS = ((0, 1), (0, -1), (1, 0), (-1, 0))


@dataclass(frozen=True)
class CompletedFlow:
    flow: torch.Tensor
    """(N, 2, h, w) float32: the input flow with its hole filled."""


def laplace_fill(values: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Harmonic fill of ``values`` inside ``hole``.

    Args:
        values: ``(C, H, W)`` float array; values under ``hole`` are ignored.
        hole: ``(H, W)`` bool, True where values are unknown.

    Returns:
        ``(C, H, W)`` float64 array equal to ``values`` outside the hole and the
        solution of the 5-point Laplace equation inside it. A frame with no
        known pixel is returned as zeros.
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
        diag += inside
        src = np.nonzero(inside)[0]
        nbr = index[ny[src], nx[src]]
        unknown = nbr >= 0
        rows.append(src[unknown])
        cols.append(nbr[unknown])
        known = src[~unknown]
        rhs[known] += out[:, ny[known], nx[known]].T
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    data = [-np.ones(r.size) for r in rows[:-1]] + [diag]
    matrix = sp.csc_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                           shape=(n, n))
    solution = spla.splu(matrix).solve(rhs)
    out[:, ys, xs] = solution.T
    return out


def complete_flow(flow: torch.Tensor, hole: torch.Tensor,
                  progress: Progress | None = None) -> CompletedFlow:
    """Fill each flow field inside its hole by harmonic (diffusion) completion.

    Args:
        flow: ``(N, 2, h, w)`` float32 flow.
        hole: ``(N, 1, h, w)`` bool, True where the flow is unknown (the hole of
            the frame the flow starts from, dilated).
        progress: called with 1 per completed field.
    """
    n, _, h, w = flow.shape
    check_flow(flow, n, h, w)
    if tuple(hole.shape) != (n, 1, h, w) or hole.dtype != torch.bool:
        raise ValueError(f"hole must be bool of shape {(n, 1, h, w)}, got {hole.dtype} {tuple(hole.shape)}")
    flow_np = flow.detach().cpu().numpy()
    hole_np = hole[:, 0].cpu().numpy()
    filled = np.empty_like(flow_np)
    for i in range(n):
        filled[i] = laplace_fill(flow_np[i], hole_np[i])
        if progress:
            progress(1)
    return CompletedFlow(torch.from_numpy(filled).to(flow.device))
