"""vidfill: flow-guided video inpainting (FGVC's approach, as a product).

Library use::

    from vidfill import PipelineConfig, inpaint_video, load_preset
    result = inpaint_video(frames, masks, load_preset("default"), flow_model)
"""

from vidfill.config import PipelineConfig, load_preset
from vidfill.errors import ConfigError, VidfillError
from vidfill.inpaint import build_inpainter
from vidfill.pipeline import Result, build_flow_model, inpaint_video

__all__ = ["ConfigError", "PipelineConfig", "Result", "VidfillError", "build_flow_model", "build_inpainter",
           "inpaint_video", "load_preset"]
__version__ = "0.1.0"
