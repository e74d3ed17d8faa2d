"""The host-side shape tests of :func:`~vidfill.stages.find_overlay.find_overlay`, on one
``(H, W)`` map each, with OpenCV: which groups of persistent edges look like an overlay, and the
faint box behind an overlay's text.

**The box.** A channel bug's box at low opacity (0.2) is a step of 20 to 30 levels in one channel
only, and the scene seen through it moves: each frame's slope at its rim is mostly below the
persistent-edge level, and bridging the gaps of what is found leaks into the scene's edges. But
over a moving shot the temporal mean of the frames blurs the scene and keeps the box: a flat
offset ``a * (W - mean scene)`` with a sharp outline. Along a side of the box this step has the
same sign everywhere, so its median along the side stands out where the scene's steps, in all
directions, cancel. Each side of a box is looked for on its own, outward from the text's body,
as the line whose median step is largest; a side counts where the scene's spread just inside it
is lowered against just outside as under a faint overlay (not a followed subject, whose spread is
far lower).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

FindOverlayConfig = Any
"""The settings, :class:`vidfill.stages.find_overlay.FindOverlayConfig` (not imported: that
module imports this one)."""

_BODY_RADIUS = 2
"""The text's body is its closed shapes opened by this radius: the thin outline pieces of a box
found as edges (1 or 2 px wide) fall away, the closed-up strokes stay."""
_COVERED = 0.5
"""A line belongs to the body where the body covers this share of it; the box's side is looked
for beyond the outermost such line."""
_FOUND = 0.75
"""A side whose line the shapes found already cover this share of is a shape's own edge (a
logo's round rim: at 0.9 the logo over car-roundabout after CRF 18 grows to its square box, IoU
0.90 -> 0.72), not a box's: the bug's rim found in pieces covers less (at 0.6 it is missed on
car-roundabout, lossless)."""
_SKIP = 2
"""Lines skipped beyond the body: its own blurred edge's step."""
_TRIM = 0.2
"""Share of the body's extent left out at each end of a side: the box's rounded corners."""
_SPREAD_LINES = (2, 3, 4)
"""Lines (distance from the side) where the spread just inside and just outside it is taken."""
_RING = 4
"""Width of the ring just outside a box against which the spread inside it is judged."""


def disk(radius: int) -> np.ndarray:
    """An elliptic structuring element of the given radius, uint8."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def holes(shapes: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the background of ``shapes`` (uint8) that does not reach the frame's
    edge (4-connected), i.e. what the shapes enclose."""
    h, w = shapes.shape
    count, labels, stats, _ = cv2.connectedComponentsWithStats(1 - shapes, connectivity=4)
    inner = [label for label in range(1, count) if not _touches_border(stats[label], h, w)]
    return np.isin(labels, inner)


def _touches_border(stat: np.ndarray, h: int, w: int) -> bool:
    """Whether a component's bounding box (x, y, w, h, area) of OpenCV's statistics reaches the
    frame's edge."""
    x, y, bw, bh = stat[:4]
    return x == 0 or y == 0 or x + bw == w or y + bh == h


def overlay_like(shapes: np.ndarray, edges: np.ndarray, mean: np.ndarray, between: np.ndarray,
                  within: np.ndarray, num_frames: int, scene_change: float,
                  cfg: FindOverlayConfig) -> np.ndarray:
    """``(H, W)`` bool: the pixels of the groups of ``shapes`` (those within
    ``cfg.group_radius`` of each other) whose ``edges`` look like an overlay's:

    - **in several directions** (``cfg.min_isotropy``: smaller over larger eigenvalue of the
      structure tensor of their ``mean`` gradients). A scene edge that lies along the direction
      the scene moves (a kerb, a roof line in a pan) looks the same in every frame (the
      aperture problem); an overlay's shapes have edges across each other.
    - **the same all through the clip**: not both ``cfg.max_change`` times the scene's
      ``scene_change`` (the ratio of the ``between``- to the ``within``-blocks mean squares,
      summed over the group's edges: the F statistic of a one-way analysis of variance) and
      ``cfg.max_relative_change`` of their strength. An overlay's edge changes from block to
      block only by the scene seen through it, as the scene's own gradients do; a subject that
      the camera follows stays in place too, but turns and shifts.

    ``num_frames``: T, whose blocks ``between`` and ``within`` come from.
    """
    count, labels = cv2.connectedComponents(cv2.dilate(shapes, disk(cfg.group_radius)),
                                            connectivity=8)
    on = edges & (labels > 0)
    group = labels[on]

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values.astype(np.float64), minlength=count)

    gx, gy = mean[0][on], mean[1][on]
    xx, yy, xy = total(gx * gx), total(gy * gy), total(gx * gy)
    trace, det = xx + yy, xx * yy - xy * xy
    root = np.sqrt(np.maximum(trace * trace / 4 - det, 0))
    isotropy = (trace / 2 - root) / np.maximum(trace / 2 + root, 1e-12)
    change = total(between[on]) / np.maximum(total(within[on]), 1e-12)
    relative = _relative_change(labels, count, on, mean, between, num_frames, cfg.change_blocks)
    changes = (change > cfg.max_change * scene_change) & (relative > cfg.max_relative_change)
    keep = (isotropy >= cfg.min_isotropy) & ~changes
    keep[0] = False
    return keep[labels] & _steady_pieces(shapes, edges, mean, between, num_frames, cfg)


def _steady_pieces(shapes: np.ndarray, edges: np.ndarray, mean: np.ndarray,
                   between: np.ndarray, num_frames: int, cfg: FindOverlayConfig) -> np.ndarray:
    """``(H, W)`` bool: the pieces (8-connected) of ``shapes`` whose own ``edges`` change from
    block to block by at most ``cfg.max_shape_change`` of their strength (as in
    :func:`overlay_like`), judged on their own rather than with their group."""
    count, labels = cv2.connectedComponents(shapes, connectivity=8)
    on = edges & (labels > 0)
    relative = _relative_change(labels, count, on, mean, between, num_frames, cfg.change_blocks)
    edge_count = np.bincount(labels[on], minlength=count)
    keep = (relative <= cfg.max_shape_change) | (edge_count < cfg.min_piece_edges)
    keep[0] = False
    return keep[labels]


def _relative_change(labels: np.ndarray, count: int, on: np.ndarray, mean: np.ndarray,
                     between: np.ndarray, num_frames: int, blocks: int) -> np.ndarray:
    """Per label of ``labels`` (``count`` of them, 0 included): how much its edges ``on``
    ``(H, W)`` bool change from block to block relative to their strength, the mean square over
    the ``blocks`` blocks of (block mean - mean) (from the ``between``-blocks mean square, over
    ``num_frames`` frames) over the squared ``mean`` gradient ``(2, H, W)``, summed over them."""
    label = labels[on]
    moved = np.bincount(label, weights=between[on].astype(np.float64), minlength=count)
    strength = np.bincount(label, weights=(mean[:, on] ** 2).sum(axis=0).astype(np.float64),
                           minlength=count)
    return moved * (blocks - 1) / num_frames / np.maximum(strength, 1e-12)


def fill_enclosed(shapes: np.ndarray, edges: np.ndarray, spread: np.ndarray,
                  average: np.ndarray, cfg: FindOverlayConfig) -> None:
    """Fills, in place, what the ``shapes`` ``(H, W)`` uint8 enclose where the scene there is
    seen through an overlay (:func:`_seen_through`), and first empties what the closing of the
    shapes filled (pixels that are not ``edges`` ``(H, W)`` uint8 themselves) where the scene's
    spread there is not lowered at all: the narrow counters of a small text, the gap inside
    "(c". Only those: a thin stroke's middle, judged on a few pixels, is often not lowered by
    the ``cfg.fill_min_opacity`` that filling asks. The six benchmark overlays x three moving
    clips, lossless / CRF 18: the faint text 0.80 / 0.79, 0.80 / 0.83, 0.80 / 0.80 -> 0.81 /
    0.81, 0.82 / 0.84, 0.82 / 0.81 on car-roundabout, tennis, blackswan; the lower third on
    car-roundabout 0.78 / 0.73 -> 0.80 / 0.75; the watermark +0.003 to +0.011, the logo over
    blackswan +0.007; the logo over car-roundabout after CRF 18 0.94 -> 0.90 (its cut-out,
    whose rim is found in pieces, now joins the inside of the disc); no other change above
    0.002.

    Enclosed are the holes (the background components that do not reach the frame's edge) and
    what an outline encloses once its gaps are bridged (a box's rim is found in pieces where the
    scene behind is like it). Each is judged against the scene just outside that outline (the
    scene's spread varies from place to place: a frame-wide figure lets in the scene between
    far letters), from the luma's ``spread`` ``(H, W)`` and the frames' temporal mean
    ``average`` ``(3, H, W)``."""
    enclosing = shapes
    if cfg.gap_radius > 0:
        enclosing = cv2.morphologyEx(shapes, cv2.MORPH_CLOSE, disk(cfg.gap_radius))
    bridged = holes(enclosing)
    exterior = ~bridged & (enclosing == 0)
    seeds = bridged | holes(shapes)  # before the closing's fills are emptied: they open outlines
    reach = disk(2 * cfg.gap_radius + cfg.close_radius + 2)

    def seen(region: np.ndarray, min_opacity: float) -> bool | None:
        ring = (cv2.dilate(region.astype(np.uint8), reach) > 0) & exterior
        if not ring.any() or ring.sum() < region.sum() // 4:
            return None
        return _seen_through(region, ring, spread, average, min_opacity, cfg)

    closed = (shapes > 0) & (edges == 0)
    count, labels = cv2.connectedComponents(closed.astype(np.uint8), connectivity=4)
    for label in range(1, count):
        region = labels == label
        if seen(region, 0.0) is False:  # not lowered at all
            shapes[region] = 0
    inside = (bridged | (enclosing > 0)) & (shapes == 0)
    count, labels = cv2.connectedComponents(inside.astype(np.uint8), connectivity=4)
    for label in range(1, count):
        region = labels == label
        if (region & seeds).any() and seen(region, cfg.fill_min_opacity):  # not a bay between letters
            shapes[region] = 1


def _seen_through(region: np.ndarray, ring: np.ndarray, spread: np.ndarray,
                  average: np.ndarray, min_opacity: float, cfg: FindOverlayConfig) -> bool:
    """Whether the scene in ``region`` ``(H, W)`` bool is seen through an overlay, against the
    scene in ``ring`` ``(H, W)`` bool just outside: the luma's median ``spread`` lowered to at
    most ``1 - min_opacity`` times the ring's, or the median of the temporal mean ``average``
    ``(3, H, W)`` stepping by ``cfg.fill_min_step`` in some channel."""
    if float(np.median(spread[region])) <= (1 - min_opacity) * float(np.median(spread[ring])):
        return True
    return max(abs(float(np.median(a[region]) - np.median(a[ring]))) for a in average) >= \
        cfg.fill_min_step


def boxes(core: np.ndarray, mask: np.ndarray, average: np.ndarray, spread: np.ndarray,
          cfg: FindOverlayConfig) -> np.ndarray:
    """``(H, W)`` bool: the faint boxes found behind the groups of ``core`` (uint8, the closed
    persistent shapes kept as an overlay's), from the temporal mean of the frames ``average``
    ``(3, H, W)`` and the spread of the luma ``spread`` ``(H, W)``; ``mask`` ``(H, W)`` bool is
    what has been found so far. A group's box is kept where at least ``cfg.box_min_sides`` of its
    sides are found (the others stay at the body's edge) and the spread inside it, outside
    ``mask``, is at most ``cfg.box_max_spread`` times that in a ring just outside."""
    h, w = core.shape
    out = np.zeros((h, w), bool)
    count, labels = cv2.connectedComponents(cv2.dilate(core, disk(cfg.group_radius)),
                                            connectivity=8)
    opened = cv2.morphologyEx(core, cv2.MORPH_OPEN, disk(_BODY_RADIUS)) > 0
    for label in range(1, count):
        group = (labels == label) & (core > 0)
        body = group & opened
        if not body.any():
            body = group
        ys, xs = np.nonzero(body)
        x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
        trim_x, trim_y = int(_TRIM * (x1 - x0)), int(_TRIM * (y1 - y0))
        along_x, along_y = (x0 + trim_x, x1 + 1 - trim_x), (y0 + trim_y, y1 + 1 - trim_y)
        mid_y, mid_x = (y0 + y1) // 2, (x0 + x1) // 2
        # top, bottom (rows, axis 0), left, right (columns, axis 1)
        sides = [_side(average, body, mask, spread, centre, edge, sign, axis, span, cfg)
                 for centre, edge, sign, axis, span in ((mid_y, y0, -1, 0, along_x),
                                                        (mid_y, y1, 1, 0, along_x),
                                                        (mid_x, x0, -1, 1, along_y),
                                                        (mid_x, x1, 1, 1, along_y))]
        if sum(s is not None for s in sides) < cfg.box_min_sides:
            continue
        top, bottom, left, right = (b if s is None else s for s, b in zip(sides, (y0, y1, x0, x1)))
        rect = np.zeros((h, w), bool)
        rect[max(0, top):bottom + 1, max(0, left):right + 1] = True
        inside = rect & ~mask
        ring = (cv2.dilate(rect.astype(np.uint8), disk(_RING)) > 0) & ~rect & ~mask
        if inside.sum() and ring.sum() and float(np.median(spread[inside])) <= \
                cfg.box_max_spread * float(np.median(spread[ring])):
            out |= rect
    return out


def _side(average: np.ndarray, body: np.ndarray, mask: np.ndarray, spread: np.ndarray,
          centre: int, edge: int, sign: int, axis: int, span: tuple[int, int],
          cfg: FindOverlayConfig) -> int | None:
    """One side of a box: the row (``axis`` 0) or column (1) beyond the ``body``'s outermost
    line from ``centre`` in direction ``sign`` (up to ``cfg.box_reach`` past its ``edge``), over
    positions ``span`` along it, where the median step of ``average`` across the line is largest,
    moved out by one line (the blurred rim's outer half). None where that step is below
    ``cfg.box_min_step`` or ``cfg.box_contrast`` times the median over the lines searched, or
    where the ``spread`` just inside the line over just outside (``mask`` left out) is not
    between ``1 - cfg.box_max_opacity`` and ``cfg.box_max_side_spread``."""
    limit = average.shape[1 + axis]
    lo, hi = span

    def line(image: np.ndarray, p: int) -> np.ndarray:
        return image[..., p, lo:hi] if axis == 0 else image[..., lo:hi, p]

    lines = [p for p in range(centre, edge + sign * (cfg.box_reach + 1), sign)
             if _SPREAD_LINES[-1] <= p < limit - _SPREAD_LINES[-1]]
    covered = [i for i, p in enumerate(lines) if line(body, p).mean() >= _COVERED]
    start = covered[-1] + 1 + _SKIP if covered else 0
    candidates = [p for p in lines[start:] if sign * (p - edge) >= -cfg.box_reach]
    if len(candidates) < 3:
        return None
    steps = np.array([np.abs(np.median(line(average, p + 1) - line(average, p - 1),
                                       axis=-1)).max() for p in candidates])
    best = int(np.argmax(steps))
    if steps[best] < cfg.box_min_step or steps[best] < cfg.box_contrast * np.median(steps):
        return None
    p = candidates[best]
    if line(mask, p).mean() >= _FOUND:  # found already: the shape's own edge, not a box's
        return None
    inner = [line(spread, p - sign * k)[~line(mask, p - sign * k)] for k in _SPREAD_LINES]
    outer = [line(spread, p + sign * k)[~line(mask, p + sign * k)] for k in _SPREAD_LINES]
    inner, outer = np.concatenate(inner), np.concatenate(outer)
    if not len(inner) or not len(outer):
        return None
    ratio = float(np.median(inner)) / max(float(np.median(outer)), 1e-6)
    if not 1 - cfg.box_max_opacity <= ratio <= cfg.box_max_side_spread:
        return None
    return p + sign
