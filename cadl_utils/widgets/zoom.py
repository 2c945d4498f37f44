"""ZoomExplorer: the Deep Dream controls plus the fractal zoom's margin, centre and frames."""

from types import SimpleNamespace
from typing import Any, Callable

import ipywidgets as w

from .. import dream as engine, images
from ..runs import Result
from .controls import control
from .dream import DreamExplorer


class ZoomExplorer(DreamExplorer):
    """Fractal zoom: a preview shows its first ``preview_frames`` frames side by side; Run renders the GIF.
    Controls besides DreamExplorer's: ``margin`` (cut at each edge per frame), ``center_x``, ``center_y``,
    ``frames_slider`` (classes ``cadl-zoom-margin``, ``cadl-zoom-x``, ``cadl-zoom-y``, ``cadl-frames``)."""

    controls = DreamExplorer.controls + ("margin", "center_x", "center_y")  # frames_slider only matters for Run

    def __init__(self, model: Any = None, image: Any = None, profile: Any = None, *, preview_frames: int = 2,
                 **options: Any):
        """Args: the frames a preview shows, and DreamExplorer's (DreamSettings' ``margin`` and ``center`` (y, x):
        where those sliders start)."""
        self.preview_frames = max(1, int(preview_frames))
        super().__init__(model, image, profile, **options)

    def _finish(self, rows: list[w.Widget]) -> None:
        (y, x), self.steps.description = self.settings.center, "steps/frame"
        self.margin = control(w.FloatSlider, "cadl-zoom-margin", "margin", value=self.settings.margin, min=0.005,
                              max=0.1, step=0.005, readout_format=".3f")
        self.center_y = control(w.FloatSlider, "cadl-zoom-y", "centre y", value=y, min=0.0, max=1.0, step=0.05)
        self.center_x = control(w.FloatSlider, "cadl-zoom-x", "centre x", value=x, min=0.0, max=1.0, step=0.05)
        self.frames_slider = control(w.IntSlider, "cadl-frames", "frames", value=self.frames, min=2,
                                     max=max(120, self.frames))
        super()._finish(rows + [w.HBox([self.margin, self.center_x, self.center_y, self.frames_slider])])

    def _engine(self, params: SimpleNamespace, preview: bool) -> tuple[Callable, dict]:
        frames = self.preview_frames if preview else self.frames_slider.value
        return engine.fractal_zoom, {"frames": frames, "margin": params.margin,
                                     "center": (params.center_y, params.center_x)}

    def _picture(self, result: Result) -> Any:
        return images.montage(result.frames, cols=len(result.frames))
