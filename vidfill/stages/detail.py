"""Where the camera holds still: each frame's own fill, and detail over it.

Where the camera holds still through a run of frames and the hole does not move, what lies
behind the hole is never shown, and what propagation did not reach is invented. The keyframe
rounds invent it once, in a keyframe, and carry it along the completed flow; but inside a
still hole that flow follows whatever crosses the hole (a dancer), so the keyframe's fill is
dragged into a smear. :func:`fill_each_still_frame` gives every frame of such a run its own
fill instead: the harmonic membrane, from that frame's surroundings, which are the same in
every frame where nothing moves (no flicker) and show the crossing where something does.

The pixels that no frame shows get the keyframe inpainter's membrane: right in the mean, but a
smudge where the scene has texture (a crowd, foliage, grain). Where the camera holds still (or
drifts slowly) through a run of frames, this stage adds detail to them: each such pixel takes,
in every frame of the run, the detail (the frame minus a Gaussian blur) of one fixed place
around the hole whose smooth surroundings match the fill's there. The places are found once per
run, by PatchMatch on the smooth layer of the run's middle frame, among places whose flow
follows the camera's in every pair of the run (no moving foreground passes over them). Because
the source of a pixel is the same place in every frame, the copied detail lives as the scene
does there (its grain, the camera's drift) and does not crawl; averaged over a few frames
around each (``detail.frames_around``), its frame-to-frame noise does not flicker either.
Invented pixels whose own (completed) flow does not follow the camera, where something crosses
the hole, are left as they are: static detail would not follow the motion there.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from vidfill.config import DetailConfig, PatchMatchConfig
from vidfill.stages.patch_search import matched_sources, smooth_layer
from vidfill.stages.holes import hole_box
from vidfill.types import stored, to_float


def still_runs(flow_fwd: torch.Tensor, small_hole: torch.Tensor, frame_width: int,
               still_px: float) -> list[slice]:
    """Runs of at least two consecutive frames between which the camera holds still.

    Args:
        flow_fwd: ``(T-1, 2, h, w)`` flow t -> t+1 at working size.
        small_hole: ``(T, 1, h, w)`` bool, the holes at that size (their flow is not evidence).
        frame_width: the frames' width, to measure the flow in their pixels.
        still_px: a pair is still when the median flow magnitude outside both holes is below this.
    """
    scale = frame_width / flow_fwd.shape[-1]
    outside = ~(small_hole[:-1] | small_hole[1:])[:, 0]
    magnitude = flow_fwd.norm(dim=1) * scale
    still = [bool(outside[p].any()) and float(magnitude[p][outside[p]].median()) < still_px
             for p in range(flow_fwd.shape[0])]
    runs, start = [], None
    for p, is_still in enumerate(still + [False]):
        if is_still and start is None:
            start = p
        elif not is_still and start is not None:
            runs.append(slice(start, p + 1))
            start = None
    return runs


def add_detail(frames: torch.Tensor, targets: torch.Tensor, blocked: torch.Tensor,
               cfg: DetailConfig, search: PatchMatchConfig) -> torch.Tensor:
    """Detail for the ``targets`` of one still run of frames.

    Args:
        frames: ``(n, 3, H, W)`` filled frames of the run (:mod:`vidfill.types`).
        targets: ``(n, 1, H, W)`` bool, the pixels to add detail to (filled from keyframes).
        blocked: ``(1, H, W)`` bool, never a source: pixels removed or moving in the run.
        cfg: the blur that splits detail from the smooth layer, and the detail's gain.
        search: patch size, context around the targets, PatchMatch passes and seed.
    Returns:
        ``(n, 3, H, W)``, equal to ``frames`` outside ``targets``.
    """
    region = targets.any(0)
    if not bool(region.any()):
        return frames
    ys, xs = hole_box(region, search.context)
    reference = to_float(frames[frames.shape[0] // 2, :, ys, xs])  # the fill in the run's middle
    sources = matched_sources(smooth_layer(reference[None], cfg.sigma)[0], region[0, ys, xs],
                              search, blocked[0, ys, xs])
    if sources is None:  # no still place around to copy from
        return frames
    source_y, source_x = sources
    copied: dict[int, torch.Tensor] = {}  # frame -> its sources' detail, while a window needs it

    def detail_of(t: int) -> torch.Tensor:
        if t not in copied:
            values = to_float(frames[t, :, ys, xs])
            copied[t] = (values - smooth_layer(values[None], cfg.sigma)[0])[:, source_y, source_x]
        return copied[t]

    out, half, num_frames = frames.clone(), cfg.frames_around, frames.shape[0]
    for t in range(num_frames):  # frame by frame: a run of large frames is large
        for old in [s for s in copied if s < t - half]:
            del copied[old]
        here = targets[t, :, ys, xs]
        if not bool(here.any()):
            continue
        around = range(max(t - half, 0), min(t + half + 1, num_frames))
        detail = sum(detail_of(s) for s in around) / len(around)
        values = to_float(frames[t, :, ys, xs])
        lifted = stored(values + cfg.gain * detail, frames.dtype)
        out[t, :, ys, xs] = torch.where(here, lifted, frames[t, :, ys, xs])
    return out


def fill_each_still_frame(frames: torch.Tensor, unreached: torch.Tensor, runs: list[slice],
                          inpainter: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                          advance=None) -> torch.Tensor:
    """Every frame of the still ``runs`` (:func:`still_runs`) with its ``unreached`` pixels
    filled by ``inpainter`` from its own surroundings; other frames and pixels as they are.

    Args:
        frames: ``(T, 3, H, W)`` filled frames; unreached: ``(T, 1, H, W)`` bool, the pixels
            that propagation from the shown pixels did not reach.
        inpainter: ``(3, H, W)`` frame, ``(1, H, W)`` hole -> filled frame of its dtype.
        advance: called with 1 after each frame filled (progress), or None.
    """
    out = frames.clone()
    for run in runs:
        for t in range(run.start, run.stop):
            if bool(unreached[t].any()):
                out[t] = inpainter(frames[t], unreached[t])
                if advance is not None:
                    advance(1)
    return out


def moving_places(flow_fwd: torch.Tensor, size: tuple[int, int], limit_px: float) -> torch.Tensor:
    """``(n, 1, H, W)`` bool: where the flow from or to each frame differs from the pair's median
    (the camera's drift) by more than ``limit_px`` frame pixels: moving foreground, in the holes
    too (their completed flow).

    Args:
        flow_fwd: ``(n-1, 2, h, w)`` the run's flow at working size.
        size: the frames' ``(H, W)``.
    """
    scale = size[1] / flow_fwd.shape[-1]
    drift = flow_fwd.flatten(2).median(2).values[:, :, None, None]
    pair = (flow_fwd - drift).norm(dim=1, keepdim=True) * scale > limit_px  # (n-1, 1, h, w)
    frame = F.pad(pair, (0, 0, 0, 0, 0, 0, 0, 1)) | F.pad(pair, (0, 0, 0, 0, 0, 0, 1, 0))
    return F.interpolate(frame.float(), size=size, mode="nearest") > 0


def detail_where_still(frames: torch.Tensor, targets: torch.Tensor, hole: torch.Tensor,
                       flow_fwd: torch.Tensor, runs: list[slice], cfg: DetailConfig,
                       search: PatchMatchConfig, advance=None) -> torch.Tensor:
    """:func:`add_detail` on every still run (:func:`still_runs`); other frames as they are.

    Args:
        frames: ``(T, 3, H, W)`` filled frames; targets, hole: ``(T, 1, H, W)`` bool.
        flow_fwd: the flow t -> t+1 at its working size.
        advance: called with 1 after each run (progress), or None.
    """
    out = frames.clone()
    for run in runs:
        pairs = slice(run.start, run.stop - 1)
        moving = moving_places(flow_fwd[pairs], frames.shape[-2:], cfg.moving_px)
        # no detail where the fill moves (it would not follow) nor from where the scene moves
        out[run] = add_detail(frames[run], targets[run] & ~moving, (hole[run] | moving).any(0),
                              cfg, search)
        if advance is not None:
            advance(1)
    return out
