"""GuidedExplorer: a guided-hallucination preset and its feature, pixel and TV weights, with a live preview."""

from types import SimpleNamespace
from typing import Any, Callable

import ipywidgets as w

from .. import dream, guided as engine
from ..runs import Result, StepInfo
from .base import Explorer
from .controls import control, samples, tag
from .dream import MAX_PREVIEW_STEP, fit

_TERMS = ("feature", "pixel", "tv")


class GuidedExplorer(Explorer):
    """Guided hallucination: choosing a preset sets the weight sliders (-2..2; negative descends a term).
    A weight change reuses the preview's objective and compiled step; a new preset metric or image builds
    a new one. Run renders ``guided(...)``. Controls: ``preset``, ``feature_weight``, ``pixel_weight``, ``tv_weight``
    (``cadl-weight-<term>``), ``step_size``, ``steps`` (of the run), ``dream_picker``, ``guide_picker``."""

    controls = ("preset", "feature_weight", "pixel_weight", "tv_weight", "step_size", "steps")
    settings_type = engine.GuidedSettings

    def __init__(self, model: Any = None, dream_image: Any = None, guide_image: Any = None, profile: Any = None,
                 **options: Any):
        """Args: dream_image, guide_image: the subjects (None: the first and second sample photos); GuidedSettings
        (``settings`` and overrides: preset, layers, compare, step_size, steps, weights): where the controls start
        (steps: the profile's; layers: ``guided.default_layers``); the rest: Explorer's."""
        super().__init__(model, profile, **options)
        start = self.settings.recipe()
        self.layers = self.settings.layers or engine.default_layers(self.model)
        self._objectives: dict[tuple, Any] = {}
        others = list(samples("photo"))[1:]  # the second sample guides unless told otherwise
        self.dream_picker = self._picker("dream", "photo", dream_image)
        self.guide_picker = self._picker("guide", "photo", others[0] if guide_image is None and others else guide_image)
        self.preset = tag(w.Dropdown(options=list(engine.PRESET_NAMES), value=start.name, description="preset"),
                          "cadl-preset")
        self.preset_info = tag(w.Label(value=f"{start.signs()}: {start.why}"), "cadl-preset-info")
        for term in _TERMS:
            setattr(self, f"{term}_weight", control(w.FloatSlider, f"cadl-weight-{term}", term.replace("tv", "TV"),
                                                    value=getattr(start, f"{term}_weight"), min=-2.0, max=2.0,
                                                    step=0.05, readout_format=".2f"))
        self.step_size = control(w.FloatSlider, "cadl-step-size", "step size", value=self.settings.step_size,
                                 min=0.001, max=0.1, step=0.001, readout_format=".3f")
        steps = self.settings.steps or self.profile.steps
        self.steps = control(w.IntSlider, "cadl-steps", "iterations", value=steps, min=1, max=max(500, steps))
        self.preset.observe(self._preset_changed, "value")
        weights = w.HBox([self.feature_weight, self.pixel_weight, self.tv_weight])
        self._finish([w.HBox([self.preset, self.preset_info]), weights, w.HBox([self.step_size, self.steps])])

    def _preset_changed(self, change: dict) -> None:
        chosen = engine.get_preset(change["new"])
        self.preset_info.value = f"{chosen.signs()}: {chosen.why}"
        with self._quietly():  # the preset's own observer asks for one preview
            for term in _TERMS:
                getattr(self, f"{term}_weight").value = getattr(chosen, f"{term}_weight")

    def objective(self, recipe: engine.Preset, params: SimpleNamespace) -> tuple[Any, Any]:
        """(objective, start image) of the preview, built once per preset metrics, roles and images."""
        key = (recipe.start, recipe.guide, recipe.feature_metric, recipe.pixel_metric, params.dream_version,
               params.guide_version)
        if key not in self._objectives:
            need = max([dream.MIN_IMAGE] + [int(self.model.min_size(name)) for name in self.layers])
            image = fit(getattr(params, recipe.start), self.profile.preview_size, need)
            guide = getattr(params, recipe.guide)
            self._objectives[key] = (engine.guided_objective(self.model, recipe, guide, self.layers, image.shape[:2],
                                                             compare=self.settings.compare), image)
        objective, image = self._objectives[key]
        objective.set_term_weights(recipe.feature_weight, recipe.pixel_weight, recipe.tv_weight)  # no recompiling
        return objective, image

    def _run(self, params: SimpleNamespace, preview: bool, callback: Callable[[StepInfo], bool]) -> tuple[Result, str]:
        weights = {f"{term}_weight": getattr(params, f"{term}_weight") for term in _TERMS}
        settings = engine.GuidedSettings(preset=params.preset, layers=self.layers, steps=params.steps, progress=False,
                                         step_size=params.step_size, max_side=self.profile.size,
                                         compare=self.settings.compare, **weights)
        name = f"{params.preset}_{params.dream_name}_{params.guide_name}"
        if not preview:
            return engine.guided(params.dream, params.guide, self.model, settings, callback=callback), name
        objective, image = self.objective(settings.recipe(), params)
        steps, step_size = self._steps(True, params.steps, params.step_size, MAX_PREVIEW_STEP)
        loop = dream.DreamSettings(steps=steps, step_size=step_size, octaves=1, seed=0, progress=False,
                                   jitter=max(1, max(image.shape[:2]) // 32))
        return dream.dream(image, objective, self.model, loop, callback=callback), name
