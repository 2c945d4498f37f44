"""StyleExplorer: style transfer's weights, layer preset and colour preservation, with a live preview."""

from types import SimpleNamespace
from typing import Any, Callable

import ipywidgets as w

from ..runs import Result, StepInfo
from ..style import LAYER_PRESETS, StyleSettings, StyleTransfer, default_layers
from .base import Explorer
from .controls import control, tag

# The largest learning rate of a preview (its few Adam steps are larger than the run's).
MAX_PREVIEW_LEARNING_RATE = 0.1
# (low, high) decades of each weight's log slider.
_RANGES = {"content": (-3, 3), "style": (-2, 4), "tv": (-4, 2)}


class StyleExplorer(Explorer):
    """Style transfer: a preview is a few Adam steps at preview size, Run the full-size progression GIF. A weight
    change reuses the engine's targets and compiled steps; a new image, layer preset or colour mode builds a new
    ``StyleTransfer``. Controls: ``content_weight``, ``style_weight``, ``tv_weight`` (``cadl-weight-<term>``),
    ``layers`` (``cadl-layers``, named by ``layers_info``), ``preserve_color``, ``steps``, two ImagePickers."""

    controls = ("content_weight", "style_weight", "tv_weight", "layers", "preserve_color", "steps")
    settings_type = StyleSettings

    def __init__(self, model: Any = None, content: Any = None, style: Any = None, profile: Any = None, **options: Any):
        """Args: content, style: images (a path, array or sample name; None: a sample); the StyleSettings
        (``settings`` and overrides) where the controls start (steps: the profile's); the rest: Explorer's."""
        super().__init__(model, profile, **options)
        self._engines: dict[tuple, StyleTransfer] = {}
        self.content_picker = self._picker("content", "photo", content)
        self.style_picker = self._picker("style", "style", style)
        for term, (low, high) in _RANGES.items():
            setattr(self, f"{term}_weight", control(w.FloatLogSlider, f"cadl-weight-{term}", term.replace("tv", "TV"),
                                                   base=10, min=low, max=high, step=0.25, readout_format=".3g",
                                                   value=getattr(self.settings, f"{term}_weight")))
        self.layers = tag(w.Dropdown(options=list(LAYER_PRESETS), value=self.settings.layers, description="layers"),
                          "cadl-layers")
        self.layers_info = tag(w.Label(), "cadl-layers-info")
        w.dlink((self.layers, "value"), (self.layers_info, "value"), self._layers_text)  # the preset's layers
        self.preserve_color = tag(w.Checkbox(value=self.settings.preserve_color, description="preserve colour"),
                                  "cadl-preserve-color")
        steps = self.settings.steps or self.profile.steps
        self.steps = control(w.IntSlider, "cadl-steps", "iterations", value=steps, min=1, max=max(500, steps))
        self._finish([w.HBox([self.content_weight, self.style_weight, self.tv_weight]),
                      w.HBox([self.layers, self.layers_info]), w.HBox([self.preserve_color, self.steps])])

    def _layers_text(self, preset: str) -> str:
        """The layers of ``preset`` (or of the settings' own content_layer / style_layers) as one line."""
        content, style = default_layers(self.model, preset)
        style = [name for name, _ in self.settings.style_layers or style.items()]
        return f"content {self.settings.content_layer or content}; style {', '.join(style)}"

    def engine(self, params: SimpleNamespace, size: int) -> StyleTransfer:
        """The StyleTransfer of the current images and colour mode at ``size`` (built once, then reused)."""
        key = (params.content_version, params.style_version, params.preserve_color, params.layers, size)
        if key not in self._engines:
            self._engines = {k: v for k, v in self._engines.items() if k[:4] == key[:4]}  # drop old images
            self._engines[key] = StyleTransfer(params.content, params.style, self.model, self.settings, size=size,
                                               preserve_color=params.preserve_color, layers=params.layers)
        return self._engines[key]

    def _run(self, params: SimpleNamespace, preview: bool, callback: Callable[[StepInfo], bool]) -> tuple[Result, str]:
        steps, rate = self._steps(preview, params.steps, self.settings.learning_rate, MAX_PREVIEW_LEARNING_RATE)
        weights = {f"{term}_weight": getattr(params, f"{term}_weight") for term in _RANGES}
        result = self.engine(params, self.profile.preview_size if preview else self.profile.size).run(
            callback=callback, steps=steps, learning_rate=rate, frame_every=1 if preview else None, progress=False,
            **weights)
        return result, f"{params.content_name}_{params.style_name}"
