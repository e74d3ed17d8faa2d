"""Find burnt-in static overlays (logos, channel bugs, watermarks): what stays put while the
scene moves.

An overlay composited at a fixed place is ``J_t = a*W + (1 - a)*I_t`` per pixel, with opacity
``a`` and colour ``W`` the same in every frame. Dekel et al. ("On the Effectiveness of Visible
Watermarks", CVPR 2017) find such a watermark in a collection of images from the temporal median
of their gradients, which keeps the watermark's edges and cancels the images' own; the frames of
a clip are such a collection, and here:

1. **Edges that persist.** Per pixel and channel, each frame's gradient component along the
   other frames' mean gradient must stay above :attr:`FindOverlayConfig.edge_level` in all but
   :attr:`~FindOverlayConfig.persist_quantile` of the frames (stricter than the median: a scene
   edge that a passing subject hides for a while fails it).
2. **Shapes.** The persistent edges are closed up (the strokes of text between their two
   edges), grouped with their neighbours, and a group is kept only if it looks like an overlay:
   its edges run in several directions (a kerb or a roof line that a pan slides along itself
   persists too: the aperture problem), and they do not change from one block of frames to
   the next both more than the scene's own motion explains and by a fair share of their
   strength (a subject that the camera follows stays in place too, but turns and shifts).
   Weaker persistent edges next to a kept shape join it (the soft rim); holes that a shape
   encloses (also those enclosed once gaps in an outline are bridged) are filled where the
   scene's spread inside is lowered against just outside, or where the frames' temporal mean
   inside stands out from just outside (a dense overlay over a busier part of the scene); the
   counters of letters and a logo's cut-outs, which show the scene as around them, stay out.
   A faint box behind a text, whose rim does not persist as an edge in each frame, is found in
   the temporal mean of the frames, which blurs the moving scene and keeps the box's sharp
   outline (:func:`~vidfill.stages.overlay_shapes.boxes`).
3. **The scene must move.** Where the scene holds still (a locked-off shot's background), its
   edges persist as an overlay's do and the two cannot be told apart. A clip whose textured
   picture does not (nearly) all move is refused with one line saying so, rather than returned
   with the scene's edges in the mask or an empty one.
4. **Opacity.** The temporal spread of ``J`` is that of the scene times ``1 - a``, so
   ``a = 1 - spread / spread around``, the spread the scene would have under the mask
   interpolated from around it: a rough estimate (the scene's spread varies from place to
   place).

Everything but the shape clean-up runs on the frames' device, in bands of rows so that memory
stays bounded (:attr:`FindOverlayConfig.band_pixels`); the clean-up (a few morphological
operations on one ``(H, W)`` map) runs on the host with OpenCV. At 432x240, 60 frames: about 2 s
on 2 CPU cores (0.03 s/frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import cv2
import numpy as np
import torch

from vidfill.config import Checked, setting
from vidfill.errors import VidfillError
from vidfill.stages.holes import smooth_fill
from vidfill.stages.overlay_shapes import boxes, disk, fill_enclosed, overlay_like
from vidfill.types import check_frames


@dataclass(frozen=True)
class FindOverlayConfig(Checked):
    """Settings of :func:`find_overlay`. Levels are on the 0..255 scale of 8-bit frames, slopes
    in levels per pixel (normalised 3x3 Sobel); lengths are pixels at the frames' size. The
    measurements quoted are on the shared DAVIS clips at 432x240, 32 frames."""

    SECTION: ClassVar[str] = "find_overlay"

    min_frames: int = setting(16, ge=4)
    """Fewest frames: the quantile over time needs several (the synthetic busy texture of the
    tests under a text at opacity 0.5: IoU 0.22, 0.52, 0.78, 0.88 with 8, 12, 16, 24 frames)."""
    still_level: float = setting(3.0, gt=0.0)
    """A pixel moves when its luma's mean absolute deviation from its temporal median is above
    this (levels). A still frame with noise of 2 levels: 1.6; a JPEG-compressed still background
    (breakdance's building) mostly below 2."""
    texture_level: float = setting(3.0, gt=0.0)
    """A pixel is textured (would show that it moves) where its luma's mean slope over time is
    above this (levels/px); flat sky or road shows nothing either way and is left out of the
    share below."""
    min_moving_share: float = setting(0.9, ge=0.0, le=1.0)
    """The scene must move: at least this share of the textured picture, else the camera holds
    still and overlay and scene cannot be told apart (a still background's edges persist as an
    overlay's do): refused. Measured: a still frame repeated with noise 0.00; breakdance
    (locked-off camera, a dancer and a swaying crowd before a still building) 0.66; moving
    cameras: the demo's pan over a smooth scene 0.96, car-roundabout 0.99, tennis, blackswan,
    dogs-jump and running_car 0.996 to 1.00."""
    persist_quantile: float = setting(0.2, gt=0.0, lt=0.5)
    """The overlay's edge must be there in at least ``1 - this`` of the frames: the quantile over
    time of each frame's gradient along the other frames' mean direction must stay above
    ``edge_level``. A scene edge that a passing subject hides for longer does not count. Looser
    (0.3, 0.4) lets the busy scenes' own edges in (IoU at opacity 0.5 down to 0.6 and 0.1 on
    blackswan); stricter loses the text where the scene behind is as bright as it."""
    edge_level: float = setting(4.0, gt=0.0)
    """Persistent slope of an overlay's edge (levels/px). Text at opacity 0.5 on car-roundabout:
    13 median, 4 at the 10th percentile of its edges; the moving scene's own: 99th percentile 7
    (a tracked car's edges, horizontal kerbs: rejected by shape, see ``max_change``)."""
    soft_edge_level: float = setting(2.0, gt=0.0)
    """A weaker persistent slope that joins a found shape within ``soft_radius`` (hysteresis,
    as in Canny's detector): the soft, blurred rim of the overlay."""
    soft_radius: int = setting(3, ge=0, pixels=True)
    """How far (pixels, through weak edges) the rim may reach out from the shapes."""
    close_radius: int = setting(3, ge=0, pixels=True)
    """Morphological closing: joins the two edges of a stroke and the pieces of a glyph."""
    group_radius: int = setting(8, ge=0, pixels=True)
    """Shapes this close together are judged together (the letters of a word, a logo's parts):
    a single straight stroke (an "l") has edges in one direction only."""
    min_isotropy: float = setting(0.05, ge=0.0, le=1.0)
    """A group's edges must run in several directions: the smaller eigenvalue of the structure
    tensor of their mean gradients at least this share of the larger (text: 0.36 to 0.85; the
    kerbs and court lines that a pan slides along themselves: 0.001 to 0.03). Boxes longer than
    about 20 times their height (a full-width ticker) fail it too."""
    change_blocks: int = setting(4, ge=2)
    """Consecutive blocks of frames whose mean gradients are compared (see ``max_change``)."""
    max_change: float = setting(2.0, gt=0.0)
    """A group's edges must be the same all through the clip: the F statistic of their gradient
    between the ``change_blocks`` blocks (the between- over the within-blocks mean square) at
    most this many times the scene's own (which is above 1 because frames close in time are
    alike, and grows with their number: 1.4 to 2.7 on the moving shots). Text at opacity 0.2 to
    0.8 over three moving shots, 32 and 60 frames: 0.4 to 1.2 times the scene's; the car that
    car-roundabout's camera follows: 2.6 to 3.9."""
    max_relative_change: float = setting(0.1, gt=0.0)
    """... and by more than this share of their strength: the mean square over the blocks of
    (block's mean gradient - mean gradient) over the squared mean gradient, summed over the
    group's edges. The followed car: 0.17 to 0.3; the demo's watermark over a smooth background
    that slides under it, whose F is high (2.6 times the scene's) because the scene's own
    frame-to-frame scatter there is tiny: 0.013."""
    max_shape_change: float = setting(0.25, gt=0.0)
    """A shape (one closed piece) whose own edges change from block to block by more than this
    share of their strength (the measure of ``max_relative_change``) is dropped even where its
    group passes: a followed subject next to (within ``group_radius`` of) an overlay is judged
    with it, and the overlay's many steady edges outweigh its few. Pieces of at least 20 edge
    pixels over the six benchmark overlays x three moving clips, lossless and CRF 18: the
    overlays' own 0.003 to 0.22 (the logo over car-roundabout's building the highest), the car
    that car-roundabout's camera follows 0.12 to 0.55. IoU on car-roundabout (32 frames,
    lossless / CRF 18): the lower third 0.68 / 0.67 -> 0.79 / 0.76, the watermark 0.60 / 0.55 ->
    0.72 / 0.65 (most of the car that remains is one piece with the word); no other case of
    the six overlays x three clips changed."""
    min_piece_edges: int = setting(100, ge=1)
    """Pieces with fewer edge pixels than this are not judged on their own (``max_shape_change``):
    a few dozen edges of a true overlay change by up to 0.33 of their strength."""
    fill_min_opacity: float = setting(0.1, ge=0.0, le=1.0)
    """An enclosed hole is filled when the scene's spread inside is at most ``1 - this`` times
    that just outside the outline that encloses it (the inside of a semi-transparent box or a
    thick stroke; not an empty outline), against that place's spread, not a frame-wide figure:
    the badge's inside between its rim and its text was most of the ring around the shapes.
    Small holes too: filling every hole up to 0.2% of the frame filled the counters of letters
    and the cut-out of the logo, which the overlay does not cover (the logo's IoU, lossless /
    CRF 18: car-roundabout 0.92 / 0.90 -> 0.97 / 0.94, blackswan 0.93 / 0.91 -> 0.98 / 0.95,
    tennis 0.905 / 0.878 -> 0.905 / 0.899)."""
    fill_min_step: float = setting(60.0, gt=0.0)
    """... or when its temporal mean colour (the moving scene blurred, an overlay's colour
    kept) differs from that just outside the outline by at least this (levels, the median in
    the channel where it differs most): a dense overlay over a busier part of the scene than
    around it, whose spread inside is still higher (the badge on tennis, opacity 0.5 under
    opaque text: spread 1.25 times that outside, a step of 68). Over the six benchmark
    overlays x three moving clips, lossless and CRF 18, the enclosed regions that the spread
    test leaves: inside an overlay steps of 58 to 110, the scene's own (counters, a logo's
    cut-out, bays between letters) 2 to 54, and two of 20 to 30 px (within the watermark over
    blackswan) 69 and 81."""
    gap_radius: int = setting(8, ge=0, pixels=True)
    """Gaps in an outline up to about twice this are bridged when looking for what it encloses
    (the rim of a box at opacity 0.5 over a scene of its own colour is found in pieces): what
    the bridged outline encloses is filled where the spread test above passes against the
    scene just outside it. Benchmark overlays x the three moving clips, lossless and CRF 18:
    the partly opaque badge's IoU 0.51, 0.49 (not bridged) -> 0.79, 0.94 (6) -> 0.98, 0.94
    (8) on car-roundabout, the lower third's after CRF 18 on blackswan 0.51 -> 0.92 -> 0.95;
    at 8 the letters of a large word over the followed car (a false shape already) take in
    more of it (0.63 -> 0.54)."""
    box_reach: int = setting(16, ge=0, pixels=True)
    """How far beyond the body of a group's shapes (its closed strokes) each side of a faint box
    behind them is looked for, in the temporal mean of the frames (see
    :mod:`vidfill.stages.overlay_shapes`): the channel bug's box lies 8 to 10 px beyond its
    text. 0: no box is looked for. At 12 the bug's box is missed on blackswan (IoU 0.56 / 0.53,
    lossless / CRF 18, as without); at 24 the lower third's on car-roundabout takes in more of the
    followed car (0.79 -> 0.78)."""
    box_min_step: float = setting(6.0, gt=0.0)
    """A box's side is a step of at least this (levels) in the temporal mean of the frames: the
    median along the side of the difference across it, in the channel where it is largest. The
    channel bug's box (opacity 0.2): 9 to 24; its value (4 to 9) changes no benchmark case."""
    box_contrast: float = setting(2.0, gt=0.0)
    """... and at least this many times the median of the steps over the lines searched (the
    scene's, which the mean over a moving shot blurs; the bug's box: 2.5 to 9 times). At 1.5 the
    lower third on car-roundabout takes in more of the followed car (IoU 0.79 -> 0.78); at 3 the
    bug's box is missed on 4 of its 6 cases."""
    box_max_opacity: float = setting(0.5, gt=0.0, lt=1.0)
    """A box's side counts only where the luma's spread just inside it over just outside is at
    least ``1 - this``: an overlay's box this faint (a stronger one's rim persists as an edge) and
    not the car that car-roundabout's camera follows, whose spread is far lower (0.23 to 0.42
    against the sides found around it; at 0.6 the watermark's IoU there falls from 0.72 to
    0.41). The bug's box: 0.57 to 0.91."""
    box_max_side_spread: float = setting(0.92, gt=0.0)
    """... and at most this: the scene seen through the box spreads less (the bug's box, opacity
    0.2: 0.57 to 0.91; the scene's own lines found beyond a text: mostly above 0.93, but down
    to 0.8). At 0.9 the bug's box is missed on blackswan (IoU 0.56 / 0.53, lossless / CRF 18); at
    0.95 the lower third on car-roundabout takes in more of the followed car (0.79 -> 0.75)."""
    box_min_sides: int = setting(2, ge=1, le=4)
    """Fewest sides found for a box to count (the others stay at the body's edge: a text close to
    a side of its box reaches it in the closed shapes). At 3 the bug's box on car-roundabout,
    lossless, is missed (its text reaches two sides)."""
    box_max_spread: float = setting(0.95, gt=0.0)
    """A box counts where the luma's median spread inside it (outside what was found before) is
    at most this many times that in a ring just outside it (the bug's box: 0.72 to 0.9). The
    IoU of the channel bug (text at opacity 0.5 on a box at 0.2) on car-roundabout, tennis and
    blackswan, lossless / CRF 18, 32 frames: 0.57 / 0.39, 0.47 / 0.39, 0.56 / 0.53 without the
    box; with it 0.94 / 0.92, 0.96 / 0.98, 0.95 / 0.98. The other five benchmark overlays are
    unchanged but for the lower third on car-roundabout, lossless (0.793 -> 0.783: a box around a
    piece of the followed car). The figures of the settings above that quote a change were
    measured on a prototype that also let a side lie on an edge already found (see
    ``_FOUND`` in :mod:`vidfill.stages.overlay_shapes`)."""
    min_area: float = setting(0.0002, ge=0.0, le=1.0)
    """Shapes smaller than this share of the frame are dropped (isolated noise)."""
    grow: int = setting(0, ge=0, pixels=True)
    """Pixels the shapes grow by at the end. 0: the rim found by hysteresis already covers
    where the overlay's opacity is above 0.02 (IoU 0.86 to 0.93 at opacity 0.5; growing by 1
    lowers it by 0.05 to 0.1); ``vidfill --dilate`` grows the mask when filling."""
    max_share: float = setting(0.4, gt=0.0, le=1.0)
    """A mask larger than this share of the frame is not an overlay found but the scene holding
    still: refused, not returned."""
    band_pixels: int = setting(1 << 16, ge=1)
    """Pixels (rows x width) per band of rows worked on at a time, so that memory does not grow
    with the frame size: about 9 float32 copies of ``T x 3`` of them are held at once (60
    frames: 0.4 GB)."""


@dataclass(frozen=True)
class FoundOverlay:
    """What :func:`find_overlay` found."""

    mask: torch.Tensor
    """(1, H, W) bool, on the frames' device: True on the overlay."""
    alpha: torch.Tensor
    """(1, H, W) float32 in [0, 1], on the frames' device: rough opacity, 0 outside the mask."""
    box: tuple[int, int, int, int]
    """(x0, y0, x1, y1) of the mask, x1 and y1 exclusive."""
    share: float
    """Share of the frame that the mask covers."""
    opacity: float
    """Mean of ``alpha`` over the mask."""
    peak_opacity: float
    """90th percentile of ``alpha`` over the mask (the mean counts the soft rim too)."""
    moving_share: float
    """Share of the textured picture that moves."""
    num_frames: int
    """Frames the search looked at."""


def find_overlay(frames: torch.Tensor,
                 cfg: FindOverlayConfig = FindOverlayConfig()) -> FoundOverlay:
    """The mask of the static overlays burnt into ``frames``.

    Args:
        frames: ``(T, 3, H, W)`` uint8 RGB (float in [0, 1] is taken too), any device; a few
            dozen frames spread over the shot suffice.
        cfg: the thresholds.
    Returns:
        :class:`FoundOverlay`, its tensors on the frames' device.
    Raises:
        VidfillError: fewer than ``cfg.min_frames`` frames; the clip holds (nearly) still, so
            that overlay and scene cannot be told apart; nothing stays put over the moving
            scene (no overlay); or what stays put covers more than ``cfg.max_share``.
    """
    t, h, w = check_frames(frames)
    if t < cfg.min_frames:
        raise VidfillError(f"finding an overlay needs at least {cfg.min_frames} frames, got {t}")
    maps = _maps(frames, cfg)
    moving = maps.spread > cfg.still_level
    textured = maps.texture > cfg.texture_level
    scene = moving & textured
    moving_share = float(scene.sum()) / max(1, int(textured.sum()))
    if moving_share < cfg.min_moving_share:
        raise VidfillError(
            f"the scene holds still in {100 * (1 - moving_share):.0f}% of its textured picture "
            f"over {t} frames (a locked-off camera?): an overlay cannot be told from the scene's "
            "own still edges; draw its mask by hand")
    # the change from block to block that the scene's own motion gives (frames close in time
    # are alike, so it is above the 1 of independent frames, and grows with their number)
    scene_change = float(maps.between[scene].sum() / maps.within[scene].sum().clamp_min(1e-6))
    strong = maps.persist > cfg.edge_level
    weak = maps.persist > cfg.soft_edge_level
    mask = _shapes(*(x.cpu().numpy() for x in (strong, weak, maps.spread, maps.mean, maps.between,
                                                maps.within, maps.average)),
                   t, max(scene_change, 1.0), cfg)
    share = float(mask.mean())
    if share == 0:
        raise VidfillError(f"no overlay found: nothing stays put over the moving scene (looked "
                           f"at {t} frames)")
    if share > cfg.max_share:
        raise VidfillError(
            f"{100 * share:.0f}% of the frame stays put, more than an overlay covers "
            f"({100 * cfg.max_share:g}%): the scene holds still there and cannot be told from an "
            "overlay; draw its mask by hand")
    mask_t = torch.from_numpy(mask).to(frames.device)
    alpha = _opacity(maps.spread, mask_t)
    inside = alpha[mask_t]
    ys, xs = np.nonzero(mask)
    return FoundOverlay(mask=mask_t[None], alpha=alpha[None],
                        box=(int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1),
                        share=share, opacity=float(inside.mean()),
                        peak_opacity=float(torch.quantile(inside, 0.9)),
                        moving_share=moving_share, num_frames=t)


@dataclass(frozen=True)
class _Maps:
    """Per-pixel statistics of the clip, each ``(H, W)`` or ``(2, H, W)`` float32."""

    persist: torch.Tensor
    """(H, W): the persistent slope, levels/px: the ``persist_quantile`` over time of each
    frame's gradient component along the direction of the other frames' mean gradient, in the
    channel where it is largest."""
    spread: torch.Tensor
    """(H, W): the temporal spread of the luma, levels: its mean absolute deviation from its
    temporal median."""
    texture: torch.Tensor
    """(H, W): the luma's mean slope over time, levels/px."""
    mean: torch.Tensor
    """(2, H, W): the mean gradient (x, y) over time, in that channel."""
    between: torch.Tensor
    """(H, W): in that channel, how much the mean gradient differs between the
    ``change_blocks`` consecutive blocks of frames: the between-blocks mean square (summed
    over x and y) of a one-way analysis of variance."""
    within: torch.Tensor
    """(H, W): the within-blocks mean square of the same (the frame-to-frame scatter)."""
    average: torch.Tensor
    """(3, H, W): the temporal mean of the frames, levels (a moving scene blurred in it, an
    overlay sharp)."""


_LUMA = (0.299, 0.587, 0.114)
"""Rec. 601 weights of R, G, B in the luma whose spread is measured."""


def _maps(frames: torch.Tensor, cfg: FindOverlayConfig) -> _Maps:
    """The :class:`_Maps` of ``frames`` ``(T, 3, H, W)``, computed in bands of rows (with one
    row of halo each side for the 3x3 Sobel, replicated at the frame's edge)."""
    t, _, h, w = frames.shape
    k = max(1, math.ceil(cfg.persist_quantile * t))
    rows = max(1, cfg.band_pixels // w)
    persist, spread, texture, between, within = (torch.empty(h, w, device=frames.device)
                                                  for _ in range(5))
    mean = torch.empty(2, h, w, device=frames.device)
    average = torch.empty(3, h, w, device=frames.device)
    scale = 255.0 if frames.dtype.is_floating_point else 1.0
    luma = torch.tensor(_LUMA, device=frames.device)[:, None, None]
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        a0, a1 = max(0, r0 - 1), min(h, r1 + 1)
        band = frames[:, :, a0:a1].float() * scale  # (T, 3, b, W)
        gx, gy = _sobel(band)
        inner = slice(r0 - a0, r1 - a0)
        gx, gy = gx[:, :, inner], gy[:, :, inner]  # (T, 3, rows, W)
        average[:, r0:r1] = band[:, :, inner].mean(dim=0)
        # each frame's gradient along the mean direction of the other frames' (its own left out,
        # or it would lean that way by itself: few frames of a busy scene would look persistent)
        ox, oy = gx.sum(dim=0) - gx, gy.sum(dim=0) - gy  # (T, 3, rows, W)
        along = (gx * ox + gy * oy) / torch.sqrt(ox * ox + oy * oy).clamp_min(1e-6)
        low, channel = along.kthvalue(k, dim=0).values.max(dim=0)  # (rows, W)
        persist[r0:r1] = low
        pick = channel.expand(t, 1, -1, -1)
        grad = torch.stack([gx.gather(1, pick)[:, 0], gy.gather(1, pick)[:, 0]], dim=1)
        mean[:, r0:r1] = grad.mean(dim=0)  # grad: (T, 2, rows, W)
        between[r0:r1], within[r0:r1] = _anova(grad, cfg.change_blocks)
        y = (band * luma).sum(dim=1)  # (T, b, W)
        yx, yy = _sobel(y)
        texture[r0:r1] = torch.sqrt(yx * yx + yy * yy)[:, inner].mean(dim=0)
        y = y[:, inner]
        spread[r0:r1] = (y - y.median(dim=0).values).abs().mean(dim=0)
    return _Maps(persist=persist, spread=spread, texture=texture, mean=mean, between=between,
                 within=within, average=average)


def _anova(grad: torch.Tensor, blocks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Between- and within-blocks mean squares ``(rows, W)`` each of ``grad`` ``(T, 2, rows, W)``
    split into ``blocks`` consecutive blocks of frames, summed over the two components."""
    t = grad.shape[0]
    parts = torch.tensor_split(grad, blocks, dim=0)
    grand = grad.mean(dim=0)
    between = sum(len(p) * (p.mean(dim=0) - grand) ** 2 for p in parts) / (blocks - 1)
    within = sum(((p - p.mean(dim=0)) ** 2).sum(dim=0) for p in parts) / (t - blocks)
    return between.sum(dim=0), within.sum(dim=0)


def _sobel(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised 3x3 Sobel slopes (levels/px, as kornia's ``spatial_gradient(normalized=True)``)
    of ``(..., b, W)`` float32, replicated at the borders: ``(gx, gy)``, each shaped as ``x``."""
    p = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
    dx = p[..., :, 2:] - p[..., :, :-2]
    dy = p[..., 2:, :] - p[..., :-2, :]
    gx = (dx[..., :-2, :] + 2 * dx[..., 1:-1, :] + dx[..., 2:, :]) / 8
    gy = (dy[..., :, :-2] + 2 * dy[..., :, 1:-1] + dy[..., :, 2:]) / 8
    return gx, gy


def _shapes(strong: np.ndarray, weak: np.ndarray, spread: np.ndarray, mean: np.ndarray,
            between: np.ndarray, within: np.ndarray, average: np.ndarray, num_frames: int,
            scene_change: float, cfg: FindOverlayConfig) -> np.ndarray:
    """The persistent edges closed up into shapes, ``(H, W)`` bool.

    The ``strong`` edges ``(H, W)`` bool are closed; groups of shapes are kept only if their
    edges look like an overlay's (:func:`~vidfill.stages.overlay_shapes.overlay_like`, from the ``mean`` gradient
    ``(2, H, W)`` and the ``between`` and ``within`` mean squares ``(H, W)`` over
    ``num_frames`` frames, against the scene's ``scene_change``); the ``weak``
    edges ``(H, W)`` bool connected to them within ``cfg.soft_radius`` join (hysteresis, as in
    Canny's detector: the soft edge); what the shapes enclose is filled, and what the closing
    filled is emptied again, as the scene there is seen through an overlay or not (from the
    ``spread`` ``(H, W)`` and ``average``: :func:`~vidfill.stages.overlay_shapes.fill_enclosed`);
    small shapes are dropped; the faint box
    behind a group is added where the temporal mean of the frames ``average`` ``(3, H, W)``
    shows its sides (:func:`~vidfill.stages.overlay_shapes.boxes`); the rest is grown by
    ``cfg.grow``.
    """
    h, w = strong.shape
    shapes = strong.astype(np.uint8)
    if cfg.close_radius > 0:
        shapes = cv2.morphologyEx(shapes, cv2.MORPH_CLOSE, disk(cfg.close_radius))
    shapes &= overlay_like(shapes, strong, mean, between, within, num_frames, scene_change,
                           cfg).astype(np.uint8)
    if not shapes.any():
        return shapes > 0
    core = shapes.copy()
    soft = weak.astype(np.uint8)
    for _ in range(cfg.soft_radius):
        shapes |= cv2.dilate(shapes, disk(1)) & soft
    fill_enclosed(shapes, soft, spread, average, cfg)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(shapes, connectivity=8)
    small = [label for label in range(1, count) if stats[label, 4] < cfg.min_area * h * w]
    if small:
        shapes[np.isin(labels, small)] = 0
    if cfg.box_reach > 0:  # the faint box behind a text, from the frames' temporal mean
        shapes[boxes(core, shapes > 0, average, spread, cfg)] = 1
    if cfg.grow > 0:
        shapes = cv2.dilate(shapes, disk(cfg.grow))
    return shapes > 0


def _opacity(spread: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Rough opacity ``(H, W)`` float32: ``1 - spread / spread around``, the scene's spread under
    the mask interpolated from outside it (push-pull); 0 outside the mask."""
    around = smooth_fill(spread[None, None], mask[None, None])[0, 0]
    alpha = (1 - spread / around.clamp_min(1e-6)).clamp(0, 1)
    return torch.where(mask, alpha, torch.zeros_like(alpha))
