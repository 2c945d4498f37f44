"""Networks: inception5h (pretrained download or untrained stand-in) and Keras backbones."""

from .base import LayerInfo, Model

__all__ = ["LayerInfo", "Model"]
