"""A job's clip, opened: the frames filled and written (at the proxy's size), their masks and
holes, the painted references and the overlay image, with the checks that need the files."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torch.nn.functional as F

from vidfill import io
from vidfill.api import OBJECT_SAMPLE, for_objects
from vidfill.errors import ConfigError, VidfillError
from vidfill.job.ranges import frame_index, frame_number, frame_range
from vidfill.job.spec import Job, check_rate
from vidfill.progress import Reporter
from vidfill.stages.holes import dilate_holes
from vidfill.stages.overlay import Overlay, given_overlay
from vidfill.types import to_float


def read_references(items: tuple[tuple[int, Path], ...], num_frames: int, size: tuple[int, int],
                    source: Path) -> dict[int, torch.Tensor]:
    """The painted frames: frame number -> ``(3, H, W)`` uint8."""
    references: dict[int, torch.Tensor] = {}
    for t, file in items:
        item = f"{t}={file}"
        if not 0 <= t < num_frames:
            raise VidfillError(f"--reference {item}: frame {t} is not in 0..{num_frames - 1} "
                               f"({source} has {num_frames} frames)")
        if t in references:
            raise VidfillError(f"--reference {item}: frame {t} is given twice")
        references[t] = io.read_reference(file, size)
    return references



@dataclass(frozen=True)
class Inputs:
    """A job's clip, opened: the frames filled (``lo``..``hi``, handles included) and written
    (``first``..``stop``), as indices of ``source``."""

    job: Job
    source: io.ClipSource
    lo: int
    hi: int
    first: int
    stop: int
    nonfinite: frozenset[int] = frozenset()
    """Indices of the source's frames (of a float plate) that have samples which are not finite
    (inf, NaN): unknown, those pixels are added to their holes (:func:`_decode_masks`)."""
    packed: io.PackedMasks | None = None
    """The masks of the frames filled (``lo``..``hi``) at :attr:`size`, with the pixels that
    are not finite, decoded once (:func:`_decode_masks`): every step of the run takes them
    from here."""

    @property
    def clip(self) -> io.ClipSource:
        return io.clip_range(self.source, self.lo, self.hi)

    @property
    def shown(self) -> io.ClipSource:
        return io.clip_range(self.source, self.first, self.stop)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the frames processed: the source's, or reduced by ``job.proxy`` (even)."""
        if self.job.proxy is None:
            return self.source.size
        return tuple(max(2, round(side * self.job.proxy / 2) * 2) for side in self.source.size)

    def frames(self, part: tuple[int, int] | None = None, deep: bool = False) -> Iterator[torch.Tensor]:
        """The frames filled (``part``: these instead), at :attr:`size`: 8-bit, or with ``deep``
        at the source's full depth (:func:`vidfill.io.colour.native_dtype`)."""
        lo, hi = part or (self.lo, self.hi)
        frames = io.iter_frames(io.clip_range(self.source, lo, hi), deep=deep)
        if self.size == self.source.size:
            return frames
        return (_resized(f, self.size) for f in frames)

    def work(self, deep: bool, part: tuple[int, int] | None = None) -> Iterator[torch.Tensor]:
        """The frames the pipeline fills (``part``: these instead): :meth:`frames`, or with
        ``deep`` the float16 frames of :func:`vidfill.io.colour.work_frame` (filled in float)."""
        if not deep:
            return self.frames(part)
        # samples that are not finite are in the hole (:meth:`masks`): 0, so that none spreads
        return (io.work_frame(f.nan_to_num(nan=0.0, posinf=0.0, neginf=0.0)
                              if f.is_floating_point() else f, self.source.info)
                for f in self.frames(part, deep=True))

    def overlay_sample(self, deep: bool, head: FirstMasks) -> tuple[Iterator, Iterator] | None:
        """The frames and masks an overlay is estimated from (:mod:`vidfill.overlays`) when a
        range does not read from the clip's start: the clip's first ones, as in the full render
        (the masks from ``head``, decoded only when the estimate takes them)."""
        if self.lo == 0:
            return None
        part = (0, min(self.source.num_frames, self.job.cfg.overlay.sample))
        return self.work(deep, part), self.masks(part=part, head=head)

    def read_masks(self, note=None) -> Iterator[torch.Tensor]:
        """Every mask of the source, decoded from the files as :func:`vidfill.io.iter_masks`
        reads them (the source's size; the pixels that are not finite not added)."""
        cfg = self.job.cfg
        return io.iter_masks(self.job.masks, self.source.num_frames, self.source.size,
                             cfg.mask.threshold, note, invert=cfg.mask.invert,
                             numbers=self.source.info.numbers)

    def masks(self, part: tuple[int, int] | None = None,
              head: FirstMasks | None = None) -> Iterator[torch.Tensor]:
        """The masks of the frames filled (``part``: of these frames instead) at :attr:`size`,
        from :attr:`packed`; a frame outside them (a range's sample of the clip's start) is
        decoded, from ``head`` when given, and reduced to :attr:`size`."""
        lo, hi = part or (self.lo, self.hi)
        packed = self.packed
        if packed is not None and self.lo <= lo and hi <= self.hi:
            return packed.between(lo - self.lo, hi - self.lo)
        read = head.between(lo, hi) if head is not None else \
            itertools.islice(self.read_masks(), lo, hi)
        return (packed[t - self.lo] if packed is not None and self.lo <= t < self.hi
                else self.sized(mask) for t, mask in zip(range(lo, hi), read))

    def sized(self, mask: torch.Tensor) -> torch.Tensor:
        """A mask of the source reduced to :attr:`size`: a pixel is a hole if any under it is."""
        if self.size == self.source.size:
            return mask
        return F.interpolate(mask[None].float(), size=self.size, mode="area")[0] > 0

    def holes(self, part: tuple[int, int] | None = None) -> Iterator[torch.Tensor]:
        """The final holes of the frames written (``part``: of these frames instead): the
        :meth:`masks` grown by ``mask.dilate``."""
        return (dilate_holes(mask[None], self.job.cfg.mask.dilate)[0]
                for mask in self.masks(part or (self.first, self.stop)))


class FirstMasks:
    """The clip's first masks (:meth:`Inputs.read_masks`), for a range that does not start at
    the clip's start (the others are in :attr:`Inputs.packed`): decoded once for the decisions
    taken on the clip's start, each of which asks for the first n: whether the masks outline an
    object (:func:`_for_objects`, :data:`~vidfill.api.OBJECT_SAMPLE`), the hole of a given
    overlay (:func:`known_overlay`, 1) and the overlay sample (:meth:`Inputs.overlay_sample`,
    ``overlay.sample``). Only as many as the most asked for are decoded and kept (a few dozen,
    whatever the clip's length), until :meth:`release`."""

    def __init__(self, inputs: Inputs) -> None:
        self._read, self._kept, self._rest = inputs.read_masks, [], None

    def __call__(self, count: int) -> list[torch.Tensor]:
        """The first ``count`` masks (fewer if the clip has fewer), ``(1, H, W)`` bool each."""
        if len(self._kept) < count:
            if self._rest is None:
                self._rest = self._read()
            self._kept += itertools.islice(self._rest, count - len(self._kept))
        return self._kept[:count]

    def between(self, lo: int, hi: int) -> Iterator[torch.Tensor]:
        """Masks ``lo`` to ``hi - 1``, decoded when the first of them is taken."""
        yield from self(hi)[lo:]

    def release(self) -> None:
        """Drop the masks kept (and the reading of the rest): their users have them."""
        self._kept, self._rest = [], None


def _for_objects(inputs: Inputs, reporter: Reporter, head: FirstMasks) -> Inputs:
    """``inputs`` whose job grows the masks when they outline an object (:func:`for_objects`,
    decided on the clip's first frames, for a range too: it splices with the full render)."""
    if inputs.job.cfg.mask.grow_objects <= inputs.job.cfg.mask.dilate:
        return inputs
    part = (0, min(inputs.source.num_frames, OBJECT_SAMPLE))
    masks = torch.stack(list(inputs.masks(part=part, head=head)))
    if bool((masks == masks[:1]).all()):
        return inputs  # a still mask (a logo): no frame need be decoded to tell
    frames = torch.stack(list(inputs.frames(part)))
    cfg = for_objects(inputs.job.cfg, frames, masks, reporter)
    return inputs if cfg is inputs.job.cfg else replace(inputs, job=replace(inputs.job, cfg=cfg))


def at_proxy(job: Job) -> Job:
    """``job`` with its settings for the proxy's frame size (:meth:`PipelineConfig.at_scale`)."""
    return job if job.proxy is None else replace(job, cfg=job.cfg.at_scale(job.proxy))


def _resized(frame: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A frame reduced to ``size`` by area averaging (:attr:`Inputs.size`), of its own sample
    type (a half-float plate stays half, as the full-size run writes it)."""
    small = F.interpolate(frame[None].float(), size=size, mode="area")[0]
    return small.to(frame.dtype) if frame.is_floating_point() else small.round().to(frame.dtype)


def _open_inputs(job: Job, reporter: Reporter) -> Inputs:
    """Open ``job.input`` and place its frame range, with a line for what the user should know."""
    source = io.open_clip(job.input, fps=job.fps or io.DEFAULT_FPS, note=reporter.warn)
    if job.fps is None and source.files is not None and (
            job.preview is not None or not io.is_sequence_folder(job.output)):
        check_rate(source.info.fps, f"{job.input}: the rate a frame folder gets by default, "
                                    f"{source.info.fps} fps (--fps to give another)")
    (lo, hi), (first, stop) = frame_range(job, source)
    if (first, stop) != (0, source.num_frames):
        reporter.note(f"frames {frame_number(source, first)} to {frame_number(source, stop - 1)} "
                      f"({stop - first} of {source.num_frames}), with {first - lo} before and "
                      f"{hi - stop} after as context" + (
                          "; the audio is not kept with a range" if source.info.has_audio else ""))
    if job.fps is not None and source.files is None:
        reporter.warn(f"--fps is ignored: {job.input} keeps its own rate "
                      f"({float(source.info.fps):g} fps)")
    if source.info.rotation:
        reporter.note(f"{job.input}: stored turned by {abs(source.info.rotation)} degrees "
                      f"({'counter-' if source.info.rotation > 0 else ''}clockwise display matrix): "
                      "masks are read as the clip is displayed, and the output keeps the rotation")
    inputs = Inputs(job, source, lo, hi, first, stop)
    (h, w) = inputs.size
    if job.cfg.mask.dilate >= max(h, w):
        raise ConfigError(f"{_growth(job)}: grows the hole past the {w}x{h} frame; mask.dilate "
                          f"must be less than its larger side, {max(h, w)}")
    return _decode_masks(inputs, reporter)


def known_overlay(job: Job, inputs: Inputs, head: FirstMasks | None = None) -> Overlay | None:
    """The overlay of ``job.overlay_image`` at the frames' size (reduced for a proxy), used
    under the clip's first mask (from ``head`` when given); None without one."""
    if job.overlay_image is None:
        return None
    opacity, colour = io.read_overlay_image(job.overlay_image)
    (h, w), size = inputs.source.size, inputs.size
    if tuple(opacity.shape[-2:]) != (h, w):
        raise VidfillError(f"{job.overlay_image}: the overlay image is {opacity.shape[-1]}x"
                           f"{opacity.shape[-2]}, the frames of {job.input} are {w}x{h}")
    mask = next(inputs.masks(part=(0, 1), head=head))
    if tuple(opacity.shape[-2:]) != tuple(size):
        opacity, colour = (F.interpolate(x[None], size=size, mode="area")[0] for x in (opacity, colour))
    return given_overlay(opacity, colour, dilate_holes(mask[None], job.cfg.mask.dilate)[0],
                         job.cfg.overlay)


def _growth(job: Job) -> str:
    """``--dilate N`` as the hole is grown (with ``--proxy``, N is scaled to the proxy's size)."""
    return f"--dilate {job.cfg.mask.dilate}" + (
        f" scaled to --proxy {job.proxy:g}" if job.proxy is not None else "")


def _decode_masks(inputs: Inputs, reporter: Reporter) -> Inputs:
    """``inputs`` with the masks of the frames filled decoded once and kept
    (:attr:`Inputs.packed`), and on a float plate the pixels that are not finite added to them
    (:attr:`Inputs.nonfinite`, each frame read once, with one line naming them)."""
    masks = itertools.islice(inputs.read_masks(reporter.note), inputs.lo, inputs.hi)
    frames = io.iter_frames(inputs.clip, deep=True) if inputs.source.info.floating else \
        itertools.repeat(None)
    packed, counts = io.PackedMasks(inputs.size), {}
    for t, mask, frame in zip(range(inputs.lo, inputs.hi), masks, frames):
        if frame is not None:
            unknown = ~torch.isfinite(frame).all(0, keepdim=True)
            if bool(unknown.any()):
                counts[t] = int(unknown.sum())
                mask = mask | unknown
        packed.append(inputs.sized(mask))
    if counts:
        numbers = [str(frame_number(inputs.source, t)) for t in counts]
        reporter.warn(f"{inputs.job.input}: {sum(counts.values())} pixel(s) not finite (inf or NaN) "
                      f"in frame(s) {', '.join(numbers[:10])}{', ...' if len(numbers) > 10 else ''}: "
                      "unknown, they are filled as part of the hole")
    return replace(inputs, nonfinite=frozenset(counts), packed=packed)


def read_inputs(inputs: Inputs, reporter: Reporter,
                 deep: bool = False) -> tuple[dict[int, torch.Tensor], bool]:
    """The painted references (by index among the frames filled; with ``deep``, as float16
    frames like :meth:`Inputs.work`) and whether any frame has a hole; a VidfillError for a
    reference outside them or a frame that is all hole."""
    job, source, lo, hi = inputs.job, inputs.source, inputs.lo, inputs.hi
    items = tuple((frame_index(source, n, f"--reference {n}={file}"), file)
                  for n, file in job.references)
    references = read_references(items, source.num_frames, source.size, job.input)
    outside = [frame_number(source, t) for t in sorted(references) if not lo <= t < hi]
    if outside:
        raise VidfillError(f"--reference: frame(s) {', '.join(map(str, outside))} are outside the "
                           f"frames read ({frame_number(source, lo)}..{frame_number(source, hi - 1)})")
    full, any_hole = [], False
    for t, hole in enumerate(inputs.holes((lo, hi)), lo):  # as they are filled
        any_hole = any_hole or bool(hole.any())
        if bool(hole.all()):
            full.append(t)
    if full:
        why = ([f"grown by {_growth(job)}"] if job.cfg.mask.dilate else
               [f"at --proxy {job.proxy:g}"] if job.proxy is not None else []) + (
            [f"with the pixels of {job.input} that are not finite"]
            if inputs.nonfinite.intersection(full) else [])
        raise VidfillError(f"{job.masks}: frame(s) "
                           f"{', '.join(str(frame_number(source, t)) for t in full[:10])} are "
                           f"entirely hole{' (' + ', '.join(why) + ')' if why else ''}; nothing is "
                           "left to fill them from")
    if any_hole and hi - lo < 2:
        raise VidfillError(f"{job.input}: a single frame; video inpainting needs at least 2")
    if inputs.size != source.size:  # --proxy
        references = {t: _resized(painted, inputs.size) for t, painted in references.items()}
    if deep:  # painted in 8 bits, as the frames are shown: the work frames' encoding
        references = {t: to_float(painted).half() for t, painted in references.items()}
    return {t - lo: painted for t, painted in references.items()}, any_hole


def open_job(job: Job, reporter: Reporter) -> tuple[Inputs, FirstMasks]:
    """``job``'s clip opened (:func:`_open_inputs`) with its first masks, the masks' growth
    decided on them (:func:`_for_objects`): the job to run is ``inputs.job``."""
    inputs = _open_inputs(job, reporter)
    head = FirstMasks(inputs)
    return _for_objects(inputs, reporter, head), head
