"""A multigrid V-cycle for the masked, weighted Laplace systems of :mod:`vidfill.stages.poisson`,
used there as the conjugate-gradient preconditioner.

Each level is the same kind of system: unknown cells, a weight on each edge between two unknown
cells, and at each unknown cell a data weight and the summed weight of its edges to fixed pixels:
``A v = (data + fixed) * v + sum over edges pq of w_pq * (v_p - v_q)``, symmetric positive
(semi-)definite. A coarse level is built like the Galerkin product ``P^T A P`` for ``P`` the
piecewise-constant prolongation over 2x2 blocks, which is again such a system: a coarse edge's
weight is the sum of the fine edges crossing between its two blocks, a coarse cell's data and
fixed weights the sums over its block. Sums keep cut edges cut and isolated regions isolated on
every level, so the weak edges of edge-guided flow completion survive coarsening. Piecewise-
constant interpolation makes the product's edge terms about twice too stiff for a smooth error
(each block boundary carries the whole jump), and its fixed-pixel terms too, as those edges are
twice as far apart; both are scaled down (:data:`COARSE_SCALE`), the data term is not, as it does
not depend on the grid spacing.

The V-cycle smooths with red-black Gauss-Seidel, red then black on the way down and black then
red on the way up, from a zero guess, so that it is a symmetric positive-definite operator
(whatever the coarse correction, which is positive semi-definite): what conjugate gradients
needs of a preconditioner. Everything is a handful of shifted tensor products, batched over
images and channels, on the tensors' device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

COARSE_SCALE = 0.65
"""Factor on the edge and fixed-pixel terms of each coarser level: piecewise-constant aggregation
overestimates them by about 2 for a smooth error, and the coarse correction would fall short by as
much on each level. Measured (CG iterations to 1e-6 over 8 flow-completion and 48 fusion solves of
four real clips): 1.0: 166 and 548, 0.5: 122 and 464, 0.65: 105 and 426, 0.8: 119 and 454."""
COARSEST_CELLS = 64
"""Coarsening stops once the grid has at most this many cells; there the system is solved by its
pseudo-inverse, one small dense matrix per image computed once per solve (a region with nothing
fixed makes it singular, where a Cholesky factor would fail)."""
PSEUDO_INVERSE_RTOL = 1e-9
"""Eigenvalues of the coarsest matrix (float64) below this fraction of its largest are taken as
zero: a region with nothing fixed gives about 1e-16, the weakest real anchor (a cut edge of 1e-3
after six coarsenings, or a data weight of 1e-4) about 1e-6."""


@dataclass(frozen=True)
class Level:
    """One grid of the hierarchy; ``(N, C, h, w)`` float32 unless said, 0 outside the unknowns.
    The terms are the same for every channel, but stored for each: products of tensors of one
    shape run several times faster on the CPU than ones that broadcast over the channels."""

    mask: torch.Tensor
    """1 at the unknown cells."""
    wx: torch.Tensor
    """``(N, C, h, w-1)``: weight of the edge from each cell to its right neighbour (both
    unknown)."""
    wy: torch.Tensor
    """``(N, C, h-1, w)``: the same downwards."""
    data: torch.Tensor
    """The data weight (the pull towards given values)."""
    fixed: torch.Tensor
    """Summed weight of the edges to fixed cells."""
    diag: torch.Tensor
    """Diagonal of the operator: the data weight plus the weights of all the cell's edges."""
    inv_diag: torch.Tensor
    """``1 / diag`` where positive, 0 elsewhere (outside the unknowns, and at a cell with no edge
    and no data weight, which nothing determines)."""
    colours: tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
    """For the red cells (even ``y + x``), then the black ones: ``inv_diag`` on them (0 on the
    others), and 1 on the others (0 on them)."""

    @staticmethod
    def of(mask: torch.Tensor, wx: torch.Tensor, wy: torch.Tensor, data: torch.Tensor,
           fixed: torch.Tensor) -> Level:
        """The level with these terms (``wx``, ``wy`` already 0 on an edge with a fixed end)."""
        h, w = mask.shape[-2:]
        diag = data + fixed + _at_cells(wx, wy)
        inv_diag = torch.where(diag > 0, 1 / diag.clamp_min(1e-30), torch.zeros_like(diag))
        ys = torch.arange(h, device=mask.device)[:, None]
        xs = torch.arange(w, device=mask.device)[None, :]
        red = ((ys + xs) % 2 == 0).to(mask.dtype).expand_as(mask)
        black = 1 - red
        colours = ((inv_diag * red, black), (inv_diag * black, red.contiguous()))
        return Level(mask, wx, wy, data, fixed, diag, inv_diag, colours)

    def neighbours(self, v: torch.Tensor) -> torch.Tensor:
        """``sum over edges pq of w_pq * v_q`` at each cell p (the off-diagonal part of
        ``-A v``)."""
        out = torch.empty_like(v)
        torch.mul(self.wx, v[..., :, 1:], out=out[..., :, :-1])
        out[..., :, -1] = 0
        out[..., :, 1:].addcmul_(self.wx, v[..., :, :-1])
        out[..., :-1, :].addcmul_(self.wy, v[..., 1:, :])
        out[..., 1:, :].addcmul_(self.wy, v[..., :-1, :])
        return out

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        """``A v`` for ``v`` zero outside the unknowns (the result is too)."""
        return self.neighbours(v).neg_().addcmul_(self.diag, v)


def _at_cells(ex: torch.Tensor, ey: torch.Tensor) -> torch.Tensor:
    """The sum over each cell's edges of ``ex`` ``(N, C, h, w-1)`` and ``ey`` ``(N, C, h-1, w)``."""
    return (F.pad(ex, (0, 1)) + F.pad(ex, (1, 0)) + F.pad(ey, (0, 0, 0, 1))
            + F.pad(ey, (0, 0, 1, 0)))


def fine_level(mask: torch.Tensor, ex: torch.Tensor, ey: torch.Tensor, data_weight: torch.Tensor,
               channels: int) -> Level:
    """The level of a cropped system of ``channels`` channels: ``mask`` ``(N, 1, h, w)`` 1 at the
    unknowns, weights ``ex`` ``(N, 1, h, w-1)`` and ``ey`` ``(N, 1, h-1, w)`` of every edge,
    ``data_weight`` at the unknowns. Its operator is the Hessian of
    :func:`vidfill.stages.poisson.poisson_solve`'s energy restricted to the unknowns."""
    n, _, h, w = mask.shape
    mask = mask.expand(n, channels, h, w).contiguous()
    ex, ey = ex.expand(n, channels, h, w - 1), ey.expand(n, channels, h - 1, w)
    wx = ex * mask[..., :, 1:] * mask[..., :, :-1]
    wy = ey * mask[..., 1:, :] * mask[..., :-1, :]
    # every edge at an unknown cell, less those to unknown cells: its edges to fixed cells
    fixed = (_at_cells(ex, ey) - _at_cells(wx, wy)) * mask
    return Level.of(mask, wx, wy, (data_weight * mask).contiguous(), fixed)


def _block_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum over the 2x2 blocks of ``x`` ``(N, C, h, w)``, padded to even sides with zeros (two
    strided additions: several times faster on the CPU than a pooling or a reduction)."""
    x = F.pad(x, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
    rows = x[..., 0::2, :] + x[..., 1::2, :]
    return rows[..., 0::2] + rows[..., 1::2]


def coarse_level(fine: Level) -> Level:
    """The next coarser level (2x2 blocks of ``fine``, its sides padded to even)."""
    mask = (_block_sum(fine.mask) > 0).to(fine.mask.dtype)
    hc, wc = mask.shape[-2:]
    # x edges from an odd column to the next even one cross between two blocks: summed per pair
    # of rows; those from even columns join two cells of one block and drop out of P^T A P
    crossing_x = F.pad(fine.wx, (0, 2 * wc - fine.wx.shape[-1], 0, 2 * hc - fine.wx.shape[-2]))
    wx = crossing_x[..., 1::2].reshape(*mask.shape[:2], hc, 2, wc).sum(3)[..., :-1]
    crossing_y = F.pad(fine.wy, (0, 2 * wc - fine.wy.shape[-1], 0, 2 * hc - fine.wy.shape[-2]))
    wy = crossing_y[..., 1::2, :].reshape(*mask.shape[:2], hc, wc, 2).sum(4)[..., :-1, :]
    return Level.of(mask, COARSE_SCALE * wx, COARSE_SCALE * wy, _block_sum(fine.data),
                    COARSE_SCALE * _block_sum(fine.fixed))


@dataclass(frozen=True)
class Hierarchy:
    """The levels of one system, finest first, and the coarsest one's pseudo-inverse."""

    levels: tuple[Level, ...]
    coarsest: torch.Tensor
    """``(N, K, K)`` float32 over the coarsest level's ``K = h * w`` cells (0 rows and columns
    outside its unknowns), the same for every channel."""


def hierarchy(fine: Level) -> Hierarchy:
    """``fine`` and its coarser levels, down to at most :data:`COARSEST_CELLS` cells."""
    levels = [fine]
    while levels[-1].mask.shape[-2] * levels[-1].mask.shape[-1] > COARSEST_CELLS:
        levels.append(coarse_level(levels[-1]))
    inverse = torch.linalg.pinv(_dense(levels[-1]), rtol=PSEUDO_INVERSE_RTOL, hermitian=True)
    return Hierarchy(tuple(levels), inverse.to(fine.mask.dtype))


def _dense(level: Level) -> torch.Tensor:
    """``(N, K, K)`` float64: the operator of ``level`` (the same for every channel) as a matrix
    over its ``K = h * w`` cells (row-major). The diagonal is summed again in float64, so that a
    region with nothing fixed gives a matrix singular to float64's precision, not float32's."""
    h, w = level.mask.shape[-2:]
    cells = torch.arange(h * w, device=level.mask.device).view(h, w)
    anchor = (level.data + level.fixed)[:, 0].flatten(-2).double()
    matrix = torch.zeros(*anchor.shape, h * w, dtype=torch.float64, device=anchor.device)
    for weights, p, q in ((level.wx, cells[:, :-1], cells[:, 1:]),
                          (level.wy, cells[:-1, :], cells[1:, :])):
        p, q, weight = p.flatten(), q.flatten(), weights[:, 0].flatten(-2).double()
        matrix[:, p, q] -= weight
        matrix[:, q, p] -= weight
    return matrix + torch.diag_embed(anchor - matrix.sum(-1))


def _relax(level: Level, rhs: torch.Tensor, x: torch.Tensor, colour: int) -> torch.Tensor:
    """A Gauss-Seidel half-sweep: each cell of ``colour`` (0: red, 1: black) solved for its
    neighbours' values, the others kept."""
    inv_diag, others = level.colours[colour]
    return level.neighbours(x).add_(rhs).mul_(inv_diag).addcmul_(x, others)


def _prolong_raw(coarse: torch.Tensor, fine: Level) -> torch.Tensor:
    """Each coarse value on every cell of its 2x2 block (``P coarse`` once masked)."""
    n, c, hc, wc = coarse.shape
    h, w = fine.mask.shape[-2:]
    up = coarse[..., :, None, :, None].expand(n, c, hc, 2, wc, 2).reshape(n, c, 2 * hc, 2 * wc)
    return up[..., :h, :w]


def v_cycle(grids: Hierarchy, rhs: torch.Tensor, depth: int = 0) -> torch.Tensor:
    """An approximate solution of ``A x = rhs`` on level ``depth`` of ``grids`` (``rhs`` ``(N, C,
    h, w)``, zero outside the unknowns), symmetric positive definite in ``rhs``: a red-black sweep,
    the coarse correction of the residual, a black-red sweep; on the coarsest level, the
    pseudo-inverse."""
    level = grids.levels[depth]
    if depth == len(grids.levels) - 1:
        return (rhs.flatten(-2) @ grids.coarsest).view_as(rhs)  # the inverse is symmetric
    x = _relax(level, rhs, rhs * level.colours[0][0], 1)  # red from zero: rhs / diag; then black
    # the black cells were just solved for, so the residual is left on the red ones, where x still
    # holds rhs / diag: there it is the pull of the black neighbours
    residual = level.neighbours(x).mul_(level.colours[1][1])
    x = x.addcmul_(_prolong_raw(v_cycle(grids, _block_sum(residual), depth + 1), level), level.mask)
    return _relax(level, rhs, _relax(level, rhs, x, 1), 0)
