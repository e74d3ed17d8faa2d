"""vidfill: flow-guided video inpainting (FGVC's approach, as a product).

Library use (the config is the run: the networks it names are built from it)::

    from vidfill import fill, load_preset
    clean = fill(frames, masks, load_preset("default"))   # (T, 3, H, W) uint8, (T, 1, H, W) bool

Layers (each imports only those above it): core (``config``, ``types``, ``errors``,
``progress``); ``models`` (the networks and their weights lookup); ``stages`` (pure tensor
stages); ``inpainters``; ``models.build`` and ``models.train`` (the networks a config names,
built with their weights; training); ``pipeline`` and ``windows`` (compose the stages); ``api``;
``io`` (files); ``job`` (files to file); ``cli``.
"""

import importlib

from vidfill.errors import ConfigError, VidfillError

_LAZY = {"fill": "vidfill.api", "PipelineConfig": "vidfill.config", "load_preset": "vidfill.config",
         "Models": "vidfill.models.build", "build_edge_model": "vidfill.models.build",
         "build_flow_model": "vidfill.models.build", "build_inpainter": "vidfill.models.build",
         "build_models": "vidfill.models.build", "Result": "vidfill.pipeline",
         "inpaint_video": "vidfill.pipeline"}
"""The library's names, imported on first use (PEP 562): ``import vidfill`` does not load torch,
so that the command line starts, and answers Ctrl-C, before it does."""

__all__ = ["ConfigError", "VidfillError", *_LAZY]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'vidfill' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
