"""Stage 6: the registry of image inpainters for pixels that no frame shows.

Every image inpainter maps ``image (3, H, W) uint8, hole (1, H, W) bool`` to
``(3, H, W) uint8`` equal to ``image`` outside the hole; the harmonic fill and the Poisson blend
also take float frames (a deep source) and fill them in float, and :class:`Inpainter` runs the
others on such frames through 8 bits, inside the hole only. :data:`INPAINTERS` holds
those that need no weights (the harmonic membrane fill (:mod:`.harmonic`), the texture over it
(:mod:`.texture`), OpenCV Telea and Navier-Stokes (:mod:`.opencv`), exemplar PatchMatch
(:mod:`.patchmatch`), Deep Image Prior (:mod:`.dip`)); ``"gated"`` (a DeepFill-v2-shaped
network, :mod:`.gated`) needs a checkpoint and is set up by
:func:`vidfill.models.build.build_inpainter`, which falls back to the harmonic fill, with a
note, when there is none. With ``leftover.poisson_blend`` every fill is then rebuilt from its
own colour differences (:mod:`.poisson_blend`) so that it meets its surroundings without a step.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass

import torch

from vidfill.config import InpainterName, PipelineConfig
from vidfill.inpainters import dip, gated, patchmatch, texture
from vidfill.inpainters.harmonic import harmonic_fill
from vidfill.inpainters.opencv import inpaint_image
from vidfill.inpainters.poisson_blend import poisson_blend
from vidfill.types import stored, to_display, to_float

INPAINTERS: dict[str, Callable[[torch.Tensor, torch.Tensor, PipelineConfig], torch.Tensor]] = {
    "harmonic": lambda image, hole, cfg: harmonic_fill(image, hole, cfg.poisson),
    "texture": lambda image, hole, cfg: texture.complete(
        image, hole, harmonic_fill(image, hole, cfg.poisson), cfg.texture, cfg.patchmatch),
    "telea": lambda image, hole, cfg: inpaint_image(image, hole, "telea", cfg.leftover.radius),
    "ns": lambda image, hole, cfg: inpaint_image(image, hole, "ns", cfg.leftover.radius),
    "patchmatch": lambda image, hole, cfg: patchmatch.complete(image, hole, cfg.patchmatch),
    "dip": lambda image, hole, cfg: dip.complete(image, hole, cfg.dip),
}
"""Inpainters that need no weights: name -> ``(image, hole, cfg) -> filled image``."""

NAMES = typing.get_args(InpainterName)
"""Every value of ``leftover.method``: those of :data:`INPAINTERS`, and "gated" (a network
with weights, built by :func:`vidfill.models.build.build_inpainter`)."""


@dataclass(frozen=True)
class Inpainter:
    """An image inpainter ready to run: ``inpainter(image, hole) -> filled image``."""

    name: str
    """The method that runs (see :func:`vidfill.models.build.build_inpainter` for ``"gated"``)."""
    cfg: PipelineConfig
    model: torch.nn.Module | None = None
    """The gated generator with its weights, for ``name == "gated"``."""

    def __call__(self, image: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
        """``(3, H, W)`` frame and ``(1, H, W)`` bool -> ``(3, H, W)`` of the frame's dtype,
        equal outside the hole. A float frame goes through 8 bits for every method but the
        harmonic fill (they compute in 8 bits); only its hole takes their result."""
        if image.dtype != torch.uint8 and self.name not in ("harmonic", "texture"):
            filled = to_float(self(to_display(image), hole))
            return torch.where(hole, stored(filled, image.dtype), image)
        if self.name == "gated":
            filled = gated.complete(image, hole, self.model, self.cfg.gated)
        else:
            filled = INPAINTERS[self.name](image, hole, self.cfg)
        if self.cfg.leftover.poisson_blend:
            filled = poisson_blend(filled, hole, self.cfg.poisson)
        return filled
