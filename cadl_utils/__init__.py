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

__version__ = "0.1.0"

__all__ = [
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
