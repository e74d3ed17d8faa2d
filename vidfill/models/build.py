"""The networks a config names, built once with their weights (or None, with a note saying what
runs instead): RAFT for ``flow.method = "raft"``, the flow-edge network for ``edges.method =
"network"``, and the keyframe inpainter of ``leftover.method``. :func:`build_models` builds
them all, at the entry points (:func:`vidfill.api.fill`, :func:`vidfill.job.run_job`), which
hand the :class:`Models` down; :func:`load_network` is the one loader with its fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from vidfill.config import EdgeConfig, FlowConfig, PipelineConfig
from vidfill.errors import VidfillError
from vidfill.inpainters.registry import NAMES, Inpainter
from vidfill.models import weights
from vidfill.progress import Reporter


def load_network(name: str, explicit: Path | None = None, *, download: bool, reporter: Reporter,
                 loaded: str, instead: str) -> torch.nn.Module | None:
    """The network of manifest entry ``name`` with its weights (found by
    :func:`vidfill.models.weights.load_state_dict`), in eval mode, with a note: ``loaded``, then
    where they came from. None when there are none, with one warning: why, then ``instead``
    (what runs in its place). Every network with weights is built through here."""
    found = weights.load_state_dict(name, explicit, download=download)
    if found.state_dict is None:
        reporter.warn(f"{found.note}: {instead}")
        return None
    reporter.note(f"{loaded}{found.note}")
    model = weights.MANIFEST[name].build()
    model.load_state_dict(found.state_dict)
    return model.eval()


def build_flow_model(cfg: FlowConfig, raft_weights: Path | None = None, *, download: bool = True,
                     reporter: Reporter | None = None) -> torch.nn.Module | None:
    """The RAFT network for ``cfg`` with weights loaded, or None (DIS) with a one-line note why."""
    if cfg.method == "dis":
        return None
    if cfg.method != "raft":
        raise ValueError(f"unknown flow method {cfg.method!r}; have 'raft', 'dis'")
    return load_network(cfg.raft_model, raft_weights, download=download,
                        reporter=reporter or Reporter(quiet=True), loaded="flow: RAFT, ",
                        instead="using OpenCV DIS flow instead")


def build_edge_model(cfg: EdgeConfig, reporter: Reporter | None = None) -> torch.nn.Module | None:
    """The flow-edge network with its weights, or None (diffusion-only completion) with a note why."""
    if cfg.method == "none":
        return None
    if cfg.method != "network":
        raise ValueError(f"unknown edge method {cfg.method!r}; have 'network', 'none'")
    return load_network("flow_edges", download=False, reporter=reporter or Reporter(quiet=True),
                        loaded="flow edges: ", instead="flow completion without edges")


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
    method = cfg.leftover.method
    if method not in NAMES:
        raise VidfillError(f"unknown inpainter {method!r} (have: {', '.join(NAMES)})")
    if method != "gated":
        return Inpainter(method, cfg)
    model = load_network(GATED_WEIGHTS, gated_weights, download=False,
                         reporter=reporter or Reporter(quiet=True),
                         loaded="leftovers: gated inpainter, ",
                         instead=f"leftovers are filled by {FALLBACK} instead")
    if model is None:
        return Inpainter(FALLBACK, cfg)
    return Inpainter("gated", cfg, model.to(device))


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
