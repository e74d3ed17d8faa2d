"""Video files through PyAV: decoding the first video stream upright (as displayed) with its
timing, and encoding frames with the container's default codec or a given one, at the source's
bit depth where the codec can hold it, with the source's audio packets copied as they are.

Every video vidfill writes carries :data:`WRITTEN_BY`, so that a later run knows it may replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from fractions import Fraction
from io import BytesIO
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np
import torch

from vidfill.errors import VidfillError
from vidfill.io.clips import VideoInfo
from vidfill.io.colour import for_format, to_uint16
from vidfill.io.messages import reason, wxh

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm",
              ".m4v": "mp4"}
"""The container format of each video suffix."""
DEFAULT_CODECS = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "mjpeg",
                  ".webm": "libvpx-vp9", ".m4v": "libx264"}
"""The codec of each video suffix when none is given."""
DEFAULT_CRF = 17
"""CRF when none is given: visually lossless for x264 and in VP9/AV1's own scale."""
WRITTEN_BY = "written by vidfill"
"""The ``comment`` tag of every video vidfill writes: a file already at a video output's path is
replaced only if it carries it (an earlier vidfill output), or with ``overwrite``."""
CRF_RANGES = {"libx264": 51, "libx264rgb": 51, "libx265": 51, "libvpx-vp9": 63, "libaom-av1": 63,
              "libsvtav1": 63}
"""Largest CRF of each codec that has one (0 is the best quality)."""
MAX_CRF = max(CRF_RANGES.values())
"""Largest CRF of any codec (a CRF is checked against its codec's own range before any work)."""
_QSCALE = 2
"""Quantiser of lossy codecs without a CRF (mjpeg, mpeg4): 2 is visually lossless."""
_FF_QP2LAMBDA = 118
_RGB_FORMATS = ("rgb24", "bgr0", "bgr24", "gbrp")
_FULL_RANGE_CODECS = ("mjpeg",)
"""Codecs that take only full-range ("yuvj") YUV."""
FRAME_COUNTING = ("avi",)
"""Containers that store no timestamps: a gap in pts would be padded with empty frames."""


# --- reading -------------------------------------------------------------------------------------

def open_video(path: Path) -> av.container.InputContainer:
    """``path`` opened by PyAV; a VidfillError if it is not a video."""
    try:
        return av.open(str(path))
    except av.FFmpegError as exc:
        raise VidfillError(f"{path}: cannot open as a video ({reason(exc)})") from exc


def decode(container: av.container.InputContainer, path: Path) -> Iterator[av.VideoFrame]:
    """The frames of the first video stream, in presentation order."""
    if not container.streams.video:
        raise VidfillError(f"{path}: no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    try:
        yield from container.decode(stream)
    except av.FFmpegError as exc:
        raise VidfillError(f"{path}: cannot decode the video ({reason(exc)})") from exc


def check_same_size(path: Path, index: int, shape: tuple[int, int], first: tuple[int, int]) -> None:
    """A VidfillError if frame ``index`` of ``path`` has another ``shape`` (H, W) than frame 0."""
    if shape != first:
        raise VidfillError(f"{path}: frame {index} is {wxh(shape)}, but frame 0 is {wxh(first)}")


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


def video_images(path: Path, deep: bool = False) -> Iterator[np.ndarray]:
    """``(3, H, W)`` uint8 RGB (``deep``: uint16) of each frame of a video, upright, decoded one
    at a time."""
    with open_video(path) as container:
        first = None
        for index, frame in enumerate(decode(container, path)):
            image = _upright(frame, deep)
            first = first or image.shape[1:]
            check_same_size(path, index, image.shape[1:], first)
            yield image


def _increasing(pts: list[int | None]) -> tuple[int, ...] | None:
    """``pts`` if every frame has one and they strictly increase, else None."""
    if None in pts or any(b <= a for a, b in zip(pts, pts[1:])):
        return None
    return tuple(pts)


def video_info(container: av.container.InputContainer, path: Path, pts: list[int | None],
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


def read_video(path: Path, fps: Fraction) -> tuple[torch.Tensor, VideoInfo]:
    """All frames of a video, ``(T, 3, H, W)`` uint8 RGB upright, and their :class:`VideoInfo`
    (``fps``: the rate if the stream has none)."""
    images, pts, first = [], [], None
    with open_video(path) as container:
        for index, frame in enumerate(decode(container, path)):
            first = frame if first is None else first
            images.append(_upright(frame))
            pts.append(frame.pts)
            check_same_size(path, index, images[-1].shape[1:], images[0].shape[1:])
        info = video_info(container, path, pts, fps, first)
    if not images:
        raise VidfillError(f"{path}: no video frames")
    frames = np.empty((len(images), *images[0].shape), np.uint8)
    return torch.from_numpy(np.stack(images, out=frames)), info


def written_by_vidfill(path: Path) -> bool:
    """Whether the file ``path`` is a video that carries vidfill's mark (:data:`WRITTEN_BY`)."""
    try:
        with av.open(str(path)) as container:
            tags = {key.lower(): value for key, value in container.metadata.items()}
    except (OSError, av.FFmpegError, ValueError):
        return False
    return tags.get("comment") == WRITTEN_BY


# --- writing -------------------------------------------------------------------------------------

def encode_video(handle: BinaryIO, path: Path, frames: Iterable[torch.Tensor], num_frames: int,
                 size: tuple[int, int], info: VideoInfo, crf: int | None, codec_name: str | None,
                 progress: Callable[[int], None]) -> None:
    """Encode ``num_frames`` ``frames`` (``(3, H, W)`` of ``size``: uint8, uint16, or floats
    written as 16 bits) into the open file ``handle`` as the video ``path`` (its suffix names the
    container), timed, turned and with the audio of ``info``'s source; ``progress(1)`` follows
    every frame."""
    suffix = path.suffix.lower()
    container = CONTAINERS[suffix]
    codec = find_encoder(codec_name or DEFAULT_CODECS[suffix], path)
    time_base, pts = _timing(info, num_frames, container)
    sink = _Sink(handle)
    with open_video(info.source) if info.has_audio else nullcontext() as source:
        if source:
            check_audio_fits(source, container, path)
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
                    frame = torch.from_numpy(to_uint16(for_format(frame, ".png", info.linear).numpy()))
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


def find_encoder(name: str, path: Path) -> av.codec.Codec:
    """The video encoder ``name``; a VidfillError naming the output ``path`` if there is none."""
    try:
        codec = av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError as exc:
        raise VidfillError(f"{path}: no encoder named {name!r}") from exc
    if codec.type != "video":
        raise VidfillError(f"{path}: {name} is not a video encoder")
    return codec


def _timing(info: VideoInfo, count: int, container: str) -> tuple[Fraction, list[int]]:
    """Time base and per-frame pts of the output: the source's if known and storable, else 1/fps."""
    if info.time_base and info.pts and len(info.pts) == count and container not in FRAME_COUNTING:
        return info.time_base, list(info.pts)
    return 1 / info.fps, list(range(count))


def _add_video_stream(out: av.container.OutputContainer, codec: av.codec.Codec, width: int,
                      height: int, fps: Fraction, time_base: Fraction,
                      crf: int | None, depth: int = 8) -> av.VideoStream:
    stream = out.add_stream(codec.name, rate=fps, options=_quality_options(codec, crf))
    stream.width, stream.height = width, height
    stream.pix_fmt = pix_fmt(codec, width, height, depth)
    stream.codec_context.time_base = stream.time_base = time_base
    return stream


def _quality_options(codec: av.codec.Codec, crf: int | None) -> dict[str, str]:
    if codec.name in CRF_RANGES:
        return {"crf": str(DEFAULT_CRF if crf is None else crf)}
    if codec.lossy and not codec.lossless:
        return {"flags": "+qscale", "global_quality": str(_QSCALE * _FF_QP2LAMBDA)}
    return {}


_DEEP_RGB = ("gbrp16le", "gbrp14le", "gbrp12le", "gbrp10le", "rgb48le")
_DEEP_YUV = ("yuv420p10le", "yuv422p10le", "yuv444p10le", "yuv420p12le", "yuv422p12le",
             "yuv444p12le", "yuv420p16le", "yuv422p16le", "yuv444p16le")


def format_bits(name: str) -> int:
    """Bits per sample of the pixel format ``name``."""
    return max(c.bits for c in av.VideoFormat(name).components)


def pix_fmt(codec: av.codec.Codec, width: int, height: int, depth: int = 8) -> str:
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
            return min(deep, key=lambda f: (format_bits(f) < depth, format_bits(f)))
        if deep:  # lossless: the deepest, which keeps the decoded 16-bit RGB exactly
            return max(deep, key=format_bits)
    yuv = ("yuv420p", "yuv444p") if even else ("yuv444p",)
    if codec.name in _FULL_RANGE_CODECS:
        yuv = tuple(f.replace("yuv", "yuvj") for f in yuv)
    order = _RGB_FORMATS + yuv if codec.lossless else yuv + _RGB_FORMATS
    return next((f for f in order if f in supported), supported[0] if supported else "rgb24")


# --- audio ---------------------------------------------------------------------------------------

def check_audio_fits(source: av.container.InputContainer, container: str, path: Path) -> None:
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
