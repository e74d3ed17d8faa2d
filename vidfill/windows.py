"""Temporal windows: long clips in bounded memory, around :func:`vidfill.pipeline.inpaint_video`.

The clip is cut into windows of ``cfg.window.length`` frames that overlap by
``cfg.window.overlap``. Each window is filled by ``inpaint_video``; at a seam the frames the
previous window already finished are handed over as known content (hole cleared, their fill
used as a source), so that the fill continues with no visible seam. The pixels of theirs that
the previous window filled from keyframes go with them as ``inherited``: a source only where
nothing shown reaches, like a keyframe, so that shown content comes first and a still frame
after the seam still gets its own fill. A window leaves its last ``cfg.window.lookahead``
frames to the next one: it sees them (content they reveal reaches back into the frames it
finishes) but does not finish them. Only one window is ever
held as a tensor; frames arrive from an iterator and leave through one as each window
finishes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import torch

from vidfill.config import PipelineConfig, WindowConfig
from vidfill.host import between_steps
from vidfill.models.build import Models
from vidfill.pipeline import inpaint_video
from vidfill.progress import Reporter
from vidfill.io.workdir import WorkDir


@dataclass(frozen=True)
class Window:
    """Frames ``start .. stop-1`` of the clip; the first ``fixed`` of them were finished by
    earlier windows and are handed over as known content, and this window finishes the frames
    up to ``finish`` (the rest, its look-ahead, are finished by the next window)."""

    start: int
    stop: int
    fixed: int
    finish: int

    @property
    def new(self) -> range:
        """The frames this window finishes."""
        return range(self.start + self.fixed, self.finish)


def plan_windows(num_frames: int, cfg: WindowConfig) -> tuple[Window, ...]:
    """Cut ``num_frames`` frames into windows of ``cfg.length`` frames (the last up to
    ``cfg.stretch`` longer).

    Consecutive windows share at least ``cfg.overlap`` finished frames; each window but the
    last also sees ``cfg.lookahead`` frames after those it finishes. When the frames left fit in
    ``length * (1 + stretch)``, one last window takes them all; a last window shorter than
    ``cfg.length`` is moved back to full length (when the clip has that many frames) so that it
    has as much context as the others. Every frame is finished by exactly one window, in order.
    A clip of at most ``length * (1 + stretch)`` frames is one window.
    """
    if num_frames < 1:
        raise ValueError(f"need at least 1 frame, got {num_frames}")
    longest = int(cfg.length * (1 + cfg.stretch))
    windows: list[Window] = []
    done, start = 0, 0
    while done < num_frames:
        if num_frames - start <= longest:
            stop = num_frames
            start = min(start, max(0, stop - cfg.length))
        else:
            stop = start + cfg.length
        finish = stop if stop == num_frames else stop - cfg.lookahead
        windows.append(Window(start=start, stop=stop, fixed=done - start, finish=finish))
        done, start = finish, finish - cfg.overlap
    return tuple(windows)


@dataclass(frozen=True)
class Keyframe:
    """A frame whose hole no other frame showed all of: the image inpainter filled the rest."""

    frame: int
    """Its index in the clip."""
    filled: torch.Tensor
    """(3, H, W) uint8: the frame as filled."""
    invented: torch.Tensor
    """(1, H, W) bool: the pixels that no frame showed, filled by the image inpainter."""


def fill_in_windows(frames: Iterable[torch.Tensor], masks: Iterable[torch.Tensor], num_frames: int,
                    cfg: PipelineConfig, models: Models, *,
                    reporter: Reporter | None = None, device: torch.device | None = None,
                    store: WorkDir | None = None,
                    references: dict[int, torch.Tensor] | None = None,
                    keyframes: list[Keyframe] | None = None) -> Iterator[torch.Tensor]:
    """Fill a clip window by window, yielding each output frame as its window finishes.

    Args:
        frames: the clip's T frames, each ``(3, H, W)`` uint8 RGB, consumed as needed.
        masks: its T masks, each ``(1, H, W)`` bool, True = remove.
        num_frames: T.
        cfg: pipeline settings; ``cfg.window`` cuts the clip (:func:`plan_windows`).
        models: the networks ``cfg`` names, on ``device`` (:func:`vidfill.models.build.build_models`,
            called by the entry points).
        reporter: progress and notes; silent when None.
        device: where each window is processed (default: the CPU); outputs come back to the CPU.
        store: a work directory that records each finished window; the windows it already holds
            (the first ``store.finished``) are read back from it instead of computed.
        references: frame number -> ``(3, H, W)`` uint8 frame painted by hand, given to the
            window that fills that frame (later windows inherit it through the handover).
        keyframes: if given, each :class:`Keyframe` of a finished frame is appended to it.

    Yields:
        T frames, each ``(3, H, W)`` uint8 on the CPU; outside the (dilated) mask equal to the input.
    """
    frames, masks = iter(frames), iter(masks)
    reporter = reporter or Reporter(quiet=True)
    plan = plan_windows(num_frames, cfg.window)
    finished = store.finished if store is not None else 0
    recent: deque[torch.Tensor] = deque(maxlen=cfg.window.length)  # last outputs, for handover
    recent_unreached: deque[torch.Tensor] = deque(maxlen=cfg.window.length)  # their keyframe fill
    waiting: deque[tuple[torch.Tensor, torch.Tensor]] = deque()  # read, not yet finished
    for index, window in enumerate(plan):
        first = window.start + window.fixed  # the first frame in ``waiting``
        wanted = window.stop - first - len(waiting)
        fresh, fresh_masks = list(islice(frames, wanted)), list(islice(masks, wanted))
        if len(fresh) != wanted or len(fresh_masks) != wanted:
            raise ValueError(f"frames {window.stop - wanted}-{window.stop - 1}: got "
                             f"{len(fresh)} frames and {len(fresh_masks)} masks; expected "
                             f"{num_frames} of each")
        waiting.extend(zip(fresh, fresh_masks))
        if index < finished:
            out, unreached = store.load(window.new)
        else:
            local = {t - window.start: image for t, image in (references or {}).items()
                     if window.new.start <= t < window.stop}
            handover = slice(len(recent) - window.fixed, None)
            out, unreached = _fill_window(window, list(recent)[handover],
                                          list(recent_unreached)[handover],
                                          [f for f, _ in waiting], [m for _, m in waiting], cfg,
                                          models, reporter, device, references=local,
                                          keyframes=keyframes)
            out, unreached = out[:len(window.new)], unreached[:len(window.new)]
            if store is not None:
                store.save(index, window.new, out, unreached)
            if len(plan) > 1:
                reporter.note(f"window {index + 1}/{len(plan)} done (frames {window.start}-"
                              f"{window.stop - 1}, finished {window.new.start}-{window.finish - 1})")
        del fresh, fresh_masks
        between_steps()  # the window's temporaries, before the next one
        for frame, from_keyframes in zip(out, unreached):
            waiting.popleft()
            recent.append(frame)
            recent_unreached.append(from_keyframes)
            yield frame


def _fill_window(window: Window, handover: list[torch.Tensor], handover_unreached: list[torch.Tensor],
                 fresh: list[torch.Tensor], fresh_masks: list[torch.Tensor], cfg: PipelineConfig,
                 models: Models, reporter: Reporter, device: torch.device | None, *,
                 references: dict[int, torch.Tensor],
                 keyframes: list[Keyframe] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The unfinished frames of ``window`` filled (its new frames, then its look-ahead):
    ``(stop - start - fixed, 3, H, W)`` uint8, and ``(.., 1, H, W)`` bool, their pixels filled
    from keyframes; given the ``window.fixed`` finished frames before them (``handover``, known
    content, and ``handover_unreached``, where an earlier window filled them from keyframes)
    and the unfinished frames and masks (each ``(3, H, W)`` / ``(1, H, W)``)."""
    clip = torch.stack(handover + fresh).to(device)
    none = torch.zeros_like(fresh_masks[0])
    holes = torch.stack([none] * len(handover) + fresh_masks).to(device)
    inherited = torch.stack(handover_unreached + [none] * len(fresh)).to(device) if handover else None
    result = inpaint_video(clip, holes, cfg, models=models, reporter=reporter, references=references,
                           inherited=inherited)
    if result.keyframes:
        name = getattr(models.inpainter, "name", cfg.leftover.method)
        reporter.note(f"{len(result.keyframes)} keyframe(s) filled by {name}: "
                      f"{', '.join(str(window.start + k) for k in result.keyframes[:10])}")
    if keyframes is not None:
        finished = range(len(handover), len(handover) + len(window.new))
        keyframes.extend(Keyframe(window.start + k, result.frames[k].cpu(), result.invented[k].cpu())
                         for k in result.keyframes if k in finished)
    unreached = result.unreached if result.unreached is not None else torch.zeros_like(holes)
    return result.frames[len(handover):].cpu(), unreached[len(handover):].cpu()
