"""The data contract between stages, checked in one place.

- frames: ``(T, 3, H, W)`` RGB, uint8 on the CPU for storage; float32 in [0, 1]
  only while being worked on. A deep source (16-bit, 10-bit video, float TIFF or EXR) is stored
  as float16 instead, on the same scale (1.0 = white; HDR values may exceed it), so that its fill
  is computed with no 8-bit round trip.
- masks / holes: ``(T, 1, H, W)`` bool, True = hole.
- flow: ``(N, 2, H, W)`` float32 in pixels, channel 0 = x. ``flow_fwd[t]`` maps
  frame t to t+1; ``flow_bwd[t]`` maps frame t+1 to t.
"""

from __future__ import annotations

import torch


def check_frames(frames: torch.Tensor, name: str = "frames") -> tuple[int, int, int]:
    """Validate a ``(T, 3, H, W)`` clip and return ``(T, H, W)``."""
    if frames.ndim != 4 or frames.shape[1] != 3:
        raise ValueError(f"{name} must be (T, 3, H, W), got shape {tuple(frames.shape)}")
    if frames.dtype not in (torch.uint8, torch.float16, torch.float32):
        raise ValueError(f"{name} must be uint8, float16 or float32, got {frames.dtype}")
    t, _, h, w = frames.shape
    return t, h, w


def check_masks(masks: torch.Tensor, frames: torch.Tensor, name: str = "masks") -> None:
    """Validate ``(T, 1, H, W)`` bool masks against their frames."""
    t, h, w = check_frames(frames)
    if masks.dtype != torch.bool:
        raise ValueError(f"{name} must be bool, got {masks.dtype}")
    if tuple(masks.shape) != (t, 1, h, w):
        raise ValueError(f"{name} must have shape {(t, 1, h, w)}, got {tuple(masks.shape)}")


def check_flow(flow: torch.Tensor, num: int, h: int, w: int, name: str = "flow") -> None:
    """Validate a ``(num, 2, H, W)`` float32 flow field."""
    if tuple(flow.shape) != (num, 2, h, w) or flow.dtype != torch.float32:
        raise ValueError(
            f"{name} must be float32 of shape {(num, 2, h, w)}, got {flow.dtype} {tuple(flow.shape)}")


def check_field_mask(mask: torch.Tensor, num: int, h: int, w: int, name: str = "hole") -> None:
    """Validate a ``(num, 1, H, W)`` bool mask that goes with ``num`` flow fields."""
    if tuple(mask.shape) != (num, 1, h, w) or mask.dtype != torch.bool:
        raise ValueError(f"{name} must be bool of shape {(num, 1, h, w)}, got {mask.dtype} {tuple(mask.shape)}")


def to_float(frames: torch.Tensor) -> torch.Tensor:
    """Stored frames -> float32 on the [0, 1] scale (same shape): uint8 divided by 255, float
    frames (deep sources, already on that scale) only cast."""
    if frames.dtype == torch.uint8:
        return frames.to(torch.float32) / 255.0
    return frames.to(torch.float32)


def to_uint8(frames: torch.Tensor) -> torch.Tensor:
    """float in [0, 1] -> uint8, rounded and clamped (same shape)."""
    return (frames * 255.0).round_().clamp_(0, 255).to(torch.uint8)


def stored(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """float32 values on the [0, 1] scale -> frames stored as ``dtype`` (:func:`to_float`'s
    inverse): uint8 rounded and clamped; float cast, values outside [0, 1] kept."""
    return to_uint8(values) if dtype == torch.uint8 else values.to(dtype)


def to_display(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames for what sees images as a person does (flow, the 8-bit-only inpainters):
    float frames clamped to [0, 1] and rounded, uint8 ones as they are."""
    return frames if frames.dtype == torch.uint8 else to_uint8(frames.to(torch.float32))
