"""The fill with overlay recovery: under a still mask (a logo, bug or watermark), the scene the
overlay lets through is given back (:mod:`vidfill.stages.overlay`) and only the rest is filled.

1. The first ``overlay.sample`` frames are filled with the whole mask as a hole: the fill's
   estimate of the scene behind the overlay.
2. The overlay's opacity and colour are estimated from those frames and that fill
   (:func:`vidfill.stages.overlay.estimate_overlay`), with one line saying what was found.
3. Every frame's overlay is taken off (``I = (J - b) / k``); the pixels recovered with full
   weight become known, and the clip is filled again with the smaller hole that is left (none,
   for a clear overlay: then nothing more is computed). Where the weight is between 0 and 1
   (towards opaque), the recovered scene and that fill are blended.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Iterable, Iterator

import torch

from vidfill.config import PipelineConfig
from vidfill.models.build import Models, build_models
from vidfill.progress import Reporter
from vidfill.stages.holes import dilate_holes
from vidfill.stages.overlay import Overlay, estimate_overlay, recover
from vidfill.types import stored, to_float
from vidfill.windows import fill_in_windows


def fill_recovering(frames: Iterable[torch.Tensor], masks: Iterable[torch.Tensor], num_frames: int,
                    cfg: PipelineConfig, *, models: Models | None = None,
                    reporter: Reporter | None = None, device: torch.device | None = None,
                    known: Overlay | None = None, **windows) -> Iterator[torch.Tensor]:
    """:func:`vidfill.windows.fill_in_windows` (same arguments, ``windows`` its keyword-only
    ones), with the scene behind a still overlay recovered where ``cfg.overlay.method`` is
    "recover" and the first ``cfg.overlay.sample`` masks are all the same.

    ``known``: the overlay as given by the user (``--overlay-image``), used instead of an
    estimate. Yields T frames like ``fill_in_windows``; outside the (dilated) masks equal to
    the input.
    """
    reporter = reporter or Reporter(quiet=True)
    frames, masks = iter(frames), iter(masks)
    if cfg.overlay.method != "recover" and known is None:
        return fill_in_windows(frames, masks, num_frames, cfg, models=models, reporter=reporter,
                               device=device, **windows)
    size = min(cfg.overlay.sample, num_frames)
    head, head_masks = list(itertools.islice(frames, size)), list(itertools.islice(masks, size))
    frames, masks = itertools.chain(head, frames), itertools.chain(head_masks, masks)
    still = len(head_masks) >= 2 and all(bool(m.equal(head_masks[0])) for m in head_masks[1:])
    hole = dilate_holes(head_masks[0][None], cfg.mask.dilate)[0] if head_masks else None
    if not still or hole is None or not bool(hole.any()):
        return fill_in_windows(frames, masks, num_frames, cfg, models=models, reporter=reporter,
                               device=device, **windows)
    if known is None and not changes_under(torch.stack(head), hole, cfg.overlay.informed / 4):
        reporter.note(f"nothing under the still mask changes over the first {size} frames: what an "
                      "overlay there lets through cannot be told apart from it; it is filled")
        return fill_in_windows(frames, masks, num_frames, cfg, models=models, reporter=reporter,
                               device=device, **windows)
    if models is None:
        models = build_models(cfg, device=device or "cpu", reporter=reporter)
    work = device or torch.device("cpu")
    overlay = known
    if overlay is None:
        reporter.note(f"the mask is the same in every frame: the overlay under it is estimated "
                      f"from the first {size} frames (--overlay fill to fill it instead)")
        early = {t: image for t, image in (windows.get("references") or {}).items() if t < size}
        behind = torch.stack(list(fill_in_windows(iter(head), iter(head_masks), size, cfg,
                                                  models=models, reporter=reporter, device=device,
                                                  references=early)))
        overlay = estimate_overlay(to_float(torch.stack(head)).to(work), to_float(behind).to(work),
                                   hole.to(work), cfg.overlay)
        del behind
    else:
        overlay = Overlay(*(x.to(work) for x in (overlay.clear, overlay.colour, overlay.weight)),
                          fit=overlay.fit)
    if not bool((overlay.weight > 0).any()):
        reporter.note(f"the still mask does not let a scene through that the frames show (overlay "
                      f"model fit {overlay.fit:.2f}): it is filled")
        return fill_in_windows(frames, masks, num_frames, cfg, models=models, reporter=reporter,
                               device=device, **windows)
    reporter.note(f"overlay {'given' if known is not None else 'found'}: "
                  f"{overlay.summary(hole.to(work))}")
    return _recovered(frames, masks, num_frames, cfg, overlay, models, reporter, device, windows)


def changes_under(frames: torch.Tensor, hole: torch.Tensor, level: float) -> bool:
    """Whether the frames ``(T, 3, H, W)`` change under ``hole`` ``(1, H, W)`` bool: the median
    over its pixels of their standard deviation over the frames (channels pooled, [0, 1] scale)
    is at least ``level``. Not on a locked-off shot (an overlay there is as still as the scene),
    nor a hole blanked to one colour."""
    values = to_float(frames)[:, :, hole[0]]
    return float(values.std(0).mean(0).median()) >= level


def _recovered(frames: Iterator[torch.Tensor], masks: Iterator[torch.Tensor], num_frames: int,
               cfg: PipelineConfig, overlay: Overlay, models: Models, reporter: Reporter,
               device: torch.device | None, windows: dict) -> Iterator[torch.Tensor]:
    """Each frame with ``overlay`` taken off, the rest of its hole filled (grown already: the
    fill runs with ``mask.dilate`` 0) and blended where the weight is partial."""
    weight = overlay.weight.cpu()
    whole = weight >= 1

    def taken_off() -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        for frame, mask in zip(frames, masks):
            hole = dilate_holes(mask[None], cfg.mask.dilate)[0]
            scene = stored(recover(to_float(frame[None]).to(overlay.clear.device), overlay)[0].cpu(),
                           frame.dtype)
            used = hole & (weight > 0)
            yield torch.where(used, scene, frame), hole & ~whole, (scene, hole)

    plain, rest, scenes = _split(taken_off())
    filled = fill_in_windows(plain, rest, num_frames, cfg.replace(mask={"dilate": 0}),
                             models=models, reporter=reporter, device=device, **windows)
    partial = (weight > 0) & ~whole
    for out, (scene, hole) in zip(filled, scenes):
        if bool(partial.any()):
            blend = stored(weight * to_float(scene) + (1 - weight) * to_float(out), out.dtype)
            out = torch.where(partial & hole, blend, out)
        yield out


def _split(items: Iterator[tuple]) -> tuple[Iterator, ...]:
    """Lazily split an iterator of equal-length tuples into one iterator per position."""
    copies = itertools.tee(items, 3)
    return tuple(map(operator.itemgetter(i), copy) for i, copy in enumerate(copies))
