"""Stage 4: propagation of colours along flow trajectories.

Every hole pixel follows the completed flow forward (and, separately, backward)
through as many frames as needed, until it lands on a known pixel of another
frame; each step is checked for forward-backward consistency and a trajectory
that fails the check (an occlusion) or leaves the frame stops. The colour where
it lands is a candidate, with the accumulated consistency error and the
distance in frames as the evidence fusion weighs it by.

All trajectories advance together as flat lists of points (frame, x, y), so the
work per step is a handful of gathers over the points still travelling.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch

from vidfill.config import PropagationConfig
from vidfill.types import check_flow, check_frames

Progress = Callable[[int], None]

OFFSETS = ((1, 0), (-1, 0), (0, 1), (0, -1))
"""(dx, dy) of the four neighbours whose colour differences are propagated with each candidate."""


@dataclass(frozen=True)
class Candidates:
    """Candidates for the ``P`` hole pixels from ``D`` sources: :func:`propagate` gives the
    forward hits first, then the backward ones (``cfg.hits_per_direction`` each)."""

    index: torch.Tensor
    """(P,) long: flat index of each hole pixel in (T, H, W) order."""
    colour: torch.Tensor
    """(D, P, 3) float32 in [0, 1]; meaningless where not ``found``."""
    diff: torch.Tensor
    """(D, P, 4, 3) float32: colour differences to the neighbours at +x, -x, +y, -y (in that
    order, :data:`OFFSETS`) around the landing point: the gradients that gradient-domain fusion uses."""
    diff_ok: torch.Tensor
    """(D, P, 4) bool: that neighbour lies inside the frame on known pixels."""
    error: torch.Tensor
    """(D, P) float32: consistency error |f + b| summed along the trajectory, in pixels."""
    distance: torch.Tensor
    """(D, P) float32: frames travelled."""
    found: torch.Tensor
    """(D, P) bool: the trajectory reached a known pixel."""


def _bilinear(table: torch.Tensor, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
              h: int, w: int) -> torch.Tensor:
    """Sample a ``(N*H*W, C)`` table (N images flattened) at points ``(t, x, y)``.

    ``x`` and ``y`` are float pixel coordinates inside [0, W-1] x [0, H-1]; returns (P, C) float32.
    """
    x0f, y0f = x.floor(), y.floor()
    wx, wy = (x - x0f)[:, None], (y - y0f)[:, None]
    x0, y0 = x0f.long(), y0f.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    base = t * (h * w)
    row0, row1 = base + y0 * w, base + y1 * w

    def at(index: torch.Tensor) -> torch.Tensor:  # index_select: 2.5x advanced indexing on CPU
        return table.index_select(0, index).float()

    out = at(row0 + x0) * ((1 - wx) * (1 - wy))
    out += at(row0 + x1) * (wx * (1 - wy))
    out += at(row1 + x0) * ((1 - wx) * wy)
    out += at(row1 + x1) * (wx * wy)
    return out


def _flow_at(table: torch.Tensor, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
             size: tuple[int, int], frame_size: tuple[int, int]) -> torch.Tensor:
    """Flow (P, 2), in frame pixels, at frame points ``(t, x, y)``.

    ``table`` holds flow fields of ``size`` (h, w), e.g. the working resolution, for frames
    of ``frame_size`` (H, W): sampled bilinearly as :func:`vidfill.stages.flow.resize_flow` upsamples
    (half-pixel centres), vectors scaled by W/w and H/h, so that no full-resolution copy is kept.
    """
    (h, w), (fh, fw) = size, frame_size
    if (h, w) == (fh, fw):
        return _bilinear(table, t, x, y, h, w)
    sx, sy = w / fw, h / fh
    xs = ((x + 0.5) * sx - 0.5).clamp(0, w - 1)
    ys = ((y + 0.5) * sy - 0.5).clamp(0, h - 1)
    scale = torch.tensor([1 / sx, 1 / sy], device=table.device)
    return _bilinear(table, t, xs, ys, h, w) * scale


def _check_flow_pair(first: torch.Tensor, second: torch.Tensor, num: int,
                     names: tuple[str, str]) -> tuple[int, int]:
    """Both ``(num, 2, h, w)`` float32 at one resolution (any); returns (h, w)."""
    h, w = first.shape[-2:]
    check_flow(first, num, h, w, names[0])
    check_flow(second, num, h, w, names[1])
    return h, w


def _table(x: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) -> (N*H*W, C), contiguous, for :func:`_bilinear`: a view where ``x`` is
    channels last (as :func:`vidfill.pipeline.fill_along_flow` lays out the flows), else a copy."""
    return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1]).contiguous()


def _known(known_tbl: torch.Tensor, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
           h: int, w: int) -> torch.Tensor:
    """(P,) bool: every pixel under the bilinear footprint of each point is known."""
    return _bilinear(known_tbl, t, x, y, h, w)[:, 0] >= 1.0 - 1e-4


def _consistency(f: torch.Tensor, b: torch.Tensor,
                 cfg: PropagationConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared forward-backward mismatch |f + b|^2 of (P, 2) flows, and whether it passes the check."""
    mismatch = (f + b).square().sum(1)
    limit = cfg.consistency_rel * (f.square().sum(1) + b.square().sum(1)) + cfg.consistency_abs_px ** 2
    return mismatch, mismatch <= limit


def _sample(frames_tbl: torch.Tensor, known_tbl: torch.Tensor, t: torch.Tensor, x: torch.Tensor,
            y: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Colour (P, 3) on the [0, 1] scale, differences to the :data:`OFFSETS` neighbours (P, 4, 3)
    and their validity (P, 4)."""
    scale = 255.0 if frames_tbl.dtype == torch.uint8 else 1.0  # float frames: on that scale
    here = _bilinear(frames_tbl, t, x, y, h, w) / scale
    diffs, usable = [], []
    for ox, oy in OFFSETS:
        sx, sy = x + ox, y + oy
        inside = (sx >= 0) & (sx <= w - 1) & (sy >= 0) & (sy <= h - 1)
        sx, sy = sx.clamp(0, w - 1), sy.clamp(0, h - 1)
        usable.append(inside & _known(known_tbl, t, sx, sy, h, w))
        diffs.append(_bilinear(frames_tbl, t, sx, sy, h, w) / scale - here)
    return here, torch.stack(diffs, 1), torch.stack(usable, 1)


def _blank(d: int, p: int, device: torch.device) -> tuple[torch.Tensor, ...]:
    """Empty candidate fields for ``d`` sources and ``p`` pixels, in :class:`Candidates` order."""
    return (torch.zeros(d, p, 3, device=device),
            torch.zeros(d, p, len(OFFSETS), 3, device=device),
            torch.zeros(d, p, len(OFFSETS), dtype=torch.bool, device=device),
            torch.zeros(d, p, device=device),
            torch.zeros(d, p, device=device),
            torch.zeros(d, p, dtype=torch.bool, device=device))


def _trace(frames_tbl: torch.Tensor, known_tbl: torch.Tensor, step_tbl: torch.Tensor,
           check_tbl: torch.Tensor, t: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
           direction: int, shape: tuple[int, int, int], flow_size: tuple[int, int],
           cfg: PropagationConfig, progress: Progress | None) -> tuple[torch.Tensor, ...]:
    """Follow points through time in one direction (+1 forward, -1 backward).

    ``step_tbl`` is the flow leaving each frame in that direction, ``check_tbl``
    the flow coming back; both are indexed by ``t`` (forward) or ``t - 1`` (backward)
    and hold fields of ``flow_size``.
    """
    num_frames, h, w = shape
    p, k_max, dev = t.numel(), cfg.hits_per_direction, t.device
    colour, diff, diff_ok, error, distance, found = _blank(k_max, p, dev)
    hits = torch.zeros(p, dtype=torch.long, device=dev)
    ids = torch.arange(p, device=dev)
    acc = torch.zeros(p, device=dev)
    max_steps = cfg.max_steps or num_frames
    steps = 0
    # one compaction per step: the points that stay inside, pass the check and still travel
    # (the flow and the known mask are read at (0, 0) for those that leave, unused)
    def ahead(frame: torch.Tensor) -> torch.Tensor:  # a frame lies beyond, in this direction
        return frame < num_frames - 1 if direction > 0 else frame > 0

    alive = ahead(t)
    ids, t, x, y, acc = ids[alive], t[alive], x[alive], y[alive], acc[alive]
    for k in range(1, max_steps + 1):
        if ids.numel() == 0:
            break
        flow_t = t if direction > 0 else t - 1
        f = _flow_at(step_tbl, flow_t, x, y, flow_size, (h, w))
        nx, ny, nt = x + f[:, 0], y + f[:, 1], t + direction
        inside = (nx >= 0) & (nx <= w - 1) & (ny >= 0) & (ny <= h - 1)
        cx, cy = torch.where(inside, nx, 0.0), torch.where(inside, ny, 0.0)  # NaN flow too
        mismatch, ok = _consistency(f, _flow_at(check_tbl, flow_t, cx, cy, flow_size, (h, w)), cfg)
        ok &= inside
        acc = acc + mismatch.sqrt()
        hit = ok & _known(known_tbl, nt, cx, cy, h, w)
        hid = ids[hit]
        slot = hits[hid]
        colour[slot, hid], diff[slot, hid], diff_ok[slot, hid] = _sample(
            frames_tbl, known_tbl, nt[hit], nx[hit], ny[hit], h, w)
        error[slot, hid] = acc[hit]
        distance[slot, hid] = float(k)
        found[slot, hid] = True
        hits[hid] += 1
        # a point travels on until it has its hits, while a frame lies ahead
        going = ok & (hits[ids] < k_max) & ahead(nt)
        ids, t, x, y, acc = ids[going], nt[going], nx[going], ny[going], acc[going]
        steps += 1
        if progress:
            progress(1)
    if progress and num_frames - 1 > steps:
        progress(num_frames - 1 - steps)  # steps not needed: the bar still ends full
    return colour, diff, diff_ok, error, distance, found


def propagate(frames: torch.Tensor, hole: torch.Tensor, flow_fwd: torch.Tensor,
              flow_bwd: torch.Tensor, cfg: PropagationConfig,
              progress: Progress | None = None) -> Candidates:
    """Candidates for every hole pixel from the nearest known pixel along each flow direction.

    Args:
        frames: ``(T, 3, H, W)`` RGB, uint8 or float (:mod:`vidfill.types`); values under
            ``hole`` are ignored.
        hole: ``(T, 1, H, W)`` bool, True = unknown.
        flow_fwd: ``(T-1, 2, h, w)`` completed flow t -> t+1, at the frames' resolution or
            any other (e.g. the working one: sampled bilinearly, vectors scaled).
        flow_bwd: ``(T-1, 2, h, w)`` completed flow t+1 -> t.
        cfg: consistency thresholds and trajectory length.
        progress: called with the trajectory steps taken, 2 * (T - 1) in all.
    """
    num_frames, h, w = check_frames(frames)
    flow_size = _check_flow_pair(flow_fwd, flow_bwd, num_frames - 1, ("flow_fwd", "flow_bwd"))
    index = torch.nonzero(hole.reshape(-1)).squeeze(1)
    t = index // (h * w)
    y = ((index // w) % h).float()
    x = (index % w).float()
    frames_tbl = _table(frames)
    known_tbl = _table((~hole).to(torch.uint8))  # 0/1: a quarter of float32's memory
    fwd_tbl, bwd_tbl = _table(flow_fwd), _table(flow_bwd)
    shape = (num_frames, h, w)
    results = [
        _trace(frames_tbl, known_tbl, fwd_tbl, bwd_tbl, t, x, y, +1, shape, flow_size, cfg, progress),
        _trace(frames_tbl, known_tbl, bwd_tbl, fwd_tbl, t, x, y, -1, shape, flow_size, cfg, progress),
    ]
    colour, diff, diff_ok, error, distance, found = (torch.cat(parts) for parts in zip(*results))
    return Candidates(index=index, colour=colour, diff=diff, diff_ok=diff_ok, error=error,
                      distance=distance, found=found)


def nonlocal_candidates(frames: torch.Tensor, hole: torch.Tensor, pairs: torch.Tensor,
                        flow_to: torch.Tensor, flow_from: torch.Tensor, count: int,
                        cfg: PropagationConfig) -> Candidates:
    """Candidates for every hole pixel looked up directly in distant frames.

    Args:
        frames: ``(T, 3, H, W)`` RGB, uint8 or float (:mod:`vidfill.types`); values under
            ``hole`` are ignored.
        hole: ``(T, 1, H, W)`` bool, True = unknown.
        pairs: ``(N, 2)`` long ``(t, r)``: frame t looks into reference frame r; at most
            ``count`` pairs per t, in order of preference (see :func:`vidfill.stages.flow.nonlocal_pairs`).
        flow_to: ``(N, 2, h, w)`` completed flow t -> r (any resolution, as in
            :func:`propagate`); ``flow_from``: r -> t.
        count: the number of candidate sources D (slots per frame).
        cfg: consistency thresholds.

    Returns:
        :class:`Candidates` with ``D = count``, in the same pixel order as :func:`propagate`.
    """
    num_frames, h, w = check_frames(frames)
    flow_size = _check_flow_pair(flow_to, flow_from, len(pairs), ("flow_to", "flow_from"))
    index = torch.nonzero(hole.reshape(-1)).squeeze(1)
    p, dev = index.numel(), frames.device
    colour, diff, diff_ok, error, distance, found = _blank(count, p, dev)
    # slot[t, j] = the pair index of frame t's j-th reference, -1 if it has fewer
    slot = torch.full((num_frames, count), -1, dtype=torch.long)
    seen = [0] * num_frames
    for i, (t, _) in enumerate(pairs.tolist()):
        if seen[t] < count:
            slot[t, seen[t]] = i
            seen[t] += 1
    slot = slot.to(dev)
    t = index // (h * w)
    y = ((index // w) % h).float()
    x = (index % w).float()
    frames_tbl = _table(frames)
    known_tbl = _table((~hole).to(torch.uint8))  # 0/1: a quarter of float32's memory
    to_tbl, from_tbl = _table(flow_to), _table(flow_from)
    refs = pairs[:, 1].to(dev)
    for j in range(count):
        pair = slot[t, j]
        ids = torch.nonzero(pair >= 0).squeeze(1)
        pair = pair[ids]
        f = _flow_at(to_tbl, pair, x[ids], y[ids], flow_size, (h, w))
        nx, ny = x[ids] + f[:, 0], y[ids] + f[:, 1]
        inside = (nx >= 0) & (nx <= w - 1) & (ny >= 0) & (ny <= h - 1)
        ids, pair, f, nx, ny = ids[inside], pair[inside], f[inside], nx[inside], ny[inside]
        mismatch, ok = _consistency(f, _flow_at(from_tbl, pair, nx, ny, flow_size, (h, w)), cfg)
        nt = refs[pair]
        ok &= _known(known_tbl, nt, nx, ny, h, w)
        ids, pair, nx, ny, nt, mismatch = ids[ok], pair[ok], nx[ok], ny[ok], nt[ok], mismatch[ok]
        colour[j, ids], diff[j, ids], diff_ok[j, ids] = _sample(frames_tbl, known_tbl, nt, nx, ny, h, w)
        error[j, ids] = mismatch.sqrt()
        distance[j, ids] = (nt - t[ids]).abs().float()
        found[j, ids] = True
    return Candidates(index=index, colour=colour, diff=diff, diff_ok=diff_ok, error=error,
                      distance=distance, found=found)


def merge(first: Candidates, second: Candidates, *, fallback: bool = False) -> Candidates:
    """The candidates of both, for the same hole pixels (sources stacked: D1 + D2).

    With ``fallback``, ``second`` only counts for pixels that ``first`` found nothing for.
    """
    if not torch.equal(first.index, second.index):
        raise ValueError("candidates to merge must be for the same hole pixels")
    found = second.found & ~first.found.any(0) if fallback else second.found
    second = replace(second, found=found)
    return Candidates(index=first.index, **{
        name: torch.cat([getattr(first, name), getattr(second, name)])
        for name in ("colour", "diff", "diff_ok", "error", "distance", "found")})
