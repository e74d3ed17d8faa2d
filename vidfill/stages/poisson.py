"""Gradient-domain reconstruction: a screened Poisson solve in torch, batched, on any device.

Given target differences between neighbouring pixels (``tx[..., y, x]`` is the
wanted ``u[y, x+1] - u[y, x]``, ``ty[..., y, x]`` the wanted ``u[y+1, x] - u[y, x]``),
the unknown pixels minimise

    sum over valid edges (u_q - u_p - t_pq)^2  +  sum over unknowns data_weight * (u_p - data)^2

with every other pixel held at its value (the Dirichlet boundary). With
``data_weight = 0`` and targets equal to the differences of a function, that
function is the solution; with zero targets it is the harmonic fill.

The solver is preconditioned conjugate gradients on a matrix-free operator: a few
shifted tensor products per iteration, batched over images and channels, on
whatever device the inputs are on. Each call crops to the bounding box of the
unknown pixels, so a small hole in a large frame is cheap. The preconditioner
is a multigrid V-cycle on a pyramid of that box (:mod:`vidfill.stages.multigrid`):
Jacobi-preconditioned CG needs on the order of D iterations for a hole D pixels
across, as each iteration moves information one pixel; the V-cycle moves it
across the whole box in every iteration, so the count hardly grows with the hole.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from vidfill.config import PoissonConfig
from vidfill.stages.multigrid import Level, fine_level, hierarchy, v_cycle


@dataclass(frozen=True)
class PoissonResult:
    values: torch.Tensor
    """(N, C, H, W) float32: the input values with the unknown pixels solved."""
    iterations: int
    """CG iterations run."""
    residual: float
    """Final relative residual ||b - A x|| / ||b|| (0 when there was nothing to solve)."""


def _edge_terms(u: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, ex: torch.Tensor,
                ey: torch.Tensor) -> torch.Tensor:
    """Gradient of the edge energy at ``u``: sum over valid edges of (u_p - u_q + t_pq)."""
    out = torch.zeros_like(u)
    dx = (u[..., :, 1:] - u[..., :, :-1] - tx) * ex
    out[..., :, :-1] -= dx
    out[..., :, 1:] += dx
    dy = (u[..., 1:, :] - u[..., :-1, :] - ty) * ey
    out[..., :-1, :] -= dy
    out[..., 1:, :] += dy
    return out


def _crop_box(unknown: torch.Tensor) -> tuple[slice, slice]:
    """Rows and columns spanning every unknown pixel of the batch, plus a one-pixel border."""
    h, w = unknown.shape[-2:]
    rows = unknown.flatten(0, -3).any(0).any(-1).nonzero().flatten()
    cols = unknown.flatten(0, -3).any(0).any(-2).nonzero().flatten()
    return (slice(max(int(rows[0]) - 1, 0), min(int(rows[-1]) + 2, h)),
            slice(max(int(cols[0]) - 1, 0), min(int(cols[-1]) + 2, w)))


def poisson_solve(values: torch.Tensor, unknown: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
                  cfg: PoissonConfig, *, edge_x: torch.Tensor | None = None,
                  edge_y: torch.Tensor | None = None, data: torch.Tensor | None = None,
                  data_weight: torch.Tensor | float = 0.0) -> PoissonResult:
    """Solve for the ``unknown`` pixels of ``values`` from target differences.

    Args:
        values: ``(N, C, H, W)`` float: boundary values outside ``unknown``, the initial guess inside.
        unknown: ``(N, 1, H, W)`` bool, the pixels to solve for.
        tx: ``(N, C, H, W-1)`` target ``u[..., x+1] - u[..., x]``.
        ty: ``(N, C, H-1, W)`` target ``u[..., y+1, :] - u[..., y, :]``.
        cfg: tolerance and iteration cap.
        edge_x, edge_y: ``(N, 1, H, W-1)`` / ``(N, 1, H-1, W)`` bool or float weights of each
            edge (default all 1); an edge with weight 0 carries no constraint.
        data: ``(N, C, H, W)`` values the unknowns are pulled towards with ``data_weight``
            (default: ``values``).
        data_weight: scalar or ``(N, 1, H, W)`` weight of that pull (0 = pure Poisson).

    Returns:
        :class:`PoissonResult`. A component of unknowns with no valid edge to a known
        pixel and no data weight is singular; CG then converges to one of its solutions if
        its targets allow one (with zero targets: a constant there), else runs to the cap.
    """
    _check_shapes(values, unknown, tx, ty)
    out = values.to(torch.float32).clone()
    if not bool(unknown.any()):
        return PoissonResult(out, 0, 0.0)
    ys, xs = _crop_box(unknown)
    # contiguous copies: the frames often arrive channels-last (permuted from (N, H, W, C)), and
    # mixing that layout with the solver's own tensors makes every product several times slower
    u = out[..., ys, xs].contiguous()
    system = _System.cropped(values, unknown, tx, ty, edge_x, edge_y, data, data_weight, (ys, xs), u)
    # ||b|| of A x = b: minus the gradient with the unknowns at zero. Measuring the residual
    # against it (not against the initial residual) lets a good initial guess stop early.
    b_norm = float(torch.linalg.vector_norm(system.gradient(u * (1 - system.mask))))
    residual = -system.gradient(u)
    if b_norm == 0.0 or float(torch.linalg.vector_norm(residual)) <= cfg.tolerance * b_norm:
        return PoissonResult(out, 0, float(torch.linalg.vector_norm(residual)) / max(b_norm, 1e-30))
    u, iterations, rel = _conjugate_gradients(system, u, residual, b_norm, cfg)
    out[..., ys, xs] = torch.where(system.mask > 0, u, out[..., ys, xs])
    return PoissonResult(out, iterations, rel)


def _check_shapes(values: torch.Tensor, unknown: torch.Tensor, tx: torch.Tensor,
                  ty: torch.Tensor) -> None:
    """A ValueError showing the shapes unless ``unknown`` is ``(N, 1, H, W)`` bool and ``tx``,
    ``ty`` are ``(N, C, H, W-1)``, ``(N, C, H-1, W)`` for ``values`` of ``(N, C, H, W)``."""
    n, c, h, w = values.shape
    if tuple(unknown.shape) != (n, 1, h, w) or unknown.dtype != torch.bool:
        raise ValueError(f"unknown must be bool of shape {(n, 1, h, w)}, got "
                         f"{unknown.dtype} {tuple(unknown.shape)}")
    if tuple(tx.shape) != (n, c, h, w - 1) or tuple(ty.shape) != (n, c, h - 1, w):
        raise ValueError(f"tx, ty must be {(n, c, h, w - 1)} and {(n, c, h - 1, w)}, got "
                         f"{tuple(tx.shape)} and {tuple(ty.shape)}")


@dataclass(frozen=True)
class _System:
    """The solve's terms cropped to the box of the unknowns (``(N, ., h, w)`` float32, the
    edges one shorter along their axis): the energy's gradient and Hessian, restricted to them."""

    mask: torch.Tensor
    """``(N, 1, h, w)``: 1 at the unknowns."""
    tx: torch.Tensor
    ty: torch.Tensor
    ex: torch.Tensor
    """``(N, 1, h, w-1)``: the weights of the x edges."""
    ey: torch.Tensor
    dw: torch.Tensor
    """The data weight at the unknowns (0 elsewhere)."""
    target: torch.Tensor
    """``(N, C, h, w)``: the values the data weight pulls towards."""
    level: Level
    """The Hessian's terms (:func:`vidfill.stages.multigrid.fine_level`)."""

    @staticmethod
    def cropped(values: torch.Tensor, unknown: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor,
                edge_x: torch.Tensor | None, edge_y: torch.Tensor | None, data: torch.Tensor | None,
                data_weight: torch.Tensor | float, box: tuple[slice, slice],
                u: torch.Tensor) -> _System:
        """The terms of :func:`poisson_solve`'s arguments inside ``box`` (``u``: the values there)."""
        n, _, h, w = values.shape
        ys, xs = box
        dev, f32 = values.device, torch.float32
        ex = torch.ones(n, 1, h, w - 1, device=dev) if edge_x is None else edge_x.to(f32)
        ey = torch.ones(n, 1, h - 1, w, device=dev) if edge_y is None else edge_y.to(f32)
        xs_e = slice(xs.start, xs.stop - 1)
        ys_e = slice(ys.start, ys.stop - 1)
        mask = unknown[..., ys, xs].to(f32)
        tx_c, ex_c = tx[..., ys, xs_e].to(f32).contiguous(), ex[..., ys, xs_e]
        ty_c, ey_c = ty[..., ys_e, xs].to(f32).contiguous(), ey[..., ys_e, xs]
        if isinstance(data_weight, torch.Tensor):
            dw = data_weight[..., ys, xs].to(f32) * mask
        else:
            dw = float(data_weight) * mask
        target = u if data is None else data[..., ys, xs].to(f32).contiguous()
        level = fine_level(mask, ex_c, ey_c, dw, values.shape[1])
        return _System(mask, tx_c, ty_c, ex_c, ey_c, dw, target.clone(), level)

    def apply(self, v: torch.Tensor) -> torch.Tensor:
        """Hessian of the energy times ``v`` (zero outside the unknowns), restricted to them."""
        return self.level.apply(v)

    def gradient(self, v: torch.Tensor) -> torch.Tensor:
        """Gradient of the energy at ``v``, restricted to the unknowns."""
        return (_edge_terms(v, self.tx, self.ty, self.ex, self.ey)
                + self.dw * (v - self.target)) * self.mask


def _conjugate_gradients(system: _System, u: torch.Tensor, residual: torch.Tensor, b_norm: float,
                         cfg: PoissonConfig) -> tuple[torch.Tensor, int, float]:
    """Preconditioned CG from ``u`` (its ``residual``) until the residual relative to
    ``b_norm`` is within ``cfg.tolerance`` or ``cfg.max_iterations`` are run: ``(u, iterations,
    relative residual)``. One CG per (image, channel), run together: per-system step sizes keep
    them independent."""
    precondition = _preconditioner(system, cfg)
    u = u.clone()
    z = precondition(residual)
    p = z.clone()
    rz = _dot(residual, z)
    iterations = 0
    rel = 1.0
    for iterations in range(1, cfg.max_iterations + 1):
        ap = system.apply(p)
        pap = _dot(p, ap)
        alpha = torch.where(pap > 0, rz / pap.clamp_min(1e-30), torch.zeros_like(pap))
        u.addcmul_(alpha, p)
        residual = residual.addcmul(alpha, ap, value=-1)
        rel = float(torch.linalg.vector_norm(residual)) / b_norm
        if rel <= cfg.tolerance:
            break
        z = precondition(residual)
        rz_new = _dot(residual, z)
        beta = torch.where(rz > 0, rz_new / rz.clamp_min(1e-30), torch.zeros_like(rz))
        p = z.addcmul_(beta, p)
        rz = rz_new
    return u, iterations, rel


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``(N, C, 1, 1)``: the inner product of each image and channel of ``a`` and ``b``."""
    return torch.linalg.vecdot(a.flatten(-2), b.flatten(-2))[..., None, None]


def _preconditioner(system: _System, cfg: PoissonConfig) -> Callable[[torch.Tensor], torch.Tensor]:
    """``r -> z``, an approximate inverse of the Hessian (symmetric positive definite, zero outside
    the unknowns): a multigrid V-cycle, or 1 / its diagonal (Jacobi)."""
    if cfg.preconditioner == "jacobi":
        inv_diag = system.level.inv_diag
        return lambda residual: residual * inv_diag
    grids = hierarchy(system.level)
    return lambda residual: v_cycle(grids, residual)
