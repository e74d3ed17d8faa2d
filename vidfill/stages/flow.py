"""Stage 1: forward and backward optical flow between adjacent frames.

RAFT through ``torchvision.models.optical_flow`` (weights found by
:mod:`vidfill.models.weights`), or OpenCV DIS as the classical fallback. Flow is
estimated at a working resolution and completed and used there: propagation
samples it at frame points (:mod:`vidfill.stages.propagation`); :func:`resize_flow`
brings it to another resolution, values scaled.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import kornia
import numpy as np
import torch
import torch.nn.functional as F

from vidfill.config import FlowConfig
from vidfill.models import raft
from vidfill.stages.holes import dilate_holes
from vidfill.types import check_frames

Progress = Callable[[int], None]

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


@dataclass(frozen=True)
class FlowResult:
    fwd: torch.Tensor
    """(T-1, 2, h, w) float32 at the working size: flow_fwd[t] maps frame t to t+1, in pixels."""
    bwd: torch.Tensor
    """(T-1, 2, h, w) float32 at the working size: flow_bwd[t] maps frame t+1 to t."""
    method: str
    """"raft" or "dis"."""
    working_size: tuple[int, int]
    """(h, w) at which the flow was estimated."""


def working_size(h: int, w: int, max_side: int, min_side: int = 0,
                 multiple: int = 8) -> tuple[int, int]:
    """Frame size scaled so that the longer side is at most ``max_side`` and at least
    ``min_side`` (0: never enlarged), rounded to ``multiple``."""
    longer = max(h, w)
    scale = max_side / longer if longer > max_side else max(1.0, min_side / longer)
    return (max(multiple, round(h * scale / multiple) * multiple),
            max(multiple, round(w * scale / multiple) * multiple))


def resize_flow(flow: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resample ``(N, 2, h, w)`` flow to ``size`` = (H, W), scaling the vectors with the grid."""
    h, w = flow.shape[-2:]
    if (h, w) == tuple(size):
        return flow
    out = F.interpolate(flow, size=size, mode="bilinear", align_corners=False)
    scale = torch.tensor([size[1] / w, size[0] / h], dtype=flow.dtype, device=flow.device)
    return out * scale.view(1, 2, 1, 1)


def warp_backward(image: torch.Tensor, flow: torch.Tensor,
                  padding: str = "border") -> torch.Tensor:
    """Sample ``image`` ``(N, C, H, W)`` at ``x + flow(x)`` (``(N, 2, H, W)``), bilinearly.

    With ``flow_fwd[t]`` it brings frame t+1 onto frame t. ``padding`` is grid_sample's
    padding mode for points outside the image ("border" or "zeros").
    """
    h, w = image.shape[-2:]
    grid = kornia.geometry.create_meshgrid(h, w, normalized_coordinates=False, device=image.device)
    coords = grid + flow.permute(0, 2, 3, 1)
    coords = coords / torch.tensor([max(w - 1, 1), max(h - 1, 1)], device=image.device) * 2 - 1
    return F.grid_sample(image, coords, mode="bilinear", padding_mode=padding, align_corners=True)


def unmatched(flow: torch.Tensor, source_hole: torch.Tensor, target_hole: torch.Tensor) -> torch.Tensor:
    """Where ``flow`` (``(N, 2, h, w)``, source -> target) cannot be trusted: ``(N, 1, h, w)`` bool.

    That is the source's hole, plus the pixels whose flow lands (even partly) in the
    target's hole: their match was hidden, so the estimate there is a guess. Both must
    be completed, or trajectories die at the step that would reach known content.
    """
    landed = warp_backward(target_hole.to(flow.dtype), flow, padding="zeros") > 0
    return source_hole | landed


def moving_with_hole(flow: torch.Tensor, source_hole: torch.Tensor, target_hole: torch.Tensor,
                     reach: int, min_px: float = 1.0) -> torch.Tensor:
    """The pixels next to the source's hole that move with the hole rather than with what is
    around it: ``(N, 1, h, w)`` bool, connected to the hole, at most ``reach`` px from it.

    A tight roto mask leaves out what moves with the object: its soft edge, its reflection,
    the water it pushes. Their flow is the object's motion; as the known flow on the hole's edge
    it would carry the object's motion into the hole, and trajectories would follow the object
    instead of reaching the background that it uncovers. The hole's motion is its centroid's
    from source to target; the background's the median flow in a ring ``reach`` to
    ``reach + 16`` px out. A pixel belongs to the band where its flow is nearer the hole's
    motion than the background's, where the two differ by more than ``min_px``.

    Args:
        flow: ``(N, 2, h, w)`` source -> target.
        source_hole, target_hole: ``(N, 1, h, w)`` bool, at the flow's resolution.
    """
    band = torch.zeros_like(source_hole)
    if reach <= 0 or flow.shape[0] == 0:
        return band
    h, w = flow.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h, device=flow.device, dtype=flow.dtype),
                            torch.arange(w, device=flow.device, dtype=flow.dtype), indexing="ij")

    def centre(hole: torch.Tensor) -> torch.Tensor:  # (N, 2) x, y; nan where empty
        mass = hole.flatten(1).sum(1).to(flow.dtype)
        weights = hole[:, 0].to(flow.dtype)
        return torch.stack([(weights * xs).sum((1, 2)), (weights * ys).sum((1, 2))], 1) / mass[:, None]

    motion = centre(target_hole) - centre(source_hole)
    near = dilate_holes(source_hole, reach)
    ring = dilate_holes(source_hole, reach + 16) & ~near
    for n in range(flow.shape[0]):
        if not bool(ring[n].any()) or bool(motion[n].isnan().any()):
            continue
        background = flow[n][:, ring[n, 0]].median(1).values
        if float((motion[n] - background).norm()) <= min_px:
            continue
        to_hole = (flow[n] - motion[n][:, None, None]).square().sum(0)
        to_background = (flow[n] - background[:, None, None]).square().sum(0)
        band[n, 0] = near[n, 0] & ~source_hole[n, 0] & (to_hole < to_background)
    if not bool(band.any()):  # nothing moves with the hole: no growing to do
        return band
    grown = source_hole  # keep only what touches the hole: grow from it through the band
    for _ in range(reach):
        grown = source_hole | (band & (F.max_pool2d(grown.float(), 3, 1, 1) > 0))
    return grown & ~source_hole


ENCODER_CHUNK = 8
"""Frames through RAFT's encoders at a time."""


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 in hardware: CUDA that supports it, or an x86 CPU
    with AVX512-BF16 or AMX (read from /proc/cpuinfo; False where there is none)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_bfloat16()


@functools.cache
def _cpu_bfloat16() -> bool:
    """The CPU flags, read once per process (every flow estimate asks)."""
    try:
        flags = Path("/proc/cpuinfo").read_text().split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _raft_flows(model: torch.nn.Module, frames: torch.Tensor, pairs: torch.Tensor,
                num_updates: int, batch_size: int, progress: Progress | None = None, *,
                bfloat16: bool = False,
                init: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """RAFT flow a -> b and b -> a for each pair ``(a, b)`` of ``(T, 3, h, w)`` uint8 frames.

    torchvision's ``RAFT.forward`` step by step, with two changes its signature does not
    offer: each frame goes through the feature and context encoders once, not once per pair
    and direction (1.29x faster at 432x240, the same flow); and ``init``, ``(N, 2, h, w)``
    flows a -> b and b -> a, starts the iterations from that flow instead of zero (RAFT's warm
    start, :func:`_on_raft_grid`). Frames smaller than :data:`vidfill.models.raft.MIN_SIZE` are
    padded (replicated edges) and the flow cropped. ``bfloat16``: under autocast to bfloat16.
    Returns ``(N, 2, h, w)`` float32 twice.
    """
    from torchvision.models.optical_flow._utils import make_coords_grid, upsample_flow

    h, w = frames.shape[-2:]
    min_h, min_w = raft.MIN_SIZE
    pad = (0, max(0, min_w - w), 0, max(0, min_h - h))
    used = torch.unique(pairs.flatten())
    slot = torch.full((frames.shape[0],), -1, dtype=torch.long)
    slot[used] = torch.arange(len(used))
    fwd, bwd = [], []
    with torch.inference_mode(), torch.autocast(frames.device.type, torch.bfloat16, enabled=bfloat16):
        features, hidden, context = [], [], []
        for chunk in used.split(ENCODER_CHUNK):
            x = F.pad(raft.network_input(frames[chunk]), pad, mode="replicate")
            features.append(model.feature_encoder(x))
            state, ctx = _split_context(model, x)
            hidden.append(state)
            context.append(ctx)
        features, hidden, context = torch.cat(features), torch.cat(hidden), torch.cat(context)
        for rows in torch.arange(len(pairs)).split(batch_size):
            batch = pairs[rows]
            first, second = slot[batch[:, 0]], slot[batch[:, 1]]
            src, dst = torch.cat([first, second]), torch.cat([second, first])
            model.corr_block.build_pyramid(features[src], features[dst])
            state, ctx = hidden[src], context[src]
            coords0 = make_coords_grid(len(src), *state.shape[-2:]).to(state.device)
            coords1 = coords0.clone()
            if init is not None:
                start = torch.cat([init[0][rows], init[1][rows]])
                coords1 = coords1 + _on_raft_grid(start, pad, state.shape[-2:])
            for _ in range(num_updates):
                corr = model.corr_block.index_pyramid(centroids_coords=coords1)
                state, delta = model.update_block(state, ctx, corr, coords1 - coords0)
                coords1 = coords1 + delta
            up_mask = None if model.mask_predictor is None else model.mask_predictor(state)
            flow = upsample_flow(coords1 - coords0, up_mask=up_mask)[..., :h, :w].float()
            fwd.append(flow[:len(batch)])
            bwd.append(flow[len(batch):])
            if progress:
                progress(len(batch))
    return torch.cat(fwd), torch.cat(bwd)


def _on_raft_grid(flow: torch.Tensor, pad: tuple[int, int, int, int],
                  grid: tuple[int, int]) -> torch.Tensor:
    """``(N, 2, h, w)`` flow in pixels brought to RAFT's 1/8 ``grid`` in its units, the inverse of
    its upsampling (8 times the values, each pixel a blend of its cell's neighbours): padded as
    the frames are (replicated edges), area-averaged down to ``grid`` and divided by 8."""
    flow = F.pad(flow.float(), pad, mode="replicate") if any(pad) else flow.float()
    return F.interpolate(flow, size=tuple(grid), mode="area") / 8


def _split_context(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """RAFT's context encoder output split into the update block's initial hidden state and its context."""
    out = model.context_encoder(x)
    hidden_size = model.update_block.hidden_state_size
    state, context = out.split([hidden_size, out.shape[1] - hidden_size], dim=1)
    return torch.tanh(state), F.relu(context)


DIS_MIN_SIDE = 16
"""OpenCV's DIS fails on images with a side under 12 px (its patches and pyramid; 8x512 too):
smaller ones are padded to this."""


def _dis_flow(dis: cv2.DISOpticalFlow, first: np.ndarray, second: np.ndarray) -> torch.Tensor:
    """DIS flow between two (h, w) uint8 gray images, as (1, 2, h, w). Images with a side under
    :data:`DIS_MIN_SIDE` are padded (replicated edges) and the flow cropped."""
    h, w = first.shape
    bottom, right = max(0, DIS_MIN_SIDE - h), max(0, DIS_MIN_SIDE - w)
    if bottom or right:
        first, second = (cv2.copyMakeBorder(g, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
                         for g in (first, second))
    flow = dis.calc(first, second, None)[:h, :w]
    return torch.from_numpy(np.ascontiguousarray(flow)).permute(2, 0, 1)[None]


def _at_working_size(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``(T, 3, H, W)`` uint8 frames resized to the working ``size``: area-averaged when
    reduced, bilinear when enlarged."""
    mode = "area" if size[0] <= frames.shape[-2] else "bilinear"
    # a few frames at a time: a window's frames in float32 at full size were +0.3 GB at 854x480
    return torch.cat([F.interpolate(part.float(), size=size, mode=mode).round().clamp(0, 255)
                      .to(torch.uint8) for part in frames.split(ENCODER_CHUNK)])


def _bfloat16(cfg: FlowConfig, device: torch.device) -> bool:
    """Whether RAFT runs under bfloat16 autocast: asked for, or "auto" where it is native."""
    return cfg.precision == "bfloat16" or (cfg.precision == "auto" and native_bfloat16(device))


def estimate_flow(frames: torch.Tensor, cfg: FlowConfig, model: torch.nn.Module | None = None,
                  progress: Progress | None = None,
                  pairs: torch.Tensor | None = None, init: FlowResult | None = None) -> FlowResult:
    """Forward and backward flow between pairs of frames of a clip (by default adjacent ones).

    Args:
        frames: ``(T, 3, H, W)`` uint8 RGB, T >= 2.
        cfg: working resolution, RAFT iterations, batch size, DIS preset.
        model: a torchvision RAFT module with weights loaded, or None for OpenCV DIS.
        progress: called with the number of frame pairs finished.
        pairs: ``(N, 2)`` long frame indices ``(a, b)``; default ``(t, t+1)`` for every t.
        init: RAFT only: flow of ``pairs`` at the working size to start RAFT's iterations
            from (a refinement pass's warm start); None = from zero.

    Returns:
        :class:`FlowResult` with ``(N, 2, h, w)`` flows at the working size
        (:func:`working_size`), on the frames' device: ``fwd[i]`` maps frame a to b,
        ``bwd[i]`` frame b to a.
    """
    t, h, w = check_frames(frames)
    if t < 2:
        raise ValueError(f"flow needs at least 2 frames, got {t}")
    if frames.dtype != torch.uint8:
        raise ValueError(f"frames must be uint8 for flow estimation, got {frames.dtype}")
    if pairs is None:
        pairs = adjacent_pairs(t)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or (pairs.numel() and not 0 <= int(pairs.min()) <= int(pairs.max()) < t):
        raise ValueError(f"pairs must be (N, 2) frame indices in [0, {t}), got {tuple(pairs.shape)}")
    size = working_size(h, w, cfg.max_side, cfg.raft_min_side if model is not None else 0)
    small = _at_working_size(frames, size)
    fwd, bwd = [], []
    if model is not None:
        if len(pairs):
            flows = _raft_flows(model, small, pairs, cfg.num_updates, cfg.batch_size, progress,
                                bfloat16=_bfloat16(cfg, small.device),
                                init=None if init is None else (init.fwd, init.bwd))
            fwd, bwd = [flows[0]], [flows[1]]
        method = "raft"
    else:
        dis = cv2.DISOpticalFlow_create(DIS_PRESETS[cfg.dis_preset])
        gray = [cv2.cvtColor(f.permute(1, 2, 0).cpu().numpy(), cv2.COLOR_RGB2GRAY) for f in small]
        for a, b in pairs.tolist():
            fwd.append(_dis_flow(dis, gray[a], gray[b]))
            bwd.append(_dis_flow(dis, gray[b], gray[a]))
            if progress:
                progress(1)
        method = "dis"
    empty = torch.zeros(0, 2, *size)
    return FlowResult(
        fwd=torch.cat(fwd).to(frames.device) if fwd else empty.to(frames.device),
        bwd=torch.cat(bwd).to(frames.device) if bwd else empty.to(frames.device),
        method=method,
        working_size=size,
    )


CROP_GRID = 32
"""Crop edges snap outwards to this many working pixels, so that pairs whose holes barely move
share one crop and are estimated together (each frame encoded once)."""

CROP_MAX_AREA = 0.6
"""A crop covering more of the frame than this is replaced by the whole frame: the gain is small
and the whole frame has no crop border."""


def _hole_boxes(holes: torch.Tensor, pairs: torch.Tensor) -> list[tuple[int, int, int, int] | None]:
    """For each pair ``(a, b)``: the box ``(y0, y1, x0, x1)`` around the holes of both frames
    (``(T, 1, h, w)`` bool), or None where neither has one. One transfer from the device."""
    rows, cols = holes.any(-1)[:, 0], holes.any(-2)[:, 0]  # (T, h), (T, w)
    rows = (rows[pairs[:, 0]] | rows[pairs[:, 1]]).cpu()
    cols = (cols[pairs[:, 0]] | cols[pairs[:, 1]]).cpu()
    boxes = []
    for r, c in zip(rows, cols):
        ys, xs = torch.nonzero(r)[:, 0], torch.nonzero(c)[:, 0]
        boxes.append((int(ys[0]), int(ys[-1]) + 1, int(xs[0]), int(xs[-1]) + 1) if len(ys) else None)
    return boxes


def _grow(box: tuple[int, int, int, int], pad: int, h: int, w: int) -> tuple[int, int, int, int]:
    """``box`` grown by ``pad`` on every side, within the frame."""
    return max(0, box[0] - pad), min(h, box[1] + pad), max(0, box[2] - pad), min(w, box[3] + pad)


def _crop(box: tuple[int, int, int, int], pad: int, h: int, w: int) -> tuple[int, int, int, int]:
    """A RAFT crop around ``box`` grown by ``pad``: snapped outwards to :data:`CROP_GRID`, at
    least :data:`vidfill.models.raft.MIN_SIZE` where the frame allows (widened around the centre),
    sides multiples of 8; the whole frame where that would cover more than :data:`CROP_MAX_AREA`."""
    def side(lo: int, hi: int, size: int, least: int) -> tuple[int, int]:
        lo, hi = lo // CROP_GRID * CROP_GRID, min(size, -(-hi // CROP_GRID) * CROP_GRID)
        need = min(size, least)
        if hi - lo < need:
            lo = max(0, min(lo - (need - (hi - lo)) // 2 // 8 * 8, size - need))
            hi = lo + need
        return lo, hi

    y0, y1, x0, x1 = _grow(box, pad, h, w)
    (y0, y1), (x0, x1) = side(y0, y1, h, raft.MIN_SIZE[0]), side(x0, x1, w, raft.MIN_SIZE[1])
    if (y1 - y0) * (x1 - x0) > CROP_MAX_AREA * h * w:
        return 0, h, 0, w
    return y0, y1, x0, x1


def estimate_flow_near(frames: torch.Tensor, holes: torch.Tensor, base: FlowResult, cfg: FlowConfig,
                       model: torch.nn.Module, margin: int, progress: Progress | None = None,
                       pairs: torch.Tensor | None = None) -> FlowResult:
    """RAFT flow of pairs of frames, estimated only around their holes.

    For a refinement pass, where only the holes' content changed. Each pair's flow is
    estimated on a crop around the holes of both frames, grown by ``margin`` working pixels
    plus the largest motion of ``base`` near the holes (so that the matches lie in the crop),
    and replaces ``base`` (the same pairs' flow from before) inside the holes grown by half
    the margin; elsewhere ``base`` stands. With ``cfg.refine_warm_start``, RAFT's iterations
    start from ``base`` on the crop. Pairs with the same crop are estimated together; a crop
    over most of the frame becomes the whole frame.

    Args:
        frames: ``(T, 3, H, W)`` uint8 RGB.
        holes: ``(T, 1, h, w)`` bool at ``base.working_size``.
        base: flow of ``pairs`` at the working size, used outside the crops.
        margin: working pixels around the holes; the crop's border, where RAFT sees less
            context, is not kept.
    """
    t, _, _ = check_frames(frames)
    if pairs is None:
        pairs = adjacent_pairs(t)
    size = base.working_size
    small = _at_working_size(frames, size)
    fwd, bwd = base.fwd.clone(), base.bwd.clone()
    boxes = _hole_boxes(holes, pairs)
    keeps = [None if box is None else _grow(box, margin // 2, *size) for box in boxes]
    motion = [torch.zeros((), device=fwd.device) if k is None else torch.maximum(
        fwd[i, :, k[0]:k[1], k[2]:k[3]].norm(dim=0).max(), bwd[i, :, k[0]:k[1], k[2]:k[3]].norm(dim=0).max())
        for i, k in enumerate(keeps)]
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (box, move) in enumerate(zip(boxes, torch.stack(motion).tolist() if motion else [])):
        if box is None:
            if progress:
                progress(1)
            continue
        groups.setdefault(_crop(box, margin + math.ceil(move), *size), []).append(i)
    bfloat16 = _bfloat16(cfg, small.device)
    whole = (0, size[0], 0, size[1])
    for (y0, y1, x0, x1), members in groups.items():
        region = (members, slice(None), slice(y0, y1), slice(x0, x1))
        init = (base.fwd[region], base.bwd[region]) if cfg.refine_warm_start else None
        got = _raft_flows(model, small[..., y0:y1, x0:x1], pairs[members], cfg.num_updates,
                          cfg.batch_size, progress, bfloat16=bfloat16, init=init)
        for k, i in enumerate(members):
            ky0, ky1, kx0, kx1 = whole if (y0, y1, x0, x1) == whole else keeps[i]
            inner = (slice(None), slice(ky0, ky1), slice(kx0, kx1))
            crop_inner = (slice(None), slice(ky0 - y0, ky1 - y0), slice(kx0 - x0, kx1 - x0))
            fwd[i][inner] = got[0][k][crop_inner]
            bwd[i][inner] = got[1][k][crop_inner]
    return FlowResult(fwd=fwd, bwd=bwd, method="raft", working_size=size)


def adjacent_pairs(num_frames: int) -> torch.Tensor:
    """``(T-1, 2)``: the pairs ``(t, t+1)``."""
    first = torch.arange(num_frames - 1)
    return torch.stack([first, first + 1], 1)


def nonlocal_pairs(num_frames: int, count: int, stride: int) -> torch.Tensor:
    """``(N, 2)`` pairs ``(t, r)``: each frame with its ``count`` nearest reference frames.

    The references are the frames ``0, stride, 2 * stride, ...`` (a fixed set, as in FGVC,
    so that every frame looks into the same few distant views); a reference closer than
    two frames is skipped, since the adjacent chains already reach it. Pairs are sorted
    by t, then by distance.
    """
    if count <= 0 or stride <= 0:
        return torch.zeros(0, 2, dtype=torch.long)
    refs = torch.arange(0, num_frames, stride)
    rows = []
    for t in range(num_frames):
        gap = (refs - t).abs()
        usable = refs[gap >= 2]
        order = (usable - t).abs().argsort(stable=True)[:count]
        rows += [(t, int(r)) for r in usable[order]]
    return torch.tensor(rows, dtype=torch.long).view(-1, 2)
