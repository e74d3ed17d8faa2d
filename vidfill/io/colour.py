"""Sample types and colour encodings: a source's samples read at full depth
(:func:`native_dtype`), the pipeline's float16 work frames made from them and back
(:func:`work_frame`, :func:`native_frame`), and a frame as each image format stores it
(:func:`for_format`: scene-linear EXR, display-referred PNG and TIFF, premultiplied alpha)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vidfill.errors import VidfillError
from vidfill.io.clips import VideoInfo

GAMMA = 2.2
"""Exponent of the encoding a scene-linear (EXR) source is filled in (:func:`work_frame`)."""


def native_dtype(info: VideoInfo) -> np.dtype:
    """The samples of a source read at full depth: uint8 for 8 bits, uint16 for more (a video's
    10 or 12 bits scaled to 0..65535), float16 or float32 for half or float images."""
    if info.floating:
        return np.dtype(np.float16 if info.depth == 16 else np.float32)
    return np.dtype(np.uint8 if info.depth <= 8 else np.uint16)


def to_unit(values: np.ndarray) -> np.ndarray:
    """float32 samples on the [0, 1] scale: integers over their full scale, floats as they are."""
    if values.dtype.kind == "u":
        return values / np.float32(np.iinfo(values.dtype).max)
    return values.astype(np.float32)


def signed_power(values: np.ndarray, exponent: float) -> np.ndarray:
    """``values ** exponent`` with the sign kept: the 1/:data:`GAMMA` encoding of scene-linear
    values (negative ones and those above 1 included) and its inverse."""
    return np.sign(values) * np.abs(values) ** exponent


def to_uint16(values: np.ndarray) -> np.ndarray:
    """Float samples clipped to [0, 1] and rounded to 16 bits."""
    return (np.clip(values, 0, 1) * 65535 + 0.5).astype(np.uint16)


def work_frame(native: torch.Tensor, info: VideoInfo) -> torch.Tensor:
    """A frame read at full depth -> the pipeline's float16 frame on the [0, 1] scale (see
    :mod:`vidfill.types`): integers divided by their full scale; a scene-linear source encoded
    with a power of 1/:data:`GAMMA` (sign kept, values above 1 too), so that flow, edges and
    fill see it as a person does."""
    values = to_unit(native.numpy())
    if info.linear:
        values = signed_power(values, 1 / GAMMA)
    return torch.from_numpy(values.astype(np.float16))


def native_frame(work: torch.Tensor, dtype: np.dtype, info: VideoInfo) -> np.ndarray:
    """:func:`work_frame`'s inverse, to samples of ``dtype`` (integers rounded and clipped)."""
    values = work.numpy().astype(np.float32)
    if dtype.kind == "u":
        scale = np.iinfo(dtype).max
        return np.clip(np.round(values * scale), 0, scale).astype(dtype)
    if info.linear:
        values = signed_power(values, GAMMA)
    return values.astype(dtype)


def for_format(frame: torch.Tensor, suffix: str, linear: bool) -> torch.Tensor:
    """A frame (RGB or RGBA, ``linear``: scene-linear colour; RGBA with straight alpha) as a
    sequence of type ``suffix`` holds it: EXR scene-linear values (half, float for float32
    frames), the others display ones, converted with :data:`GAMMA` where the two differ; alpha
    is left as it is. RGBA colour is premultiplied by alpha where the format's convention is
    premultiplied (:func:`premultiplied`: EXR, float TIFF), after the conversion."""
    exr = suffix == ".exr"
    if exr != linear:
        values = to_unit(frame.numpy())
        values[:3] = signed_power(values[:3], GAMMA if exr else 1 / GAMMA)
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


def full_scale(dtype: np.dtype, path: Path) -> float:
    """The value of white in samples of ``dtype`` (255, 65535, 1.0); a VidfillError naming
    ``path`` for another sample type."""
    if dtype == np.uint8:
        return 255.0
    if dtype == np.uint16:
        return 65535.0
    if dtype.kind == "f":
        return 1.0
    raise VidfillError(f"{path}: {dtype} samples are not supported (8-bit, 16-bit or float only)")
