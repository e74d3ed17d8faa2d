"""Stage 2: flow edges - Canny on the known flow, and a network that completes them in the hole.

:func:`flow_edges` finds motion boundaries (Canny, kornia) in each flow channel
outside the hole. :class:`vidfill.models.flow_edges.EdgeGenerator` is an EdgeConnect-style
generator (encoder, dilated residual blocks, decoder, spectral normalisation) that draws
the edges inside the hole from the masked flow, the masked edges and the mask;
:func:`complete_edges` runs it on a crop around each hole. The completed edges
guide flow completion (:mod:`vidfill.stages.completion`): smoothness is not enforced
across them, so motion boundaries continue through the hole instead of being
blurred.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import kornia
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vidfill.config import EdgeConfig
from vidfill.models.flow_edges import MIN_SIDE, MULTIPLE
from vidfill.stages.holes import on_host
from vidfill.types import check_field_mask, check_flow

Progress = Callable[[int], None]

FLOW_SCALE = 10.0
"""Network input: flow minus its mean over the known pixels, divided by this (pixels)."""


def flow_edges(flow: torch.Tensor, hole: torch.Tensor, cfg: EdgeConfig) -> torch.Tensor:
    """Motion boundaries of the known flow: Canny on each flow channel, outside the hole.

    Args:
        flow: ``(N, 2, h, w)`` float32 flow in pixels. Under the hole it should be a smooth
            fill (e.g. diffusion), so that the hole's border makes no edge of its own.
        hole: ``(N, 1, h, w)`` bool.
        cfg: Canny thresholds (in flow pixels per pixel) and blur.

    Returns:
        ``(N, 1, h, w)`` bool edges, False under the hole.
    """
    n, _, h, w = flow.shape
    check_flow(flow, n, h, w)
    check_field_mask(hole, n, h, w)
    if n == 0:
        return hole.clone()
    out = torch.empty_like(hole)
    for start in range(0, n, CANNY_CHUNK):  # each field on its own: the same edges in chunks
        part = slice(start, min(start + CANNY_CHUNK, n))
        m = part.stop - part.start
        # kornia's magnitude is the unnormalised Sobel (8x the slope): thresholds are in px/px.
        # Its hysteresis grows one pixel per pass; one connected-components pass does the same.
        _, graded = kornia.filters.canny(
            flow[part].reshape(m * 2, 1, h, w), low_threshold=8 * cfg.canny_low,
            high_threshold=8 * cfg.canny_high, kernel_size=2 * round(2 * cfg.canny_sigma) + 1,
            sigma=(cfg.canny_sigma, cfg.canny_sigma), hysteresis=False)
        out[part] = hysteresis(graded[:, 0]).view(m, 2, h, w).any(1, keepdim=True) & ~hole[part]
    return out


CANNY_CHUNK = 4
"""Flow fields through kornia's Canny at a time: its float temporaries (some 200 bytes a
pixel) of a whole window's fields at once were the default preset's peak memory (+1.98 GB for
59 fields of 512x288, +0.27 GB in fours, and twice as fast: benchmarks/README.md, "Long clips")."""


def hysteresis(graded: torch.Tensor) -> torch.Tensor:
    """Canny's hysteresis: weak (0.5) pixels 8-connected to a strong (1) one, and the strong.

    Args:
        graded: ``(N, h, w)``: 0, 0.5 (weak) or 1 (strong), as kornia's canny without hysteresis.
    Returns:
        ``(N, h, w)`` bool.
    """
    return connected_to(graded > 0, graded >= 1)


def connected_to(pixels: torch.Tensor, seeds: torch.Tensor) -> torch.Tensor:
    """The ``(N, h, w)`` bool ``pixels`` 8-connected (through ``pixels``) to a ``seeds`` pixel,
    on their device: OpenCV's connected components in host memory, elsewhere a geodesic
    dilation (3x3 max-pooling within ``pixels`` until nothing changes)."""
    if on_host(pixels):
        return torch.from_numpy(np.stack([_connected_to(p, s) for p, s in zip(pixels.numpy(), seeds.numpy())]))
    inside = pixels[:, None].to(torch.float32)
    reached = (seeds[:, None] & pixels[:, None]).to(torch.float32)
    while True:
        before = reached
        for _ in range(CONNECT_STEPS):
            reached = F.max_pool2d(reached, 3, stride=1, padding=1) * inside
        if torch.equal(reached, before):
            return reached[:, 0] > 0


CONNECT_STEPS = 16
"""Dilation steps between the convergence checks of :func:`connected_to` off the host."""


def _connected_to(pixels: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The ``(h, w)`` bool ``pixels`` 8-connected (through ``pixels``) to a ``seeds`` pixel."""
    if not seeds.any():
        return np.zeros_like(pixels)
    count, labels = cv2.connectedComponents(pixels.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[labels[seeds & pixels]] = True
    keep[0] = False
    return keep[labels]


def network_input(flow: torch.Tensor, edges: torch.Tensor, hole: torch.Tensor) -> torch.Tensor:
    """The generator's ``(N, 4, h, w)`` input: masked normalised flow, masked edges, the mask.

    The flow is centred on its mean over the known pixels (edges do not depend on a
    constant motion) and divided by :data:`FLOW_SCALE`; everything under the hole is 0.
    """
    known = (~hole).to(flow.dtype)
    mean = (flow * known).sum((2, 3), keepdim=True) / known.sum((2, 3), keepdim=True).clamp_min(1)
    centred = ((flow - mean) / FLOW_SCALE).clamp(-8, 8) * known
    return torch.cat([centred, edges.to(flow.dtype) * known, hole.to(flow.dtype)], 1)


def _crop_box(hole: torch.Tensor, margin: int) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the hole's bounding box grown by ``margin``, clipped to the frame."""
    h, w = hole.shape[-2:]
    ys = hole.any(-1).nonzero()
    xs = hole.any(-2).nonzero()
    return (max(0, int(ys.min()) - margin), min(h, int(ys.max()) + 1 + margin),
            max(0, int(xs.min()) - margin), min(w, int(xs.max()) + 1 + margin))


def _continuing(drawn: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The ``(h, w)`` bool ``drawn`` edge pixels 8-connected (through drawn or known edges) to a known one."""
    return drawn & connected_to((drawn | known)[None], known[None])[0]


def complete_edges(model: nn.Module, flow: torch.Tensor, edges: torch.Tensor, hole: torch.Tensor,
                   cfg: EdgeConfig, progress: Progress | None = None) -> torch.Tensor:
    """Edges everywhere: the known ``edges`` outside the hole, the network's inside it.

    The network sees a crop around each hole (its bounding box plus ``cfg.context`` pixels),
    so its cost follows the hole's size, not the frame's.

    Args:
        model: an :class:`vidfill.models.flow_edges.EdgeGenerator` with weights, in eval mode, on the flow's device.
        flow: ``(N, 2, h, w)`` float32 flow (values under the hole are ignored).
        edges: ``(N, 1, h, w)`` bool known edges (:func:`flow_edges`).
        hole: ``(N, 1, h, w)`` bool.
        progress: called with 1 per field.

    Returns:
        ``(N, 1, h, w)`` bool.
    """
    n, _, h, w = flow.shape
    check_flow(flow, n, h, w)
    check_field_mask(hole, n, h, w)
    check_field_mask(edges, n, h, w, "edges")
    out = edges & ~hole
    for i in range(n):
        if bool(hole[i].any()) and not bool(hole[i].all()):
            y0, y1, x0, x1 = _crop_box(hole[i], cfg.context)
            crop = network_input(flow[i:i + 1, :, y0:y1, x0:x1], edges[i:i + 1, :, y0:y1, x0:x1],
                                 hole[i:i + 1, :, y0:y1, x0:x1])
            ph, pw = (max(MIN_SIDE, -(-side // MULTIPLE) * MULTIPLE) - side
                      for side in (y1 - y0, x1 - x0))
            with torch.inference_mode():
                logits = model(F.pad(crop, (0, pw, 0, ph), mode="replicate"))[..., :y1 - y0, :x1 - x0]
            drawn = (torch.sigmoid(logits) > cfg.threshold) & hole[i:i + 1, :, y0:y1, x0:x1]
            if cfg.connected:
                drawn = _continuing(drawn[0, 0], out[i, 0, y0:y1, x0:x1])[None, None]
            out[i:i + 1, :, y0:y1, x0:x1] |= drawn
        if progress:
            progress(1)
    return out
