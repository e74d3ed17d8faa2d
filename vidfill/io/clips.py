"""What vidfill knows of a clip: where its frames come from and their timing
(:class:`VideoInfo`), and a clip opened for streaming (:class:`ClipSource`, made by
:func:`vidfill.io.inputs.open_clip`). Nothing here reads a file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path


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
    images, 32 for float ones): above 8, :func:`~vidfill.io.inputs.iter_frames` with ``deep=True``
    reads it at full depth."""
    floating: bool = False
    """Whether the source's samples are floats (EXR, float TIFF): 1.0 is white, values above are
    kept."""
    linear: bool = False
    """Whether the source is scene-linear (EXR, by that format's convention)."""
    suffix: str = ".png"
    """File type of a sequence output: the source sequence's own
    (:data:`~vidfill.io.images.SEQUENCE_FORMATS`), else PNG."""
    numbers: tuple[int, ...] | None = None
    """Frame numbers of an image-sequence source (the last number in each file name, e.g. 1001
    in ``plate.1001.png``), which a sequence output keeps; None for a video."""
    padding: int = 0
    """Digits of the source's frame numbers (4 in ``plate.1001.png``; 0 for a video)."""


@dataclass(frozen=True)
class ClipSource:
    """A clip opened for streaming: its timing, length and frame size, frames decoded on demand
    by :func:`~vidfill.io.inputs.iter_frames`."""

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
