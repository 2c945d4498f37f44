"""Networks: inception5h (pretrained download or untrained stand-in), Keras backbones, random-multiscale.

``load_model(name, weights)`` is the one entry point the engines, notebooks and CLI use.
"""

from __future__ import annotations

import difflib

from ..config import weights_mode
from ..errors import ModelError
from .base import LayerInfo, Model
from .keras_backbones import load_keras_backbone
from .random_multiscale import load_random_multiscale

MODEL_NAMES = ("inception5h", "vgg19", "inception_v3", "random-multiscale")

__all__ = ["LayerInfo", "Model", "MODEL_NAMES", "load_model", "resolve_model"]


def load_model(name: str = "inception5h", weights: str | None = None, **kwargs) -> Model:
    """Load a network by name: ``inception5h`` (the course's network), ``vgg19``, ``inception_v3`` or
    ``random-multiscale`` (seeded random filters for style and textures, nothing to download).

    Args:
        weights: ``pretrained``, ``untrained``, ``auto`` or None (``CADL_WEIGHTS``, default pretrained); the
            model's ``weights`` says which were actually loaded.
        **kwargs: inception5h's ``LoadOptions`` fields (``cache_dir``, ``path``, ``url``, ``seed``, ``dtype``,
            ``rewrites``...); ``seed`` for the Keras backbones and random-multiscale.
    """
    key = str(name).strip().lower().replace("-", "_")
    mode = weights_mode(weights)
    if key == "inception5h":
        from .inception5h import load_inception5h

        return load_inception5h(weights=mode, **kwargs)
    if key in ("vgg19", "inception_v3"):
        return load_keras_backbone(key, weights=mode, **kwargs)
    if key == "random_multiscale":
        return load_random_multiscale(weights=mode, **kwargs)
    close = difflib.get_close_matches(key, MODEL_NAMES, n=3, cutoff=0.4)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ModelError(f"unknown model {name!r}: use one of {', '.join(MODEL_NAMES)}.{hint}")


def resolve_model(model: "Model | str | None" = None, weights: str | None = None) -> Model:
    """The engines' and widgets' model: a Model as it is, else ``load_model(model or "inception5h", weights)``."""
    if model is None or isinstance(model, str):
        return load_model(model or "inception5h", weights)
    return model
