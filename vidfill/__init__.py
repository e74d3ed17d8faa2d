"""vidfill: flow-guided video inpainting (FGVC's approach, as a product).

Library use (the config is the run: the networks it names are built from it)::

    from vidfill import fill, load_preset
    clean = fill(frames, masks, load_preset("default"))   # (T, 3, H, W) uint8, (T, 1, H, W) bool

Layers (each imports only those above it): core (``config``, ``types``, ``errors``,
``progress``); ``stages`` (pure tensor stages); ``inpainters`` and ``models`` (networks with
their weights); ``pipeline`` and ``windows`` (compose the stages); ``api``; ``io`` (files);
``job`` (files to file); ``cli``.
"""

from vidfill.api import fill
from vidfill.config import PipelineConfig, load_preset
from vidfill.errors import ConfigError, VidfillError
from vidfill.models.build import build_inpainter
from vidfill.models.build import Models, build_edge_model, build_flow_model, build_models
from vidfill.pipeline import Result, inpaint_video

__all__ = ["ConfigError", "Models", "PipelineConfig", "Result", "VidfillError", "build_edge_model",
           "build_flow_model", "build_inpainter", "build_models", "fill", "inpaint_video",
           "load_preset"]
__version__ = "0.1.0"
