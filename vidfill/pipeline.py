"""The pipeline: composes the stages on one clip held in memory.

Stages are pure functions; this module picks the order, moves data between
resolutions, runs the keyframe loop for leftovers and reports progress.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch
import torch.nn.functional as F

from vidfill.stages.completion import FIELDS_PER_SOLVE, complete_flow
from vidfill.config import PipelineConfig
from vidfill.host import between_steps
from vidfill.stages.edges import complete_edges, flow_edges
from vidfill.stages.flow import (FlowResult, adjacent_pairs, estimate_flow, estimate_flow_near,
                                 moving_with_hole, nonlocal_pairs, unmatched)
from vidfill.stages.fusion import Fused, fuse, reconstruct
from vidfill.stages.detail import detail_where_still, fill_each_still_frame, still_runs
from vidfill.models.build import Models
from vidfill.stages.holes import dilate_holes, smooth_fill
from vidfill.progress import Reporter
from vidfill.stages.propagation import merge, nonlocal_candidates, propagate
from vidfill.types import check_masks, stored, to_display, to_float, to_uint8


@dataclass(frozen=True)
class FarFlow:
    """Completed flow (at the working resolution) between frames and their distant references."""

    pairs: torch.Tensor
    """(N, 2) long: (t, r), see :func:`vidfill.stages.flow.nonlocal_pairs`."""
    to: torch.Tensor
    """(N, 2, h, w) float32: flow t -> r."""
    back: torch.Tensor
    """(N, 2, h, w) float32: flow r -> t."""
    count: int
    """Most references per frame."""


@dataclass(frozen=True)
class Result:
    frames: torch.Tensor
    """(T, 3, H, W) uint8: the input with the hole filled."""
    hole: torch.Tensor
    """(T, 1, H, W) bool: the pixels that were replaced (the dilated mask)."""
    flow_method: str
    """"raft", "dis" or "none" (no hole)."""
    keyframes: tuple[int, ...] = ()
    """Frames filled by the image inpainter, in order (in the last pass)."""
    invented: torch.Tensor | None = None
    """(T, 1, H, W) bool: the pixels of the keyframes that the image inpainter filled (no frame
    showed them), in the last pass; None when there was no hole."""
    unreached: torch.Tensor | None = None
    """(T, 1, H, W) bool: the hole pixels that propagation from the shown pixels did not reach
    (filled from the keyframes, directly or along the flow), in the last pass; None when there
    was no hole."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds per stage."""


def _flow_holes(hole: torch.Tensor, size: tuple[int, int], radius: int) -> torch.Tensor:
    """Hole at flow resolution: any covered pixel counts, then grown by ``radius``."""
    small = F.interpolate(hole.float(), size=size, mode="area") > 0
    return dilate_holes(small, radius)


ImageInpainter = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(image (3, H, W), hole (1, H, W) bool) -> (3, H, W)`` of the image's dtype, equal to image
outside the hole."""


def check_references(references: dict[int, torch.Tensor], frames: torch.Tensor) -> None:
    """Validate painted reference frames: keys are frame numbers, values ``(3, H, W)`` of the
    frames' dtype."""
    num_frames, _, h, w = frames.shape
    for t, painted in references.items():
        if not 0 <= t < num_frames:
            raise ValueError(f"reference frame {t} is not in 0..{num_frames - 1}")
        if painted.dtype != frames.dtype or tuple(painted.shape) != (3, h, w):
            raise ValueError(f"reference frame {t} must be {frames.dtype} of shape {(3, h, w)}, got "
                             f"{painted.dtype} {tuple(painted.shape)}")


PREFILL_CHUNK = 8
"""Frames pre-filled for flow estimation at a time: bounds the fill's float temporaries."""


def inpaint_video(frames: torch.Tensor, masks: torch.Tensor, cfg: PipelineConfig, *,
                  models: Models, reporter: Reporter | None = None,
                  references: dict[int, torch.Tensor] | None = None,
                  inherited: torch.Tensor | None = None) -> Result:
    """Remove the masked regions of a clip.

    Flow, completion (:func:`_complete_flows`), then propagation, fusion and keyframes
    (:func:`fill_along_flow`); then, with RAFT, ``cfg.flow.refine_passes`` times: flow of the
    filled frames, and the fill again from the known pixels along it (:func:`_fill_and_refine`);
    last, the runs of frames where the hole stands still (:func:`_finish_still`).

    Args:
        frames: ``(T, 3, H, W)`` RGB, T >= 2: uint8, or float16 for a deep source (see
            :mod:`vidfill.types`; the fill is then computed and stored in float).
        masks: ``(T, 1, H, W)`` bool, True = remove.
        cfg: the pipeline settings: they are the run.
        models: the networks ``cfg`` names, on the frames' device
            (:func:`vidfill.models.build.build_models`, called by the entry points).
        reporter: progress and notes; silent when None.
        references: frame number -> ``(3, H, W)`` frame painted by hand, of the frames' dtype;
            its pixels inside that frame's hole are taken as known and propagated through the clip.
        inherited: ``(T, 1, H, W)`` bool, outside ``masks``: pixels an earlier window filled
            from its keyframes (:mod:`vidfill.windows`); see :func:`fill_along_flow`.

    Returns:
        :class:`Result`; outside ``result.hole`` its frames equal the input exactly.
    """
    check_masks(masks, frames)
    reporter = reporter or Reporter(quiet=True)
    references = references or {}
    check_references(references, frames)
    num_frames = frames.shape[0]
    if num_frames < 2:
        raise ValueError(f"need at least 2 frames, got {num_frames}")
    hole = dilate_holes(masks, cfg.mask.dilate)
    if not bool(hole.any()):
        return Result(frames=frames.clone(), hole=hole, flow_method="none")
    # the completed flow is handed over, not kept here: the refinement passes replace it
    filled, flow_fwd, small_hole = _fill_and_refine(
        frames, hole, _complete_flows(frames, hole, cfg, models, reporter), cfg, models, reporter,
        references=references, inherited=inherited)
    work = _finish_still(frames, hole, filled, flow_fwd, small_hole, cfg, models.inpainter, reporter)
    return Result(frames=work, hole=hole,
                  flow_method="raft" if models.flow is not None else "dis",
                  keyframes=filled.keyframes, invented=filled.invented, unreached=filled.unreached,
                  timings=dict(reporter.timings))


@dataclass(frozen=True)
class _CompletedFlow:
    """What :func:`_complete_flows` made: the flow of a clip, completed inside its hole."""

    fwd: torch.Tensor
    """``(T-1, 2, h, w)`` float32 at the working resolution: flow t -> t+1."""
    bwd: torch.Tensor
    """``(T-1, 2, h, w)``: flow t+1 -> t."""
    far: FarFlow
    """The completed flow to the non-local frames."""
    small_hole: torch.Tensor
    """``(T, 1, h, w)`` bool: the hole at the working resolution, grown by
    ``completion.hole_dilate``."""
    size: tuple[int, int]
    """``(h, w)``, the working resolution."""


def _complete_flows(frames: torch.Tensor, hole: torch.Tensor, cfg: PipelineConfig, models: Models,
                    reporter: Reporter) -> _CompletedFlow:
    """Flow between adjacent and non-local frames, estimated on the frames pre-filled inside
    ``hole`` and completed inside it (guided by the completed flow edges when ``models.edges``).

    Args:
        frames: ``(T, 3, H, W)`` stored frames (:func:`inpaint_video`).
        hole: ``(T, 1, H, W)`` bool, the dilated hole.
    """
    num_frames = frames.shape[0]
    flow_model, edge_model = models.flow, models.edges
    # frame by frame in chunks: the push-pull fill's float temporaries of a whole window
    # were its peak memory (several GB at 1080p)
    chunks = [slice(i, i + PREFILL_CHUNK) for i in range(0, num_frames, PREFILL_CHUNK)]
    prefilled = torch.cat([to_uint8(smooth_fill(to_float(frames[c]), hole[c])) for c in chunks])
    far_count = cfg.propagation.nonlocal_count
    if far_count and flow_model is None:
        reporter.warn("non-local frames need RAFT's large-displacement flow: skipped with DIS")
        far_count = 0
    far_pairs = nonlocal_pairs(num_frames, far_count, cfg.propagation.nonlocal_stride)
    between_steps()  # threads fitted before the longest stage
    with reporter.stage("flow", num_frames - 1 + len(far_pairs), "pairs") as advance:
        flow = estimate_flow(prefilled, cfg.flow, flow_model, advance)
        far = estimate_flow(prefilled, cfg.flow, flow_model, advance, pairs=far_pairs)
    del prefilled
    between_steps()
    small_hole = _flow_holes(hole, flow.working_size, cfg.completion.hole_dilate)
    with reporter.stage("completion", 2 * (num_frames - 1 + len(far_pairs)), "fields") as advance:
        # A field is completed wherever its source is a hole or its match lands in the
        # target's hole; both directions between two frames also cover the union of the two
        # holes, so that they stay consistent with each other inside it.
        # A few fields at a time (as many as one solve takes, so that the solves are the same):
        # the warps, fills and edge maps of a whole window's fields at once were its peak memory.
        def completed(fields: torch.Tensor, src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
            out = torch.empty_like(fields)
            for start in range(0, len(fields), FIELDS_PER_SOLVE):
                part = slice(start, start + FIELDS_PER_SOLVE)
                some, a, b = fields[part], src[part], dst[part]
                region = unmatched(some, small_hole[a] | small_hole[b], small_hole[b])
                region |= moving_with_hole(some, small_hole[a], small_hole[b],
                                           cfg.completion.moving_band)
                guide = None
                if edge_model is not None:
                    known = flow_edges(smooth_fill(some, region), region, cfg.edges)
                    guide = complete_edges(edge_model, some, known, region, cfg.edges)
                out[part] = complete_flow(some, region, advance, guide, cfg.completion.cut_weight).flow
            return out

        first, second = torch.arange(num_frames - 1), torch.arange(1, num_frames)
        flow_fwd = completed(flow.fwd, first, second)
        flow_bwd = completed(flow.bwd, second, first)
        far_flow = FarFlow(
            pairs=far_pairs,
            to=completed(far.fwd, far_pairs[:, 0], far_pairs[:, 1]),
            back=completed(far.bwd, far_pairs[:, 1], far_pairs[:, 0]),
            count=far_count)
    return _CompletedFlow(flow_fwd, flow_bwd, far_flow, small_hole, flow.working_size)


def _fill_and_refine(frames: torch.Tensor, hole: torch.Tensor, flows: _CompletedFlow,
                     cfg: PipelineConfig, models: Models, reporter: Reporter, *,
                     references: dict[int, torch.Tensor], inherited: torch.Tensor | None
                     ) -> tuple[Filled, torch.Tensor, torch.Tensor]:
    """The fill along the completed ``flows`` (:func:`fill_along_flow`); then, with RAFT,
    ``cfg.flow.refine_passes`` times: the flow estimated again on the filled frames, and the fill
    again from the known pixels along it. Returns the last fill, its forward flow
    ``(T-1, 2, h, w)`` and ``flows.small_hole``. ``flows`` is let go of here (pass it without
    keeping it): each pass replaces the flow it holds."""
    num_frames, size, small_hole = frames.shape[0], flows.size, flows.small_hole
    flow_fwd, flow_bwd, far_flow = flows.fwd, flows.bwd, flows.far
    far_pairs, far_count = far_flow.pairs, far_flow.count
    del flows
    between_steps()  # each stage's temporaries, before the next (vidfill.host)
    filled = fill_along_flow(frames, hole, flow_fwd, flow_bwd, cfg, reporter, far_flow,
                             inpainter=models.inpainter, references=references, inherited=inherited)
    refine_passes = cfg.flow.refine_passes
    if refine_passes and models.flow is None:
        reporter.warn("flow refinement passes need RAFT (DIS measured no gain): skipped with DIS")
        refine_passes = 0
    refine, margin = replace(cfg.flow, num_updates=cfg.flow.refine_updates), cfg.flow.refine_margin

    def flow_again(shown: torch.Tensor, fwd: torch.Tensor, bwd: torch.Tensor, pairs: torch.Tensor,
                   advance) -> FlowResult:
        base = FlowResult(fwd, bwd, "raft", size)
        if margin == 0:
            return estimate_flow(shown, refine, models.flow, advance, pairs=pairs,
                                 init=base if refine.refine_warm_start else None)
        return estimate_flow_near(shown, small_hole, base, refine, models.flow, margin, advance, pairs)

    for _ in range(refine_passes):
        # The filled frames have content in the hole that matches across frames, so the flow
        # estimated on them follows that content there, with no completion; the fill starts
        # again from the known pixels along it. Elsewhere the frames did not change.
        between_steps()
        with reporter.stage("refine flow", num_frames - 1 + len(far_pairs), "pairs") as advance:
            shown = to_display(filled.frames)
            near = flow_again(shown, flow_fwd, flow_bwd, adjacent_pairs(num_frames), advance)
            far = flow_again(shown, far_flow.to, far_flow.back, far_pairs, advance)
            del shown
        flow_fwd, flow_bwd = near.fwd, near.bwd
        far_flow = FarFlow(pairs=far_pairs, to=far.fwd, back=far.bwd, count=far_count)
        del near, far
        between_steps()
        filled = fill_along_flow(frames, hole, flow_fwd, flow_bwd, cfg, reporter, far_flow,
                                 inpainter=models.inpainter, references=references,
                                 inherited=inherited)
    return filled, flow_fwd, small_hole


def _finish_still(frames: torch.Tensor, hole: torch.Tensor, filled: Filled, flow_fwd: torch.Tensor,
                  small_hole: torch.Tensor, cfg: PipelineConfig, inpainter: ImageInpainter,
                  reporter: Reporter) -> torch.Tensor:
    """The ``filled`` frames, with the unreached pixels of the runs of frames where the hole
    stands still filled frame by frame (``leftover.each_still_frame``, harmonic leftovers) and
    given detail (``cfg.detail``): ``(T, 3, H, W)`` stored frames."""
    work = filled.frames
    each_frame = cfg.leftover.each_still_frame and cfg.leftover.method == "harmonic"
    if each_frame or cfg.detail.enabled:
        runs = still_runs(flow_fwd, small_hole, frames.shape[-1], cfg.leftover.still_px)
    if each_frame:
        with reporter.stage("still frames", None, "frames") as advance:
            work = fill_each_still_frame(work, filled.unreached, runs, inpainter, advance)
    if cfg.detail.enabled:
        with reporter.stage("detail", None, "still runs") as advance:
            work = detail_where_still(work, filled.unreached, hole, flow_fwd, runs, cfg.detail,
                                      cfg.patchmatch, advance)
    return work


FUSION_CHUNK = 4
"""Frames rebuilt per Poisson solve: bounds the memory of the dense difference maps."""


def rebuild_in_gradient_domain(work: torch.Tensor, remaining: torch.Tensor, index: torch.Tensor,
                               fused: Fused, cfg: PipelineConfig) -> None:
    """Write the newly filled pixels into ``work`` (in place) by gradient-domain fusion.

    Args:
        work: ``(T, 3, H, W)`` stored frames, known and earlier-filled pixels set.
        remaining: ``(T, 1, H, W)`` bool, pixels with no colour yet (before this fill).
        index: ``(M,)`` flat (T, H, W) indices of the newly filled pixels.
        fused: the fusion of the candidates, restricted by ``fused.filled`` to ``index``.
    """
    _, _, height, width = work.shape
    colour, diff, diff_ok = (x[fused.filled] for x in (fused.colour, fused.diff, fused.diff_ok))
    frame_of, rows, cols = index // (height * width), index % (height * width) // width, index % width
    touched = torch.unique(frame_of)
    for start in range(0, touched.numel(), FUSION_CHUNK):
        chunk = touched[start:start + FUSION_CHUNK]
        n = chunk.numel()
        local = torch.full((int(work.shape[0]),), -1, dtype=torch.long, device=work.device)
        local[chunk] = torch.arange(n, device=work.device)
        sel = local[frame_of] >= 0
        # the solve needs the new pixels and a one-pixel border: work on that box only
        y0, y1 = max(int(rows[sel].min()) - 1, 0), min(int(rows[sel].max()) + 2, height)
        x0, x1 = max(int(cols[sel].min()) - 1, 0), min(int(cols[sel].max()) + 2, width)
        h, w = y1 - y0, x1 - x0
        pixels = h * w
        flat = local[frame_of[sel]] * pixels + (rows[sel] - y0) * w + cols[sel] - x0  # in the box
        box = (chunk, slice(None), slice(y0, y1), slice(x0, x1))
        values = to_float(work[box]).permute(0, 2, 3, 1).contiguous()  # (n, h, w, 3)
        values.view(-1, 3)[flat] = colour[sel]
        values = values.permute(0, 3, 1, 2)

        def dense(per_pixel: torch.Tensor) -> torch.Tensor:  # (M, ...) -> (n, ..., h, w), 0 elsewhere
            out = per_pixel.new_zeros(n * pixels, *per_pixel.shape[1:])
            out[flat] = per_pixel
            return out.view(n, h, w, *per_pixel.shape[1:]).permute(0, 3, 4, 1, 2)

        unknown = dense(torch.ones(len(flat), 1, 1, dtype=torch.bool, device=work.device))[:, 0]
        diff_map = dense(diff[sel])
        ok_map = dense(diff_ok[sel][..., None])
        blocked = remaining[box] & ~unknown
        solved = reconstruct(values, unknown, blocked, diff_map, ok_map, cfg.fusion, cfg.poisson)
        work[box] = torch.where(unknown, stored(solved.values, work.dtype), work[box])


class Filled(NamedTuple):
    """What :func:`fill_along_flow` made."""
    frames: torch.Tensor
    """The filled frames, equal to the input outside the hole."""
    keyframes: tuple[int, ...]
    """The keyframes, in order."""
    invented: torch.Tensor
    """``(T, 1, H, W)`` bool: the pixels the image inpainter filled in the keyframes."""
    unreached: torch.Tensor
    """``(T, 1, H, W)`` bool: the hole pixels that propagation from the shown pixels did not
    reach (filled from the keyframes, directly or along the flow)."""


def fill_along_flow(frames: torch.Tensor, hole: torch.Tensor, flow_fwd: torch.Tensor,
                    flow_bwd: torch.Tensor, cfg: PipelineConfig, reporter: Reporter,
                    far: FarFlow | None = None, *, inpainter: ImageInpainter,
                    references: dict[int, torch.Tensor] | None = None,
                    inherited: torch.Tensor | None = None) -> Filled:
    """Propagation, fusion and the keyframe loop, given completed flow.

    Keyframes: the frame with the most pixels still unfilled is filled by ``inpainter`` and
    becomes known; propagation carries it to the other frames (with the consistency limit
    ``cfg.leftover.consistency_abs_px``); repeat until none is left.

    Args:
        frames: ``(T, 3, H, W)`` stored frames (:func:`inpaint_video`); values under ``hole``
            are ignored.
        hole: ``(T, 1, H, W)`` bool.
        flow_fwd, flow_bwd: ``(T-1, 2, h, w)`` completed flow (t -> t+1 and t+1 -> t), at
            the frames' resolution or another (propagation samples it; see
            :func:`vidfill.stages.propagation.propagate`).
        far: completed flow to distant frames, for non-local candidates (None: none).
        inpainter: fills one keyframe's remaining pixels (the one ``cfg.leftover`` names:
            ``Models.inpainter``, or any function of that shape).
        references: frame number -> ``(3, H, W)`` painted frame of the frames' dtype, known
            inside the hole before anything is propagated.

    Returns:
        :class:`Filled`.
    """
    num_frames, pixels = frames.shape[0], frames.shape[-2] * frames.shape[-1]
    # channels last, as propagation reads them (one (N*h*w, 2) table each): laid out once here,
    # not in every keyframe round (4.8 s of 100 on the recipe's blackswan)
    flow_fwd, flow_bwd = (f.contiguous(memory_format=torch.channels_last) for f in (flow_fwd, flow_bwd))
    work = torch.where(hole, torch.zeros_like(frames), frames)
    remaining = hole.clone() if inherited is None else hole | inherited
    for t, painted in (references or {}).items():
        work[t] = torch.where(hole[t], painted.to(work.device), frames[t])
        remaining[t] = False
    keyframes: list[int] = []
    invented = torch.zeros_like(hole)

    def propagate_and_fill(advance=None, prop_cfg=cfg.propagation) -> None:
        between_steps()  # the last round's tables and candidates (vidfill.host)
        candidates = propagate(work, remaining, flow_fwd, flow_bwd, prop_cfg, advance)
        if far is not None and len(far.pairs):
            candidates = merge(candidates, nonlocal_candidates(
                work, remaining, far.pairs, far.to, far.back, far.count, cfg.propagation),
                fallback=cfg.propagation.nonlocal_fallback)
        fused = fuse(candidates, cfg.fusion)
        index = candidates.index[fused.filled]
        if cfg.fusion.method == "gradient":
            rebuild_in_gradient_domain(work, remaining, index, fused, cfg)
        else:
            work.view(num_frames, 3, pixels)[index // pixels, :, index % pixels] = stored(
                fused.colour[fused.filled], work.dtype)
        remaining.view(-1)[index] = False

    leftover_prop = replace(cfg.propagation, consistency_abs_px=cfg.leftover.consistency_abs_px)
    with reporter.stage("propagation", 2 * (num_frames - 1), "steps") as advance:
        propagate_and_fill(advance)
    unreached = remaining & hole
    with reporter.stage("leftovers", None, "keyframes") as advance:
        if inherited is not None and bool(inherited.any()):  # carried on as a keyframe would be
            work.copy_(torch.where(inherited, frames, work))  # as the earlier window left them
            remaining &= ~inherited
            propagate_and_fill(prop_cfg=leftover_prop)
        while bool(remaining.any()):
            counts = remaining.flatten(1).sum(1)
            key = int(counts.argmax())
            if (len(keyframes) >= cfg.leftover.max_rounds  # safety net, or only slivers left
                    or int(counts[key]) < cfg.leftover.keyframe_min_share * pixels):
                for t in range(num_frames):
                    if bool(remaining[t].any()):
                        work[t] = inpainter(work[t], remaining[t])
                invented |= remaining
                remaining.zero_()
                break
            keyframes.append(key)
            invented[key] = remaining[key]
            work[key] = inpainter(work[key], remaining[key])
            remaining[key] = False
            propagate_and_fill(prop_cfg=leftover_prop)
            advance(1)
    return Filled(work, tuple(keyframes), invented, unreached)
