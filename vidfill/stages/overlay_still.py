"""Overlay recovery on a locked-off shot: where nothing under the overlay changes, its opacity
and colour are chosen so that the scene continues across its edge without a step.

:func:`vidfill.stages.overlay.estimate_overlay` tells opacity from how much less the scene varies
under the overlay than in the fill; on a locked-off shot nothing varies, and one pixel alone
cannot separate ``J = a*W + (1 - a)*I`` into overlay and scene. What overlays are made of
decides instead: one colour ``W``, an opacity constant inside the shape, and a soft,
anti-aliased edge. The shape is the mask's: ``a = alpha * Phi((d - rim) / softness)``, ``d``
the distance inside the mask's edge (negative outside), ``Phi`` the normal CDF (a blurred step),
so the mask drawn around the overlay's soft edge gives the shape once its ``rim`` (how far
inside the mask the edge's middle lies) and ``softness`` are known. ``(rim, softness, alpha)``
of a grid (the shapes searched by descent, :func:`_local_search`; each at every coarse opacity,
then the best finely) are scored by how much of a step the recovered picture ``I = (J - a*W) / (1 -
a)`` keeps between neighbours, the difference of each pair weighed by their ``k = 1 - a``
(robust, L1-like, :func:`_step`): in J's own units, so that where ``a`` is constant the score is
J's own texture whatever the opacity (an unweighted score prefers low opacities, whose small gain
flattens the texture inside: 12-18 dB here), and only the rim, where ``a`` changes, tells the
candidates apart. ``W`` is fitted per candidate (it enters the differences linearly), kept a
colour in [0, 1]. Measured with truth (benchmarks/overlay.py's overlays over breakdance and over
held frames of car-roundabout, blackswan and tennis, 8 frames, PSNR in the overlay): lossless, the
logo 30.6-32.5 dB and the watermark 31.1-33.8 (composites 10.6-14.3); after x264 CRF 18 24.9-26.6
(the inversion by the true opacity and colour: 26.6-26.9, the chroma's 4:2:0) and 28.9-31.4
(docs/decisions.md). A text on a box (two layers, the text's shape not the mask's) is not this
model: it cannot decide there.

It cannot decide where the best fit is at an end of the opacity grid (nothing to take off, or an
opaque sign rather than an overlay), or where the overlay found lowers the step along the mask's
edge by less than :attr:`OverlayConfig.still_gain`: then it says so and the mask is filled.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import torch

from vidfill.config import OverlayConfig
from vidfill.stages.overlay import Overlay, _weight, mask_box

MARGIN = 5
"""Pixels around the mask's box whose pairs with the mask count (the farthest pair's reach): the
scene the recovery must continue."""
_ROBUST = 0.02
"""Scale of the robust (Charbonnier) step score, on the [0, 1] scale: differences above about 5
levels count linearly, so a scene edge here and there does not outweigh the rim."""
_REACH = (1, 3, 5)
"""Distances (pixels, along rows and columns) of the pairs scored: pairs that span the whole
soft edge judge the opacity by the step from the scene outside to the inside, whatever the
mask's guess of the edge's profile (neighbours alone: the logo 27.7 / 30.1 dB, with these
32.5 / 31.7 on breakdance / the held frame, lossless)."""
_PASSES = 6
"""Reweighted least-squares passes of each candidate's colour fit."""
_SCAN_PASSES = 3
"""... in the scan of every shape at coarse opacities."""
_RIMS = tuple(0.5 + 0.25 * i for i in range(11))
"""Where the edge's middle may lie inside the mask (pixels): a mask drawn at the soft edge's
foot, as the benchmark's and find-overlay's are, has it 1.5-2 px in."""
_SOFTNESS = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5)
"""Widths (Gaussian sigma, pixels) of the edge's blur tried."""
_FLAT = 1e-3
"""Standard deviation (per channel, [0, 1] scale) under which the mask holds one colour: a region
blanked out, not an overlay (whose soft edge alone varies more)."""
_SOFT_REACH = 8.0
"""Sigmas past which a blurred step is 1 to within 1e-15 (the normal CDF at 8)."""
_COARSE, _FINE = 0.04, 0.01
"""Opacity steps: the whole range coarsely for every shape, then finely about the best."""


def _pairs(inside: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices (two 1-D tensors) of the pairs of pixels :data:`_REACH` apart along the rows
    and the columns of an ``(h, w)`` grid with at least one end in ``inside``."""
    h, w = inside.shape
    index = torch.arange(h * w, device=inside.device).reshape(h, w)
    first = torch.cat([x for s in _REACH for x in (index[:, :-s].reshape(-1), index[:-s].reshape(-1))])
    second = torch.cat([x for s in _REACH for x in (index[:, s:].reshape(-1), index[s:].reshape(-1))])
    flat = inside.reshape(-1)
    keep = flat[first] | flat[second]
    return first[keep], second[keep]


def _step(j: tuple[torch.Tensor, torch.Tensor], a: tuple[torch.Tensor, torch.Tensor],
          flat: tuple[float, int] = (0.0, 0), passes: int = _PASSES) -> tuple[torch.Tensor, torch.Tensor]:
    """The colours ``W`` ``(A, 3)`` that best remove the step for each of ``A`` opacity maps, and
    their step scores ``(A,)``: the robust mean over the pairs of ``k_pair * |I(x) - I(y)|`` per
    channel, ``I = (J - a*W) / (1 - a)``. ``j``: ``J`` at the pairs' first and second ends,
    ``(3, m)`` each; ``a``: the opacities there, ``(A, m)`` each (gathered once by the caller,
    not per candidate). ``flat``: the sum and count of the terms of further pairs whose two ends
    have the same opacity in every map (:func:`_flat_terms`: their term is J's own difference,
    whatever ``W``). ``passes``: reweighted least-squares passes of the colour's fit."""
    (j1, j2), (a1, a2) = j, a
    k1, k2 = 1 - a1, 1 - a2
    k_pair = (k1 + k2) / 2
    # I = u - v*W at each end; the differences across each pair, weighed by the pair's k
    du = (j1[None] / k1[:, None] - j2[None] / k2[:, None]).mul_(k_pair[:, None])  # (A, 3, m)
    dv = (k_pair * (a1 / k1 - a2 / k2))[:, None]  # (A, 1, m)
    weight = None  # 1 everywhere in the first pass
    for _ in range(passes):
        weighted = dv if weight is None else weight * dv
        colour = ((weighted * du).sum(-1) / (weighted * dv).sum(-1).clamp_min(1e-12)).clamp(0, 1)
        terms = (du - dv * colour[..., None]).square_().add_(_ROBUST ** 2).sqrt_()
        weight = terms.reciprocal()
    total, count = flat
    score = (terms.sum((1, 2)) + total) / (terms[0].numel() + count)
    return colour, score


def _local_search(cost: Callable[[int, int], float], size: tuple[int, int]) -> tuple[int, int]:
    """The point ``(r, s)`` of a ``size`` grid with the lowest ``cost``, looked for as a descent:
    every other point of the grid, then the neighbours of the best until it stays the best; each
    point costed once. On the shapes' grid (11 x 7) it chose what the whole grid chooses on the
    32 locked-off benchmark cases with about a fifth of the scans (docs/decisions.md)."""
    costs: dict[tuple[int, int], float] = {}

    def look(r: int, s: int) -> None:
        if (r, s) not in costs and 0 <= r < size[0] and 0 <= s < size[1]:
            costs[r, s] = cost(r, s)

    for r in range(0, size[0], 2):
        for s in range(0, size[1], 2):
            look(r, s)
    best = None
    while best != (best := min(costs, key=costs.__getitem__)):
        for dr in (-1, 0, 1):
            for ds in (-1, 0, 1):
                look(best[0] + dr, best[1] + ds)
    return best


def _at(opacities: torch.Tensor, shape: torch.Tensor,
        pairs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The opacity maps ``opacities[:, None] * shape`` (``(A,)`` and ``(n,)``) at the pairs'
    first and second ends: ``(A, m)`` each."""
    return opacities[:, None] * shape[pairs[0]], opacities[:, None] * shape[pairs[1]]


def _flat_terms(j: torch.Tensor, pairs: tuple[torch.Tensor, torch.Tensor]) -> tuple[float, int]:
    """The sum and count of :func:`_step`'s terms over ``pairs`` where the opacity is the same at
    both ends (``k_pair * |I(x) - I(y)| = |J(x) - J(y)|``, no ``W`` in it)."""
    first, second = pairs
    return float((j[:, first] - j[:, second]).square().add(_ROBUST ** 2).sqrt().sum()), 3 * len(first)


def estimate_still_overlay(mean: torch.Tensor, mask: torch.Tensor,
                           cfg: OverlayConfig | None = None) -> tuple[Overlay | None, str]:
    """The overlay under ``mask`` on a locked-off shot, from the frames' temporal mean alone.

    Args:
        mean: ``(3, H, W)`` float on the [0, 1] scale, the frames' mean (noise averaged out).
        mask: ``(1, H, W)`` bool, the overlay's footprint, drawn around its soft edge.
        cfg: the overlay settings (default: :class:`OverlayConfig`'s).

    Returns:
        The :class:`Overlay` (``fit``: the share of the step along the mask's edge it removes)
        and a line saying what was found; or None and a line saying why it cannot decide.
    """
    cfg = cfg or OverlayConfig()
    if mean.ndim != 3 or mean.shape[0] != 3 or tuple(mask.shape) != (1, *mean.shape[-2:]) \
            or mask.dtype != torch.bool:
        raise ValueError(f"mean must be (3, H, W) and mask bool (1, H, W) of its size, got "
                         f"{tuple(mean.shape)} and {mask.dtype} {tuple(mask.shape)}")
    if not bool(mask.any()):
        return None, "the mask is empty"
    if float(mean[:, mask[0]].std(1).max()) < _FLAT:
        return None, "the mask covers one flat colour (a blanked region): nothing shows through it"
    box = mask_box(mask, MARGIN)[1:]
    inside = mask[box][0]
    j = mean[box].float().reshape(3, -1)
    m8 = inside.cpu().numpy().astype(np.uint8)
    depth = cv2.distanceTransform(m8, cv2.DIST_L2, 5) - cv2.distanceTransform(1 - m8, cv2.DIST_L2, 5)
    # distanceTransform gives the mask's edge pixels 1 (and the first outside pixels -1): its
    # edge runs halfway between them
    depth = torch.from_numpy(depth - np.sign(depth) * 0.5).to(j).reshape(-1)
    # Deeper than the softest, innermost edge tried reaches, every shape is 1 (to 1e-15): a pair
    # of two such pixels scores J's own difference for every candidate (and weighs nothing in
    # W's fit), summed once here: the search then costs the rim's pixels, not the mask's area.
    deep = (depth >= _RIMS[-1] + _SOFT_REACH * _SOFTNESS[-1]).reshape(inside.shape)
    every = _pairs(inside)
    level = deep.reshape(-1)[every[0]] & deep.reshape(-1)[every[1]]
    pairs = every[0][~level], every[1][~level]
    flat = _flat_terms(j, (every[0][level], every[1][level]))
    ends = j[:, pairs[0]], j[:, pairs[1]]
    top = cfg.still_max_opacity
    coarse = torch.arange(_COARSE, top + _COARSE / 2, _COARSE, dtype=j.dtype, device=j.device)
    found: dict[tuple[int, int], tuple[float, torch.Tensor]] = {}

    def cost(r: int, s: int) -> float:  # the shape of _RIMS[r], _SOFTNESS[s] at coarse opacities
        shape = torch.special.ndtr((depth - _RIMS[r]) / _SOFTNESS[s])
        _, score = _step(ends, _at(coarse, shape, pairs), flat, _SCAN_PASSES)
        i = int(score.argmin())
        found[r, s] = (float(coarse[i]), shape)
        return float(score[i])

    alpha, shape = found[_local_search(cost, (len(_RIMS), len(_SOFTNESS)))]
    fine = torch.arange(max(_FINE, alpha - _COARSE), min(top, alpha + _COARSE) + _FINE / 2, _FINE,
                        dtype=j.dtype, device=j.device)
    colours, scores = _step(ends, _at(fine, shape, pairs), flat)
    i = int(scores.argmin())
    alpha, colour, score = float(fine[i]), colours[i], float(scores[i])
    _, plain = _step(ends, _at(fine.new_zeros(1), shape, pairs), flat)  # no overlay
    gain = 1 - score / float(plain[0])
    if alpha >= top - _COARSE:
        return None, (f"the best fit is nearly opaque (opacity {alpha:.2f}): an opaque sign, not "
                      "an overlay the scene shows through")
    if gain < cfg.still_gain:
        return None, (f"an overlay of the mask's shape lowers the step along its edge by only "
                      f"{gain:.0%} (opacity {alpha:.2f})")
    h, w = mask.shape[-2:]
    a = torch.zeros(1, h, w, dtype=mean.dtype, device=mean.device)
    a[box] = torch.where(inside, alpha * shape.reshape(inside.shape), 0.0)[None].to(a)
    clear = 1 - a
    overlay = Overlay(clear, a * colour.to(a)[:, None, None], _weight(clear, cfg) * mask, fit=gain)
    return overlay, (f"the step along the mask's edge is {gain:.0%} lower with an overlay of "
                     f"opacity {alpha:.2f}, colour ({', '.join(f'{c:.2f}' for c in colour.tolist())})")


def completed(moving: Overlay, still: Overlay, mask: torch.Tensor,
              cfg: OverlayConfig | None = None) -> Overlay:
    """``moving`` (:func:`vidfill.stages.overlay.estimate_overlay`, from the scene's change)
    where the frames inform it, ``still`` (:func:`estimate_still_overlay`) where nothing changes,
    blended by ``moving.informed`` so that no seam runs between the two; the weight follows from
    the opacity blended (:attr:`OverlayConfig.opaque`, :attr:`OverlayConfig.clear`) inside
    ``mask`` ``(1, H, W)`` bool. All ``(C, H, W)`` on one device; ``moving.informed`` not None."""
    cfg = cfg or OverlayConfig()
    told = moving.informed
    clear = told * moving.clear + (1 - told) * still.clear
    colour = told * moving.colour + (1 - told) * still.colour
    return Overlay(clear, colour, _weight(clear, cfg) * mask, fit=moving.fit, informed=told)
