"""Reading frames and masks, writing the result: video files (PyAV), image sequences (OpenCV;
OpenEXR for .exr).

Frames are ``(T, 3, H, W)`` uint8 RGB tensors on the CPU, masks ``(T, 1, H, W)`` bool
tensors (True = hole). A deep source (16-bit or float images, 10-bit video) is also read at
full depth (:func:`iter_frames` with ``deep``), converted for the pipeline by
:func:`work_frame` and back by :func:`native_frame`. Every problem with the user's files is
raised as a one-line :class:`~vidfill.errors.VidfillError` that names the file.
"""

from __future__ import annotations

import itertools
import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, replace
from fractions import Fraction
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import av
import cv2
import numpy as np
import OpenEXR
import torch

from vidfill.config import MaskConfig
from vidfill.errors import VidfillError
from vidfill.io import safety

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".exr")
SEQUENCE_FORMATS = (".png", ".tif", ".tiff", ".exr")
"""Image formats a sequence output is written in: the source sequence's own, else PNG."""
IMAGE_FORMATS = {"png": ".png", "tiff": ".tif", "exr": ".exr"}
"""The formats a sequence output may be asked for (``--format``), and their suffixes."""

Progress = Callable[[int], None]

_CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm",
               ".m4v": "mp4"}
_DEFAULT_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "mjpeg",
                   ".webm": "libvpx-vp9", ".m4v": "libx264"}
DEFAULT_FPS = Fraction(25)
"""Frame rate given to a frame-folder or single-image input (it has none of its own)."""
DEFAULT_CRF = 17
"""CRF when none is given: visually lossless for x264 and in VP9/AV1's own scale."""
WRITTEN_BY = "written by vidfill"
"""The ``comment`` tag of every video vidfill writes: a file already at a video output's path is
replaced only if it carries it (an earlier vidfill output), or with ``overwrite``."""
_CRF_RANGES = {"libx264": 51, "libx264rgb": 51, "libx265": 51, "libvpx-vp9": 63, "libaom-av1": 63,
               "libsvtav1": 63}
"""Largest CRF of each codec that has one (0 is the best quality)."""
MAX_CRF = max(_CRF_RANGES.values())
"""Names of the frames of a sequence output (``0000.png``, ``1001.exr``...)."""
SEQUENCE_PADDING = 4
"""Fewest digits in the frame names of a sequence output."""
GAMMA = 2.2
"""Exponent of the encoding a scene-linear (EXR) source is filled in (:func:`work_frame`)."""
_QSCALE = 2
"""Quantiser of lossy codecs without a CRF (mjpeg, mpeg4): 2 is visually lossless."""
_FF_QP2LAMBDA = 118
_RGB_FORMATS = ("rgb24", "bgr0", "bgr24", "gbrp")
_FULL_RANGE_CODECS = ("mjpeg",)
"""Codecs that take only full-range ("yuvj") YUV."""
_FRAME_COUNTING = ("avi",)
"""Containers that store no timestamps: a gap in pts would be padded with empty frames."""
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True)
class VideoInfo:
    """Where the frames came from and their timing, so the output can keep it."""

    source: Path
    """The input path (video file or frame folder)."""
    fps: Fraction
    """Average frame rate of the source video; for a frame folder, the rate it was given."""
    time_base: Fraction | None
    """Time base of the source video stream (None for frame folders)."""
    pts: tuple[int, ...] | None
    """Presentation timestamp of every frame in ``time_base`` (None for frame folders, or when the
    source's timestamps are missing or not strictly increasing)."""
    has_audio: bool
    """Whether ``source`` has audio stream(s) to copy into the output."""
    rotation: int = 0
    """Counter-clockwise degrees (0, 90, 180 or -90) by which the source video's display matrix
    turns its stored frames for display. Frames are read upright, as displayed; a video output
    stores them turned back, with the same display matrix."""
    dropped: tuple[str, ...] = ()
    """The source's streams that the output cannot keep, described for the user (other video
    streams, subtitles, data)."""
    depth: int = 8
    """Bits per sample of the source (8; 10 or 12 for such video; 16 for 16-bit or half-float
    images, 32 for float ones): above 8, :func:`iter_frames` with ``deep=True`` reads it at full
    depth."""
    floating: bool = False
    """Whether the source's samples are floats (EXR, float TIFF): 1.0 is white, values above are
    kept."""
    linear: bool = False
    """Whether the source is scene-linear (EXR, by that format's convention)."""
    suffix: str = ".png"
    """File type of a sequence output: the source sequence's own (:data:`SEQUENCE_FORMATS`),
    else PNG."""
    numbers: tuple[int, ...] | None = None
    """Frame numbers of an image-sequence source (the last number in each file name, e.g. 1001
    in ``plate.1001.png``), which a sequence output keeps; None for a video."""
    padding: int = 0
    """Digits of the source's frame numbers (4 in ``plate.1001.png``; 0 for a video)."""


@dataclass(frozen=True)
class ClipSource:
    """A clip opened for streaming: its timing, length and frame size, frames decoded on demand
    by :func:`iter_frames`."""

    info: VideoInfo
    num_frames: int
    """T, the number of frames."""
    size: tuple[int, int]
    """(H, W) of every frame."""
    files: tuple[Path, ...] | None
    """The frame images of a folder or single-image input; None for a video file."""
    skip: int = 0
    """Frames of the video file before this clip's first (:func:`clip_range`)."""


def clip_range(clip: ClipSource, start: int, stop: int) -> ClipSource:
    """Frames ``start`` to ``stop - 1`` (indices) of ``clip``, with their timestamps and numbers.
    A video's audio is not kept with a range (it would need cutting too)."""
    if (start, stop) == (0, clip.num_frames):
        return clip
    info = clip.info
    info = replace(info, has_audio=False,
                   pts=None if info.pts is None else info.pts[start:stop],
                   numbers=None if info.numbers is None else info.numbers[start:stop])
    if clip.files is not None:
        return replace(clip, info=info, num_frames=stop - start, files=clip.files[start:stop])
    return replace(clip, info=info, num_frames=stop - start, skip=clip.skip + start)


def numeric_sorted(paths: Iterable[Path]) -> list[Path]:
    """``paths`` ordered by the last number in each file name (``f2.png`` before ``f10.png``).

    A name without a number, or two files with the same number, is a VidfillError naming the folder.
    """
    by_number: dict[int, Path] = {}
    for path in sorted(paths):
        numbers = _NUMBER.findall(path.stem)
        if not numbers:
            raise VidfillError(f"{path.parent}: cannot order the frames, {path.name} has no number "
                               "in its name")
        number = int(numbers[-1])
        if number in by_number:
            raise VidfillError(f"{path.parent}: {by_number[number].name} and {path.name} both have "
                               f"frame number {number}")
        by_number[number] = path
    return [by_number[n] for n in sorted(by_number)]


def read_frames(path: Path, fps: Fraction = DEFAULT_FPS) -> tuple[torch.Tensor, VideoInfo]:
    """Read a video file, a folder of frame images or a single image.

    Returns the frames, ``(T, 3, H, W)`` uint8 RGB, and their :class:`VideoInfo`. Images of any bit
    depth and channel count become 8-bit RGB (16-bit: ``>> 8``, gray replicated, alpha dropped).
    ``fps`` is the frame rate of a folder or image; a video keeps its own.
    """
    _require(path)
    if not (path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS):
        return _read_video(path, fps)
    clip = open_clip(path, fps)
    return torch.from_numpy(_read_frame_folder(list(clip.files))), clip.info


def _format(file: Path, dtype: np.dtype) -> dict:
    """``depth``, ``floating``, ``linear`` and ``suffix`` of :class:`VideoInfo` for a sequence
    read as samples of ``dtype``, which its file ``file`` has."""
    suffix = file.suffix.lower()
    return {"depth": {np.dtype(np.uint8): 8, np.dtype(np.float32): 32}.get(dtype, 16),
            "floating": dtype.kind == "f", "linear": suffix == ".exr",
            "suffix": suffix if suffix in SEQUENCE_FORMATS else ".png"}


_DEPTHS = {np.dtype(np.uint8): (0, "8-bit"), np.dtype(np.uint16): (1, "16-bit"),
           np.dtype(np.float16): (2, "half-float"), np.dtype(np.float32): (3, "float")}
"""Sample types from the shallowest, with their names: a sequence of mixed ones is read as its
deepest (integers over their full scale for floats, 8 bits times 257 for 16)."""


def _deepest(files: list[Path], first: np.ndarray, note: Callable[[str], None]) -> dict:
    """:func:`_format` of an image sequence whose first file holds ``first``: the deepest
    sample type among its files (:func:`_sample_type`); ``note`` gets one line if they differ
    in sample type or file type."""
    kinds = [(first.dtype, files[0].suffix.lower())]
    kinds += [(_sample_type(file), file.suffix.lower()) for file in files[1:]]
    deepest = max(range(len(kinds)), key=lambda i: _DEPTHS.get(kinds[i][0], (-1,))[0])

    def name(kind: tuple[np.dtype, str]) -> str:
        return f"{_DEPTHS.get(kind[0], (0, str(kind[0])))[1]} {kind[1][1:].upper()}"

    if len(set(kinds)) > 1:
        counts = {}
        for kind in kinds:
            counts[name(kind)] = counts.get(name(kind), 0) + 1
        note(f"{files[0].parent}: frames of mixed types ({', '.join(f'{n} {k}' for k, n in counts.items())}): "
             f"all read as {name(kinds[deepest])} ({files[deepest].name}), the deepest")
    return _format(files[deepest], kinds[deepest][0])


_HEADER_BYTES = 65536
"""Bytes read for an image's header (an EXR header with its attributes fits)."""


def _sample_type(path: Path) -> np.dtype:
    """The sample type :func:`_read_image` gives ``path``: from the header of a PNG, TIFF or
    OpenEXR file (a few bytes; 8 bits for JPEG and BMP), else from the whole image."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
            found = (np.dtype(np.uint16 if head[24:25] == b"\x10" else np.uint8)
                     if head.startswith(b"\x89PNG\r\n\x1a\n")
                     else _tiff_sample_type(f) if head[:4] in (b"II*\x00", b"MM\x00*")
                     else _exr_sample_type(head + f.read(_HEADER_BYTES))
                     if head.startswith(b"v/1\x01")
                     else np.dtype(np.uint8) if head.startswith((b"\xff\xd8", b"BM")) else None)
    except OSError as exc:
        raise VidfillError(f"{path}: cannot read image ({_reason(exc)})") from exc
    except (struct.error, ValueError, IndexError):  # an odd header: the image says
        found = None
    return found if found is not None else _read_image(path).dtype


def _tiff_sample_type(f: BinaryIO) -> np.dtype | None:
    """The samples of a classic TIFF's first image, from its BitsPerSample and SampleFormat
    tags (None: another kind, which OpenCV's reading tells)."""
    f.seek(0)
    order = "<" if f.read(2) == b"II" else ">"
    _, offset = struct.unpack(order + "HI", f.read(6))
    f.seek(offset)
    (count,) = struct.unpack(order + "H", f.read(2))
    tags = {}
    for tag, kind, n, value in [struct.unpack(order + "HHI4s", f.read(12)) for _ in range(count)]:
        if tag in (258, 339) and kind == 3:  # SHORTs: the first in the entry, or where it points
            if n > 2:
                f.seek(struct.unpack(order + "I", value)[0])
                value = f.read(2)
            tags[tag] = struct.unpack(order + "H", value[:2])[0]
    kinds = {(8, 1): np.uint8, (16, 1): np.uint16, (32, 3): np.float32}
    found = kinds.get((tags.get(258, 1), tags.get(339, 1)))
    return None if found is None else np.dtype(found)


def _exr_sample_type(head: bytes) -> np.dtype | None:
    """The samples :func:`_read_exr` gives an OpenEXR file whose first bytes are ``head``, from
    its colour channels (None: mixed ones, which reading it refuses)."""
    at = 8
    while head[at]:  # attributes: name, type name, size, value; an empty name ends them
        name_end = head.index(b"\0", at)
        type_end = head.index(b"\0", name_end + 1)
        (size,) = struct.unpack_from("<i", head, type_end + 1)
        if head[at:name_end] == b"channels":
            types, p = {}, type_end + 5
            while head[p]:  # name, pixel type (1 half, 2 float), then 12 bytes
                end = head.index(b"\0", p)
                types[head[p:end].decode()] = struct.unpack_from("<i", head, end + 1)[0]
                p = end + 17
            used = {types[n] for n in ("BGRA" if {"R", "G", "B"} <= types.keys() else "YA")
                    if n in types}
            return {frozenset({1}): np.dtype(np.float16),
                    frozenset({2}): np.dtype(np.float32)}.get(frozenset(used))
        at = type_end + 5 + size
    return None


def _numbering(files: list[Path]) -> dict:
    """``numbers`` and ``padding`` of :class:`VideoInfo` for an image sequence (none if a file
    has no number, as a single image may not)."""
    found = [_NUMBER.findall(f.stem) for f in files]
    if not all(found):
        return {}
    return {"numbers": tuple(int(n[-1]) for n in found), "padding": len(found[0][-1])}


def open_clip(path: Path, fps: Fraction = DEFAULT_FPS,
              note: Callable[[str], None] | None = None) -> ClipSource:
    """Open a video file, a folder of frame images or a single image for :func:`iter_frames`.

    Only counts the frames (a video is decoded once, without converting its frames) and reads
    the first image and the other images' headers, so that memory does not depend on the clip's
    length. ``fps`` as in :func:`read_frames`. A sequence whose images differ in sample type is
    read at the deepest; ``note`` gets one line saying so.
    """
    _require(path)
    if path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS:
        files = _image_files(path) if path.is_dir() else [path]
        first_image = _read_image(files[0])
        height, width = first_image.shape[:2]
        alpha = first_image.ndim == 3 and first_image.shape[2] == 4
        info = VideoInfo(source=path, fps=Fraction(fps), time_base=None, pts=None, has_audio=False,
                         dropped=("the alpha channel",) if alpha else (), **_numbering(files),
                         **_deepest(files, first_image, note or (lambda _line: None)))
        return ClipSource(info=info, num_frames=len(files), size=(height, width), files=tuple(files))
    pts, first = [], None
    with _open_video(path) as container:
        for frame in _decode(container, path):
            first = frame if first is None else first
            _check_same_size(path, len(pts), (frame.height, frame.width), (first.height, first.width))
            pts.append(frame.pts)
        if first is None:
            raise VidfillError(f"{path}: no video frames")
        info = _video_info(container, path, pts, fps, first)
    size = (first.width, first.height) if info.rotation % 180 else (first.height, first.width)
    return ClipSource(info=info, num_frames=len(pts), size=size, files=None)


def iter_frames(clip: ClipSource, deep: bool = False) -> Iterator[torch.Tensor]:
    """The frames of ``clip``, one ``(3, H, W)`` uint8 RGB tensor at a time, decoded as needed;
    ``deep``: at the source's full depth, as :func:`native_dtype` says."""
    dtype = native_dtype(clip.info) if deep else np.dtype(np.uint8)
    images = (_folder_images(list(clip.files), dtype) if clip.files is not None
              else itertools.islice(_video_images(clip.info.source, deep), clip.skip,
                                    clip.skip + clip.num_frames))
    for image in images:
        yield torch.from_numpy(np.ascontiguousarray(image))


def native_dtype(info: VideoInfo) -> np.dtype:
    """The samples of a source read at full depth: uint8 for 8 bits, uint16 for more (a video's
    10 or 12 bits scaled to 0..65535), float16 or float32 for half or float images."""
    if info.floating:
        return np.dtype(np.float16 if info.depth == 16 else np.float32)
    return np.dtype(np.uint8 if info.depth <= 8 else np.uint16)


def _unit(values: np.ndarray) -> np.ndarray:
    """float32 samples on the [0, 1] scale: integers over their full scale, floats as they are."""
    if values.dtype.kind == "u":
        return values / np.float32(np.iinfo(values.dtype).max)
    return values.astype(np.float32)


def _power(values: np.ndarray, exponent: float) -> np.ndarray:
    """``values ** exponent`` with the sign kept: the 1/:data:`GAMMA` encoding of scene-linear
    values (negative ones and those above 1 included) and its inverse."""
    return np.sign(values) * np.abs(values) ** exponent


def _uint16(values: np.ndarray) -> np.ndarray:
    """Float samples clipped to [0, 1] and rounded to 16 bits."""
    return (np.clip(values, 0, 1) * 65535 + 0.5).astype(np.uint16)


def work_frame(native: torch.Tensor, info: VideoInfo) -> torch.Tensor:
    """A frame read at full depth -> the pipeline's float16 frame on the [0, 1] scale (see
    :mod:`vidfill.types`): integers divided by their full scale; a scene-linear source encoded
    with a power of 1/:data:`GAMMA` (sign kept, values above 1 too), so that flow, edges and
    fill see it as a person does."""
    values = _unit(native.numpy())
    if info.linear:
        values = _power(values, 1 / GAMMA)
    return torch.from_numpy(values.astype(np.float16))


def native_frame(work: torch.Tensor, dtype: np.dtype, info: VideoInfo) -> np.ndarray:
    """:func:`work_frame`'s inverse, to samples of ``dtype`` (integers rounded and clipped)."""
    values = work.numpy().astype(np.float32)
    if dtype.kind == "u":
        scale = np.iinfo(dtype).max
        return np.clip(np.round(values * scale), 0, scale).astype(dtype)
    if info.linear:
        values = _power(values, GAMMA)
    return values.astype(dtype)


def output_depth(path: Path, codec: str | None, depth: int) -> int:
    """Bits per sample that the output ``path`` (with ``codec``) keeps of a ``depth``-bit source."""
    if depth <= 8:
        return 8
    if is_sequence_folder(path):
        return 16
    suffix = path.suffix.lower()
    encoder = _encoder(codec or _DEFAULT_CODECS.get(suffix, "libx264"), path)
    return min(depth, _format_bits(_pix_fmt(encoder, 2, 2, depth)))


def read_masks(path: Path, num_frames: int, size: tuple[int, int],
               threshold: float = MaskConfig.threshold, *,
               invert: bool = MaskConfig.invert,
               numbers: tuple[int, ...] | None = None) -> tuple[torch.Tensor, list[str]]:
    """Read the hole masks for ``num_frames`` frames of ``size`` = (H, W).

    ``path`` is a folder with one image per frame (numeric order), a single image (the same mask
    for every frame) or a mask video. Hole = the matte above ``threshold`` of the full scale of
    the image's sample type (255, 65535 or 1.0): the alpha channel where an image has one that
    varies (an RGBA roto layer: transparent pixels are never holes), else any colour channel;
    ``invert`` swaps hole and keep. Masks of another size are resized (nearest) after thresholding.
    ``numbers``: the frames' numbers (``VideoInfo.numbers`` of an image sequence): a mask folder
    whose files all carry frame numbers among them is matched by number, and a frame with no
    mask file has no hole; otherwise masks go with frames in order, one each.

    Returns ``(num_frames, 1, H, W)`` bool masks and one note per distinct resized mask size and
    for frames with no mask file.
    """
    notes: list[str] = []
    masks = torch.empty((num_frames, 1, *size), dtype=torch.bool)
    for t, mask in enumerate(iter_masks(path, num_frames, size, threshold, notes.append,
                                        invert=invert, numbers=numbers)):
        masks[t] = mask
    return masks, notes


def iter_masks(path: Path, num_frames: int, size: tuple[int, int],
               threshold: float = MaskConfig.threshold,
               note: Callable[[str], None] | None = None, *,
               invert: bool = MaskConfig.invert,
               numbers: tuple[int, ...] | None = None) -> Iterator[torch.Tensor]:
    """The masks of :func:`read_masks`, one ``(1, H, W)`` bool tensor per frame, read as needed.

    Problems with ``path`` as a whole (missing, wrong number of masks) are raised by this call;
    problems with single images while iterating. ``note`` receives one line per distinct mask
    size that had to be resized. Do not modify the tensors: a single-image mask yields the same
    tensor for every frame.
    """
    _require(path)
    note = note or (lambda _line: None)
    fit = _hole_fitter(size, path, note)
    if path.is_dir():
        files = _image_files(path)
        by_number = dict(zip(_numbering(files).get("numbers", ()), files))
        if (numbers is not None and by_number and len(files) < num_frames
                and by_number.keys() <= set(numbers)):
            note(f"{path}: {num_frames - len(files)} of {num_frames} frames have no mask file "
                 "(matched by frame number): no hole in them")
            empty = torch.zeros((1, *size), dtype=torch.bool)
            return (fit(_hole(_read_image(by_number[n], matte=True), threshold, by_number[n],
                              invert)) if n in by_number else empty for n in numbers)
        _check_count(path, len(files), num_frames)
        return (fit(_hole(_read_image(file, matte=True), threshold, file, invert)) for file in files)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return itertools.repeat(fit(_hole(_read_image(path, matte=True), threshold, path, invert)),
                                num_frames)
    with _open_video(path) as container:
        count = sum(1 for _ in _decode(container, path))
    _check_count(path, count, num_frames)
    return (fit(_hole(image.transpose(1, 2, 0), threshold, path, invert))
            for image in _video_images(path))


def mask_files(path: Path) -> tuple[Path, ...] | None:
    """The images of a mask folder, in order; None for a single mask image or video."""
    return tuple(_image_files(path)) if path.is_dir() else None


def read_reference(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A frame painted by hand, ``(3, H, W)`` uint8 RGB; it must have the video's ``size`` = (H, W)."""
    _require(path)
    if path.is_dir():
        raise VidfillError(f"{path}: a folder, not a painted frame (an image file)")
    image = _rgb8(_read_image(path), path)
    if image.shape[:2] != tuple(size):
        raise VidfillError(f"{path}: the painted frame is {_wxh(image.shape)}, the video's frames "
                           f"are {size[1]}x{size[0]}")
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))


def write_output(path: Path, frames: torch.Tensor, info: VideoInfo, *, crf: int | None = None,
                 codec: str | None = None, progress: Progress | None = None,
                 overwrite: bool = False, start: int | None = None,
                 reads: tuple[tuple[str, Path], ...] = ()) -> None:
    """Write ``frames`` ``(T, 3, H, W)`` uint8 RGB atomically to ``path``.

    A path with a video extension gets a video: container from the extension, codec ``codec`` or
    the container's default (libx264 for mp4/mov/mkv/m4v, libvpx-vp9 for webm, mjpeg for avi),
    ``crf`` where the codec has one. A video source's time base and frame timestamps are kept
    (except in avi, which has none; mkv/webm store milliseconds), and its audio streams are copied
    packet for packet. An existing folder or a path without extension gets a lossless image
    sequence in the source sequence's format (PNG, TIFF or OpenEXR; PNG for other sources),
    (:func:`frame_names`: an image sequence's own frame numbers, e.g. ``1001.png``, ...; for a
    video ``0000.png``, ... or from ``start``) into a new or empty folder, or one that holds
    only an earlier vidfill sequence (named by its manifest, :mod:`vidfill.io.safety`), which it
    replaces whole (``overwrite``: a folder that holds the user's files too; a new frame replaces
    one of the same name, the rest is kept). A video replaces a file at ``path`` only if vidfill
    wrote it (:data:`WRITTEN_BY`), or with ``overwrite``. The output appears only when complete:
    it is written under a temporary name next to it (created exclusively), which is removed on
    any failure. ``reads``: ``(what, path)`` of every file the run read, checked again just
    before the output is put in place (:func:`vidfill.io.safety.check_apart`). ``progress(1)``
    follows every frame.
    """
    if frames.dtype != torch.uint8 or frames.ndim != 4 or frames.shape[1] != 3 or not len(frames):
        raise ValueError(f"frames must be a non-empty (T, 3, H, W) uint8 tensor, got "
                         f"{tuple(frames.shape)} {frames.dtype}")
    write_stream(path, frames.cpu(), len(frames), info, crf=crf, codec=codec, progress=progress,
                 overwrite=overwrite, start=start, reads=reads)


def write_stream(path: Path, frames: Iterable[torch.Tensor], num_frames: int, info: VideoInfo, *,
                 crf: int | None = None, codec: str | None = None,
                 progress: Progress | None = None, overwrite: bool = False,
                 start: int | None = None, reads: tuple[tuple[str, Path], ...] = ()) -> None:
    """:func:`write_output` for frames that arrive one at a time: each frame is encoded (or saved)
    as soon as ``frames`` yields it, so that memory does not depend on the clip's length.

    ``frames`` yields ``num_frames`` CPU ``(3, H, W)`` uint8 RGB tensors (a ValueError otherwise),
    or uint16, float16 or float32 ones (at full depth, see :func:`write_image`; a video takes
    floats as :func:`native_frame` gives uint16), or for a sequence ``(4, H, W)`` RGBA ones.
    Everything else as in :func:`write_output`: the output appears only when complete, and an
    exception raised by ``frames`` removes the temporary file and propagates.
    """
    frames = iter(frames)
    first = next(frames, None)
    channels = (3, 4) if is_sequence_folder(path) else (3,)
    if first is None or first.dtype not in _SAMPLE_TYPES or first.ndim != 3 \
            or first.shape[0] not in channels:
        raise ValueError(f"frames must yield ({' or '.join(map(str, channels))}, H, W) uint8, "
                         "uint16 or float tensors, got "
                         f"{None if first is None else (tuple(first.shape), first.dtype)}")
    checked = _counted(itertools.chain([first], frames), num_frames, first.shape, first.dtype)
    progress = progress or _no_progress
    if is_sequence_folder(path):
        stored = (_for_format(frame, info.suffix, info.linear) for frame in checked)
        _write_sequence_folder(path, stored, frame_names(info, num_frames, start), progress,
                               overwrite, reads)
    else:
        _check_video_suffix(path)
        _write_video_file(path, checked, num_frames, tuple(first.shape[1:]), info, crf, codec,
                          progress, overwrite, reads)


_SAMPLE_TYPES = (torch.uint8, torch.uint16, torch.float16, torch.float32)


def _for_format(frame: torch.Tensor, suffix: str, linear: bool) -> torch.Tensor:
    """A frame (RGB or RGBA, ``linear``: scene-linear colour; RGBA with straight alpha) as a
    sequence of type ``suffix`` holds it: EXR scene-linear values (half, float for float32
    frames), the others display ones, converted with :data:`GAMMA` where the two differ; alpha
    is left as it is. RGBA colour is premultiplied by alpha where the format's convention is
    premultiplied (:func:`premultiplied`: EXR, float TIFF), after the conversion."""
    exr = suffix == ".exr"
    if exr != linear:
        values = _unit(frame.numpy())
        values[:3] = _power(values[:3], GAMMA if exr else 1 / GAMMA)
        frame = torch.from_numpy(values.astype(np.float16 if exr and frame.dtype != torch.float32
                                               else np.float32))
    if frame.shape[0] == 4 and premultiplied(suffix, frame.dtype):
        frame = torch.cat([frame[:3] * frame[3:], frame[3:]])
    return frame


def premultiplied(suffix: str, dtype: torch.dtype) -> bool:
    """Whether an RGBA image of type ``suffix`` holding ``dtype`` samples stores premultiplied
    colour, as its format's readers expect: OpenEXR always (its specification), float TIFF (as
    compositing applications write it); PNG never (its specification), integer TIFF not."""
    return suffix == ".exr" or (suffix in (".tif", ".tiff") and dtype.is_floating_point)


def write_image(file: Path, frame: torch.Tensor) -> None:
    """Save one ``(3, H, W)`` RGB or ``(4, H, W)`` RGBA frame, losslessly, as its suffix says:
    PNG (uint8 or uint16; floats become uint16, clipped to [0, 1]), TIFF (uint8, uint16 or
    float32; half becomes float32) or OpenEXR (half or float, zip-compressed; integers become
    half over their full scale).

    An OSError with the system's reason (e.g. errno ENOSPC, "No space left on device") if it cannot:
    the image is encoded in memory and written with Python's own file I/O, which keeps the errno
    that OpenCV's ``imwrite`` would swallow (OpenEXR writes the file itself)."""
    pixels = frame.permute(1, 2, 0).numpy()
    suffix = file.suffix.lower()
    if suffix == ".exr":
        if pixels.dtype.kind == "u":
            pixels = _unit(pixels).astype(np.float16)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        try:
            with OpenEXR.File(header, {"RGBA"[:len(frame)]: np.ascontiguousarray(pixels)}) as exr:
                exr.write(str(file))
        except RuntimeError as exc:
            raise OSError(f"cannot write {file.name} as OpenEXR ({exc})") from exc
        return
    if pixels.dtype.kind == "f" and suffix == ".png":
        pixels = _uint16(pixels)
    elif pixels.dtype == np.float16:
        pixels = pixels.astype(np.float32)
    bgr = np.ascontiguousarray(pixels[..., [2, 1, 0, 3][:frame.shape[0]]])
    # TIFF: deflate, lossless; OpenCV before 5 writes 3-channel float as lossy LogLuv by default
    params = [cv2.IMWRITE_TIFF_COMPRESSION, 8] if suffix in (".tif", ".tiff") else []
    ok, data = cv2.imencode(suffix, bgr, params)
    if not ok:
        raise OSError(f"cannot encode {file.name} as {suffix[1:].upper()}")
    with open(file, "wb") as handle:
        handle.write(data.tobytes())


def read_image(file: Path) -> torch.Tensor:
    """One ``(3, H, W)`` RGB frame from an image file, with the samples it stores (as
    :func:`write_image` wrote them)."""
    image = _read_image(file)
    rgb = _rgb_as(image, file, image.dtype)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


def read_overlay_image(file: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """An overlay kept as an RGBA image (PNG or TIFF, straight alpha; a broadcaster's bug):
    ``(1, H, W)`` opacity and ``(3, H, W)`` colour, float32 on the [0, 1] scale (display values,
    as the frames are composited). A VidfillError if it has no alpha channel."""
    _require(file)
    image = _read_image(file)
    rgb, alpha = _bgr_alpha(image, file)
    if alpha is None:
        raise VidfillError(f"{file}: --overlay-image needs an alpha channel (RGBA) for the "
                           "overlay's opacity; this image has none")
    scale = np.float32(_full_scale(image.dtype, file))
    to_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x, np.float32) / scale)  # noqa: E731
    return to_tensor(alpha)[None], to_tensor(rgb).permute(2, 0, 1).contiguous()


def check_output(path: Path, info: VideoInfo, codec: str | None = None, crf: int | None = None, *,
                 overwrite: bool = False, note: Callable[[str], None] | None = None) -> int:
    """Refuse now what :func:`write_output` would refuse only after all the work; return the bits
    per sample the output keeps of the source (:func:`output_depth`).

    Checks the output type and place (a file where a folder is meant, a folder that holds other
    files, no write permission), the encoder, that the container takes it, the CRF against the
    codec's range, and that the container can hold the source's audio as it is. ``note`` gets one
    line for each thing of the source the output will not keep (other streams, timing in AVI).
    """
    note = note or (lambda _line: None)
    for stream in info.dropped:
        note(f"{info.source}: {stream} not kept in the output (vidfill keeps the colour of the "
             "first video stream, and the audio)")
    if is_sequence_folder(path):
        _check_sequence_folder(path, overwrite)
        if crf is not None or codec is not None:
            note(f"{path}: --crf and --codec are ignored, an image sequence is lossless")
        if info.floating and info.suffix == ".png":
            note(f"{path}: PNG keeps 16 bits of the float source, "
                 + (f"encoded with a 1/{GAMMA} power and " if info.linear else "")
                 + "clipped to 0..1 (TIFF or EXR keep it all)")
        return output_depth(path, codec, info.depth)
    _check_video_suffix(path)
    if path.is_dir():
        raise VidfillError(f"{path}: is a folder; a video output must be a file")
    check_video_target(path, overwrite)
    suffix = path.suffix.lower()
    encoder = _encoder(codec or _DEFAULT_CODECS[suffix], path)
    with av.open(BytesIO(), "w", format=_CONTAINERS[suffix]) as probe:
        if encoder.canonical_name not in probe.supported_codecs:
            raise VidfillError(f"{path}: a {suffix} file cannot hold {encoder.name} video")
    if crf is not None:
        if encoder.name in _CRF_RANGES and not 0 <= crf <= _CRF_RANGES[encoder.name]:
            raise VidfillError(f"--crf {crf}: {encoder.name} takes 0..{_CRF_RANGES[encoder.name]}")
        if encoder.name not in _CRF_RANGES:
            note(f"{path}: --crf is ignored by {encoder.name}, which has no CRF")
    kept = output_depth(path, codec, info.depth)
    if info.floating:
        kind = "half-float" if info.depth == 16 else "float"
        note(f"{path}: a video keeps {kept} bits of the {kind} source, encoded"
             + (f" with a 1/{GAMMA} power" if info.linear else "") + " and clipped to 0..1 "
             "(an image folder keeps it all, values above 1 included)")
    elif kept < info.depth:
        note(f"{path}: {encoder.name} in {suffix} keeps {kept} bits of the {info.depth}-bit source, "
             "so the output is written at that depth (an image folder, or --codec ffv1 in .mkv, keeps "
             "them all)")
    if info.time_base is not None and info.pts is None:
        note(f"{info.source}: its frame timestamps are missing or out of order; the output is "
             f"timed at a constant {float(info.fps):g} fps")
    if _CONTAINERS[suffix] in _FRAME_COUNTING and info.pts and not _uniform(info.pts):
        note(f"{path}: an {suffix} file stores no timestamps; the source's uneven frame timing "
             f"becomes a constant {float(info.fps):g} fps (use .mkv or .mp4 to keep it)")
    if info.has_audio:
        with _open_video(info.source) as source:
            _check_audio_fits(source, _CONTAINERS[suffix], path)
    return kept


def _uniform(pts: tuple[int, ...]) -> bool:
    return len({b - a for a, b in zip(pts, pts[1:])}) <= 1


def _check_sequence_folder(path: Path, overwrite: bool) -> None:
    """The rules of a sequence output (see :func:`write_output`), checked before any work."""
    if path.exists() and not path.is_dir():
        raise VidfillError(f"{path}: exists and is not a folder; a path without a video extension "
                           "is a folder for image frames")
    if not path.is_dir():
        return
    if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
        raise VidfillError(f"{path}: cannot write here (no read and write permission on the folder)")
    others = safety.foreign_entries(path)
    if others and not overwrite:
        shown = ", ".join(p.name for p in others[:3]) + (", ..." if len(others) > 3 else "")
        raise VidfillError(f"{path}: the folder holds files that vidfill did not write, or that "
                           f"changed since ({shown}); give an empty or new folder, or --overwrite "
                           "to let the new frames replace files of the same name (the rest is kept)")


def is_sequence_folder(path: Path) -> bool:
    """Whether an output at ``path`` is a folder of image frames (else a video file)."""
    return path.is_dir() or not path.suffix


def _check_video_suffix(path: Path) -> None:
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VidfillError(f"{path}: unknown output type; give a video ({', '.join(VIDEO_EXTENSIONS)}) "
                           "or a folder for image frames")


def written_by_vidfill(path: Path) -> bool:
    """Whether the file ``path`` is a video that carries vidfill's mark (:data:`WRITTEN_BY`)."""
    try:
        with av.open(str(path)) as container:
            tags = {key.lower(): value for key, value in container.metadata.items()}
    except (OSError, av.FFmpegError, ValueError):
        return False
    return tags.get("comment") == WRITTEN_BY


def check_video_target(path: Path, overwrite: bool) -> None:
    """VidfillError if a file that vidfill did not write is at the video output ``path`` and
    ``overwrite`` is not given: it is the user's, and replacing it would lose it."""
    if path.is_file() and not overwrite and not written_by_vidfill(path):
        raise VidfillError(f"{path}: exists and was not written by vidfill; give another name, or "
                           "--overwrite to replace it")


# --- reading -------------------------------------------------------------------------------------

def _require(path: Path) -> None:
    if not path.exists():
        raise VidfillError(f"{path}: no such file or folder")


def _reason(exc: OSError | av.FFmpegError) -> str:
    return str(exc.strerror or exc)


def _image_files(folder: Path) -> list[Path]:
    """The images in ``folder`` (hidden files ignored), in numeric order."""
    try:
        files = [p for p in folder.iterdir()
                 if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    except OSError as exc:
        raise VidfillError(f"{folder}: cannot list the folder ({_reason(exc)})") from exc
    for file in files:
        if not file.exists():
            raise VidfillError(f"{file}: a broken link (its target {os.readlink(file)} does not exist)")
    if not files:
        raise VidfillError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return numeric_sorted(files)


def _read_image(path: Path, matte: bool = False) -> np.ndarray:
    """The image as stored: ``(H, W)`` or ``(H, W, C)`` BGR(A), uint8, uint16, float16 (half
    EXR) or float32. ``matte``: the image is a mask (see :func:`_read_exr`)."""
    if path.suffix.lower() == ".exr":
        return _read_exr(path, matte)
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise VidfillError(f"{path}: cannot read image")
    return image


def _read_exr(path: Path, matte: bool = False) -> np.ndarray:
    """An OpenEXR image's R, G, B (and A) channels, or its Y (luminance) channel, as
    :func:`_read_image` returns images; half and float samples kept as they are. ``matte`` (a
    mask, as roto tools export it): without R, G, B its alpha (``A`` or ``LAYER.A``) alone, or
    its only channel whatever the name."""
    try:
        with OpenEXR.File(str(path), separate_channels=True) as exr:
            channels = {name: channel.pixels for name, channel in exr.channels().items()}
    except (RuntimeError, OSError) as exc:
        raise VidfillError(f"{path}: cannot read as an OpenEXR image ({exc})") from exc
    names = ["B", "G", "R", "A"] if {"R", "G", "B"} <= channels.keys() else ["Y", "A"]
    names = [n for n in names if n in channels]
    if matte and "R" not in names:
        alphas = [n for n in channels if n == "A" or n.endswith(".A")]
        names = alphas if len(alphas) == 1 else list(channels) if len(channels) == 1 else names
    if not names or (names == ["A"] and not matte):
        raise VidfillError(f"{path}: no R, G, B or Y channel (it has {', '.join(sorted(channels))})")
    planes = [channels[n] for n in names]
    if len({p.dtype for p in planes}) > 1 or planes[0].dtype.kind != "f":
        raise VidfillError(f"{path}: channels of mixed or integer sample types are not supported")
    return planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)


def _bgr_alpha(image: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an image into ``(H, W, 3)`` RGB (gray replicated) and its ``(H, W)`` alpha or None."""
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2), None
    if channels in (3, 4):
        return image[..., 2::-1], (image[..., 3] if channels == 4 else None)
    raise VidfillError(f"{path}: {channels}-channel images are not supported")


def _full_scale(dtype: np.dtype, path: Path) -> float:
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if dtype.kind == "f":
        return 1.0
    raise VidfillError(f"{path}: {dtype} samples are not supported (8-bit, 16-bit or float only)")


def _rgb_as(image: np.ndarray, path: Path, dtype: np.dtype) -> np.ndarray:
    """``(H, W, 3)`` RGB of ``dtype`` of an image as read by :func:`_read_image`, for a sequence
    whose first image has samples of that type: unchanged when it has too; else 8-bit times 257
    for uint16, integers over their full scale for floats, floats clipped to [0, 1] for
    integers (a scene-linear EXR encoded as :func:`work_frame` does)."""
    rgb = _bgr_alpha(image, path)[0]
    if rgb.dtype == dtype:
        return np.ascontiguousarray(rgb)
    if rgb.dtype == np.uint8 and dtype == np.uint16:
        return rgb.astype(np.uint16) * 257
    if dtype.kind == "f":
        return (rgb / np.float32(_full_scale(rgb.dtype, path))).astype(dtype)
    if rgb.dtype == np.uint16:
        return (rgb >> 8).astype(np.uint8)
    # inf and NaN are unknown (a job adds them to the hole): 0, not an invalid cast
    values = np.nan_to_num(rgb.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if path.suffix.lower() == ".exr":
        values = _power(values, 1 / GAMMA)
    top = np.iinfo(dtype).max
    return (np.clip(values / _full_scale(rgb.dtype, path), 0, 1) * top + 0.5).astype(dtype)


def _rgb8(image: np.ndarray, path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image as read by :func:`_read_image`."""
    return _rgb_as(image, path, np.dtype(np.uint8))


def _read_frame_folder(files: list[Path]) -> np.ndarray:
    """``(T, 3, H, W)`` uint8 RGB frames of the image ``files`` (a folder's, or one image)."""
    images = _folder_images(files, np.dtype(np.uint8))
    first = next(images)
    frames = np.empty((len(files), *first.shape), np.uint8)
    frames[0] = first
    for i, image in enumerate(images, 1):
        frames[i] = image
    return frames


def _folder_images(files: list[Path], dtype: np.dtype) -> Iterator[np.ndarray]:
    """``(3, H, W)`` RGB of ``dtype`` of each image file (:func:`_rgb_as`); a VidfillError when
    one's size differs."""
    first = None
    for file in files:
        image = _rgb_as(_read_image(file), file, dtype)
        first = first if first is not None else image
        if image.shape != first.shape:
            raise VidfillError(f"{file}: {_wxh(image.shape)}, but {files[0].name} is "
                               f"{_wxh(first.shape)}; all frames must have the same size")
        yield image.transpose(2, 0, 1)


def _wxh(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"


def _open_video(path: Path) -> av.container.InputContainer:
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise VidfillError(f"{path}: cannot open as a video ({_reason(exc)})") from exc


def _decode(container: av.container.InputContainer, path: Path) -> Iterator[av.VideoFrame]:
    """The frames of the first video stream, in presentation order."""
    if not container.streams.video:
        raise VidfillError(f"{path}: no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise VidfillError(f"{path}: cannot decode the video ({_reason(exc)})") from exc


def _check_same_size(path: Path, index: int, shape: tuple[int, int], first: tuple[int, int]) -> None:
    if shape != first:
        raise VidfillError(f"{path}: frame {index} is {_wxh(shape)}, but frame 0 is {_wxh(first)}")


def _rotation(frame: av.VideoFrame) -> int:
    """The display rotation of a decoded frame, counter-clockwise degrees, snapped to 0/90/180/-90."""
    return ((round((frame.rotation or 0) / 90) + 1) % 4 - 1) * 90


def _upright(frame: av.VideoFrame, deep: bool = False) -> np.ndarray:
    """``(3, H, W)`` uint8 RGB (``deep``: uint16) of a decoded frame, turned as its display matrix
    says."""
    image = frame.to_ndarray(format="rgb48le" if deep else "rgb24")
    quarter_turns = _rotation(frame) // 90
    if quarter_turns:
        image = np.rot90(image, quarter_turns)
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def _video_images(path: Path, deep: bool = False) -> Iterator[np.ndarray]:
    """``(3, H, W)`` uint8 RGB (``deep``: uint16) of each frame of a video, upright, decoded one
    at a time."""
    with _open_video(path) as container:
        first = None
        for index, frame in enumerate(_decode(container, path)):
            image = _upright(frame, deep)
            first = first or image.shape[1:]
            _check_same_size(path, index, image.shape[1:], first)
            yield image


def _video_info(container: av.container.InputContainer, path: Path, pts: list[int | None],
                fps: Fraction, first: av.VideoFrame | None) -> VideoInfo:
    """The :class:`VideoInfo` of a decoded video; rotation, bit depth and alpha come from its
    ``first`` frame (None: no frames)."""
    stream = container.streams.video[0]
    rate = stream.average_rate or stream.guessed_rate or fps
    streams = container.streams
    counts = [(len(streams.video) - 1, "video"), (len(streams.subtitles), "subtitle"),
              (len(streams.data), "data"), (len(streams.attachments), "attachment")]
    dropped = tuple(f"{n} {'other ' if kind == 'video' else ''}{kind} stream{'s' if n > 1 else ''}"
                    for n, kind in counts if n)
    components = first.format.components if first is not None else ()
    if any(c.is_alpha for c in components):
        dropped += ("the alpha channel",)
    return VideoInfo(source=path, fps=Fraction(rate), time_base=stream.time_base,
                     pts=_increasing(pts), has_audio=bool(container.streams.audio),
                     rotation=_rotation(first) if first is not None else 0, dropped=dropped,
                     depth=max([8] + [c.bits for c in components]))


def _read_video(path: Path, fps: Fraction) -> tuple[torch.Tensor, VideoInfo]:
    images, pts, first = [], [], None
    with _open_video(path) as container:
        for index, frame in enumerate(_decode(container, path)):
            first = frame if first is None else first
            images.append(_upright(frame))
            pts.append(frame.pts)
            _check_same_size(path, index, images[-1].shape[1:], images[0].shape[1:])
        info = _video_info(container, path, pts, fps, first)
    if not images:
        raise VidfillError(f"{path}: no video frames")
    frames = np.empty((len(images), *images[0].shape), np.uint8)
    return torch.from_numpy(np.stack(images, out=frames)), info


def _increasing(pts: list[int | None]) -> tuple[int, ...] | None:
    """``pts`` if every frame has one and they strictly increase, else None."""
    if None in pts or any(b <= a for a, b in zip(pts, pts[1:])):
        return None
    return tuple(pts)


def _check_count(path: Path, count: int, num_frames: int) -> None:
    if count != num_frames:
        raise VidfillError(f"{path}: {count} masks for {num_frames} frames; give one mask per frame "
                           "or a single image for all")


def _hole(image: np.ndarray, threshold: float, path: Path, invert: bool = False) -> np.ndarray:
    """``(H, W)`` bool: where the matte is above ``threshold`` of full scale (``invert``: where it
    is not). The matte is the alpha channel when it varies (a roto layer exported as RGBA),
    else any colour channel."""
    level = threshold * _full_scale(image.dtype, path)
    rgb, alpha = _bgr_alpha(image, path)
    if alpha is not None and (alpha.min() != alpha.max() or alpha.max() <= level):
        hole = alpha > level  # a varying alpha is the matte; a transparent image, no hole
    else:
        hole = (rgb > level).any(axis=2)
    return ~hole if invert else hole


def _hole_fitter(size: tuple[int, int], source: Path,
                 note: Callable[[str], None]) -> Callable[[np.ndarray], torch.Tensor]:
    """A function ``(h, w)`` bool hole -> ``(1, H, W)`` bool tensor, resized (nearest) when its
    size differs; ``note`` gets one line per distinct size resized."""
    height, width = size
    noted: set[tuple[int, ...]] = set()

    def fit(hole: np.ndarray) -> torch.Tensor:
        if hole.shape == (width, height) and width != height:
            raise VidfillError(f"{source}: the mask is {_wxh(hole.shape)}, the frames "
                               f"{width}x{height} (as the clip is displayed): it looks turned by a "
                               "quarter; draw masks the way the clip is displayed")
        if hole.shape != (height, width):
            if hole.shape not in noted:
                noted.add(hole.shape)
                note(f"{source}: {_wxh(hole.shape)} mask resized (nearest) to {width}x{height}")
            hole = cv2.resize(hole.astype(np.uint8), (width, height),
                              interpolation=cv2.INTER_NEAREST_EXACT).astype(bool)
        return torch.from_numpy(np.ascontiguousarray(hole))[None]

    return fit


# --- writing -------------------------------------------------------------------------------------

def _no_progress(_count: int) -> None:
    """Progress callback that ignores the progress."""


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidfillError(f"{path}: cannot create the folder {path.parent} ({_reason(exc)})") from exc


def _counted(frames: Iterator[torch.Tensor], num_frames: int, shape: torch.Size,
             dtype: torch.dtype) -> Iterator[torch.Tensor]:
    """``frames``, checked: each of ``shape`` and ``dtype``, exactly ``num_frames`` of them."""
    count = 0
    for frame in frames:
        count += 1
        if count > num_frames or frame.shape != shape or frame.dtype != dtype:
            raise ValueError(f"frame {count - 1}: {tuple(frame.shape)} {frame.dtype}, expected "
                             f"{num_frames} frames of {tuple(shape)} {dtype}")
        yield frame
    if count != num_frames:
        raise ValueError(f"got {count} frames, expected {num_frames}")


def _write_sequence_folder(path: Path, frames: Iterable[torch.Tensor], names: list[str],
                           progress: Progress, overwrite: bool,
                           reads: tuple[tuple[str, Path], ...]) -> None:
    """Write the sequence into a private temporary sibling folder, then put it in place of
    ``path`` with its manifest (:func:`vidfill.io.safety.place_sequence`): an earlier sequence of
    vidfill's there is replaced whole; with ``overwrite``, the user's files there are kept, except
    those that a new frame of the same name replaces. Checked again just before: ``path`` may
    have changed meanwhile, and no path that the run reads (``reads``) may be replaced."""
    _make_parent(path)
    target = path.resolve()
    try:
        with safety.staging_folder(target) as tmp:
            _write_images(tmp, frames, names, progress)
            _check_sequence_folder(path, overwrite)
            safety.check_apart(reads, [("the output", path)])
            safety.place_sequence(tmp, target, names)
    except OSError as exc:
        raise VidfillError(f"{path}: cannot write the frames ({_reason(exc)})") from exc


def frame_names(info: VideoInfo, num_frames: int, start: int | None = None) -> list[str]:
    """The file names of a sequence output (:attr:`VideoInfo.suffix`): an image sequence's own
    frame numbers, or numbers from ``start`` on (default 0; it also renumbers a sequence); padded
    as the source's, to at least :data:`SEQUENCE_PADDING` digits."""
    if info.numbers is not None and len(info.numbers) == num_frames and start is None:
        numbers = list(info.numbers)
    else:
        numbers = list(range(start or 0, (start or 0) + num_frames))
    digits = max(info.padding, SEQUENCE_PADDING, *(len(str(n)) for n in numbers[-1:]))
    return [f"{n:0{digits}d}{info.suffix}" for n in numbers]


def check_image_folder(path: Path) -> None:
    """Refuse ``path`` for :func:`write_image_folder` unless it is new or an empty folder."""
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        raise VidfillError(f"{path}: exists and is not an empty folder; give a new or empty one")


def write_image_folder(path: Path, images: dict[str, torch.Tensor]) -> None:
    """Write ``images`` (file name -> ``(3, H, W)`` uint8 RGB) as PNGs into the new or empty
    folder ``path`` (:func:`check_image_folder`), atomically: into a private temporary sibling,
    renamed into place when complete."""
    check_image_folder(path)
    _make_parent(path)
    try:
        with safety.staging_folder(path.resolve()) as tmp:
            for name, image in images.items():
                write_image(tmp / name, image)
            check_image_folder(path)  # again: it may have changed meanwhile
            os.chmod(tmp, 0o777 & ~safety._umask())
            os.rename(tmp, path)  # onto nothing, or onto the empty folder
    except OSError as exc:
        raise VidfillError(f"{path}: cannot write the images ({_reason(exc)})") from exc


def _write_images(folder: Path, frames: Iterable[torch.Tensor], names: list[str],
                  progress: Progress) -> None:
    for frame, name in zip(frames, names, strict=True):
        write_image(folder / name, frame)
        progress(1)


def _write_video_file(path: Path, frames: Iterable[torch.Tensor], num_frames: int,
                      size: tuple[int, int], info: VideoInfo, crf: int | None, codec: str | None,
                      progress: Progress, overwrite: bool,
                      reads: tuple[tuple[str, Path], ...]) -> None:
    _make_parent(path)
    try:
        with safety.staging_file(path.resolve()) as (handle, tmp):
            _encode_video(handle, path, frames, num_frames, size, info, crf, codec, progress)
            check_video_target(path, overwrite)  # again: a file may have appeared meanwhile
            safety.check_apart(reads, [("the output", path)])
            safety.place_file(handle, tmp, path.resolve())
    except (OSError, av.FFmpegError) as exc:
        raise VidfillError(f"{path}: cannot write the video ({_reason(exc)})") from exc


def _encode_video(handle: BinaryIO, path: Path, frames: Iterable[torch.Tensor], num_frames: int,
                  size: tuple[int, int], info: VideoInfo, crf: int | None, codec_name: str | None,
                  progress: Progress) -> None:
    suffix = path.suffix.lower()
    container = _CONTAINERS[suffix]
    codec = _encoder(codec_name or _DEFAULT_CODECS[suffix], path)
    time_base, pts = _timing(info, num_frames, container)
    sink = _Sink(handle)
    with _open_video(info.source) if info.has_audio else nullcontext() as source:
        if source:
            _check_audio_fits(source, container, path)
        with av.open(sink, "w", format=container) as out:
            out.metadata["comment"] = WRITTEN_BY
            if codec.canonical_name not in out.supported_codecs:
                raise VidfillError(f"{path}: a {suffix} file cannot hold {codec.name} video")
            quarter_turns = info.rotation // 90
            stored = size[::-1] if quarter_turns % 2 else size
            stream = _add_video_stream(out, codec, stored[1], stored[0], info.fps, time_base, crf,
                                       info.depth)
            if quarter_turns:
                stream.set_display_rotation(info.rotation)
            audio = _copied_audio(out, source) if source else []
            for frame, t in zip(frames, pts):
                if frame.is_floating_point():  # a float source: display-referred, to 16 bits
                    frame = torch.from_numpy(_uint16(_for_format(frame, ".png", info.linear).numpy()))
                pixels = np.rot90(frame.permute(1, 2, 0).numpy(), -quarter_turns)
                image = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(pixels),
                    format="rgb48le" if pixels.dtype == np.uint16 else "rgb24")
                image.pts, image.time_base = t, time_base
                out.mux(stream.encode(image))
                _mux_audio(out, audio, t * time_base)
                sink.check()
                progress(1)
            out.mux(stream.encode())
            _mux_audio(out, audio, None)
    sink.check()


class _Sink:
    """The file object PyAV writes a video into: the first write error (a full disk) is kept and
    raised by :meth:`check` between frames, instead of going back through PyAV, which prints a
    traceback for each error that follows the first."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle, self.error = handle, None

    def write(self, data: bytes) -> int:
        if self.error is None:
            try:
                return self.handle.write(data)
            except OSError as exc:
                self.error = exc
        return len(data)

    def seek(self, offset: int, whence: int = 0) -> int:
        return self.handle.seek(offset, whence)

    def tell(self) -> int:
        return self.handle.tell()

    def read(self, size: int = -1) -> bytes:
        return self.handle.read(size)

    def check(self) -> None:
        if self.error is not None:
            raise self.error


def _encoder(name: str, path: Path) -> av.codec.Codec:
    try:
        codec = av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError as exc:
        raise VidfillError(f"{path}: no encoder named {name!r}") from exc
    if codec.type != "video":
        raise VidfillError(f"{path}: {name} is not a video encoder")
    return codec


def _timing(info: VideoInfo, count: int, container: str) -> tuple[Fraction, list[int]]:
    """Time base and per-frame pts of the output: the source's if known and storable, else 1/fps."""
    if info.time_base and info.pts and len(info.pts) == count and container not in _FRAME_COUNTING:
        return info.time_base, list(info.pts)
    return 1 / info.fps, list(range(count))


def _add_video_stream(out: av.container.OutputContainer, codec: av.codec.Codec, width: int,
                      height: int, fps: Fraction, time_base: Fraction,
                      crf: int | None, depth: int = 8) -> av.VideoStream:
    stream = out.add_stream(codec.name, rate=fps, options=_quality_options(codec, crf))
    stream.width, stream.height = width, height
    stream.pix_fmt = _pix_fmt(codec, width, height, depth)
    stream.codec_context.time_base = stream.time_base = time_base
    return stream


def _quality_options(codec: av.codec.Codec, crf: int | None) -> dict[str, str]:
    if codec.name in _CRF_RANGES:
        return {"crf": str(DEFAULT_CRF if crf is None else crf)}
    if codec.lossy and not codec.lossless:
        return {"flags": "+qscale", "global_quality": str(_QSCALE * _FF_QP2LAMBDA)}
    return {}


_DEEP_RGB = ("gbrp16le", "gbrp14le", "gbrp12le", "gbrp10le", "rgb48le")
_DEEP_YUV = ("yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p12le", "yuv422p12le",
             "yuv444p12le", "yuv420p16le", "yuv422p16le", "yuv444p16le")


def _format_bits(name: str) -> int:
    return max(c.bits for c in av.VideoFormat(name).components)


def _pix_fmt(codec: av.codec.Codec, width: int, height: int, depth: int = 8) -> str:
    """RGB for lossless codecs; else 4:2:0 (4:4:4 when a side is odd, which 4:2:0 cannot hold).
    For a ``depth``-bit source (above 8): a lossless codec's deepest such format; a lossy codec's
    shallowest with at least that many bits, else its deepest (the caller says that the output
    keeps fewer)."""
    supported = [f.name for f in codec.video_formats or ()]
    even = width % 2 == 0 and height % 2 == 0
    if depth > 8:
        yuv = tuple(f for f in _DEEP_YUV if even or "420" not in f)
        order = _DEEP_RGB + yuv if codec.lossless else yuv + _DEEP_RGB
        deep = [f for f in order if f in supported]
        if deep and not codec.lossless:  # the shallowest that holds the source
            return min(deep, key=lambda f: (_format_bits(f) < depth, _format_bits(f)))
        if deep:  # lossless: the deepest, which keeps the decoded 16-bit RGB exactly
            return max(deep, key=_format_bits)
    yuv = ("yuv420p", "yuv444p") if even else ("yuv444p",)
    if codec.name in _FULL_RANGE_CODECS:
        yuv = tuple(f.replace("yuv", "yuvj") for f in yuv)
    order = _RGB_FORMATS + yuv if codec.lossless else yuv + _RGB_FORMATS
    return next((f for f in order if f in supported), supported[0] if supported else "rgb24")


def _check_audio_fits(source: av.container.InputContainer, container: str, path: Path) -> None:
    """VidfillError unless a ``container`` file can take the audio streams of ``source`` as they are."""
    for stream in source.streams.audio:
        with av.open(BytesIO(), "w", format=container) as probe:
            try:
                probe.add_stream_from_template(stream)
                probe.start_encoding()
            except ValueError as exc:  # av.FFmpegError is a ValueError too
                raise VidfillError(f"{path}: a {path.suffix} file cannot hold the "
                                   f"{stream.codec.canonical_name} audio of {source.name}; choose "
                                   "another container (e.g. .mkv) to keep it") from exc


def _copied_audio(out: av.container.OutputContainer,
                  source: av.container.InputContainer) -> list[tuple[Fraction, av.Packet]]:
    """Add a copy of every audio stream of ``source`` to ``out``; its packets with their times."""
    streams = {stream.index: out.add_stream_from_template(stream) for stream in source.streams.audio}
    packets = []
    for packet in source.demux(*source.streams.audio):
        if packet.dts is not None:
            time = packet.dts * packet.time_base
            packet.stream = streams[packet.stream.index]
            packets.append((time, packet))
    return packets


def _mux_audio(out: av.container.OutputContainer, packets: list[tuple[Fraction, av.Packet]],
               until: Fraction | None) -> None:
    """Mux (and drop from ``packets``) the audio packets up to time ``until`` (None: all)."""
    count = next((i for i, (time, _) in enumerate(packets) if until is not None and time > until),
                 len(packets))
    for _, packet in packets[:count]:
        out.mux(packet)
    del packets[:count]
