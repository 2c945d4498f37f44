"""cadl_utils: Deep Dream, fractal zoom, guided hallucination and style transfer with inception5h.

The everyday API is one import away (``from cadl_utils import load_model, feedback_loop, ...``); the
modules hold the rest. ``dream.dream`` and ``guided.guided`` are not re-exported: their names would
hide the modules ``cadl_utils.dream`` and ``cadl_utils.guided``.
"""

from .config import quiet_tensorflow

quiet_tensorflow()

# noqa: E402 below: TensorFlow must be imported quietly (above) before the modules that use it.
from .dream import DreamSettings, feedback_loop, fractal_zoom  # noqa: E402
from .errors import (CadlError, DownloadError, ImageError, IntegrityError, LayerError, ModelError,  # noqa: E402
                     OutputError, ParameterError)
from .guided import GuidedSettings  # noqa: E402
from .images import (load_image, montage, sample_images, save_animation, save_gif, save_image, show,  # noqa: E402
                     show_gif)
from .models import load_model  # noqa: E402
from .objectives import channel, layer, neuron  # noqa: E402
from .runs import Result, StepInfo  # noqa: E402
from .style import StyleSettings, style_transfer, weight_sweep  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "DreamSettings", "GuidedSettings", "StyleSettings", "Result", "StepInfo",
    "channel", "feedback_loop", "fractal_zoom", "layer", "load_image", "load_model", "montage", "neuron",
    "sample_images", "save_animation", "save_gif", "save_image", "show", "show_gif", "style_transfer", "weight_sweep",
    "CadlError", "DownloadError", "ImageError", "IntegrityError", "LayerError", "ModelError", "OutputError",
    "ParameterError", "__version__",
]  # fmt: skip
