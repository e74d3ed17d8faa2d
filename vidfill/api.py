"""The library's entry point: fill a clip held in memory exactly as the command line fills a file.

The config is the run: :func:`fill` builds the networks ``cfg`` names (RAFT, the flow-edge
network, the keyframe inpainter) once, and fills in the temporal windows ``cfg.window`` plans,
through the same code as ``vidfill INPUT MASKS -o OUTPUT``.
"""

from __future__ import annotations

import torch

from vidfill.config import PipelineConfig, load_preset
from vidfill.stages.holes import outlines_an_object
from vidfill.models.build import Models, build_models
from vidfill.overlays import fill_recovering
from vidfill.progress import Reporter
from vidfill.types import check_masks, to_display


def fill(frames: torch.Tensor, masks: torch.Tensor, cfg: PipelineConfig | None = None, *,
         models: Models | None = None, device: torch.device | str | None = None,
         reporter: Reporter | None = None,
         references: dict[int, torch.Tensor] | None = None) -> torch.Tensor:
    """Remove the masked regions of a clip.

    Args:
        frames: ``(T, 3, H, W)`` uint8 RGB on any device, or float16 on the [0, 1] scale for a
            deep or HDR clip (values above 1 kept; filled in float, see :mod:`vidfill.types`).
        masks: ``(T, 1, H, W)`` bool, True = remove (grown by ``cfg.mask.dilate``).
        cfg: the settings (default: the "default" preset).
        models: the networks ``cfg`` names; None builds them once
            (:func:`vidfill.models.build.build_models`, with the usual weights lookup and its
            one-line notes on any fallback).
        device: where to work (default: the frames' device).
        reporter: progress and notes; silent when None.
        references: frame number -> ``(3, H, W)`` frame painted by hand, of the frames' dtype.

    Returns:
        ``(T, 3, H, W)`` of the frames' dtype on the CPU; outside the (dilated) mask equal to
        ``frames``.
    """
    cfg = cfg if cfg is not None else load_preset("default")
    check_masks(masks, frames)
    if frames.dtype not in (torch.uint8, torch.float16):
        raise ValueError(f"frames must be uint8 (or float16 for a deep clip), got {frames.dtype}")
    device = torch.device(device) if device is not None else frames.device
    cfg = for_objects(cfg, frames, masks, reporter)
    if models is None:  # built once here and handed down: the layers below build nothing
        models = build_models(cfg, device=device, reporter=reporter)
    out = fill_recovering(iter(frames.cpu()), iter(masks.cpu()), len(frames), cfg, models=models,
                          reporter=reporter, device=device, references=references)
    return torch.stack(list(out))


OBJECT_SAMPLE = 24
"""Frames looked at to tell whether the masks are a roto of an object (one window's worth)."""


def for_objects(cfg: PipelineConfig, frames: torch.Tensor, masks: torch.Tensor,
                reporter: Reporter | None = None) -> PipelineConfig:
    """``cfg`` with the hole grown by ``mask.grow_objects`` and the flow that moves with the
    object completed ``mask.object_band`` px around it (``completion.moving_band``) if the masks
    outline an object in ``frames`` (:func:`vidfill.stages.holes.outlines_an_object`, on up to
    :data:`OBJECT_SAMPLE` of them, 8-bit), with a line saying so; else ``cfg``."""
    grow, band = cfg.mask.grow_objects, cfg.mask.object_band
    if grow <= cfg.mask.dilate and band <= cfg.completion.moving_band:
        return cfg
    sample = frames[:OBJECT_SAMPLE]
    if sample.dtype != torch.uint8:
        sample = to_display(sample)
    if not outlines_an_object(sample, masks[:OBJECT_SAMPLE]):
        return cfg
    if reporter is not None:
        done = []
        if grow > cfg.mask.dilate:
            done.append(f"each is grown by {grow} px for its soft edge and shadow (mask.grow_objects; "
                        "--set mask.grow_objects=0 keeps them exact)")
        if band > cfg.completion.moving_band:
            done.append(f"the flow up to {band} px around it that moves with it (a reflection, a "
                        "wake) is not taken for the background's (mask.object_band)")
        reporter.note("the masks outline a moving object: " + "; ".join(done))
    return cfg.replace(mask={"dilate": max(grow, cfg.mask.dilate)},
                       completion={"moving_band": max(band, cfg.completion.moving_band)})
