"""One clip from files to file: read lazily, fill in windows, write as windows finish.

Used by ``vidfill INPUT MASKS -o OUTPUT`` and by every clip of ``vidfill batch`` (also as a
Ray task: a :class:`Job` is a frozen, picklable description of the work).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import torch
import torch.nn.functional as F

from vidfill import io
from vidfill.api import OBJECT_SAMPLE, for_objects
from vidfill.io import safety
from vidfill.io.layers import PreviewWriter, at_depth, composite, fill_layers
from vidfill.config import PipelineConfig
from vidfill.errors import ConfigError, VidfillError
from vidfill.models.build import Models, build_models
from vidfill.overlays import fill_recovering
from vidfill.stages.overlay import Overlay, given_overlay
from vidfill.stages.holes import dilate_holes
from vidfill.progress import Reporter
from vidfill.types import to_display, to_float
from vidfill.windows import Keyframe, plan_windows
from vidfill.io.workdir import WorkDir, config_hash, default_location, fingerprint, weights_hash


def resolve_device(name: str) -> torch.device:
    """The torch device ``name`` ("auto": CUDA when available, else the CPU), checked to exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name}: not a torch device (e.g. cpu, cuda, cuda:1, mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch has no CUDA support" if torch.version.cuda is None else "no GPU is visible"
            raise ConfigError(f"--device {name}: CUDA is not available ({why}); use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {name}: Apple's MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {name}: vidfill runs on cpu, cuda or mps")
    return device


MIN_FPS, MAX_FPS = Fraction(1, 1000), Fraction(1000)
"""Frame rates a video is written at: every container vidfill writes holds these exactly (above
1000 fps AVI refused the rate, MP4 and MOV wrote no frames, MKV and WebM another rate)."""
MAX_RATE_TERM = 10 ** 8
"""Largest numerator or denominator of a frame rate, whose inverse is the time base: WebM
refused terms of 10**9, MP4 and MOV terms near 2**31."""


def check_rate(fps: Fraction, what: str) -> None:
    """A ConfigError starting with ``what`` unless a video can be written at ``fps``."""
    if not MIN_FPS <= fps <= MAX_FPS or max(fps.numerator, fps.denominator) > MAX_RATE_TERM:
        raise ConfigError(f"{what}: a video is written at {MIN_FPS}..{MAX_FPS} fps, as a fraction "
                          f"whose terms are at most {MAX_RATE_TERM} (e.g. 24000/1001)")


@dataclass(frozen=True)
class Job:
    input: Path
    """Video file, folder of frames or single image."""
    masks: Path
    """Mask folder, single mask image or mask video."""
    output: Path
    """Video file or folder for PNG frames."""
    cfg: PipelineConfig
    raft_weights: Path | None = None
    """Explicit RAFT checkpoint (else the usual lookup)."""
    download: bool = True
    """Whether RAFT weights may be downloaded."""
    crf: int | None = None
    """Quality of a CRF codec (x264, x265, VP9, AV1), lower is better; None: its default
    (:data:`vidfill.io.video.DEFAULT_CRF`). Checked against the codec's range before any work."""
    codec: str | None = None
    fps: Fraction | None = None
    """Frame rate of a frame-folder input; None: :data:`vidfill.io.inputs.DEFAULT_FPS`. A video
    keeps its own."""
    device: str = "auto"
    """Torch device; "auto": CUDA when available, else the CPU."""
    resume: bool = False
    """Record finished windows in the work directory and continue from it if it exists."""
    work_dir: Path | None = None
    """Where to record them; None: ``OUTPUT.vidfill-work`` next to the output."""
    inpainter_weights: Path | None = None
    """Explicit checkpoint of the gated inpainter (else the usual lookup)."""
    references: tuple[tuple[int, Path], ...] = ()
    """(frame, image painted by hand): taken as known inside that frame's hole. The frame is
    an image sequence's frame number (1001 for ``plate.1001.png``), a video's index from 0."""
    overwrite: bool = False
    """An output may replace what vidfill did not write: a video file at the output or preview
    path, or the numbered frames of a folder that holds other files too (the rest kept).
    Otherwise only a new path, an empty folder or an earlier vidfill output is written."""
    fill_only: bool = False
    """Write only the fill, as RGBA layers to lay over the plate (an image sequence): colour and
    alpha on the filled region, transparent elsewhere (:func:`vidfill.io.layers.fill_layers`)."""
    feather: int = 0
    """The fill blends into the plate over this many pixels around the hole: it is computed
    over that band too, and laid over the plate with an alpha that falls from 1 at the hole to
    0 (:func:`vidfill.io.layers.composite`); a fill layer carries that alpha."""
    preview: Path | None = None
    """Also write this video: the input with the hole outlined beside the result, reduced."""
    frames: tuple[int, int] | None = None
    """Only these frames, first and last included: frame numbers of an image sequence (1001 in
    ``plate.1001.png``), indices from 0 of a video. None: all."""
    handles: int = 0
    """With ``frames``: this many frames before and after the range are read and filled as
    context for it, but not written."""
    proxy: float | None = None
    """Run the whole job at this fraction of the frame size (0 < proxy < 1), with the same
    settings, and write the result at that size: a quick look before the full run."""
    start_number: int | None = None
    """Number of the first frame of a sequence output; None: an image sequence's own
    numbers, 0 for a video (:func:`vidfill.io.outputs.frame_names`)."""
    image_format: str | None = None
    """File type of a sequence output: "png", "tiff" or "exr"; None: the source sequence's own
    (PNG for a video). EXR holds scene-linear values, the others display ones: crossing from one
    to the other converts with :data:`vidfill.io.colour.GAMMA`."""
    reads: tuple[tuple[str, Path], ...] = ()
    """``(what, path)`` of the other files the job was made from (a preset file, a batch job
    file): protected like the inputs (:meth:`inputs`)."""
    overlay_image: Path | None = None
    """The overlay burnt into the clip under a still mask, as an RGBA image of the frame's size
    (a broadcaster's own bug): its alpha and colour are taken off instead of estimated."""
    restart: bool = False
    """With ``resume``: a work directory of another run (other inputs, masks, painted frames,
    weights or settings) is emptied of what vidfill wrote there and the run starts over, instead
    of being refused."""

    def inputs(self) -> tuple[tuple[str, Path], ...]:
        """``(what, path)`` of everything the job reads: no output may be, hold or lie inside one."""
        weights = (("--raft-weights", self.raft_weights), ("--inpainter-weights", self.inpainter_weights))
        return ((("the input", self.input), ("the masks", self.masks))
                + tuple((f"--reference {n}", file) for n, file in self.references)
                + tuple((what, path) for what, path in weights if path is not None) + self.reads
                + ((("--overlay-image", self.overlay_image),) if self.overlay_image else ()))

    def outputs(self) -> tuple[tuple[str, Path], ...]:
        """``(what, path)`` of everything the job writes or removes."""
        return ((("the output", self.output),)
                + ((("the preview", self.preview),) if self.preview is not None else ())
                + ((("the work directory", self.work_location),) if self.resume else ()))

    @property
    def work_location(self) -> Path:
        """The work directory of a resumable run."""
        return self.work_dir or default_location(self.output)

    def __post_init__(self) -> None:
        if not isinstance(self.cfg, PipelineConfig):
            raise ConfigError(f"cfg must be a PipelineConfig, got {type(self.cfg).__name__}")
        if self.crf is not None and (isinstance(self.crf, bool) or not isinstance(self.crf, int)
                                     or not 0 <= self.crf <= io.MAX_CRF):
            raise ConfigError(f"--crf must be an integer in 0..{io.MAX_CRF}, got {self.crf!r}")
        if self.fps is not None:
            try:
                # a float as written (29.97 is 2997/100, not its binary expansion)
                fps = Fraction(str(self.fps) if isinstance(self.fps, float) else self.fps)
            except (TypeError, ValueError, ZeroDivisionError):
                raise ConfigError(f"--fps must be a positive number, got {self.fps!r}") from None
            if fps <= 0:
                raise ConfigError(f"--fps must be positive, got {self.fps}")
            check_rate(fps, f"--fps {self.fps}")
            object.__setattr__(self, "fps", fps)
        resolve_device(self.device)
        for flag, value in (("--feather", self.feather), ("--start-number", self.start_number),
                            ("--handles", self.handles)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ConfigError(f"{flag} must be a whole number >= 0, got {value!r}")
        if self.proxy is not None and (isinstance(self.proxy, bool) or not isinstance(
                self.proxy, (int, float)) or not 0 < self.proxy < 1):
            raise ConfigError(f"--proxy must be a fraction of the frame size between 0 and 1, "
                              f"got {self.proxy!r}")
        if self.frames is not None and (len(self.frames) != 2 or self.frames[0] > self.frames[1]):
            raise ConfigError(f"--frames must be FIRST:LAST with FIRST <= LAST, got {self.frames!r}")
        if self.handles and self.frames is None:
            raise ConfigError("--handles are frames around a range: they need --frames")
        if self.restart and not self.resume:
            raise ConfigError("--restart starts a resumable run over: it needs --resume or --work-dir")
        if self.image_format is not None and self.image_format not in io.IMAGE_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(io.IMAGE_FORMATS)}, got "
                              f"{self.image_format!r}")


def parse_reference(item: str) -> tuple[int, Path]:
    """``"12=painted.png"`` -> ``(12, Path("painted.png"))``."""
    number, sep, file = item.partition("=")
    if not sep or not file:
        raise VidfillError(f"--reference {item}: expected N=FILE, e.g. 12=painted.png")
    try:
        return int(number), Path(file)
    except ValueError:
        raise VidfillError(f"--reference {item}: the frame number {number!r} is not an integer") from None


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


def check_output_location(output: Path) -> None:
    """Fail before the long work if ``output`` could not be written."""
    ancestor = output.resolve().parent
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise VidfillError(f"{output}: cannot write here ({ancestor} is not a folder)")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise VidfillError(f"{output}: cannot write here (no write permission on {ancestor})")
    try:  # the real test (root passes os.access; /proc, read-only mounts): make a folder there
        os.rmdir(tempfile.mkdtemp(prefix=".vidfill-check-", dir=ancestor))
    except OSError as exc:
        raise VidfillError(f"{output}: cannot write here ({exc.strerror or exc} in {ancestor})") \
            from None


@dataclass(frozen=True)
class _Inputs:
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
    (inf, NaN): unknown, those pixels are added to their holes (:meth:`masks`)."""

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

    def overlay_sample(self, deep: bool, head: _FirstMasks) -> tuple[Iterator, Iterator] | None:
        """The frames and masks an overlay is estimated from (:mod:`vidfill.overlays`) when a
        range does not read from the clip's start: the clip's first ones, as in the full render
        (the masks from ``head``, decoded only when the estimate takes them)."""
        if self.lo == 0:
            return None
        part = (0, min(self.source.num_frames, self.job.cfg.overlay.sample))
        return self.work(deep, part), self.masks(part=part, head=head)

    def read_masks(self, note=None) -> Iterator[torch.Tensor]:
        """Every mask of the source, as :func:`vidfill.io.iter_masks` reads them (the source's
        size; the pixels that are not finite not added)."""
        cfg = self.job.cfg
        return io.iter_masks(self.job.masks, self.source.num_frames, self.source.size,
                             cfg.mask.threshold, note, invert=cfg.mask.invert,
                             numbers=self.source.info.numbers)

    def masks(self, note=None, part: tuple[int, int] | None = None,
              head: _FirstMasks | None = None) -> Iterator[torch.Tensor]:
        """The masks of the frames filled (``part``: of these frames instead), with the pixels
        that are not finite (:attr:`nonfinite`), at :attr:`size`: reduced, a pixel is a hole if
        any pixel under it is. ``head``: the clip's first masks, already decoded, for a
        ``part`` among them."""
        lo, hi = part or (self.lo, self.hi)
        read = head.between(lo, hi) if head is not None else \
            itertools.islice(self.read_masks(note), lo, hi)
        masks = (mask | self._not_finite(t) if t in self.nonfinite else mask
                 for t, mask in zip(range(lo, hi), read))
        if self.size == self.source.size:
            return masks
        return (F.interpolate(m[None].float(), size=self.size, mode="area")[0] > 0 for m in masks)

    def holes(self, note=None, part: tuple[int, int] | None = None) -> Iterator[torch.Tensor]:
        """The final holes of the frames written (``part``: of these frames instead): the
        :meth:`masks` grown by ``mask.dilate``."""
        return (dilate_holes(mask[None], self.job.cfg.mask.dilate)[0]
                for mask in self.masks(note, part or (self.first, self.stop)))

    def _not_finite(self, t: int) -> torch.Tensor:
        """``(1, H, W)`` bool at the source's size: the pixels of the source's frame ``t`` with a
        sample that is not finite (the frame read again: :attr:`nonfinite` holds only indices)."""
        frame = next(io.iter_frames(io.clip_range(self.source, t, t + 1), deep=True))
        return ~torch.isfinite(frame).all(0, keepdim=True)


class _FirstMasks:
    """The clip's first masks (:meth:`_Inputs.read_masks`), decoded once for the decisions taken
    on the clip's start, each of which asks for the first n: whether the masks outline an object
    (:func:`_for_objects`, :data:`~vidfill.api.OBJECT_SAMPLE`), the hole of a given overlay
    (:func:`known_overlay`, 1) and a range's overlay sample (:meth:`_Inputs.overlay_sample`,
    ``overlay.sample``). Only as many as the most asked for are decoded and kept (a few dozen,
    whatever the clip's length), until :meth:`release`."""

    def __init__(self, inputs: _Inputs) -> None:
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


def _for_objects(inputs: _Inputs, reporter: Reporter, head: _FirstMasks) -> _Inputs:
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


def _at_proxy(job: Job) -> Job:
    """``job`` with its settings for the proxy's frame size (:meth:`PipelineConfig.at_scale`)."""
    return job if job.proxy is None else replace(job, cfg=job.cfg.at_scale(job.proxy))


def _resized(frame: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A frame reduced to ``size`` by area averaging (:attr:`_Inputs.size`), of its own sample
    type (a half-float plate stays half, as the full-size run writes it)."""
    small = F.interpolate(frame[None].float(), size=size, mode="area")[0]
    return small.to(frame.dtype) if frame.is_floating_point() else small.round().to(frame.dtype)


def _open_inputs(job: Job, reporter: Reporter) -> _Inputs:
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
    inputs = _Inputs(job, source, lo, hi, first, stop)
    (h, w) = inputs.size
    if job.cfg.mask.dilate >= max(h, w):
        raise ConfigError(f"{_growth(job)}: grows the hole past the {w}x{h} frame; mask.dilate "
                          f"must be less than its larger side, {max(h, w)}")
    if source.info.floating:
        inputs = replace(inputs, nonfinite=_nonfinite(inputs, reporter))
    return inputs


def known_overlay(job: Job, inputs: _Inputs, head: _FirstMasks | None = None) -> Overlay | None:
    """The overlay of ``job.overlay_image`` at the frames' size (reduced for a proxy), used
    under the clip's first mask (from ``head`` when given); None without one."""
    if job.overlay_image is None:
        return None
    opacity, colour = io.read_overlay_image(job.overlay_image)
    (h, w), size = inputs.source.size, inputs.size
    if tuple(opacity.shape[-2:]) != (h, w):
        raise VidfillError(f"{job.overlay_image}: the overlay image is {opacity.shape[-1]}x"
                           f"{opacity.shape[-2]}, the frames of {job.input} are {w}x{h}")
    mask = (head or _FirstMasks(inputs))(1)[0]
    if tuple(opacity.shape[-2:]) != tuple(size):
        opacity, colour = (F.interpolate(x[None], size=size, mode="area")[0] for x in (opacity, colour))
        mask = F.interpolate(mask[None].float(), size=size, mode="area")[0] > 0
    return given_overlay(opacity, colour, dilate_holes(mask[None], job.cfg.mask.dilate)[0],
                         job.cfg.overlay)


def _growth(job: Job) -> str:
    """``--dilate N`` as the hole is grown (with ``--proxy``, N is scaled to the proxy's size)."""
    return f"--dilate {job.cfg.mask.dilate}" + (
        f" scaled to --proxy {job.proxy:g}" if job.proxy is not None else "")


def _nonfinite(inputs: _Inputs, reporter: Reporter) -> frozenset[int]:
    """:attr:`_Inputs.nonfinite` of a float plate's frames read (each read once), with one line
    naming them."""
    counts = {}
    for t, frame in enumerate(io.iter_frames(inputs.clip, deep=True), inputs.lo):
        count = int((~torch.isfinite(frame).all(0)).sum())
        if count:
            counts[t] = count
    if counts:
        numbers = [str(frame_number(inputs.source, t)) for t in counts]
        reporter.warn(f"{inputs.job.input}: {sum(counts.values())} pixel(s) not finite (inf or NaN) "
                      f"in frame(s) {', '.join(numbers[:10])}{', ...' if len(numbers) > 10 else ''}: "
                      "unknown, they are filled as part of the hole")
    return frozenset(counts)


def _read_inputs(inputs: _Inputs, reporter: Reporter,
                 deep: bool = False) -> tuple[dict[int, torch.Tensor], bool]:
    """The painted references (by index among the frames filled; with ``deep``, as float16
    frames like :meth:`_Inputs.work`) and whether any frame has a hole; a VidfillError for a
    reference outside them or a frame that is all hole."""
    job, source, lo, hi = inputs.job, inputs.source, inputs.lo, inputs.hi
    items = tuple((_frame_index(source, n, f"--reference {n}={file}"), file)
                  for n, file in job.references)
    references = read_references(items, source.num_frames, source.size, job.input)
    outside = [frame_number(source, t) for t in sorted(references) if not lo <= t < hi]
    if outside:
        raise VidfillError(f"--reference: frame(s) {', '.join(map(str, outside))} are outside the "
                           f"frames read ({frame_number(source, lo)}..{frame_number(source, hi - 1)})")
    full, any_hole = [], False
    for t, hole in enumerate(inputs.holes(reporter.note, (lo, hi)), lo):  # as they are filled
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


def _models(job: Job, models: Models | None, device: torch.device, reporter: Reporter) -> Models:
    return models or build_models(job.cfg, raft_weights=job.raft_weights,
                                  inpainter_weights=job.inpainter_weights, download=job.download,
                                  device=device, reporter=reporter)


def run_job(job: Job, reporter: Reporter | None = None, models: Models | None = None) -> None:
    """Fill ``job.input`` and write ``job.output``; every problem with the files is a VidfillError.

    ``models``: the networks ``job.cfg`` names, built here when None
    (:func:`vidfill.models.build.build_models` with the job's weights options). Memory holds one
    window (``job.cfg.window``) and does not grow with the clip's length. The output appears only
    when complete; with ``job.resume`` the work directory is removed then.
    """
    reporter = reporter or Reporter(quiet=True)
    job = _at_proxy(job)
    cfg = job.cfg
    device = resolve_device(job.device)
    safety.check_apart(job.inputs(), job.outputs())
    check_output_location(job.output)
    inputs = _open_inputs(job, reporter)
    head = _FirstMasks(inputs)
    inputs = _for_objects(inputs, reporter, head)
    job, cfg = inputs.job, inputs.job.cfg  # the masks' growth decided
    clip, shown = inputs.clip, inputs.shown
    for flag, wanted in (("--fill-only", job.fill_only), ("--format", job.image_format)):
        if wanted and not io.is_sequence_folder(job.output):
            raise VidfillError(f"{job.output}: {flag} is for an image-sequence output; give a folder")
    target = shown.info if job.image_format is None else replace(
        shown.info, suffix=io.IMAGE_FORMATS[job.image_format])
    deep = io.check_output(job.output, target, job.codec, job.crf, overwrite=job.overwrite,
                           note=reporter.warn) > 8
    if job.proxy is not None:
        h, w = inputs.size
        reporter.note(f"proxy: the whole run at {w}x{h} ({job.proxy:g} of the frame size)")
    if job.start_number is not None and not io.is_sequence_folder(job.output):
        reporter.warn(f"--start-number is ignored: {job.output} is a video, which has no frame numbers")
    if job.preview is not None:
        safety.check_apart([("the output", job.output)], [("the preview", job.preview)])
        check_output_location(job.preview)
        if io.is_sequence_folder(job.preview):
            raise VidfillError(f"{job.preview}: a preview is a video file (.mp4, .mov, ...)")
        io.check_output(job.preview, replace(shown.info, depth=8), overwrite=job.overwrite)
    references, any_hole = _read_inputs(inputs, reporter, deep)
    known = known_overlay(job, inputs, head)
    store = None
    if not any_hole:
        reporter.note(f"{job.masks}: no hole in any frame; the output is a copy of the input")
        out = inputs.work(deep)
    else:
        models = _models(job, models, device, reporter)
        if references:
            reporter.note(f"painted reference frame(s) {', '.join(str(n) for n, _ in job.references)} "
                          "taken as known inside the hole")
        if job.resume:
            store = _work_dir(job, clip, models, deep)
            if store.finished:
                reporter.note(f"resuming: {store.finished} window(s) already in {store.path}")
        # with --feather the fill covers the band its alpha ramps across, too
        grown = cfg.replace(mask={"dilate": cfg.mask.dilate + job.feather}) if job.feather else cfg
        out = fill_recovering(inputs.work(deep), inputs.masks(), clip.num_frames, grown,
                              models=models, reporter=reporter, device=device, store=store,
                              references=references, known=known,
                              sample=inputs.overlay_sample(deep, head))
    head.release()  # the fill has taken its sample
    out = itertools.islice(out, inputs.first - inputs.lo, inputs.stop - inputs.lo)  # not the handles
    written = (inputs.first, inputs.stop)
    # a full-frame output is composited over the plate at its depth where the fill alone is not
    # it: a deep plate (the plate bit-exact outside the hole), a feather (a blend across the edge)
    blend = not job.fill_only and (deep or job.feather > 0)
    # the masks are read once for the steps below that need the holes; they take them in step
    users = (job.preview is not None) + blend + job.fill_only
    holes = iter(itertools.tee(inputs.holes(), users) if users else ())
    try:
        with (PreviewWriter(job.preview, shown.num_frames, shown.info, job.overwrite,
                            job.inputs()) if job.preview else nullcontext()) as preview:
            # the written frames are decoded once more: at full depth for the composite, and
            # shown in 8 bits from those for the preview
            sources = inputs.frames(written, deep=deep) if preview or blend else iter(())
            plate = sources
            if preview is not None and blend:
                sources, plate = itertools.tee(sources)
            if preview is not None:
                shown_8bit = (to_display(io.work_frame(f, shown.info)) for f in sources) if deep \
                    else sources
                out = preview.tee(out, shown_8bit, next(holes))
            out = at_depth(out, shown.info, deep)
            if blend:
                out = composite(out, plate, next(holes), job.feather)
            elif job.fill_only:
                out = fill_layers(out, next(holes), job.feather)
            io.write_stream(job.output, out, shown.num_frames, target, crf=job.crf,
                            codec=job.codec, overwrite=job.overwrite, start=job.start_number,
                            reads=job.inputs())
    except BaseException:
        if store is not None and store.finished == 0:  # nothing worth keeping for --resume
            store.remove()
        elif store is not None:
            store.release()
        raise
    if store is not None:
        store.remove()
    reporter.note(f"wrote {job.output}" + (f" and the preview {job.preview}" if job.preview else ""))


def find_keyframes(job: Job, reporter: Reporter | None = None,
                   models: Models | None = None) -> tuple[list[Keyframe], _Inputs]:
    """The keyframes a run of ``job`` fills with the image inpainter (frames of the written
    range), each with the region no frame showed: what an artist paints for ``--reference``.
    Runs the whole fill (the regions depend on it) and writes nothing."""
    reporter = reporter or Reporter(quiet=True)
    job = _at_proxy(job)
    device = resolve_device(job.device)
    inputs = _open_inputs(job, reporter)
    head = _FirstMasks(inputs)
    inputs = _for_objects(inputs, reporter, head)
    job = inputs.job  # the masks' growth decided
    references, any_hole = _read_inputs(inputs, reporter)
    keyframes: list[Keyframe] = []
    if any_hole:
        clip = inputs.clip
        known = known_overlay(job, inputs, head)  # what the fill recovers is not invented
        for _ in fill_recovering(inputs.frames(), inputs.masks(), clip.num_frames, job.cfg,
                                 models=_models(job, models, device, reporter), reporter=reporter,
                                 device=device, references=references, keyframes=keyframes,
                                 known=known, sample=inputs.overlay_sample(False, head)):
            pass
    written = range(inputs.first - inputs.lo, inputs.stop - inputs.lo)
    return [replace(k, frame=k.frame + inputs.lo) for k in keyframes if k.frame in written], inputs


def frame_range(job: Job, clip: io.ClipSource) -> tuple[tuple[int, int], tuple[int, int]]:
    """Indices ``(lo, hi)`` of the frames read (the range with its handles) and ``(first, stop)``
    of those written, for ``job.frames`` (all frames when None)."""
    if job.frames is None:
        return (0, clip.num_frames), (0, clip.num_frames)
    what = f"--frames {job.frames[0]}:{job.frames[1]}"
    first, stop = (_frame_index(clip, n, what) for n in job.frames)
    stop += 1
    lo, hi = max(0, first - job.handles), min(clip.num_frames, stop + job.handles)
    if job.handles:
        lo, hi = _on_windows(clip.num_frames, job.cfg, (lo, hi), (first, stop))
    return (lo, hi), (first, stop)


def _on_windows(num_frames: int, cfg: PipelineConfig, read: tuple[int, int],
                written: tuple[int, int]) -> tuple[int, int]:
    """The frames ``read`` (a range with its handles) rounded out to the windows a full run
    cuts the clip into (:func:`vidfill.windows.plan_windows`), so that the range's frames are
    filled by the windows, with the context, that fill them in a full run: out to the start of
    the window before the one that finishes the range's first frame (or an earlier one that
    holds the first handle), which fills the frames it hands over, and to the stop of the
    window that finishes the range's last frame (or a later one). Only that first window's own
    handover is missing, so the frames match the full render's within a level or so, exactly
    when the first window is the clip's (docs/usage.md, --handles).
    ``read`` unchanged where the windows of the frames read would be cut otherwise."""
    plan = plan_windows(num_frames, cfg.window)
    (lo, hi), (first, stop) = read, written
    finishing = [w for w in plan if w.new.start < stop and first < w.finish]
    before = plan[max(0, plan.index(finishing[0]) - 1)]  # fills what it hands over
    lo = min(before.start, max(w.start for w in plan if w.start <= lo))
    hi = max(finishing[-1].stop, min((w.stop for w in plan if w.stop >= hi), default=num_frames))
    full = {(w.start, w.stop) for w in plan}
    if all((lo + w.start, lo + w.stop) in full for w in plan_windows(hi - lo, cfg.window)
           if lo + w.new.start < stop and first < lo + w.finish):
        return lo, hi
    return read


def frame_number(clip: io.ClipSource, index: int) -> int:
    """The number the user gives frame ``index`` of ``clip`` by: an image sequence's frame
    number (1001 in ``plate.1001.png``), a video's index."""
    return clip.info.numbers[index] if clip.info.numbers is not None else index


def _frame_index(clip: io.ClipSource, number: int, what: str) -> int:
    """The index of the frame the user calls ``number`` (:func:`frame_number`); a VidfillError
    starting with ``what`` (the option) if there is none."""
    numbers = clip.info.numbers if clip.info.numbers is not None else range(clip.num_frames)
    if number not in numbers:
        kind = "frame numbers" if clip.info.numbers is not None else "frame indices (from 0)"
        raise VidfillError(f"{what}: {clip.info.source} has no frame {number} (its {kind} are "
                           f"{numbers[0]}..{numbers[-1]})")
    return numbers.index(number)


def _work_dir(job: Job, clip: io.ClipSource, models: Models, deep: bool) -> WorkDir:
    """The work directory of ``job``, keyed by everything that shapes its output: the frames
    and masks (:func:`vidfill.io.workdir.fingerprint`), the painted frames' contents, the
    networks' weights, the settings and the windows."""
    plan = plan_windows(clip.num_frames, job.cfg.window)
    key = {"input": fingerprint(job.input, clip.files),
           "masks": fingerprint(job.masks, io.mask_files(job.masks), contents=True),
           "references": [[n, safety.sha256(file)] for n, file in job.references],
           "weights": weights_hash(models),
           "num_frames": clip.num_frames, "size": list(clip.size),
           "config": config_hash(job.cfg),
           "plan": [[w.start, w.stop, w.fixed] for w in plan],
           "frames": list(job.frames) if job.frames else None, "handles": job.handles,
           "proxy": job.proxy, "deep": deep, "feather": job.feather,
           "overlay_image": safety.sha256(job.overlay_image) if job.overlay_image else None}
    return WorkDir(job.work_location, key, protected=job.inputs() + job.outputs()[:-1],
                   restart=job.restart)
