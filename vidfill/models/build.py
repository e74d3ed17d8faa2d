"""The networks a config names, built once with their weights (or None, with a note saying what
runs instead): RAFT for ``flow.method = "raft"``, the flow-edge network for ``edges.method =
"network"``, and the keyframe inpainter of ``leftover.method``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vidfill.config import EdgeConfig, FlowConfig, PipelineConfig
from vidfill.errors import VidfillError
from vidfill.inpainters.registry import NAMES, Inpainter
from vidfill.models import weights
from vidfill.progress import Reporter


def build_flow_model(cfg: FlowConfig, raft_weights: Path | None = None, *, download: bool = True,
                     reporter: Reporter | None = None) -> torch.nn.Module | None:
    """The RAFT network for ``cfg`` with weights loaded, or None (DIS) with a one-line note why."""
    reporter = reporter or Reporter(quiet=True)
    if cfg.method == "dis":
        return None
    if cfg.method != "raft":
        raise ValueError(f"unknown flow method {cfg.method!r}; have 'raft', 'dis'")
    found = weights.load_state_dict(cfg.raft_model, raft_weights, download=download)
    if found.state_dict is None:
        reporter.warn(f"{found.note}: using OpenCV DIS flow instead")
        return None
    reporter.note(f"flow: RAFT, {found.note}")
    model = weights.MANIFEST[cfg.raft_model].build()
    model.load_state_dict(found.state_dict)
    return model.eval()


def build_edge_model(cfg: EdgeConfig, reporter: Reporter | None = None) -> torch.nn.Module | None:
    """The flow-edge network with its weights, or None (diffusion-only completion) with a note why."""
    reporter = reporter or Reporter(quiet=True)
    if cfg.method == "none":
        return None
    if cfg.method != "network":
        raise ValueError(f"unknown edge method {cfg.method!r}; have 'network', 'none'")
    found = weights.load_state_dict("flow_edges", download=False)
    if found.state_dict is None:
        reporter.warn(f"{found.note}: flow completion without edges")
        return None
    reporter.note(f"flow edges: {found.note}")
    model = weights.MANIFEST["flow_edges"].build()
    model.load_state_dict(found.state_dict)
    return model.eval()


GATED_WEIGHTS = "gated_inpainter"
"""Manifest entry of the gated generator's checkpoint."""

FALLBACK = "harmonic"
"""What fills the keyframes when the gated generator has no weights (the default inpainter)."""


def build_inpainter(cfg: PipelineConfig, gated_weights: Path | None = None, *,
                    device: torch.device | str = "cpu", reporter: Reporter | None = None) -> Inpainter:
    """The inpainter named by ``cfg.leftover.method``; for ``"gated"``, its weights are looked up
    through the manifest (``gated_weights``, then the checkpoint folders) and, when there are
    none, :data:`FALLBACK` runs instead and ``reporter`` gets one line saying so.
    """
    reporter = reporter or Reporter(quiet=True)
    method = cfg.leftover.method
    if method not in NAMES:
        raise VidfillError(f"unknown inpainter {method!r} (have: {', '.join(NAMES)})")
    if method != "gated":
        return Inpainter(method, cfg)
    found = weights.load_state_dict(GATED_WEIGHTS, gated_weights, download=False)
    if found.state_dict is None:
        reporter.warn(f"{found.note}: leftovers are filled by {FALLBACK} instead")
        return Inpainter(FALLBACK, cfg)
    reporter.note(f"leftovers: gated inpainter, {found.note}")
    model = weights.MANIFEST[GATED_WEIGHTS].build()
    model.load_state_dict(found.state_dict)
    return Inpainter("gated", cfg, model.eval().to(device))


@dataclass(frozen=True)
class Models:
    """What a config needs besides its numbers, built once per run (see :func:`build_models`);
    tests inject their own."""

    flow: torch.nn.Module | None
    """RAFT with weights, or None: OpenCV DIS (``flow.method = "dis"``, or no RAFT weights)."""
    edges: torch.nn.Module | None
    """The flow-edge network, or None: diffusion-only flow completion."""
    inpainter: Inpainter
    """The keyframe inpainter of ``leftover.method``."""

    def to(self, device: torch.device) -> "Models":
        return Models(flow=None if self.flow is None else self.flow.to(device),
                      edges=None if self.edges is None else self.edges.to(device),
                      inpainter=self.inpainter)


def build_models(cfg: PipelineConfig, *, raft_weights: Path | None = None,
                 inpainter_weights: Path | None = None, download: bool = True,
                 device: torch.device | str = "cpu", reporter: Reporter | None = None) -> Models:
    """Everything ``cfg`` names, on ``device``: each fallback (DIS without RAFT weights, no edges
    without the edge network, another inpainter without the gated one's weights) says so in one
    line through ``reporter``."""
    reporter = reporter or Reporter(quiet=True)
    device = torch.device(device)
    inpainter = build_inpainter(cfg, inpainter_weights, device=device, reporter=reporter)
    flow = build_flow_model(cfg.flow, raft_weights, download=download, reporter=reporter)
    edges = build_edge_model(cfg.edges, reporter)
    return Models(flow=flow, edges=edges, inpainter=inpainter).to(device)
