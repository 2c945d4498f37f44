"""DreamExplorer: layer, channel, step size, iterations and octaves of Deep Dream with a live preview."""

import math
from types import SimpleNamespace
from typing import Any, Callable, Sequence

import ipywidgets as w
import numpy as np

from .. import dream as engine, images, objectives
from ..runs import Result, StepInfo
from .base import Explorer
from .controls import CLASS_KINDS, DREAM_KINDS, ChannelSlider, control, layer_dropdown

# The largest step size of a preview (its few steps are larger than the run's).
MAX_PREVIEW_STEP = 0.25


def fit(image: np.ndarray, long_side: int, need: int) -> np.ndarray:
    """``image`` resized to ``long_side`` on its long side, larger if its short side would be below ``need``."""
    longest, shortest = max(image.shape[:2]), min(image.shape[:2])
    return images.resize(image, max(int(long_side), math.ceil(need * longest / shortest)))


class DreamExplorer(Explorer):
    """Deep Dream with a live preview; Run renders a feedback loop GIF. Controls: ``layer``, ``channel``
    (named by ``channel_label``), ``step_size``, ``steps`` (per frame of the run), ``octaves``, ``picker``."""

    controls = ("layer", "channel", "step_size", "steps", "octaves")
    settings_type = engine.DreamSettings

    def __init__(self, model: Any = None, image: Any = None, profile: Any = None, *, layer: str | None = None,
                 channel: int | None = None, kinds: Sequence[str] | None = DREAM_KINDS, **options: Any):
        """Args: image: a path, array or sample name (None: the first sample photo); layer, channel, kinds:
        the first layer and channel and the layer kinds offered; DreamSettings' step_size, frame_every,
        octaves, frames (of the GIF: the profile's unless given): the sliders' first values; the rest: Explorer's."""
        super().__init__(model, profile, **options)
        given_frames = options.get("settings") is not None or "frames" in options
        self.frames = self.settings.frames if given_frames else self.profile.frames
        self._objectives: dict[str, objectives.Objective] = {}
        self.picker = self._picker("image", "photo", image, noise=True)
        self.layer = layer_dropdown(self.model, kinds, value=layer)
        self.channel_control = ChannelSlider(self.model, self.layer.value, channel)
        self.channel, self.channel_label = self.channel_control.slider, self.channel_control.label
        self.step_size = control(w.FloatSlider, "cadl-step-size", "step size", value=self.settings.step_size,
                                 min=0.001, max=0.1, step=0.001, readout_format=".3f")
        self.steps = control(w.IntSlider, "cadl-steps", "iterations", value=self.settings.frame_every, min=1, max=50)
        self.octaves = control(w.IntSlider, "cadl-octaves", "octaves", value=self.settings.octave_count(1), min=1,
                               max=6)
        self.layer.observe(self._layer_changed, "value")
        self._finish([self.layer, self.channel_control.widget, w.HBox([self.step_size, self.steps, self.octaves])])

    def _layer_changed(self, change: dict) -> None:
        with self._quietly():  # a clamped channel asks for no preview of its own
            self.channel_control.set_layer(change["new"])

    def objective(self, layer: str, index: int) -> objectives.Objective:
        """One objective per layer, re-pointed with ``set_index``: the engine's compiled step is reused."""
        if layer not in self._objectives:
            if self.model.layer(layer).kind in CLASS_KINDS:
                self._objectives[layer] = objectives.Neuron(index, layer=layer, model=self.model)
            else:
                self._objectives[layer] = objectives.Channel(layer, index, model=self.model)
        elif self._objectives[layer].index != index:
            self._objectives[layer].set_index(index)
        return self._objectives[layer]

    def _engine(self, params: SimpleNamespace, preview: bool) -> tuple[Callable, dict]:
        """The engine function of a preview or a run, and its settings besides the sliders'."""
        return (engine.dream if preview else engine.feedback_loop), {"frames": self.frames}

    def _run(self, params: SimpleNamespace, preview: bool, callback: Callable[[StepInfo], bool]) -> tuple[Result, str]:
        objective = self.objective(params.layer, params.channel)
        side = self.profile.preview_size if preview else self.profile.size
        image = fit(params.image, side, engine.required_side(self.model, objective))
        steps, step_size = self._steps(preview, params.steps, params.step_size, MAX_PREVIEW_STEP)
        run, extra = self._engine(params, preview)
        settings = engine.DreamSettings(steps=steps, frame_every=steps, step_size=step_size, octaves=params.octaves,
                                        jitter=max(1, max(image.shape[:2]) // 16), seed=0, progress=False, **extra)
        result = run(image, objective, self.model, settings, callback=callback)
        return result, f"{params.image_name}_{params.layer}_{params.channel}"
