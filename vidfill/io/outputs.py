"""Writing the result: a video file or an image-sequence folder, put in place only when complete
(:func:`write_output`, :func:`write_stream`), and the checks that refuse before any work what
writing would refuse after it (:func:`check_output`): the output's type and place, the codec and
CRF, and whether a file or folder already there may be replaced (:mod:`vidfill.io.safety`).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from io import BytesIO
from pathlib import Path

import av
import torch

from vidfill.errors import VidfillError
from vidfill.io import safety
from vidfill.io.clips import VideoInfo
from vidfill.io.colour import GAMMA, for_format
from vidfill.io.images import write_image
from vidfill.io.messages import reason
from vidfill.io.video import (CONTAINERS, CRF_RANGES, DEFAULT_CODECS, FRAME_COUNTING,
                              VIDEO_EXTENSIONS, check_audio_fits, encode_video, find_encoder,
                              format_bits, open_video, pix_fmt, written_by_vidfill)

Progress = Callable[[int], None]
IMAGE_FORMATS = {"png": ".png", "tiff": ".tif", "exr": ".exr"}
"""The formats a sequence output may be asked for (``--format``), and their suffixes."""
SEQUENCE_PADDING = 4
"""Fewest digits in the frame names of a sequence output."""


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
    wrote it (:data:`~vidfill.io.video.WRITTEN_BY`), or with ``overwrite``. The output appears
    only when complete: it is written under a temporary name next to it (created exclusively),
    which is removed on any failure. ``reads``: ``(what, path)`` of every file the run read,
    checked again just before the output is put in place
    (:func:`vidfill.io.safety.check_apart`). ``progress(1)`` follows every frame.
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
    or uint16, float16 or float32 ones (at full depth, see :func:`~vidfill.io.images.write_image`;
    a video takes floats as :func:`~vidfill.io.colour.native_frame` gives uint16), or for a
    sequence ``(4, H, W)`` RGBA ones.
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
        stored = (for_format(frame, info.suffix, info.linear) for frame in checked)
        _write_sequence_folder(path, stored, frame_names(info, num_frames, start), progress,
                               overwrite, reads)
    else:
        _check_video_suffix(path)
        _write_video_file(path, checked, num_frames, tuple(first.shape[1:]), info, crf, codec,
                          progress, overwrite, reads)


_SAMPLE_TYPES = (torch.uint8, torch.uint16, torch.float16, torch.float32)


# --- checked before any work ------------------------------------------------------------------

def output_depth(path: Path, codec: str | None, depth: int) -> int:
    """Bits per sample that the output ``path`` (with ``codec``) keeps of a ``depth``-bit source."""
    if depth <= 8:
        return 8
    if is_sequence_folder(path):
        return 16
    suffix = path.suffix.lower()
    encoder = find_encoder(codec or DEFAULT_CODECS.get(suffix, "libx264"), path)
    return min(depth, format_bits(pix_fmt(encoder, 2, 2, depth)))


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
    encoder = find_encoder(codec or DEFAULT_CODECS[suffix], path)
    with av.open(BytesIO(), "w", format=CONTAINERS[suffix]) as probe:
        if encoder.canonical_name not in probe.supported_codecs:
            raise VidfillError(f"{path}: a {suffix} file cannot hold {encoder.name} video")
    if crf is not None:
        if encoder.name in CRF_RANGES and not 0 <= crf <= CRF_RANGES[encoder.name]:
            raise VidfillError(f"--crf {crf}: {encoder.name} takes 0..{CRF_RANGES[encoder.name]}")
        if encoder.name not in CRF_RANGES:
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
    if CONTAINERS[suffix] in FRAME_COUNTING and info.pts and not _uniform(info.pts):
        note(f"{path}: an {suffix} file stores no timestamps; the source's uneven frame timing "
             f"becomes a constant {float(info.fps):g} fps (use .mkv or .mp4 to keep it)")
    if info.has_audio:
        with open_video(info.source) as source:
            check_audio_fits(source, CONTAINERS[suffix], path)
    return kept


def _uniform(pts: tuple[int, ...]) -> bool:
    return len({b - a for a, b in zip(pts, pts[1:])}) <= 1


def is_sequence_folder(path: Path) -> bool:
    """Whether an output at ``path`` is a folder of image frames (else a video file)."""
    return path.is_dir() or not path.suffix


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


def _check_video_suffix(path: Path) -> None:
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise VidfillError(f"{path}: unknown output type; give a video ({', '.join(VIDEO_EXTENSIONS)}) "
                           "or a folder for image frames")


def check_video_target(path: Path, overwrite: bool) -> None:
    """VidfillError if a file that vidfill did not write is at the video output ``path`` and
    ``overwrite`` is not given: it is the user's, and replacing it would lose it."""
    if path.is_file() and not overwrite and not written_by_vidfill(path):
        raise VidfillError(f"{path}: exists and was not written by vidfill; give another name, or "
                           "--overwrite to replace it")


# --- writing -------------------------------------------------------------------------------------

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
        raise VidfillError(f"{path}: cannot write the images ({reason(exc)})") from exc


def _no_progress(_count: int) -> None:
    """Progress callback that ignores the progress."""


def _make_parent(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise VidfillError(f"{path}: cannot create the folder {path.parent} ({reason(exc)})") from exc


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
        raise VidfillError(f"{path}: cannot write the frames ({reason(exc)})") from exc


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
            encode_video(handle, path, frames, num_frames, size, info, crf, codec, progress)
            check_video_target(path, overwrite)  # again: a file may have appeared meanwhile
            safety.check_apart(reads, [("the output", path)])
            safety.place_file(handle, tmp, path.resolve())
    except (OSError, av.FFmpegError) as exc:
        raise VidfillError(f"{path}: cannot write the video ({reason(exc)})") from exc
