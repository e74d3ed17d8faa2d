"""Image files and folders of them (image sequences): PNG, TIFF, JPEG and BMP through OpenCV,
OpenEXR through its own library; frames in numeric order by the last number in their names,
and the sample type of each file read from its header.

Images are read as stored (:func:`read_stored`: BGR(A), uint8, uint16, half or float) and turned
into RGB frames of one sample type per sequence; :func:`write_image` writes any frame losslessly.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import OpenEXR
import torch

from vidfill.errors import VidfillError
from vidfill.io.colour import GAMMA, full_scale, signed_power, to_uint16, to_unit
from vidfill.io.messages import reason, wxh

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".exr")
SEQUENCE_FORMATS = (".png", ".tif", ".tiff", ".exr")
"""Image formats a sequence output is written in: the source sequence's own, else PNG."""
_NUMBER = re.compile(r"\d+")


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


def image_files(folder: Path) -> list[Path]:
    """The images in ``folder`` (hidden files ignored), in numeric order."""
    try:
        files = [p for p in folder.iterdir()
                 if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")]
    except OSError as exc:
        raise VidfillError(f"{folder}: cannot list the folder ({reason(exc)})") from exc
    for file in files:
        if not file.exists():
            raise VidfillError(f"{file}: a broken link (its target {os.readlink(file)} does not exist)")
    if not files:
        raise VidfillError(f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) in this folder")
    return numeric_sorted(files)


def _format(file: Path, dtype: np.dtype) -> dict:
    """``depth``, ``floating``, ``linear`` and ``suffix`` of :class:`~vidfill.io.clips.VideoInfo`
    for a sequence read as samples of ``dtype``, which its file ``file`` has."""
    suffix = file.suffix.lower()
    return {"depth": {np.dtype(np.uint8): 8, np.dtype(np.float32): 32}.get(dtype, 16),
            "floating": dtype.kind == "f", "linear": suffix == ".exr",
            "suffix": suffix if suffix in SEQUENCE_FORMATS else ".png"}


_DEPTHS = {np.dtype(np.uint8): (0, "8-bit"), np.dtype(np.uint16): (1, "16-bit"),
           np.dtype(np.float16): (2, "half-float"), np.dtype(np.float32): (3, "float")}
"""Sample types from the shallowest, with their names: a sequence of mixed ones is read as its
deepest (integers over their full scale for floats, 8 bits times 257 for 16)."""


def sequence_format(files: list[Path], first: np.ndarray, note: Callable[[str], None]) -> dict:
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
    """The sample type :func:`read_stored` gives ``path``: from the header of a PNG, TIFF or
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
        raise VidfillError(f"{path}: cannot read image ({reason(exc)})") from exc
    except (struct.error, ValueError, IndexError):  # an odd header: the image says
        found = None
    return found if found is not None else read_stored(path).dtype


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


def numbering(files: list[Path]) -> dict:
    """``numbers`` and ``padding`` of :class:`~vidfill.io.clips.VideoInfo` for an image sequence
    (none if a file has no number, as a single image may not)."""
    found = [_NUMBER.findall(f.stem) for f in files]
    if not all(found):
        return {}
    return {"numbers": tuple(int(n[-1]) for n in found), "padding": len(found[0][-1])}


def read_stored(path: Path, matte: bool = False) -> np.ndarray:
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
    :func:`read_stored` returns images; half and float samples kept as they are. ``matte`` (a
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


def bgr_alpha(image: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """Split an image into ``(H, W, 3)`` RGB (gray replicated) and its ``(H, W)`` alpha or None."""
    if image.ndim == 2:
        image = image[..., None]
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2), None
    if channels in (3, 4):
        return image[..., 2::-1], (image[..., 3] if channels == 4 else None)
    raise VidfillError(f"{path}: {channels}-channel images are not supported")


def _rgb_as(image: np.ndarray, path: Path, dtype: np.dtype) -> np.ndarray:
    """``(H, W, 3)`` RGB of ``dtype`` of an image as read by :func:`read_stored`, for a sequence
    whose first image has samples of that type: unchanged when it has too; else 8-bit times 257
    for uint16, integers over their full scale for floats, floats clipped to [0, 1] for
    integers (a scene-linear EXR encoded as :func:`~vidfill.io.colour.work_frame` does)."""
    rgb = bgr_alpha(image, path)[0]
    if rgb.dtype == dtype:
        return np.ascontiguousarray(rgb)
    if rgb.dtype == np.uint8 and dtype == np.uint16:
        return rgb.astype(np.uint16) * 257
    if dtype.kind == "f":
        return (rgb / np.float32(full_scale(rgb.dtype, path))).astype(dtype)
    if rgb.dtype == np.uint16:
        return (rgb >> 8).astype(np.uint8)
    # inf and NaN are unknown (a job adds them to the hole): 0, not an invalid cast
    values = np.nan_to_num(rgb.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if path.suffix.lower() == ".exr":
        values = signed_power(values, 1 / GAMMA)
    top = np.iinfo(dtype).max
    return (np.clip(values / full_scale(rgb.dtype, path), 0, 1) * top + 0.5).astype(dtype)


def rgb8(image: np.ndarray, path: Path) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB of an image as read by :func:`read_stored`."""
    return _rgb_as(image, path, np.dtype(np.uint8))


def read_frame_folder(files: list[Path]) -> np.ndarray:
    """``(T, 3, H, W)`` uint8 RGB frames of the image ``files`` (a folder's, or one image)."""
    images = folder_images(files, np.dtype(np.uint8))
    first = next(images)
    frames = np.empty((len(files), *first.shape), np.uint8)
    frames[0] = first
    for i, image in enumerate(images, 1):
        frames[i] = image
    return frames


def folder_images(files: list[Path], dtype: np.dtype) -> Iterator[np.ndarray]:
    """``(3, H, W)`` RGB of ``dtype`` of each image file (:func:`_rgb_as`); a VidfillError when
    one's size differs."""
    first = None
    for file in files:
        image = _rgb_as(read_stored(file), file, dtype)
        first = first if first is not None else image
        if image.shape != first.shape:
            raise VidfillError(f"{file}: {wxh(image.shape)}, but {files[0].name} is "
                               f"{wxh(first.shape)}; all frames must have the same size")
        yield image.transpose(2, 0, 1)


def read_image(file: Path) -> torch.Tensor:
    """One ``(3, H, W)`` RGB frame from an image file, with the samples it stores (as
    :func:`write_image` wrote them)."""
    image = read_stored(file)
    rgb = _rgb_as(image, file, image.dtype)
    return torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))


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
            pixels = to_unit(pixels).astype(np.float16)
        header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
        try:
            with OpenEXR.File(header, {"RGBA"[:len(frame)]: np.ascontiguousarray(pixels)}) as exr:
                exr.write(str(file))
        except RuntimeError as exc:
            raise OSError(f"cannot write {file.name} as OpenEXR ({exc})") from exc
        return
    if pixels.dtype.kind == "f" and suffix == ".png":
        pixels = to_uint16(pixels)
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
