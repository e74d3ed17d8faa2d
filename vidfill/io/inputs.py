"""The input clip: a video file, a folder of frame images or a single image, opened for
streaming (:func:`open_clip`, :func:`iter_frames`: memory does not grow with the clip's length)
or read whole (:func:`read_frames`); and a frame painted by hand (:func:`read_reference`).

Frames are ``(3, H, W)`` RGB tensors on the CPU: uint8, or with ``deep`` at the source's full
depth (:func:`vidfill.io.colour.native_dtype`). The masks are read by :mod:`vidfill.io.masks`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from vidfill.errors import VidfillError
from vidfill.io.clips import ClipSource, VideoInfo
from vidfill.io.colour import native_dtype
from vidfill.io.images import (IMAGE_EXTENSIONS, folder_images, image_files, numbering,
                               read_frame_folder, read_stored, rgb8, sequence_format)
from vidfill.io.messages import require, wxh
from vidfill.io.video import (check_same_size, decode, open_video, read_video, video_images,
                              video_info)

DEFAULT_FPS = Fraction(25)
"""Frame rate given to a frame-folder or single-image input (it has none of its own)."""


def read_frames(path: Path, fps: Fraction = DEFAULT_FPS) -> tuple[torch.Tensor, VideoInfo]:
    """Read a video file, a folder of frame images or a single image.

    Returns the frames, ``(T, 3, H, W)`` uint8 RGB, and their :class:`VideoInfo`. Images of any bit
    depth and channel count become 8-bit RGB (16-bit: ``>> 8``, gray replicated, alpha dropped).
    ``fps`` is the frame rate of a folder or image; a video keeps its own.
    """
    require(path)
    if not (path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS):
        return read_video(path, fps)
    clip = open_clip(path, fps)
    return torch.from_numpy(read_frame_folder(list(clip.files))), clip.info


def open_clip(path: Path, fps: Fraction = DEFAULT_FPS,
              note: Callable[[str], None] | None = None) -> ClipSource:
    """Open a video file, a folder of frame images or a single image for :func:`iter_frames`.

    Only counts the frames (a video is decoded once, without converting its frames) and reads
    the first image and the other images' headers, so that memory does not depend on the clip's
    length. ``fps`` as in :func:`read_frames`. A sequence whose images differ in sample type is
    read at the deepest; ``note`` gets one line saying so.
    """
    require(path)
    if path.is_dir() or path.suffix.lower() in IMAGE_EXTENSIONS:
        files = image_files(path) if path.is_dir() else [path]
        first_image = read_stored(files[0])
        height, width = first_image.shape[:2]
        alpha = first_image.ndim == 3 and first_image.shape[2] == 4
        info = VideoInfo(source=path, fps=Fraction(fps), time_base=None, pts=None, has_audio=False,
                         dropped=("the alpha channel",) if alpha else (), **numbering(files),
                         **sequence_format(files, first_image, note or (lambda _line: None)))
        return ClipSource(info=info, num_frames=len(files), size=(height, width), files=tuple(files))
    pts, first = [], None
    with open_video(path) as container:
        for frame in decode(container, path):
            first = frame if first is None else first
            check_same_size(path, len(pts), (frame.height, frame.width), (first.height, first.width))
            pts.append(frame.pts)
        if first is None:
            raise VidfillError(f"{path}: no video frames")
        info = video_info(container, path, pts, fps, first)
    size = (first.width, first.height) if info.rotation % 180 else (first.height, first.width)
    return ClipSource(info=info, num_frames=len(pts), size=size, files=None)


def iter_frames(clip: ClipSource, deep: bool = False) -> Iterator[torch.Tensor]:
    """The frames of ``clip``, one ``(3, H, W)`` uint8 RGB tensor at a time, decoded as needed;
    ``deep``: at the source's full depth, as :func:`~vidfill.io.colour.native_dtype` says."""
    dtype = native_dtype(clip.info) if deep else np.dtype(np.uint8)
    images = (folder_images(list(clip.files), dtype) if clip.files is not None
              else itertools.islice(video_images(clip.info.source, deep), clip.skip,
                                    clip.skip + clip.num_frames))
    for image in images:
        yield torch.from_numpy(np.ascontiguousarray(image))


def read_reference(path: Path, size: tuple[int, int]) -> torch.Tensor:
    """A frame painted by hand, ``(3, H, W)`` uint8 RGB; it must have the video's ``size`` = (H, W)."""
    require(path)
    if path.is_dir():
        raise VidfillError(f"{path}: a folder, not a painted frame (an image file)")
    image = rgb8(read_stored(path), path)
    if image.shape[:2] != tuple(size):
        raise VidfillError(f"{path}: the painted frame is {wxh(image.shape)}, the video's frames "
                           f"are {size[1]}x{size[0]}")
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
