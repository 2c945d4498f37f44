"""Explorers for the notebooks: controls wired to the engines, a live preview and a Run button."""

from .controls import DREAM_KINDS, ChannelSlider, ImagePicker, banner_html, layer_dropdown, png_bytes, show_banner
from .controls import untrained_banner
from .dream import DreamExplorer
from .guided import GuidedExplorer
from .style import StyleExplorer
from .zoom import ZoomExplorer

__all__ = ["DREAM_KINDS", "ChannelSlider", "DreamExplorer", "GuidedExplorer", "ImagePicker", "StyleExplorer",
           "ZoomExplorer", "banner_html", "layer_dropdown", "png_bytes", "show_banner", "untrained_banner"]
