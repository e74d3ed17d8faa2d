"""The fill with overlay recovery: under a still mask (a logo, bug or watermark), the scene the
overlay lets through is given back (:mod:`vidfill.stages.overlay`) and only the rest is filled.

0. The still part of the masks (:func:`still_part`: in every one of the first ``overlay.sample``
   masks, and not joined to a part that moves) is where an overlay can be; none, and the clip is
   filled as usual. Where nothing under it changes over those frames (a locked-off shot), the
   overlay is estimated from the mask's shape instead
   (:func:`vidfill.stages.overlay_still.estimate_still_overlay`), and where that cannot decide,
   it says so in one line and the clip is filled as usual.
1. The first ``overlay.sample`` frames are filled with the whole mask as a hole, cropped to the
   box of the still part grown by ``overlay.estimate_margin`` (the estimate reads nothing else):
   the fill's estimate of the scene behind the overlay.
2. The overlay's opacity and colour are estimated from those frames and that fill
   (:func:`vidfill.stages.overlay.estimate_overlay`), with one line saying what was found.
3. Every frame's overlay is taken off (``I = (J - b) / k``); the pixels recovered with full
   weight become known, and the clip is filled again with the smaller hole that is left (none,
   for a clear overlay: then nothing more is computed). Where the weight is between 0 and 1
   (towards opaque), the recovered scene and that fill are blended.
"""

from __future__ import annotations

import collections
import itertools
import operator
from collections.abc import Iterable, Iterator

import cv2
import numpy as np
import torch

from vidfill.config import OverlayConfig, PipelineConfig
from vidfill.host import between_steps
from vidfill.models.build import Models
from vidfill.progress import Reporter
from vidfill.stages.holes import dilate_holes
from vidfill.stages.overlay import Overlay, estimate_overlay, mask_box, recover, steady
from vidfill.stages.overlay_still import MARGIN as STILL_MARGIN
from vidfill.stages.overlay_still import completed, estimate_still_overlay
from vidfill.types import stored, to_float
from vidfill.windows import fill_in_windows


def fill_recovering(frames: Iterable[torch.Tensor], masks: Iterable[torch.Tensor], num_frames: int,
                    cfg: PipelineConfig, models: Models, *,
                    reporter: Reporter | None = None, device: torch.device | None = None,
                    known: Overlay | None = None,
                    sample: tuple[Iterable[torch.Tensor], Iterable[torch.Tensor]] | None = None,
                    **windows) -> Iterator[torch.Tensor]:
    """:func:`vidfill.windows.fill_in_windows` (same arguments, ``windows`` its keyword-only
    ones), with the scene behind a still overlay recovered where ``cfg.overlay.method`` is
    "recover" and the first ``cfg.overlay.sample`` masks have a still part (:func:`still_part`).

    ``known``: the overlay as given by the user (``--overlay-image``), used instead of an
    estimate. ``sample``: the frames and masks to estimate it from (their first
    ``cfg.overlay.sample``), when they are not the first of ``frames``: a range re-render
    estimates from the clip's start as the full render does, so that the two splice.

    Yields T frames like ``fill_in_windows``; outside the (dilated) masks equal to the input.
    """
    reporter = reporter or Reporter(quiet=True)
    between_steps()  # threads fitted to the free cores before any work (vidfill.host)
    frames, masks = iter(frames), iter(masks)

    def plain() -> Iterator[torch.Tensor]:  # the fill without recovery, of what is left to read
        return fill_in_windows(frames, masks, num_frames, cfg, models=models, reporter=reporter,
                               device=device, **windows)

    if cfg.overlay.method != "recover" and known is None:
        return plain()
    if sample is None:
        size = min(cfg.overlay.sample, num_frames)
        head, head_masks = list(itertools.islice(frames, size)), list(itertools.islice(masks, size))
        frames, masks = itertools.chain(head, frames), itertools.chain(head_masks, masks)
        early = {t: image for t, image in (windows.get("references") or {}).items() if t < size}
    else:
        head, head_masks = (list(itertools.islice(x, cfg.overlay.sample)) for x in sample)
        size, early = len(head), {}
    hole = still_part([dilate_holes(m[None], cfg.mask.dilate)[0] for m in head_masks]) \
        if len(head_masks) >= 2 else None
    if hole is None or not bool(hole.any()):
        return plain()
    work = device or torch.device("cpu")
    overlay = known
    if known is None and not changes_under(torch.stack(head), hole, cfg.overlay.informed / 4):
        overlay, found = _by_shape(head, hole, cfg, work)
        if overlay is None:
            reporter.note(f"nothing under the still mask changes over the first {size} frames, and "
                          f"its shape does not tell an overlay apart from the scene ({found}): it is filled")
            return plain()
        reporter.note(f"nothing under the still mask changes over the first {size} frames: the "
                      f"overlay is estimated from the mask's shape: {found} (--overlay fill to fill it instead)")
    if overlay is None:
        reporter.note(f"the mask holds a part that is the same in every frame ({int(hole.sum())} "
                      f"pixels): the overlay under it is estimated from the first {size} frames "
                      "(--overlay fill to fill it instead)")
        # only the frames around the overlay are filled: the estimate reads the fill there alone
        crop = mask_box(hole, cfg.overlay.estimate_margin)[1:]
        shown = torch.stack(head)
        behind = shown.clone()
        behind[(slice(None), *crop)] = torch.stack(list(fill_in_windows(
            (f[crop] for f in head), (m[crop] for m in head_masks), size, cfg,
            models=models, reporter=reporter, device=device,
            references={t: image[crop] for t, image in early.items()})))
        # in float only around the overlay (32 whole 4K frames would be GBs)
        box = mask_box(hole, cfg.overlay.radius)
        overlay = estimate_overlay(to_float(shown[box]).to(work),
                                   to_float(behind[box]).to(work), hole[box[1:]].to(work),
                                   cfg.overlay).placed(tuple(hole.shape[-2:]), box)
        del behind, shown
        if bool((overlay.weight > 0).any()) and bool((overlay.informed[hole.to(work)] < 1).any()):
            overlay = _completed(overlay, head, hole, cfg, reporter, work)
    else:
        overlay = Overlay(*(x.to(work) for x in (overlay.clear, overlay.colour, overlay.weight)),
                          fit=overlay.fit)
    if not bool((overlay.weight > 0).any()):
        reporter.note(f"the still mask does not let a scene through that the frames show (overlay "
                      f"model fit {overlay.fit:.2f}): it is filled")
        return plain()
    reporter.note(f"overlay {'given' if known is not None else 'found'}: "
                  f"{overlay.summary(hole.to(work))}")
    return _recovered(frames, masks, num_frames, cfg, overlay, hole.cpu(), models, reporter, device,
                      windows)


def _completed(overlay: Overlay, head: list[torch.Tensor], hole: torch.Tensor, cfg: PipelineConfig,
               reporter: Reporter, work: torch.device) -> Overlay:
    """``overlay`` (estimated from the scene's change) with the mask's shape's estimate
    (:func:`vidfill.stages.overlay_still.estimate_still_overlay`, from the mean of the frames
    ``head``) where nothing under it changes (:func:`vidfill.stages.overlay_still.completed`); as
    it was, with a line saying why, where that cannot decide."""
    still, found = _by_shape(head, hole, cfg, work)
    if still is None:
        reporter.note(f"where nothing under the still mask changes, its shape does not tell an "
                      f"overlay apart from the scene ({found}): it is filled there")
        return overlay
    reporter.note(f"where nothing under the still mask changes, the overlay is estimated from its "
                  f"shape: {found}")
    return completed(overlay, still, hole.to(work), cfg.overlay)


def _by_shape(head: list[torch.Tensor], hole: torch.Tensor, cfg: PipelineConfig,
              work: torch.device) -> tuple[Overlay | None, str]:
    """The overlay under ``hole`` ``(1, H, W)`` estimated from its shape on the mean of the frames
    ``head`` (:func:`vidfill.stages.overlay_still.estimate_still_overlay`), at the frames' size
    on ``work``, or None; and what was found, in words."""
    box = mask_box(hole, STILL_MARGIN)
    still, found = estimate_still_overlay(to_float(torch.stack(head)[box]).to(work).mean(0),
                                          hole[box[1:]].to(work), cfg.overlay)
    return (None if still is None else still.placed(tuple(hole.shape[-2:]), box)), found


def still_part(holes: list[torch.Tensor]) -> torch.Tensor:
    """The part of the holes ``(1, H, W)`` bool that stays put: pixels in every hole whose
    connected region (8-connected) holds, in every one of them, no pixel that comes and goes.
    A logo beside a moving object's mask is in it; the object's mask, or a logo it touches, not."""
    always = torch.stack(holes).all(0)
    if not bool(always.any()):
        return always
    touched = torch.zeros_like(always)
    for hole in holes:
        touched |= _regions_with(hole, hole & ~always)
    return always & ~touched


def _regions_with(hole: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """The 8-connected regions of ``hole`` ``(1, H, W)`` bool that hold a pixel of ``seeds``."""
    if not bool(seeds.any()):
        return torch.zeros_like(hole)
    _, labels = cv2.connectedComponents(hole[0].cpu().numpy().astype(np.uint8), connectivity=8)
    labels = torch.from_numpy(labels)[None]
    hit = torch.unique(labels[seeds.cpu()])
    return torch.isin(labels, hit[hit > 0]).to(hole.device)


def changes_under(frames: torch.Tensor, hole: torch.Tensor, level: float) -> bool:
    """Whether the frames ``(T, 3, H, W)`` change under ``hole`` ``(1, H, W)`` bool: the median
    over its pixels of their standard deviation over the frames (channels pooled, [0, 1] scale)
    is at least ``level``. Not on a locked-off shot (an overlay there is as still as the scene),
    nor a hole blanked to one colour."""
    values = to_float(frames)[:, :, hole[0]]
    return float(values.std(0).mean(0).median()) >= level


def _recovered(frames: Iterator[torch.Tensor], masks: Iterator[torch.Tensor], num_frames: int,
               cfg: PipelineConfig, overlay: Overlay, still: torch.Tensor, models: Models,
               reporter: Reporter,
               device: torch.device | None, windows: dict) -> Iterator[torch.Tensor]:
    """Each frame with ``overlay`` taken off, the rest of its hole filled (grown already: the
    fill runs with ``mask.dilate`` 0) and blended where the weight is partial. ``still``: the
    still part of the holes (:func:`still_part`) the overlay was estimated on."""
    weight = overlay.weight.cpu()
    recoverable = weight > 0

    def taken_off() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        for frame, mask in zip(frames, masks):
            hole = dilate_holes(mask[None], cfg.mask.dilate)[0]
            # where something that comes and goes joins the overlay, it is not taken for it
            used = hole & recoverable & ~_regions_with(hole, hole & ~still)
            scene = stored(recover(to_float(frame[None]).to(overlay.clear.device), overlay)[0].cpu(),
                           frame.dtype)
            share = torch.where(used, weight, 0.0)
            yield torch.where(used, scene, frame), hole & (share < 1), (scene, share, hole)

    plain, rest, scenes = _split(taken_off())
    filled = fill_in_windows(plain, rest, num_frames, cfg.replace(mask={"dilate": 0}),
                             models=models, reporter=reporter, device=device, **windows)
    box = mask_box(still, cfg.overlay.steady_margin)[2:]
    clear, work = overlay.clear.cpu(), overlay.clear.device

    def blended() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for out, (scene, share, hole) in zip(filled, scenes):
            partial = (share > 0) & (share < 1)
            if bool(partial.any()):
                blend = stored(share * to_float(scene) + (1 - share) * to_float(out), out.dtype)
                out = torch.where(partial, blend, out)
            # how clearly each pixel shows the scene: 0 where it is a fill or blended with one
            yield out, torch.where(share == 1, clear, (~hole).float())[(slice(None), *box)].to(work)

    return _steadied(blended(), box, cfg.overlay)


def _steadied(items: Iterator[tuple[torch.Tensor, torch.Tensor]], box: tuple[slice, slice],
              cfg: OverlayConfig) -> Iterator[torch.Tensor]:
    """Each frame of ``items`` (a frame ``(3, H, W)`` and how clearly each pixel of its crop
    ``box`` shows the scene, ``(1, h, w)``), its recovered pixels averaged along the flow with
    ``cfg.steady_frames`` frames either side (:func:`vidfill.stages.overlay.steady`); lags
    that many frames behind."""
    reach = cfg.steady_frames
    window: collections.deque = collections.deque()  # (frame, crop, clear), frames base...
    base = 0

    def emit(centre: int) -> torch.Tensor:
        frame = window[centre - base][0]
        crops = torch.stack([c for _, c, _ in window])
        clears = torch.stack([k for _, _, k in window])
        got = steady(crops, clears, centre - base, cfg)
        out = frame.clone()
        out[(slice(None), *box)] = stored(got.to(frame.device), frame.dtype)
        return out

    count = 0
    for frame, clear in items:
        window.append((frame, to_float(frame[(slice(None), *box)]).to(clear.device), clear))
        count += 1
        centre = count - 1 - reach
        if centre >= 0:
            yield emit(centre)
            if centre + 1 - reach > base:
                window.popleft()
                base += 1
    for centre in range(max(0, count - reach), count):
        yield emit(centre)


def _split(items: Iterator[tuple]) -> tuple[Iterator, ...]:
    """Lazily split an iterator of equal-length tuples into one iterator per position."""
    copies = itertools.tee(items, 3)
    return tuple(map(operator.itemgetter(i), copy) for i, copy in enumerate(copies))
