"""What every engine's loop shares: the callback's ``StepInfo``, the ``Result``, the progress bar, a clean stop.

Every engine returns a ``Result`` (or a subclass with a few more fields) and calls ``callback(StepInfo)`` as it
goes; a callback returning False, or Ctrl-C, stops it with what it finished (``interrupted`` is then True).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from .errors import NonFiniteError
from .images import save_animation, save_image


@dataclasses.dataclass
class StepInfo:
    """What a ``callback`` receives after every step (style transfer: every frame): ``step`` of ``total`` (1-based),
    the current ``image`` (float32 [H, W, 3] in [0, 1]), its ``loss``, the ``octave`` (0 = smallest or none), the
    ``frame`` being rendered (or None) and, where the engine has them, the loss's ``terms`` by name (style)."""

    step: int
    total: int
    image: np.ndarray
    loss: float
    octave: int = 0
    frame: int | None = None
    terms: dict[str, float] | None = None


Callback = Callable[[StepInfo], Any]


class Stop(Exception):
    """Raised inside a loop when the callback returned False."""


def report(callback: Callback | None, info: StepInfo) -> None:
    """Call the callback (if any); raise ``Stop`` when it returns False."""
    if callback is not None and callback(info) is False:
        raise Stop()


@dataclasses.dataclass
class Result:
    """The pictures of a run (``frames``: float32 [H, W, 3] in [0, 1], in order; the last is the final one), whether
    Ctrl-C or the callback stopped it (``interrupted``: ``frames`` holds what was done) and its ``steps_done``."""

    frames: list[np.ndarray]
    interrupted: bool = False
    steps_done: int = 0

    @property
    def image(self) -> np.ndarray:
        """The final picture (the last frame)."""
        return self.frames[-1]

    def save(self, path: str | Path, inputs: Sequence = ()) -> Path:
        """Write the final picture (format by extension, atomically) and return its path."""
        return save_image(self.image, path, inputs=inputs)

    def save_gif(self, path: str | Path, duration_ms: int = 100, inputs: Sequence = ()) -> Path:
        """Write the frames as a GIF or MP4 (by extension, atomically) and return its path."""
        return save_animation(self.frames, path, duration_ms=duration_ms, inputs=inputs)


def progress_bar(enabled: bool, total: int, desc: str):
    """A tqdm progress bar counting steps, or None when ``enabled`` is false."""
    return tqdm(total=total, desc=desc, unit="step", leave=False) if enabled else None


class NonFinite(Stop):
    """Raised inside a loop when a step made NaN or infinite values."""


def check_finite(image, loss: float, step: int) -> None:
    """Raise ``NonFinite`` if a step's picture or loss is NaN or infinite (only a scalar leaves the device)."""
    if not (np.isfinite(loss) and bool(tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(image))))):
        raise NonFinite(step)


def finish(result: Result, stop: BaseException | None) -> Result:
    """``result``, unless ``stop`` was a ``NonFinite``: then a ``NonFiniteError`` carrying it (``.result``)."""
    if isinstance(stop, NonFinite):
        error = NonFiniteError(f"step {stop.args[0]} produced NaN or infinite values, so the run stopped (the "
                               f"{len(result.frames)} finite frame(s) before it are kept): use a smaller step size or "
                               "learning rate, or smaller weights")
        error.result = result
        raise error
    return result
