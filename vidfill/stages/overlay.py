"""Overlay recovery: the scene behind a semi-transparent logo, bug or watermark burnt in at a
fixed place, given back instead of invented.

An overlay composited over the scene ``I`` is, per pixel and channel,
``J = a*W + (1 - a)*I``, with its opacity ``a`` and colour ``W`` the same in every frame. Write
``k = 1 - a`` (how much of the scene shows through) and ``b = a*W`` (the overlay's premultiplied
colour): ``J = b + k*I``, so ``I = (J - b) / k`` wherever ``k`` is not near 0.

``k`` and ``b`` are estimated per pixel from the clip itself: a fill of the hole (the usual
propagation and fusion, which on a moving shot brings what other frames show behind the overlay)
gives ``F``, an estimate of ``I``. Over the frames, ``J`` varies ``k`` times as much as the scene:
``k = sqrt(var(J) / var(F))``, the variances pooled over the pixel's neighbours of the same part
of the overlay (:func:`_pooled`), and ``b = mean(J) - k*mean(F)``. The recovered value is then
``mean(F) + (J - mean(J)) / k``: its level comes from the fill's mean over the frames (where
the fill's errors average out), and ``k`` only scales what changes, which the frames show
exactly. Measured with truth (32 frames at 432x240, lossless, PSNR inside the overlay): white
text at 0.5 over car-roundabout 41.1 dB (the fill 30.1), at 0.4 over blackswan 35.0 (24.9), a
lower third over tennis 31.8 (24.3). The regression of ``J`` on ``F`` (the slope ``r`` times
this ratio, ``r`` their correlation) lost 15 dB on tennis, where the fill lags the scene and ``r``
is low; mixing in ``r`` at all cost 5-7 dB there (one-off runs, not in
benchmarks/README.md: docs/decisions.md).

Where nothing under the overlay changes (a locked-off shot), ``k`` cannot be told from the
frames: the pixel takes its neighbours' estimate, or where they know nothing either
(:attr:`Overlay.informed` below 1), the estimate from the mask's shape
(:mod:`vidfill.stages.overlay_still`), or the fill where that cannot decide. A
mask over something that does not follow the scene (an opaque sign on a moving shot, a screen
with its own picture) fits poorly (:attr:`Overlay.fit`) and is filled. Where the overlay is
(nearly) opaque, the gain ``1/k`` would amplify noise and compression: the fill is used there,
blended by a weight that ramps between :attr:`OverlayConfig.opaque` and
:attr:`OverlayConfig.clear`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vidfill.config import FlowConfig, OverlayConfig
from vidfill.stages.flow import estimate_flow, resize_flow, warp_backward
from vidfill.stages.holes import hole_box
from vidfill.types import to_uint8


@dataclass(frozen=True)
class Overlay:
    """An overlay's estimate, at the frames' size; ``(1, H, W)`` / ``(3, H, W)`` float32 on the
    frames' device, 0 (``clear``: 1) outside the mask."""

    clear: torch.Tensor
    """(1, H, W): ``k = 1 - a``, the share of the scene that shows through."""
    colour: torch.Tensor
    """(3, H, W): ``b = a*W``, the overlay's premultiplied colour."""
    weight: torch.Tensor
    """(1, H, W) in [0, 1]: how much of the recovered scene is used (1) rather than a fill (0)."""
    fit: float
    """Share of the frames' variation under the mask that the overlay model explains (pooled
    R^2 of ``J`` on the fill, over pixels where the fill varies): near 1 for an overlay over a
    moving scene, low where something else is going on (an opaque sign, a person walking
    through a still mask)."""
    informed: torch.Tensor | None = None
    """(1, H, W) in [0, 1], from the frames (:func:`estimate_overlay`): how much the scene's
    change under each pixel tells its opacity (0: nothing changes there, as on a locked-off
    shot); None where the estimate did not come from the frames' change."""

    def placed(self, size: tuple[int, int], box: tuple[slice, ...]) -> "Overlay":
        """This estimate of a crop, put at ``box`` (index of ``(T, C, H, W)``) in frames of
        ``size`` (H, W); clear, uncoloured and unused elsewhere."""
        parts = (self.clear, self.colour, self.weight) + ((self.informed,) if self.informed is not None else ())
        whole = [torch.full((x.shape[0], *size), fill, device=x.device) for fill, x in
                 zip((1.0, 0.0, 0.0, 0.0), parts)]
        for full, part in zip(whole, parts):
            full[box[1:]] = part
        return Overlay(*whole[:3], fit=self.fit, informed=whole[3] if len(whole) > 3 else None)

    def opacity(self, mask: torch.Tensor) -> torch.Tensor:
        """The estimated opacities ``a`` of the pixels of ``mask`` ``(1, H, W)`` bool, 1-D."""
        return 1 - self.clear[mask]

    def summary(self, mask: torch.Tensor) -> str:
        """One line: opacity and colour found, share of the mask recovered."""
        a = self.opacity(mask)
        recovered = float(self.weight[mask].mean()) if a.numel() else 0.0
        seen = a > 0.05
        colour = (self.colour[:, mask[0]][:, seen] / a[seen]).clamp(0, 1).mean(1) if bool(seen.any()) \
            else torch.zeros(3)
        lo, hi = (float(v) for v in torch.quantile(a.float(), torch.tensor([0.05, 0.95]))) \
            if a.numel() else (0.0, 0.0)
        return (f"opacity {lo:.2f}-{hi:.2f}, colour about ({', '.join(f'{c:.2f}' for c in colour.tolist())})"
                f", {recovered:.0%} of the mask recovered")


def mask_box(mask: torch.Tensor, margin: int) -> tuple[slice, slice, slice, slice]:
    """Index of ``(T, C, H, W)`` tensors (``[1:]`` of ``(C, H, W)`` ones): the box of ``mask``
    ``(1, H, W)`` bool, not empty, grown by ``margin`` within the frame (:func:`hole_box`)."""
    return (slice(None), slice(None), *hole_box(mask, margin))


def _pooled(values: torch.Tensor, guide: torch.Tensor, known: torch.Tensor, radius: int,
            range_sigma: float) -> torch.Tensor:
    """Joint-bilateral sums of ``values`` ``(C, h, w)`` over each pixel's (2r+1)^2 window: each
    neighbour weighted by ``known`` ``(1, h, w)``, a Gaussian of its distance (sigma r/2) and of
    its difference in ``guide`` ``(3, h, w)`` (sigma ``range_sigma``), so that pixels of the
    same part of the overlay (its guide colour alike) pool and its parts do not mix."""
    h, w = values.shape[-2:]
    pad = (radius, radius, radius, radius)
    v = F.pad(values * known, pad)
    g, m = F.pad(guide, pad), F.pad(known, pad)
    total = torch.zeros_like(values)
    for dy in range(2 * radius + 1):
        for dx in range(2 * radius + 1):
            near = (dy - radius) ** 2 + (dx - radius) ** 2
            if near > radius * radius:
                continue
            window = (slice(None), slice(dy, dy + h), slice(dx, dx + w))
            alike = (g[window] - guide).square().sum(0, keepdim=True)
            weight = torch.exp(-alike / (2 * range_sigma ** 2) - 2 * near / max(radius, 1) ** 2)
            total += weight * m[window] * v[window]
    return total


def estimate_overlay(observed: torch.Tensor, behind: torch.Tensor, mask: torch.Tensor,
                     cfg: OverlayConfig | None = None) -> Overlay:
    """Estimate a still overlay under ``mask`` from frames and a fill of them.

    Per pixel, the variations over the frames of ``J`` and ``F`` (robust: frames that do not
    fit, such as something passing over the overlay that the fill did not see, weigh less),
    pooled over the pixel's neighbours of the same part of the overlay (:func:`_pooled`, guided
    by the frames' mean, in which the moving scene averages out and the overlay stays); ``k``
    their ratio, ``b`` the mean level left (module docstring).

    Args:
        observed: ``(T, 3, H, W)`` float32 frames on the [0, 1] scale (values above 1 kept).
        behind: ``(T, 3, H, W)`` float32, the same frames with ``mask`` filled (the fill's
            estimate of the scene behind the overlay).
        mask: ``(1, H, W)`` bool, the overlay's footprint (the same in every frame).
        cfg: the overlay settings (default: :class:`OverlayConfig`'s).

    Returns:
        :class:`Overlay` on the frames' device.
    """
    cfg = cfg or OverlayConfig()
    if observed.shape != behind.shape or observed.ndim != 4 or observed.shape[1] != 3:
        raise ValueError(f"observed and behind must be the same (T, 3, H, W), got "
                         f"{tuple(observed.shape)} and {tuple(behind.shape)}")
    if mask.dtype != torch.bool or tuple(mask.shape) != (1, *observed.shape[-2:]):
        raise ValueError(f"mask must be bool (1, H, W) = {(1, *observed.shape[-2:])}, got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    h, w = observed.shape[-2:]
    device = observed.device
    clear = torch.ones(1, h, w, device=device)
    colour = torch.zeros(3, h, w, device=device)
    weight = torch.zeros(1, h, w, device=device)
    if not bool(mask.any()) or len(observed) < 2:
        return Overlay(clear, colour, weight, fit=0.0)
    r = cfg.radius  # work in the mask's box, grown by the neighbourhood radius
    box = mask_box(mask, r)
    j, f, inside = observed[box].double(), behind[box].double(), mask[box[1:]]
    known = inside.to(j.dtype)
    count = j.shape[0] * 3
    vote = torch.ones(j.shape[0], 1, *j.shape[-2:], dtype=j.dtype, device=device)  # per frame
    for _ in range(cfg.robust_passes + 1):
        total = vote.sum(0)
        j_mean, f_mean = (vote * j).sum(0) / total, (vote * f).sum(0) / total
        dj, df = j - j_mean, f - f_mean
        sums = torch.cat([(vote * df * df).sum((0, 1))[None], (vote * dj * df).sum((0, 1))[None],
                          (vote * dj * dj).sum((0, 1))[None]]) * (count / (3 * total))
        pooled = _pooled(sums, j_mean, known, r, cfg.guide_sigma)
        s_ff, s_jj = pooled[:1], pooled[2:]
        k = (s_jj / s_ff.clamp_min(1e-12)).sqrt().clamp(0, 1)
        b = j_mean - k * f_mean
        residual = (j - b - k * f).square().sum(1, keepdim=True).sqrt()  # (T, 1, h, w)
        scale = 1.4826 * residual[:, inside].median().clamp_min(1e-4)
        vote = 1 / (1 + (residual / (cfg.robust_scale * scale)).square())
    norm = _pooled(torch.ones_like(known), j_mean, known, r, cfg.guide_sigma).clamp_min(1e-12)
    informed = (s_ff / (norm * count * cfg.informed ** 2)).clamp(0, 1)
    opaque_ramp = _weight(k, cfg)
    pooled_ff, pooled_jf, pooled_jj = (float(s[inside[0]].sum()) for s in sums)
    fit = pooled_jf ** 2 / max(pooled_ff * pooled_jj, 1e-12)
    weight_box = (opaque_ramp * informed * inside).float() if fit >= cfg.min_fit \
        else torch.zeros_like(k).float()
    clear[box[1:]] = torch.where(inside, k, 1.0).float()
    colour[box[1:]] = torch.where(inside, b, 0.0).float()
    weight[box[1:]] = weight_box
    told = torch.zeros(1, h, w, device=device)
    told[box[1:]] = (informed * inside).float()
    return Overlay(clear, colour, weight, fit=fit, informed=told)


def _weight(clear: torch.Tensor, cfg: OverlayConfig) -> torch.Tensor:
    """How much of the recovered scene to use, from how much of it shows through: 0 at and
    below ``cfg.opaque``, 1 at and above ``cfg.clear``, linear between."""
    return ((clear - cfg.opaque) / (cfg.clear - cfg.opaque)).clamp(0, 1)


def given_overlay(opacity: torch.Tensor, colour: torch.Tensor, mask: torch.Tensor,
                  cfg: OverlayConfig | None = None) -> Overlay:
    """The :class:`Overlay` of a known overlay image (``--overlay-image``): ``opacity``
    ``(1, H, W)`` and straight ``colour`` ``(3, H, W)`` float on the [0, 1] scale, used inside
    ``mask`` ``(1, H, W)`` bool."""
    cfg = cfg or OverlayConfig()
    a = torch.where(mask, opacity.float().clamp(0, 1), 0.0)
    return Overlay(1 - a, a * colour.float(), _weight(1 - a, cfg) * mask, fit=1.0)


def recover(frames: torch.Tensor, overlay: Overlay) -> torch.Tensor:
    """The scene behind ``overlay``: ``(J - b) / k`` where it is used (weight > 0), ``frames``
    elsewhere. ``frames``: ``(T, 3, H, W)`` float32 on the [0, 1] scale; same shape out."""
    used = overlay.weight > 0
    scene = (frames - overlay.colour) / overlay.clear.clamp_min(1e-3)
    return torch.where(used, scene, frames)


def steady(frames: torch.Tensor, clear: torch.Tensor, centre: int,
           cfg: OverlayConfig | None = None) -> torch.Tensor:
    """Frame ``centre`` of ``frames`` with its recovered pixels averaged with what its
    neighbours show of the same point, along the flow between them.

    The recovered scene ``(J - b) / k`` carries the noise and compression of ``J`` times
    ``1/k``. A neighbouring frame that shows the same point more clearly (outside the overlay,
    or through a clearer part of it) knows it better: each frame's value is weighted by ``k^2``
    (the inverse of its noise's variance) and by how well it agrees with the centre (a
    Gaussian of their difference, sigma ``cfg.steady_level`` times the difference the noise
    explains: the clip's noise, fitted by :func:`_noise`, times the two values' gains; a
    neighbour that the flow got wrong, or that shows something else, drops out), and points
    that fail the flow's forward-backward check are left out. The flow (OpenCV DIS) is estimated on the frames as
    recovered, where the scene shows through: measured, not completed.

    Args:
        frames: ``(N, 3, h, w)`` float32 on the [0, 1] scale, frames as recovered (a crop
            around the overlay), ``N`` at least 1.
        clear: ``(N, 1, h, w)`` float32: per frame and pixel how much of the scene shows
            (``k``: 1 where nothing covers it, 0 where the value is a fill, not an observation).
        centre: the index of the frame to steady.
        cfg: the overlay settings (default: :class:`OverlayConfig`'s).

    Returns:
        ``(3, h, w)`` float32: frame ``centre`` steadied where ``clear`` is between 0 and 1
        (exclusive of 1), as it was elsewhere.
    """
    cfg = cfg or OverlayConfig()
    here = frames[centre]
    covered = (clear[centre] > 0) & (clear[centre] < 1)
    others = [s for s in range(len(frames)) if s != centre]
    if not others or not bool(covered.any()):
        return here
    pairs = torch.tensor([(centre, s) for s in others])
    flow = estimate_flow(to_uint8(frames.clamp(0, 1)), FlowConfig(method="dis", max_side=max(frames.shape[-2:])),
                         pairs=pairs)
    size = tuple(frames.shape[-2:])
    fwd, bwd = resize_flow(flow.fwd, size), resize_flow(flow.bwd, size)
    # each neighbour's values, clear share, flow back and coverage, brought onto the centre
    moved = warp_backward(torch.cat([frames[others], clear[others], bwd,
                                     torch.ones_like(clear[others])], 1), fwd, padding="zeros")
    there, clear_there = moved[:, :3], moved[:, 3:4]
    seen = ((fwd + moved[:, 4:6]).square().sum(1, keepdim=True) < 1.0) & (moved[:, 6:] > 0.999)
    seen &= (clear_there > 0) & (clear[centre] > 0)
    gain = 1 / clear[centre].clamp_min(1e-3).square()  # each value's noise variance, in J's units
    gain_there = 1 / clear_there.clamp_min(1e-3).square()
    spread = (there - here).square().mean(1, keepdim=True)
    noise = _noise(spread, gain + gain_there, seen)
    expected = (cfg.steady_level * noise) ** 2 * (gain + gain_there)
    w = seen / gain_there * torch.exp(-spread / (2 * expected.clamp_min(1e-12)))
    weight = clear[centre].square() + w.sum(0)
    total = here * clear[centre].square() + (there * w).sum(0)
    return torch.where(covered, total / weight.clamp_min(1e-12), here)


def _noise(spread: torch.Tensor, gains: torch.Tensor, seen: torch.Tensor) -> float:
    """The standard deviation of the noise of the frames as shown (``J``'s; [0, 1] scale), from
    how far the neighbours' views of points are from the centre's (``spread``, their squared
    difference, ``(N, 1, h, w)``, where ``seen``): that is the noise's variance times the two
    values' ``gains`` (their sum), plus what the flow gets wrong (a constant); fitted by least
    squares, the largest 5 % left out."""
    spread, gains = spread[seen], gains[seen]
    if spread.numel() < 16:
        return 0.0
    keep = spread <= spread.kthvalue(max(1, int(0.95 * spread.numel()))).values
    design = torch.stack([gains[keep], torch.ones_like(gains[keep])], 1).double()
    fitted = torch.linalg.lstsq(design, spread[keep].double()[:, None]).solution
    return float(fitted[0, 0].clamp_min(0).sqrt())
