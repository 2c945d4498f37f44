"""cadl_utils: Deep Dream, fractal zoom, guided hallucination and style transfer with inception5h."""

from .config import quiet_tensorflow

quiet_tensorflow()

from .errors import (  # noqa: E402
    CadlError,
    DownloadError,
    ImageError,
    IntegrityError,
    LayerError,
    ModelError,
    OutputError,
    ParameterError,
)

# The everyday API, one import away (`from cadl_utils import load_model, feedback_loop, ...`); the
# modules hold the rest. The functions dream.dream and guided.guided are not re-exported: their
# names would hide the modules `cadl_utils.dream` and `cadl_utils.guided`.
from .dream import feedback_loop, fractal_zoom  # noqa: E402
from .images import load_image, montage, sample_images, save_gif, save_image, show, show_gif  # noqa: E402
from .models import load_model  # noqa: E402
from .objectives import channel, layer, neuron  # noqa: E402
from .style import style_transfer, weight_sweep  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "channel",
    "feedback_loop",
    "fractal_zoom",
    "layer",
    "load_image",
    "load_model",
    "montage",
    "neuron",
    "sample_images",
    "save_gif",
    "save_image",
    "show",
    "show_gif",
    "style_transfer",
    "weight_sweep",
    "CadlError",
    "DownloadError",
    "ImageError",
    "IntegrityError",
    "LayerError",
    "ModelError",
    "OutputError",
    "ParameterError",
    "__version__",
]
