"""Explorers for the notebooks: controls wired to the engines, a live preview and a Run button.

Every control carries a CSS class of the widgets DOM contract (notes/CONTRACTS.md) that the browser
test looks for: ``cadl-layer``, ``cadl-channel``, ``cadl-step-size``, ``cadl-steps``, ``cadl-octaves``,
``cadl-weight-<name>``, ``cadl-run``, ``cadl-preview``, ``cadl-preview-label``, ``cadl-status``,
``cadl-gif``, ``cadl-image-picker``, ``cadl-image-path`` and ``cadl-untrained-banner``.
"""

from .controls import (DREAM_KINDS, ChannelSlider, ImagePicker, banner_html, channel_slider, layer_dropdown,
                       png_bytes, show_banner, untrained_banner)
from .dream import DreamExplorer
from .guided import GuidedExplorer
from .style import StyleExplorer
from .zoom import ZoomExplorer

__all__ = ["DREAM_KINDS", "ChannelSlider", "DreamExplorer", "GuidedExplorer", "ImagePicker", "StyleExplorer",
           "ZoomExplorer", "banner_html", "channel_slider", "layer_dropdown", "png_bytes", "show_banner",
           "untrained_banner"]
