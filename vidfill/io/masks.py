"""The masks: which pixels of each frame are the hole (to be filled), from a folder of mask
images, a single image for every frame or a mask video; and an overlay given as an RGBA image
(:func:`read_overlay_image`); and the masks of a run, decoded once and kept packed
(:class:`PackedMasks`).

Masks are ``(1, H, W)`` bool tensors, True = hole.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from vidfill.config import MaskConfig
from vidfill.errors import VidfillError
from vidfill.io.colour import full_scale
from vidfill.io.images import IMAGE_EXTENSIONS, bgr_alpha, image_files, numbering, read_stored
from vidfill.io.messages import require, wxh
from vidfill.io.video import decode, open_video, video_images

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
    require(path)
    note = note or (lambda _line: None)
    fit = _hole_fitter(size, path, note)
    if path.is_dir():
        files = image_files(path)
        by_number = dict(zip(numbering(files).get("numbers", ()), files))
        if (numbers is not None and by_number and len(files) < num_frames
                and by_number.keys() <= set(numbers)):
            note(f"{path}: {num_frames - len(files)} of {num_frames} frames have no mask file "
                 "(matched by frame number): no hole in them")
            empty = torch.zeros((1, *size), dtype=torch.bool)
            return (fit(_hole(read_stored(by_number[n], matte=True), threshold, by_number[n],
                              invert)) if n in by_number else empty for n in numbers)
        _check_count(path, len(files), num_frames)
        return (fit(_hole(read_stored(file, matte=True), threshold, file, invert)) for file in files)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return itertools.repeat(fit(_hole(read_stored(path, matte=True), threshold, path, invert)),
                                num_frames)
    with open_video(path) as container:
        count = sum(1 for _ in decode(container, path))
    _check_count(path, count, num_frames)
    return (fit(_hole(image.transpose(1, 2, 0), threshold, path, invert))
            for image in video_images(path))


class PackedMasks:
    """Masks of one size, kept in memory at one bit a pixel and compressed (zlib): a run decodes
    its masks once (images, a mask video) and takes them from here for each step that needs
    them. A mask of a real shape is a few kilobytes; noise that does not compress, 1/8 byte a
    pixel."""

    def __init__(self, size: tuple[int, int]) -> None:
        self.size = tuple(size)
        self._packed: list[bytes] = []

    def append(self, mask: torch.Tensor) -> None:
        """Keep ``mask``, ``(1, H, W)`` bool of :attr:`size`."""
        if tuple(mask.shape) != (1, *self.size) or mask.dtype != torch.bool:
            raise ValueError(f"a mask must be bool of shape {(1, *self.size)}, got "
                             f"{mask.dtype} {tuple(mask.shape)}")
        self._packed.append(zlib.compress(np.packbits(mask.cpu().numpy().ravel()).tobytes(), 1))

    def __len__(self) -> int:
        return len(self._packed)

    def __getitem__(self, t: int) -> torch.Tensor:
        """Mask ``t``, ``(1, H, W)`` bool (a new tensor)."""
        h, w = self.size
        bits = np.unpackbits(np.frombuffer(zlib.decompress(self._packed[t]), np.uint8), count=h * w)
        return torch.from_numpy(bits.astype(bool).reshape(1, h, w))

    def between(self, lo: int, hi: int) -> Iterator[torch.Tensor]:
        """Masks ``lo`` to ``hi - 1``, unpacked as they are taken."""
        return (self[t] for t in range(lo, hi))


def mask_files(path: Path) -> tuple[Path, ...] | None:
    """The images of a mask folder, in order; None for a single mask image or video."""
    return tuple(image_files(path)) if path.is_dir() else None


def _check_count(path: Path, count: int, num_frames: int) -> None:
    if count != num_frames:
        raise VidfillError(f"{path}: {count} masks for {num_frames} frames; give one mask per frame "
                           "or a single image for all")


def _hole(image: np.ndarray, threshold: float, path: Path, invert: bool = False) -> np.ndarray:
    """``(H, W)`` bool: where the matte is above ``threshold`` of full scale (``invert``: where it
    is not). The matte is the alpha channel when it varies (a roto layer exported as RGBA),
    else any colour channel."""
    level = threshold * full_scale(image.dtype, path)
    rgb, alpha = bgr_alpha(image, path)
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
            raise VidfillError(f"{source}: the mask is {wxh(hole.shape)}, the frames "
                               f"{width}x{height} (as the clip is displayed): it looks turned by a "
                               "quarter; draw masks the way the clip is displayed")
        if hole.shape != (height, width):
            if hole.shape not in noted:
                noted.add(hole.shape)
                note(f"{source}: {wxh(hole.shape)} mask resized (nearest) to {width}x{height}")
            hole = cv2.resize(hole.astype(np.uint8), (width, height),
                              interpolation=cv2.INTER_NEAREST_EXACT).astype(bool)
        return torch.from_numpy(np.ascontiguousarray(hole))[None]

    return fit


def read_overlay_image(file: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """An overlay kept as an RGBA image (PNG or TIFF, straight alpha; a broadcaster's bug):
    ``(1, H, W)`` opacity and ``(3, H, W)`` colour, float32 on the [0, 1] scale (display values,
    as the frames are composited). A VidfillError if it has no alpha channel."""
    require(file)
    image = read_stored(file)
    rgb, alpha = bgr_alpha(image, file)
    if alpha is None:
        raise VidfillError(f"{file}: --overlay-image needs an alpha channel (RGBA) for the "
                           "overlay's opacity; this image has none")
    scale = np.float32(full_scale(image.dtype, file))
    to_tensor = lambda x: torch.from_numpy(np.ascontiguousarray(x, np.float32) / scale)  # noqa: E731
    return to_tensor(alpha)[None], to_tensor(rgb).permute(2, 0, 1).contiguous()
