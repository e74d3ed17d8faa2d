"""Outputs for compositing: a fill layer with alpha, and a side-by-side preview."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vidfill.io.clips import VideoInfo
from vidfill.io.colour import native_dtype, native_frame
from vidfill.io.outputs import write_stream
from vidfill.types import to_display


def alpha_matte(hole: torch.Tensor, feather: int) -> np.ndarray:
    """``(H, W)`` float32 alpha of a fill layer: 1 on ``hole`` (``(1, H, W)`` bool), falling
    linearly to 0 over ``feather`` pixels around it (0: a hard edge)."""
    inside = hole[0].numpy()
    if feather <= 0:
        return inside.astype(np.float32)
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, 5)
    return np.clip(1 - distance / (feather + 1), 0, 1).astype(np.float32)


def fill_layers(frames: Iterable[torch.Tensor], holes: Iterable[torch.Tensor],
                feather: int = 0) -> Iterator[torch.Tensor]:
    """The filled frames as RGBA layers to lay over the plate: ``(4, H, W)`` of the frames'
    dtype (uint8, uint16 or float), colour and straight (not premultiplied) alpha; a sequence
    that stores premultiplied colour (EXR, float TIFF) gets it when written
    (:func:`vidfill.io.outputs.write_stream`).

    Alpha is :func:`alpha_matte` at the dtype's full scale (1.0 for floats); the colour is the
    filled frame where alpha is above 0 and 0 elsewhere. With ``feather``, the frames must be
    filled over the band the alpha ramps across too (the hole grown by ``feather``): then
    ``alpha * layer + (1 - alpha) * plate`` is :func:`composite`, the full-frame output.
    """
    for frame, hole in zip(frames, holes, strict=True):
        image = frame.numpy()  # numpy: torch has few operations on uint16
        alpha = alpha_matte(hole.cpu(), feather)
        if image.dtype.kind == "u":
            alpha = np.round(alpha * np.iinfo(image.dtype).max)
        alpha = alpha.astype(image.dtype)[None]
        yield torch.from_numpy(np.concatenate([np.where(alpha > 0, image, 0), alpha]))


def composite(filled: Iterable[torch.Tensor], sources: Iterable[torch.Tensor],
              holes: Iterable[torch.Tensor], feather: int = 0) -> Iterator[torch.Tensor]:
    """The full-frame output, of the ``sources``' dtype: ``alpha * fill + (1 - alpha) * source``
    with :func:`alpha_matte` (``feather`` 0: the source outside the hole, bit-exact, the fill
    inside it). ``filled`` are at the sources' depth (:func:`at_depth`) and, with ``feather``,
    filled over the band around the hole too."""
    for fill, source, hole in zip(filled, sources, holes, strict=True):
        fill, source = fill.numpy(), source.numpy()
        alpha = alpha_matte(hole.cpu(), feather)[None]
        if feather <= 0:
            yield torch.from_numpy(np.where(alpha > 0, fill, source))
            continue
        mixed = alpha * fill.astype(np.float64) + (1 - alpha) * source
        if source.dtype.kind == "u":
            mixed = np.round(mixed)
        yield torch.from_numpy(mixed.astype(source.dtype))


def at_depth(filled: Iterable[torch.Tensor], info: VideoInfo, deep: bool) -> Iterator[torch.Tensor]:
    """The filled frames at the source's sample type: as they are (8-bit), or with ``deep``
    from the float16 work frames (:func:`vidfill.io.colour.native_frame`)."""
    if not deep:
        yield from filled
        return
    dtype = native_dtype(info)
    for fill in filled:
        yield torch.from_numpy(native_frame(fill, dtype, info))


PREVIEW_WIDTH = 480
"""Width of each half of a preview (frames narrower than this are not enlarged)."""


def preview_frame(source: torch.Tensor, hole: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
    """Side by side at reduced size: the ``source`` frame with the hole's outline drawn in red,
    and the ``result``; ``(3, h, 2w)`` uint8 with even sizes (what video encoders need)."""
    h, w = source.shape[-2:]
    scale = min(1.0, PREVIEW_WIDTH / w)
    size = (max(2, round(h * scale / 2) * 2), max(2, round(w * scale / 2) * 2))
    outline = hole[0].numpy().astype(np.uint8)
    outline = cv2.morphologyEx(outline, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
    outline = cv2.dilate(outline.astype(np.uint8), np.ones((max(1, round(2 / scale)),) * 2,
                                                          np.uint8)) > 0
    marked = source.clone()
    marked[:, torch.from_numpy(outline)] = torch.tensor([255, 0, 0], dtype=torch.uint8)[:, None]
    both = torch.stack([marked, result]).float()
    small = F.interpolate(both, size=size, mode="area").round().clamp(0, 255).to(torch.uint8)
    return torch.cat([small[0], small[1]], dim=2)


class PreviewWriter:
    """Writes a preview video (:func:`preview_frame`) beside the main output, in a thread, from
    the frames as they pass: ``with PreviewWriter(...) as preview: write(preview.tee(...))``.

    Like every output it appears only when complete; if the main output fails, it is not written.
    """

    def __init__(self, path: Path, num_frames: int, info: VideoInfo, overwrite: bool = False,
                 reads: tuple[tuple[str, Path], ...] = ()) -> None:
        # upright and 8-bit, whatever the source
        self.path, self.num_frames, self.overwrite, self.reads = path, num_frames, overwrite, reads
        self.info = replace(info, rotation=0, depth=8)
        self._queue: queue.Queue = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, name="vidfill-preview", daemon=True)

    def _frames(self) -> Iterator[torch.Tensor]:
        while (item := self._queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    def _write(self) -> None:
        try:
            write_stream(self.path, self._frames(), self.num_frames, self.info,
                         overwrite=self.overwrite, reads=self.reads)
        except BaseException as exc:  # re-raised in the main thread by __exit__
            self._error = exc

    def _put(self, item: torch.Tensor | BaseException | None) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def tee(self, results: Iterable[torch.Tensor], sources: Iterable[torch.Tensor],
            holes: Iterable[torch.Tensor]) -> Iterator[torch.Tensor]:
        """``results`` (filled frames, 8-bit or float), unchanged; each also goes to the
        preview, with ``sources`` (8-bit)."""
        for result, source, hole in zip(results, sources, holes, strict=True):
            if self._error is None:
                self._put(preview_frame(source, hole, to_display(result)))
            yield result

    def __enter__(self) -> PreviewWriter:
        self._thread.start()
        return self

    def __exit__(self, kind, exc, _tb) -> None:
        self._put(RuntimeError("the main output failed") if exc is not None else None)
        self._thread.join()
        if exc is None and self._error is not None:
            raise self._error
