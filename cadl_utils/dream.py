"""Deep Dream: gradient ascent on an image, with octaves, tiles, the feedback loop and fractal zoom.

The engine is one compiled step (``Dreamer``): a ``tf.function`` whose inputs are all tensors with
open sizes, so changing the step size, the image, its size, the tile size or the normalisation
never recompiles it (``Dreamer.trace_count`` shows it). Inside one step:

1. the image is rolled by a random offset (jitter, plus a random tile offset when tiling) so that
   tile borders and the network's own grid never stay in one place;
2. the gradient of ``objective.feature_loss`` is computed for the whole image, or tile by tile (one
   tile's activations in memory at a time, so memory is bounded), and rolled back;
3. the gradient of ``objective.pixel_loss`` on the full, un-rolled image is added;
4. the sum is normalised (``std``, ``maxabs`` or ``laplacian``), non-finite values are zeroed, and
   ``step_size`` times it is added; then optional decay and blur, and clipping to [0, 1].

Tiles all have the same shape (min(tile, H) x min(tile, W)); the last row and column of tiles are
moved back to end at the image border and only contribute their new pixels, so every pixel gets
its gradient from exactly one tile. A tile at least as large as the image is the plain gradient.

The loops (``dream``, ``feedback_loop``, ``fractal_zoom``) call the step from Python, show a tqdm
progress bar, call ``callback`` for live previews and stop cleanly on KeyboardInterrupt (or when the
callback returns False): the result then has ``interrupted=True`` and holds everything done so far.
``dream`` returns the picture after the last finished step (a step cut off half-way is dropped, never
half-applied); the frame loops return the finished frames and drop the frame being rendered, so every
frame they return has had the same number of steps.
"""

from __future__ import annotations

import argparse
import math
import numbers
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from .errors import ImageError, LayerError, ParameterError
from .images import as_image
from .objectives import Objective
from .settings import Settings, check_choice, check_float, check_int, check_seed, is_int, setting

# Divisor floor of every normalisation: a zero gradient (flat image, saturated unit) stays zero.
_EPS = 1e-8
# Levels of the Laplacian pyramid (as in the classic Deep Dream notebook).
_LAPLACIAN_LEVELS = 4
# Taps of the blur kernel (covers +-4 px, enough for sigma up to about 2).
_BLUR_RADIUS = 4


# --- settings ----------------------------------------------------------------------------------------

NORMALIZERS = ("std", "maxabs", "laplacian", "none")
# Below these sizes tiles make seams and per-tile overhead dominates.
MIN_TILE = 32
MIN_IMAGE = 8
# Upper bounds: a huge but finite value fails at once instead of running for days.
MAX_STEPS = 100_000
MAX_TILE = 16_384
MAX_OCTAVES = 12


@dataclass(frozen=True)
class DreamSettings(Settings):
    """Every setting of ``dream``, ``feedback_loop`` and ``fractal_zoom`` (checked when made)."""

    steps: int = setting(10, f"gradient steps per octave of dream() (1..{MAX_STEPS})", cli=False)
    frames: int = setting(30, f"frames of the feedback loop and the zoom (1..{MAX_STEPS})")
    frame_every: int = setting(5, f"steps per frame and octave in the loops (1..{MAX_STEPS})", cli=False)
    step_size: float = setting(0.01, "how far each normalised step moves the pixels (image range 0..1; 0 < s <= 10)")
    octaves: int | None = setting(None, f"scales per picture or frame (1..{MAX_OCTAVES}; None: 4 for dream, 1 for the loops)")
    octave_scale: float = setting(1.4, "size ratio between octaves (1 < r <= 4)")
    tile_size: int | None = setting(None, f"compute gradients in tiles of this many px ({MIN_TILE}..{MAX_TILE}; None: whole image)")
    jitter: int = setting(32, "random roll per step in px (0..4096)")
    normalize: str = setting("std", "gradient normalisation: std, maxabs, laplacian or none", choices=NORMALIZERS)
    seed: int | None = setting(0, "random seed (0..2**31-2; None: a fresh one); the same seed gives the same picture")
    decay: float = setting(0.0, "pull towards grey per step (0 <= d < 1, e.g. 0.01)")
    blur_every: int = setting(0, f"blur every this many steps (0: never; up to {MAX_STEPS})")
    blur_sigma: float = setting(0.5, "blur strength in px (0 < sigma <= 2)")
    margin: float = setting(0.02, "zoom: cut at each end per frame, a fraction below 1 or pixels (under half the side)")
    center: tuple[float, float] = setting((0.5, 0.5), "zoom centre (y, x) as fractions of height and width",
                                          type=float, nargs=2, metavar=("Y", "X"))
    include_start: bool = setting(False, "loops: put the input picture first (frames + 1 frames)")
    progress: bool = setting(True, "show a progress bar")

    def check(self) -> None:
        for name in ("steps", "frames", "frame_every"):
            self._set(name, check_int(getattr(self, name), name, minimum=1, maximum=MAX_STEPS, fix="use 1 or more, e.g. 5"))
        self._set("step_size", check_float(self.step_size, "step_size", above=0, at_most=10, fix="use e.g. 0.01"))
        if self.octaves is not None:
            self._set("octaves", check_int(self.octaves, "octaves", minimum=1, maximum=MAX_OCTAVES,
                                           fix="use 1 (no octaves) or a small number such as 4"))
        self._set("octave_scale", check_float(self.octave_scale, "octave_scale", above=1, at_most=4,
                                              fix="use a ratio such as 1.4"))
        if self.tile_size is not None and not (is_int(self.tile_size) and self.tile_size == 0):
            self._set("tile_size", check_int(self.tile_size, "tile_size", minimum=MIN_TILE, maximum=MAX_TILE,
                                             fix="use None (no tiles) or e.g. 512"))
        else:
            self._set("tile_size", None)
        self._set("jitter", check_int(self.jitter, "jitter", minimum=0, maximum=4096, fix="use 0 (no roll) or e.g. 32"))
        self._set("normalize", check_choice(self.normalize, "gradient normalisation", NORMALIZERS))
        self._set("seed", check_seed(self.seed))
        self._set("decay", check_float(self.decay, "decay", at_least=0, below=1, fix="use 0 (none) or e.g. 0.01"))
        self._set("blur_every", check_int(self.blur_every, "blur_every", minimum=0, maximum=MAX_STEPS,
                                          fix="use 0 (never) or a step count such as 10"))
        self._set("blur_sigma", check_float(self.blur_sigma, "blur_sigma", above=0, at_most=2,
                                            fix="blur several times for more"))
        self._set("margin", check_float(self.margin, "margin", above=0, at_most=MAX_TILE,
                                        fix="use a fraction such as 0.02 or a few pixels such as 4"))
        self._set("center", _check_center(self.center))
        for name in ("include_start", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterError(f"{name} must be True or False, got {getattr(self, name)!r}")
            self._set(name, bool(getattr(self, name)))

    def octave_count(self, default: int) -> int:
        """``octaves``, or ``default`` when it was left as None."""
        return default if self.octaves is None else self.octaves


def _check_center(center) -> tuple[float, float]:
    try:
        cy, cx = (check_float(v, "center", at_least=0, at_most=1) for v in center)
    except (TypeError, ValueError, ParameterError):
        raise ParameterError(
            f"center must be (y, x) fractions between 0 and 1 such as (0.5, 0.5), got {center!r}"
        ) from None
    return cy, cx


class ImageTooSmallError(LayerError, ParameterError):
    """The image (or a tile, or an octave) is smaller than the objective's layers need.

    Both a LayerError (the models' error for sizes) and a ParameterError (a parameter to change).
    """


@dataclass
class StepInfo:
    """What a ``callback`` receives after every step.

    Attributes:
        step: steps done so far in this call (1-based).
        total: steps this call will do.
        image: the current image, float32 [H, W, 3] in [0, 1] (the current octave's size).
        loss: the objective's value at this step (summed over tiles), before the update.
        octave: index of the current octave (0 = smallest).
        frame: index of the frame being rendered (loops), or None.
    """

    step: int
    total: int
    image: np.ndarray
    loss: float
    octave: int = 0
    frame: int | None = None


class DreamImage(np.ndarray):
    """The result of ``dream``: an ordinary float32 image array with two extra attributes.

    Attributes:
        interrupted: True when Ctrl-C (or the callback) stopped the run early.
        steps_done: gradient steps actually taken.
    """

    interrupted: bool = False
    steps_done: int = 0

    def __array_finalize__(self, obj) -> None:
        self.interrupted = getattr(obj, "interrupted", False)
        self.steps_done = getattr(obj, "steps_done", 0)


class Frames(list):
    """The frames of a loop (a list of float32 [H, W, 3] images) plus how the run ended.

    Attributes:
        interrupted: True when Ctrl-C (or the callback) stopped the run; the list holds the
            frames finished before that. The frame being rendered at that moment is dropped
            (it has fewer steps than the others and may be at a smaller octave).
        steps_done: gradient steps actually taken, including those of the dropped frame.
    """

    def __init__(self, frames=(), interrupted: bool = False, steps_done: int = 0):
        super().__init__(frames)
        self.interrupted = interrupted
        self.steps_done = steps_done


class _Stop(Exception):
    """Raised by the step runner when the callback asked to stop."""


# --- gradient maths (plain TensorFlow, usable eagerly and inside tf.function) -----------------------


def _as_batch(image: tf.Tensor) -> tuple[tf.Tensor, bool]:
    image = tf.convert_to_tensor(image, tf.float32)
    if image.shape.rank == 3:
        return image[None], True
    return image, False


def _binomial_kernel() -> tf.Tensor:
    """The 5x5 kernel [1 4 6 4 1]^2 / 256 as a depthwise filter for 3 channels."""
    taps = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32)
    kernel = np.outer(taps, taps) / np.sum(taps) ** 2
    return tf.constant(np.tile(kernel[:, :, None, None], (1, 1, 3, 1)), tf.float32)


def _laplacian_split(image: tf.Tensor, kernel: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Split [N, H, W, 3] into a half-size low band and the full-size high band."""
    low = tf.nn.depthwise_conv2d(image, kernel, [1, 2, 2, 1], "SAME")
    up = tf.nn.depthwise_conv2d_backprop_input(tf.shape(image), kernel * 4.0, low, [1, 2, 2, 1], "SAME")
    return low, image - up


def _laplacian_merge(low: tf.Tensor, high: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    up = tf.nn.depthwise_conv2d_backprop_input(tf.shape(high), kernel * 4.0, low, [1, 2, 2, 1], "SAME")
    return up + high


def laplacian_normalize(grad, levels: int = _LAPLACIAN_LEVELS) -> tf.Tensor:
    """Laplacian-pyramid normalisation: every frequency band gets unit RMS, then the sum unit std.

    Low frequencies of a raw Deep Dream gradient are weak; boosting each band to the same strength
    gives large, smooth patterns instead of pixel noise (the classic notebook's ``lap_normalize``).
    The final division by the standard deviation keeps step sizes comparable with ``std``.

    Args:
        grad: [H, W, 3] or [N, H, W, 3] float32.
        levels: number of pyramid bands.

    Returns:
        Tensor of the same shape.
    """
    grad, single = _as_batch(grad)
    kernel = _binomial_kernel()
    bands = []
    current = grad
    for _ in range(levels - 1):
        current, high = _laplacian_split(current, kernel)
        bands.append(high)
    bands.append(current)
    bands = [band / tf.maximum(tf.sqrt(tf.reduce_mean(tf.square(band))), _EPS) for band in bands]
    merged = bands[-1]
    for high in reversed(bands[:-1]):
        merged = _laplacian_merge(merged, high, kernel)
    merged = merged / (tf.math.reduce_std(merged) + _EPS)
    return merged[0] if single else merged


def normalize_gradient(grad, method: str = "std") -> tf.Tensor:
    """Scale a gradient so that ``step_size`` means the same thing on every image and layer.

    Args:
        grad: [H, W, 3] or [N, H, W, 3] float32.
        method: ``std`` (divide by the standard deviation), ``maxabs`` (by the largest absolute
            value, so no pixel moves more than ``step_size``), ``laplacian`` (see
            ``laplacian_normalize``) or ``none``.

    Returns:
        Tensor of the same shape; NaN/Inf entries become 0 and a zero gradient stays zero.
    """
    method = _check_normalize(method)
    grad = tf.convert_to_tensor(grad, tf.float32)
    grad = tf.where(tf.math.is_finite(grad), grad, tf.zeros_like(grad))
    return _normalize_by_id(grad, tf.constant(NORMALIZERS.index(method)))


def _normalize_by_id(grad: tf.Tensor, method_id: tf.Tensor) -> tf.Tensor:
    """``normalize_gradient`` with the method as an int tensor (a switch inside the graph)."""
    return tf.switch_case(
        method_id,
        [
            lambda: grad / (tf.math.reduce_std(grad) + _EPS),
            lambda: grad / (tf.reduce_max(tf.abs(grad)) + _EPS),
            lambda: laplacian_normalize(grad),
            lambda: grad,
        ],
    )


def gaussian_blur(image, sigma) -> tf.Tensor:
    """Blur [H, W, 3] or [N, H, W, 3] with a Gaussian of ``sigma`` px (edges mirrored; sigma <= 2).

    Args:
        image: float32 images, at least 5 px on each side.
        sigma: standard deviation in pixels (a float or a scalar tensor > 0).

    Returns:
        The blurred images, same shape.
    """
    image, single = _as_batch(image)
    sigma = tf.maximum(tf.cast(sigma, tf.float32), 1e-3)
    offsets = tf.range(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=tf.float32)
    taps = tf.exp(-0.5 * tf.square(offsets / sigma))
    taps = taps / tf.reduce_sum(taps)
    column = tf.tile(tf.reshape(taps, [-1, 1, 1, 1]), [1, 1, 3, 1])
    row = tf.tile(tf.reshape(taps, [1, -1, 1, 1]), [1, 1, 3, 1])
    padded = tf.pad(image, [[0, 0], [_BLUR_RADIUS] * 2, [_BLUR_RADIUS] * 2, [0, 0]], mode="SYMMETRIC")
    blurred = tf.nn.depthwise_conv2d(padded, column, [1, 1, 1, 1], "VALID")
    blurred = tf.nn.depthwise_conv2d(blurred, row, [1, 1, 1, 1], "VALID")
    return blurred[0] if single else blurred


# --- the compiled step ------------------------------------------------------------------------------

_IMAGE = tf.TensorSpec([None, None, 3], tf.float32)
_INT = tf.TensorSpec([], tf.int32)
_FLOAT = tf.TensorSpec([], tf.float32)
_SEED = tf.TensorSpec([2], tf.int32)  # (seed, step index) of the stateless random roll
# image, step size, seed, jitter, normalisation id, decay, blur every, blur sigma
_STEP_SIGNATURE = [_IMAGE, _FLOAT, _SEED, _INT, _INT, _FLOAT, _INT, _FLOAT]


class Dreamer:
    """The compiled gradient-ascent step for one model and one objective.

    Get one with ``get_dreamer(model, objective)`` (cached: the same pair gives the same Dreamer,
    so nothing is recompiled between calls). The objective's tf.Variables (indices, weights) are
    read at run time, so ``set_index`` / ``set_weight`` take effect without recompiling.

    Without tiles a step is ONE call of one tf.function. With tiles, the tile loop runs in Python
    around a compiled per-tile gradient (one call per tile, a few ms of overhead on steps that take
    seconds): TensorFlow's oneDNN kernels run about half as fast inside a graph ``while_loop``, so a
    Python loop over compiled tiles is the faster way to keep memory bounded.

    Attributes:
        model: the network.
        objective: the (validated) objective.
        trace_counts: per compiled function, how many times it was traced; each stays at 1 across
            steps, step sizes, images, image sizes, tile sizes and normalisations.
    """

    def __init__(self, model, objective: Objective):
        if not isinstance(objective, Objective):
            raise ParameterError(
                f"objective must be a cadl_utils.objectives.Objective, got {type(objective).__name__}; "
                "build one with neuron(...), channel(...) or layer(...)"
            )
        objective.validate(model)
        self.model = model
        self.objective = objective
        self.trace_counts = {"step": 0, "gradient": 0, "roll": 0, "tile": 0, "combine": 0, "finish": 0}
        self._step_fn = tf.function(self._step_graph, input_signature=_STEP_SIGNATURE)
        self._gradient_fn = tf.function(self._gradient_graph, input_signature=[_IMAGE, _SEED, _INT, _INT])
        self._roll_fn = tf.function(self._roll_graph, input_signature=[_IMAGE, _SEED, _INT, _INT])
        self._tile_fn = tf.function(self._tile_graph, input_signature=[_IMAGE] + [_INT] * 8 + [_FLOAT])
        self._combine_fn = tf.function(
            self._combine_graph, input_signature=[_IMAGE, _IMAGE, tf.TensorSpec([2], tf.int32), _INT]
        )
        self._finish_fn = tf.function(
            self._finish_graph,
            input_signature=[_IMAGE, _IMAGE, tf.TensorSpec([2], tf.int32), _INT, _FLOAT, _INT, _FLOAT, _INT, _FLOAT],
        )

    @property
    def trace_count(self) -> int:
        """Total traces of all compiled functions (constant once each has run once)."""
        return sum(self.trace_counts.values())

    # --- graph pieces (Python run at trace time) -------------------------------------------------
    def _roll_graph(self, image, seed, jitter, tile):
        """Roll by a random offset: jitter, plus a random tile offset when the tiles do not cover the image."""
        self.trace_counts["roll"] += 1
        return self._roll(image, seed, jitter, tile)

    @staticmethod
    def _roll(image, seed, jitter, tile):
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        draws = tf.random.stateless_uniform([4], seed=seed, minval=0, maxval=2**30, dtype=tf.int32)
        span = 2 * jitter + 1
        shift_y = draws[0] % span - jitter
        shift_x = draws[1] % span - jitter
        # The tile offset moves the tile grid every step (no seams). It is always drawn, so a tile
        # >= the image uses the same random numbers as no tiles at all and gives the same result.
        safe_tile = tf.maximum(tile, 1)
        shift_y += tf.cast(tf.logical_and(tile > 0, tile < height), tf.int32) * (draws[2] % safe_tile)
        shift_x += tf.cast(tf.logical_and(tile > 0, tile < width), tf.int32) * (draws[3] % safe_tile)
        shifts = tf.stack([shift_y % height, shift_x % width])
        return tf.roll(image, shifts, [0, 1]), shifts

    def _tile_graph(self, rolled, top, left, tile_h, tile_w, own_y, own_x, own_h, own_w, weight):
        self.trace_counts["tile"] += 1
        grad, loss = self._tile(rolled, top, left, tile_h, tile_w, own_y, own_x, own_h, own_w)
        return grad * weight, loss * weight

    def _tile(self, rolled, top, left, tile_h, tile_w, own_y, own_x, own_h, own_w):
        """feature_loss gradient of one tile; returns the part the tile owns (offsets within the tile)."""
        layers = list(self.objective.layers)
        patch = rolled[top : top + tile_h, left : left + tile_w, :]
        if not layers:
            return tf.zeros_like(patch)[own_y : own_y + own_h, own_x : own_x + own_w, :], tf.constant(0.0)
        with tf.GradientTape() as tape:
            tape.watch(patch)
            outputs = self.model.extract(patch[None], layers)
            loss = tf.cast(self.objective.feature_loss(dict(zip(layers, outputs))), tf.float32)
        grad = tape.gradient(loss, patch)
        if grad is None:
            grad = tf.zeros_like(patch)
        return grad[own_y : own_y + own_h, own_x : own_x + own_w, :], loss

    def _combine_graph(self, image, rolled_grad, shifts, method_id):
        self.trace_counts["combine"] += 1
        return self._combine(image, rolled_grad, shifts, method_id)

    def _combine(self, image, rolled_grad, shifts, method_id):
        """Roll the feature gradient back, add the pixel gradient, zero non-finite values, normalise."""
        grad = tf.roll(rolled_grad, -shifts, [0, 1])
        pixel = tf.constant(0.0)
        if self.objective.uses_pixels:
            with tf.GradientTape() as tape:
                tape.watch(image)
                pixel = tf.cast(self.objective.pixel_loss(image[None]), tf.float32)
            pixel_grad = tape.gradient(pixel, image)
            if pixel_grad is not None:
                grad += pixel_grad
        grad = tf.where(tf.math.is_finite(grad), grad, tf.zeros_like(grad))
        return _normalize_by_id(grad, method_id), pixel

    def _finish_graph(self, image, rolled_grad, shifts, method_id, step_size, step_index, decay, blur_every, blur_sigma):
        """The tiled step's end: combine and update in one graph (fewer full-size buffers alive)."""
        self.trace_counts["finish"] += 1
        grad, pixel = self._combine(image, rolled_grad, shifts, method_id)
        return self._update(image, grad, step_size, step_index, decay, blur_every, blur_sigma), pixel

    @staticmethod
    def _update(image, grad, step_size, step_index, decay, blur_every, blur_sigma):
        x = image + step_size * grad
        x = 0.5 + (x - 0.5) * (1.0 - decay)
        do_blur = tf.logical_and(blur_every > 0, (step_index + 1) % tf.maximum(blur_every, 1) == 0)
        x = tf.cond(do_blur, lambda: gaussian_blur(x, blur_sigma), lambda: x)
        return tf.clip_by_value(x, 0.0, 1.0)

    def _whole_gradient(self, image, seed, jitter, method_id):
        shape = tf.shape(image)
        height, width = shape[0], shape[1]
        rolled, shifts = self._roll(image, seed, jitter, tf.constant(0))
        grad, loss = self._tile(rolled, 0, 0, height, width, 0, 0, height, width)
        grad, pixel = self._combine(image, grad, shifts, method_id)
        return grad, loss + pixel

    def _gradient_graph(self, image, seed, jitter, method_id):
        self.trace_counts["gradient"] += 1
        return self._whole_gradient(image, seed, jitter, method_id)

    def _step_graph(self, image, step_size, seed, jitter, method_id, decay, blur_every, blur_sigma):
        """One whole untiled step in one graph: roll, gradient, roll back, normalise, update."""
        self.trace_counts["step"] += 1
        grad, loss = self._whole_gradient(image, seed, jitter, method_id)
        return self._update(image, grad, step_size, seed[1], decay, blur_every, blur_sigma), loss

    # --- the tiled path (Python loop over compiled tiles) ------------------------------------------
    def _tiled_gradient(self, image: tf.Tensor, seed, jitter: int, tile: int) -> tuple[tf.Tensor, tf.Tensor, float]:
        """The rolled feature gradient, tile by tile. Returns (rolled gradient, shifts, summed tile loss)."""
        height, width = int(image.shape[0]), int(image.shape[1])
        rolled, shifts = self._roll_fn(image, seed, tf.constant(jitter), tf.constant(tile))
        tile_h, tile_w = min(tile, height), min(tile, width)
        # Objectives are means over positions: a tile's mean weighs its positions by 1 / tile area,
        # the whole image's by 1 / image area. Scaling by the tile's share of the image keeps tiled
        # gradients (and values) on the untiled scale, so pixel terms keep their relative weight.
        weight = tf.constant(tile_h * tile_w / (height * width), tf.float32)
        strips = []
        total = 0.0
        for own_y in range(0, height, tile_h):
            # The last tile is moved back to end at the border and contributes only its new rows.
            top = min(own_y, height - tile_h)
            own_h = min(tile_h, height - own_y)
            pieces = []
            for own_x in range(0, width, tile_w):
                left = min(own_x, width - tile_w)
                own_w = min(tile_w, width - own_x)
                args = (top, left, tile_h, tile_w, own_y - top, own_x - left, own_h, own_w)
                piece, loss = self._tile_fn(rolled, *(tf.constant(a, tf.int32) for a in args), weight)
                pieces.append(piece)
                total += float(loss)
            strips.append(pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=1))
            del pieces
        # Free each full-size buffer as soon as it is used up (a 4096 px image is 200 MB per copy).
        del rolled
        rolled_grad = strips[0] if len(strips) == 1 else tf.concat(strips, axis=0)
        del strips
        return rolled_grad, shifts, total

    # --- public calls ------------------------------------------------------------------------------
    def step(
        self,
        image,
        *,
        step_size: float = 0.01,
        seed: int = 0,
        step_index: int = 0,
        jitter: int = 32,
        tile_size: int | None = None,
        normalize: str = "std",
        decay: float = 0.0,
        blur_every: int = 0,
        blur_sigma: float = 0.5,
    ) -> tuple[tf.Tensor, float]:
        """One gradient-ascent step.

        Args:
            image: [H, W, 3] float32 in [0, 1] (array or tensor).
            step_size, jitter, tile_size, normalize, decay, blur_every, blur_sigma: as in ``dream``.
            seed: random seed; with ``step_index`` it fixes this step's random roll.
            step_index: index of this step in the run (consecutive steps use consecutive indices).

        Returns:
            (new image as a tf.Tensor [H, W, 3], objective value before the step, summed over tiles).
        """
        image = tf.convert_to_tensor(image, tf.float32)
        seed_pair = tf.constant([_seed_int(seed), int(step_index)], tf.int32)
        method_id = tf.constant(NORMALIZERS.index(_check_normalize(normalize)), tf.int32)
        settings = (
            tf.constant(float(step_size), tf.float32),
            tf.constant(int(step_index), tf.int32),
            tf.constant(float(decay), tf.float32),
            tf.constant(int(blur_every), tf.int32),
            tf.constant(float(blur_sigma), tf.float32),
        )
        if not tile_size:
            new, loss = self._step_fn(image, settings[0], seed_pair, tf.constant(int(jitter)), method_id, *settings[2:])
            return new, float(loss)
        rolled_grad, shifts, loss = self._tiled_gradient(image, seed_pair, int(jitter), int(tile_size))
        new, pixel = self._finish_fn(image, rolled_grad, shifts, method_id, *settings)
        return new, loss + float(pixel)

    def gradient(
        self,
        image,
        *,
        seed: int = 0,
        step_index: int = 0,
        jitter: int = 0,
        tile_size: int | None = None,
        normalize: str = "none",
    ) -> np.ndarray:
        """The ascent direction a step would use (for tests, benchmarks and visualisation).

        Args:
            image: [H, W, 3] float32 in [0, 1].
            seed, step_index: fix the random roll (as in ``step``).
            jitter: random roll in pixels (0: none).
            tile_size: tile side (None: whole image).
            normalize: ``none`` (raw gradient, default) or another of NORMALIZERS.

        Returns:
            float32 [H, W, 3].
        """
        image = tf.convert_to_tensor(image, tf.float32)
        seed_pair = tf.constant([_seed_int(seed), int(step_index)], tf.int32)
        method_id = tf.constant(NORMALIZERS.index(_check_normalize(normalize)), tf.int32)
        if not tile_size:
            grad, _ = self._gradient_fn(image, seed_pair, tf.constant(int(jitter)), method_id)
        else:
            rolled_grad, shifts, _ = self._tiled_gradient(image, seed_pair, int(jitter), int(tile_size))
            grad, _ = self._combine_fn(image, rolled_grad, shifts, method_id)
        return grad.numpy()


def get_dreamer(model, objective: Objective) -> Dreamer:
    """The Dreamer for this model and objective, built once and then reused.

    The cache lives on the objective (it goes away with it), keyed by the model.
    """
    cache = objective.__dict__.setdefault("_cadl_dreamers", {})
    entry = cache.get(id(model))
    if entry is not None and entry.model is model:
        entry.objective.validate(model)
        return entry
    dreamer = Dreamer(model, objective)
    cache[id(model)] = dreamer
    return dreamer


# --- parameter checks --------------------------------------------------------------------------------


def _seed_int(seed) -> int:
    """A seed that fits the int32 stateless RNG seed."""
    return int(seed) % (2**31 - 1)


def _check_normalize(method) -> str:
    name = str(method).strip().lower()
    if name not in NORMALIZERS:
        raise ParameterError(f"unknown gradient normalisation {method!r}: use one of {', '.join(NORMALIZERS)}")
    return name


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _check_int(value, name: str, minimum: int, fix: str) -> int:
    if not _is_int(value) or int(value) < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}; {fix}")
    return int(value)


def _check_float(value, name: str, fix: str, *, above: float | None = None, at_least: float | None = None,
                 below: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise ParameterError(f"{name} must be a finite number, got {value!r}; {fix}")
    value = float(value)
    if above is not None and not value > above:
        raise ParameterError(f"{name} must be greater than {above:g}, got {value:g}; {fix}")
    if at_least is not None and not value >= at_least:
        raise ParameterError(f"{name} must be at least {at_least:g}, got {value:g}; {fix}")
    if below is not None and not value < below:
        raise ParameterError(f"{name} must be less than {below:g}, got {value:g}; {fix}")
    return value


@dataclass(frozen=True)
class _Settings:
    """Checked step settings shared by the loops."""

    step_size: float
    jitter: int
    tile_size: int | None
    normalize: str
    decay: float
    blur_every: int
    blur_sigma: float
    seed: int


def _check_settings(step_size, jitter, tile_size, normalize, decay, blur_every, blur_sigma, seed) -> _Settings:
    step_size = _check_float(step_size, "step_size", "use a small positive number such as 0.01", above=0.0)
    jitter = _check_int(jitter, "jitter", 0, "use 0 (no roll) or a few pixels such as 32")
    if tile_size is not None and tile_size != 0:
        tile_size = _check_int(
            tile_size, "tile_size", MIN_TILE, f"use None (no tiles) or {MIN_TILE} px or more, e.g. 512"
        )
    else:
        tile_size = None
    decay = _check_float(decay, "decay", "use 0 (none) or a small fraction such as 0.01", at_least=0.0, below=1.0)
    blur_every = _check_int(blur_every, "blur_every", 0, "use 0 (never) or a step count such as 10")
    blur_sigma = _check_float(blur_sigma, "blur_sigma", "use a value between 0.3 and 2", above=0.0)
    if blur_sigma > 2.0:
        raise ParameterError(f"blur_sigma must be at most 2 px, got {blur_sigma:g}; blur several times instead")
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    elif not _is_int(seed):
        raise ParameterError(f"seed must be an integer or None, got {seed!r}")
    return _Settings(step_size, jitter, tile_size, _check_normalize(normalize), decay, blur_every, blur_sigma, int(seed))


def required_side(model, objective: Objective) -> int:
    """The smallest image side the objective's layers can be computed on (at least MIN_IMAGE)."""
    need = MIN_IMAGE
    for name in objective.layers:
        need = max(need, int(model.min_size(name)))
    return need


def _check_size(model, objective: Objective, height: int, width: int, what: str) -> None:
    """Raise ImageTooSmallError unless every layer of the objective works at height x width."""
    need = required_side(model, objective)
    if min(height, width) < need:
        raise ImageTooSmallError(
            f"the {what} is {height}x{width} px but the objective ({objective.describe()}) needs at least "
            f"{need} px on each side; use a larger image (e.g. size={max(need, 224)}), a larger tile, "
            "fewer octaves or an earlier layer"
        )
    check = getattr(model, "check_size", None)
    if check is not None:
        for name in objective.layers:
            check(name, int(height), int(width))


def _check_tile(model, objective: Objective, settings: _Settings, height: int, width: int) -> None:
    if settings.tile_size is None:
        return
    tile_h, tile_w = min(settings.tile_size, height), min(settings.tile_size, width)
    if (tile_h, tile_w) != (height, width):
        _check_size(model, objective, tile_h, tile_w, f"tile ({settings.tile_size} px)")


# --- octaves ---------------------------------------------------------------------------------------


def octave_sizes(hw: tuple[int, int], octaves: int, scale: float, min_side: int = 1) -> list[tuple[int, int]]:
    """Image sizes of the octaves, smallest first, ending with ``hw`` itself.

    Octave k (counting down from the full size) is ``hw / scale**k``, rounded. Octaves whose short
    side would fall below ``min_side`` are left out (so at least the full size remains).

    Args:
        hw: (height, width) of the full image.
        octaves: number of octaves (>= 1).
        scale: size ratio between neighbouring octaves (> 1).
        min_side: smallest allowed short side.

    Returns:
        List of (height, width), increasing, without repeats.
    """
    octaves = _check_int(octaves, "octaves", 1, "use 1 (no octaves) or a small number such as 4")
    scale = _check_float(scale, "octave_scale", "use a ratio such as 1.4", above=1.0)
    height, width = int(hw[0]), int(hw[1])
    sizes: list[tuple[int, int]] = []
    for k in range(octaves - 1, -1, -1):
        size = (max(1, round(height / scale**k)), max(1, round(width / scale**k)))
        if k > 0 and min(size) < min_side:
            continue
        if sizes and sizes[-1] == size:
            continue
        sizes.append(size)
    return sizes


def _resize(image: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    return tf.image.resize(image, size, method="bilinear", antialias=True)


# --- zoom ------------------------------------------------------------------------------------------


def zoom_margins(hw: tuple[int, int], margin: float) -> tuple[float, float]:
    """Pixels cropped at each end of the height and of the width for one zoom step.

    Args:
        hw: (height, width).
        margin: a fraction of the side if below 1 (e.g. 0.02), else pixels cut from each end of the
            SHORT side; the long side is cut in proportion so the aspect ratio is kept.

    Returns:
        (margin_y, margin_x) in pixels (fractional values are fine: the crop is resampled).
    """
    height, width = int(hw[0]), int(hw[1])
    margin = _check_float(margin, "margin", "use a fraction such as 0.02 or a few pixels such as 4", above=0.0)
    if margin < 1.0:
        margin_y, margin_x = margin * height, margin * width
    else:
        short = min(height, width)
        margin_y, margin_x = margin * height / short, margin * width / short
    if 2 * margin_y >= height - 1 or 2 * margin_x >= width - 1:
        raise ParameterError(
            f"zoom margin {margin:g} is too large for a {height}x{width} image: it must be less than half "
            "of each side; use a small fraction such as 0.02 or a few pixels"
        )
    return margin_y, margin_x


def _zoom_tensor(image: tf.Tensor, margin_y: float, margin_x: float, center: tuple[float, float]) -> tf.Tensor:
    """Crop [H, W, 3] by the margins around ``center`` and resample back to [H, W, 3]."""
    height, width = int(image.shape[0]), int(image.shape[1])
    crop_h, crop_w = height - 2 * margin_y, width - 2 * margin_x
    # Window centred on the zoom centre, kept inside the image. Coordinates are pixel centres.
    top = min(max(center[0] * height - crop_h / 2, 0.0), height - crop_h)
    left = min(max(center[1] * width - crop_w / 2, 0.0), width - crop_w)
    box = [
        top / (height - 1),
        left / (width - 1),
        (top + crop_h - 1) / (height - 1),
        (left + crop_w - 1) / (width - 1),
    ]
    zoomed = tf.image.crop_and_resize(image[None], [box], [0], [height, width], method="bilinear")
    return tf.clip_by_value(zoomed[0], 0.0, 1.0)


def zoom_crop(image, margin: float = 0.02, center: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """One fractal-zoom step: crop every margin, resize back to the same size.

    Args:
        image: [H, W, 3] float in [0, 1].
        margin: fraction (< 1) or pixels of the short side cut at each end (see ``zoom_margins``).
        center: (y, x) of the zoom centre as fractions of height and width; the crop window is
            centred there (moved inside the image when it would stick out).

    Returns:
        float32 [H, W, 3], the same size as ``image``.
    """
    array = as_image(image, "image to zoom")
    margin_y, margin_x = zoom_margins(array.shape[:2], margin)
    return _zoom_tensor(tf.constant(array), margin_y, margin_x, _check_center(center)).numpy()


# --- models ----------------------------------------------------------------------------------------


def default_model(weights: str | None = None):
    """inception5h with the configured weights (``CADL_WEIGHTS``), loaded once per process."""
    try:
        from .models import load_model
    except ImportError:  # pragma: no cover - before the models package offers load_model
        from .models.inception5h import load_inception5h

        return load_inception5h(weights=weights)
    return load_model("inception5h", weights=weights)


# --- the loops -------------------------------------------------------------------------------------


class _Runner:
    """Runs steps from Python: progress bar, callback, global step count and interruption."""

    def __init__(self, dreamer: Dreamer, settings: _Settings, total: int, progress, callback, desc: str):
        self.dreamer = dreamer
        self.settings = settings
        self.total = total
        self.callback = callback
        self.done = 0
        # The image after the last finished step. ``steps`` cannot return it when Ctrl-C (or the
        # callback) interrupts it, so the interrupt path reads it here instead of losing those steps.
        self.latest: tf.Tensor | None = None
        self.bar = _progress_bar(progress, total, desc)

    def steps(self, x: tf.Tensor, count: int, octave: int = 0, frame: int | None = None) -> tf.Tensor:
        """Take ``count`` steps on x (a tf.Tensor; it stays one between steps, no copies).

        ``self.latest`` is x on entry and then the image after each finished step.
        """
        s = self.settings
        self.latest = x
        for _ in range(count):
            x, loss = self.dreamer.step(
                x, step_size=s.step_size, seed=s.seed, step_index=self.done, jitter=s.jitter,
                tile_size=s.tile_size, normalize=s.normalize, decay=s.decay, blur_every=s.blur_every,
                blur_sigma=s.blur_sigma,
            )  # fmt: skip
            self.latest = x
            self.done += 1
            if self.bar is not None:
                self.bar.update(1)
            if self.callback is not None:
                info = StepInfo(self.done, self.total, x.numpy(), loss, octave, frame)
                if self.callback(info) is False:
                    raise _Stop()
        return x

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _progress_bar(progress, total: int, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", leave=False)


def _octave_dream(runner: _Runner, image: np.ndarray, sizes: list[tuple[int, int]], steps: int, frame=None):
    """Dream over octaves, smallest first, keeping the detail each downscale lost.

    Returns the final full-size image as a tf.Tensor; on interruption the image after the last
    finished step is attached to the exception as ``partial`` (resized to the full size), so that
    nothing is lost.
    """
    # Forget the previous call's image (the frame loops call this once per frame).
    runner.latest = None
    full = tf.constant(image)
    # Detail (high frequencies) lost by each downscale, re-added after each upscale.
    details = []
    current = full
    for size in reversed(sizes[:-1]):
        low = _resize(current, size)
        details.append(current - _resize(low, current.shape[:2]))
        current = low
    details.reverse()
    x = current
    try:
        for octave, size in enumerate(sizes):
            if octave > 0:
                x = tf.clip_by_value(_resize(x, size) + details[octave - 1], 0.0, 1.0)
            x = runner.steps(x, steps, octave, frame)
    except (KeyboardInterrupt, _Stop) as stop:
        # ``x = runner.steps(...)`` never completed: the steps it took are only in runner.latest.
        if runner.latest is not None:
            x = runner.latest
        if tuple(x.shape[:2]) != tuple(image.shape[:2]):
            x = tf.clip_by_value(_resize(x, image.shape[:2]), 0.0, 1.0)
        stop.partial = x  # type: ignore[attr-defined]
        raise
    return x


def _prepare(image, objective, model, settings, octaves, octave_scale):
    """Load the default model, check the objective and sizes; returns (model, dreamer, array, sizes)."""
    # The octave options are checked here (octave_sizes checks them again) so that a bad value fails
    # before the image and the model are loaded.
    _check_int(octaves, "octaves", 1, "use 1 (no octaves) or a small number such as 4")
    _check_float(octave_scale, "octave_scale", "use a ratio such as 1.4", above=1.0)
    if not isinstance(objective, Objective):
        raise ParameterError(
            f"objective must be a cadl_utils.objectives.Objective, got {type(objective).__name__}; "
            "build one with neuron(...), channel(...) or layer(...)"
        )
    array = as_image(image, "input image")
    if model is None:
        model = default_model()
    dreamer = get_dreamer(model, objective)
    height, width = array.shape[:2]
    _check_size(model, objective, height, width, "image")
    _check_tile(model, objective, settings, height, width)
    need = required_side(model, objective)
    sizes = octave_sizes((height, width), octaves, octave_scale, min_side=need)
    for size in sizes:
        _check_size(model, objective, size[0], size[1], f"octave {size[0]}x{size[1]}")
        _check_tile(model, objective, settings, *size)
    return model, dreamer, array, sizes


def dream(
    image,
    objective: Objective,
    model=None,
    steps: int = 10,
    step_size: float = 0.01,
    octaves: int = 4,
    octave_scale: float = 1.4,
    tile_size: int | None = None,
    jitter: int = 32,
    normalize: str = "std",
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable[[StepInfo], object] | None = None,
    *,
    decay: float = 0.0,
    blur_every: int = 0,
    blur_sigma: float = 0.5,
) -> DreamImage:
    """Deep Dream one image: gradient ascent of ``objective`` over octaves.

    Args:
        image: [H, W, 3] float32 in [0, 1] (or uint8, or a file path).
        objective: what to maximise (``neuron``, ``channel``, ``layer`` or a weighted sum).
        model: a cadl_utils Model; None loads inception5h (``CADL_WEIGHTS`` decides the weights).
        steps: gradient steps PER OCTAVE (>= 1).
        step_size: how far each normalised step moves the pixels (image range 0..1; > 0).
        octaves: number of scales (>= 1); octaves too small for the objective's layers are skipped.
        octave_scale: size ratio between octaves (> 1).
        tile_size: compute gradients in tiles of this many pixels (>= 32) to bound memory on large
            images; None for the whole image at once.
        jitter: random roll of up to this many pixels each step (0: none).
        normalize: ``std``, ``maxabs``, ``laplacian`` or ``none`` (see ``normalize_gradient``).
        seed: random seed (None: a fresh one); the same seed gives the same picture.
        progress: show a tqdm progress bar.
        callback: called with a ``StepInfo`` after every step; returning False stops the run.
        decay: pull pixels towards grey by this fraction each step (0: off).
        blur_every: blur the image every this many steps (0: never) with ``blur_sigma`` px.
        blur_sigma: blur strength in pixels (<= 2).

    Returns:
        A ``DreamImage`` (float32 [H, W, 3] in [0, 1], the input's size) with ``interrupted`` and
        ``steps_done``; after Ctrl-C it holds the image as far as it got.

    Raises:
        ParameterError: a parameter out of range (the message says which and what to use).
        LayerError: unknown layer/label/index, or an image too small for the layers
            (``ImageTooSmallError`` is both).
    """
    settings = _check_settings(step_size, jitter, tile_size, normalize, decay, blur_every, blur_sigma, seed)
    steps = _check_int(steps, "steps", 1, "use 1 or more, e.g. 10")
    model, dreamer, array, sizes = _prepare(image, objective, model, settings, octaves, octave_scale)
    runner = _Runner(dreamer, settings, steps * len(sizes), progress, callback, "dream")
    interrupted = False
    try:
        result = _octave_dream(runner, array, sizes, steps)
    except (KeyboardInterrupt, _Stop) as stop:
        result = stop.partial  # type: ignore[attr-defined]
        interrupted = True
    finally:
        runner.close()
    out = np.ascontiguousarray(result.numpy(), np.float32).view(DreamImage)
    out.interrupted = interrupted
    out.steps_done = runner.done
    return out


def _frame_loop(image, objective, model, frames, steps_per_frame, settings, octaves, octave_scale,
                progress, callback, desc, transform=None, include_start=False) -> Frames:
    """Shared loop of feedback_loop and fractal_zoom: dream, record a frame, transform, repeat."""
    frames = _check_int(frames, "frames", 1, "use 1 or more, e.g. 30")
    steps_per_frame = _check_int(steps_per_frame, "steps_per_frame", 1, "use 1 or more, e.g. 5")
    model, dreamer, array, sizes = _prepare(image, objective, model, settings, octaves, octave_scale)
    if transform is not None:
        transform = transform(array.shape[:2])
    runner = _Runner(dreamer, settings, frames * steps_per_frame * len(sizes), progress, callback, desc)
    result = Frames([array.copy()] if include_start else [])
    x = tf.constant(array)
    try:
        for index in range(frames):
            x = _octave_dream(runner, x.numpy(), sizes, steps_per_frame, frame=index)
            result.append(np.ascontiguousarray(x.numpy(), np.float32))
            if transform is not None and index + 1 < frames:
                x = transform(x)
    except (KeyboardInterrupt, _Stop):
        result.interrupted = True
    finally:
        runner.close()
    result.steps_done = runner.done
    return result


def feedback_loop(
    image,
    objective: Objective,
    model=None,
    frames: int = 30,
    steps_per_frame: int = 5,
    step_size: float = 0.01,
    octaves: int = 1,
    octave_scale: float = 1.4,
    tile_size: int | None = None,
    jitter: int = 32,
    normalize: str = "std",
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable[[StepInfo], object] | None = None,
    *,
    decay: float = 0.0,
    blur_every: int = 0,
    blur_sigma: float = 0.5,
    include_start: bool = False,
) -> Frames:
    """Add a small part of the gradient to the image again and again, keeping a frame every few steps.

    With ``neuron("jellyfish")`` on softmax2 this is the course's "softmax" result. Each frame is
    ``dream(previous frame, steps=steps_per_frame, octaves=octaves, ...)``.

    Args:
        image, objective, model, step_size, octave_scale, tile_size, jitter, normalize, seed,
            progress, decay, blur_every, blur_sigma: as in ``dream``.
        frames: number of frames to return (>= 1).
        steps_per_frame: gradient steps (per octave) between frames (>= 1).
        octaves: octaves per frame (default 1: every step at full size).
        callback: called with a ``StepInfo`` (``frame`` set) after every step; False stops.
        include_start: put the input image first (then ``frames + 1`` frames are returned).

    Returns:
        ``Frames``: a list of float32 [H, W, 3] images with ``interrupted`` and ``steps_done``;
        after Ctrl-C it holds the frames finished so far (the frame being rendered is dropped).
    """
    settings = _check_settings(step_size, jitter, tile_size, normalize, decay, blur_every, blur_sigma, seed)
    return _frame_loop(image, objective, model, frames, steps_per_frame, settings, octaves, octave_scale,
                       progress, callback, "feedback", include_start=include_start)  # fmt: skip


def fractal_zoom(
    image,
    objective: Objective,
    model=None,
    frames: int = 30,
    steps_per_frame: int = 5,
    margin: float = 0.02,
    center: tuple[float, float] = (0.5, 0.5),
    step_size: float = 0.01,
    octaves: int = 1,
    octave_scale: float = 1.4,
    tile_size: int | None = None,
    jitter: int = 32,
    normalize: str = "std",
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable[[StepInfo], object] | None = None,
    *,
    decay: float = 0.0,
    blur_every: int = 0,
    blur_sigma: float = 0.5,
    include_start: bool = False,
) -> Frames:
    """The feedback loop with a zoom: after each frame, crop every margin and resize back.

    The course's "fractal" result: the dream keeps growing new detail as it zooms in forever.

    Args:
        image, objective, model, frames, steps_per_frame, step_size, octaves, octave_scale,
            tile_size, jitter, normalize, seed, progress, callback, decay, blur_every, blur_sigma,
            include_start: as in ``feedback_loop``.
        margin: cut at each end per frame: a fraction of the side if below 1 (0.02 = 2 %), else
            pixels of the short side (the long side in proportion); must be under half the image.
        center: (y, x) zoom centre as fractions of height and width.

    Returns:
        ``Frames`` (see ``feedback_loop``); every frame has the input's size.
    """
    settings = _check_settings(step_size, jitter, tile_size, normalize, decay, blur_every, blur_sigma, seed)
    center = _check_center(center)

    def make_transform(hw):
        margin_y, margin_x = zoom_margins(hw, margin)
        return lambda x: _zoom_tensor(x, margin_y, margin_x, center)

    return _frame_loop(image, objective, model, frames, steps_per_frame, settings, octaves, octave_scale,
                       progress, callback, "zoom", transform=make_transform, include_start=include_start)  # fmt: skip


# --- outputs ---------------------------------------------------------------------------------------


def save_frames(frames: Sequence[np.ndarray], path, duration_ms: int = 100, *, inputs=()) -> Path:
    """Write frames as an animated GIF (``.gif``) or a video (``.mp4``), atomically.

    Args:
        frames: list of [H, W, 3] images in [0, 1], all one size.
        path: output file; the extension picks the format.
        duration_ms: display time per frame (the MP4 frame rate is 1000 / duration_ms).
        inputs: source files that must not be overwritten.

    Returns:
        The written Path.
    """
    from . import images

    target = Path(path)
    if target.suffix.lower() == ".mp4":
        return images.save_mp4(list(frames), target, fps=1000.0 / duration_ms, inputs=inputs)
    return images.save_gif(list(frames), target, duration_ms=duration_ms, inputs=inputs)


# --- command line ----------------------------------------------------------------------------------

DEFAULT_SAMPLE = "cat"


def _resolve_input(name: str | None) -> Path:
    """A sample image name (``cat``, ``coffee``...) or a file path."""
    from .images import sample_images

    samples = sample_images("photo")
    if name is None:
        return samples.get(DEFAULT_SAMPLE) or next(iter(samples.values()))
    if name in samples:
        return samples[name]
    path = Path(name).expanduser()
    if not path.exists():
        raise ImageError(
            f"no image file {name!r} and no sample of that name; give a path or one of: {', '.join(samples)}"
        )
    return path


def _cli_objective(args, model) -> Objective:
    """The objective named by --layer / --neuron / --channel / --mean."""
    from . import objectives

    layer_name = args.layer
    if layer_name is None:
        softmaxes = model.layer_names("softmax")
        layer_name = "softmax2" if "softmax2" in softmaxes else (softmaxes[-1] if softmaxes else model.layers[-1].name)
    kind = model.layer(layer_name).kind
    neuron_target = args.neuron
    if isinstance(neuron_target, str) and neuron_target.strip().isdigit():
        neuron_target = int(neuron_target)
    if args.channel is not None:
        return objectives.channel(layer_name, args.channel, model=model)
    if args.mean:
        return objectives.layer(layer_name, model=model)
    if kind in ("softmax", "logits"):
        return objectives.neuron(neuron_target if neuron_target is not None else "jellyfish", layer_name, model=model)
    if neuron_target is not None:
        return objectives.neuron(neuron_target, layer_name, model=model)
    return objectives.layer(layer_name, model=model)


def _cli_image(args, model, objective) -> tuple[np.ndarray, Path]:
    """Load the input at --size (raised to what the objective needs when --size was not given)."""
    from .config import profile
    from .images import load_image

    source = _resolve_input(args.image)
    size = args.size if args.size is not None else profile().size
    if isinstance(size, int) and size < MIN_IMAGE:
        raise ParameterError(f"--size must be at least {MIN_IMAGE} px, got {size}")
    image = load_image(source, size=size)
    need = required_side(model, objective)
    if args.size is None and min(image.shape[:2]) < need:
        scale = need / min(image.shape[:2])
        image = load_image(source, size=int(math.ceil(max(image.shape[:2]) * scale)))
        print(f"note: {objective.describe()} needs at least {need} px per side; using {image.shape[1]}x{image.shape[0]}")
    return image, source


def _cli_model(args):
    from .models import load_model

    kwargs = {"dtype": args.dtype} if args.dtype != "float32" else {}
    model = load_model(args.model, args.weights, **kwargs)
    from .cli import announce_model

    announce_model(model)
    return model


def _default_out(command: str, source: Path, frames: int) -> Path:
    suffix = ".gif" if frames > 1 else ".png"
    return Path("outputs") / f"{command}-{source.stem}{suffix}"


def _is_animation(out: Path) -> bool:
    """True for outputs that hold all frames (a .png of the last frame is written next to them)."""
    return out.suffix.lower() in (".gif", ".mp4")


def _write_results(result: Frames, out: Path, source: Path, duration_ms: int) -> list[Path]:
    """Write the frames (GIF/MP4) or the single image (PNG...) and the last frame next to a GIF."""
    from .images import save_image

    written: list[Path] = []
    if not result:
        return written
    if _is_animation(out):
        written.append(save_frames(result, out, duration_ms, inputs=(source,)))
        still = out.with_suffix(".png")
        written.append(save_image(result[-1], still, inputs=(source,)))
    else:
        written.append(save_image(result[-1], out, inputs=(source,)))
    return written


def _check_outputs(out: Path, source: Path) -> None:
    """Fail before rendering (not after) when an output cannot be written or would replace the input."""
    from .files import check_output_paths

    if out.suffix.lower() not in (".gif", ".mp4", ".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"):
        raise ParameterError(f"--out {out} has no known extension: end it in .gif, .mp4 or .png")
    check_output_paths([out, out.with_suffix(".png")] if _is_animation(out) else [out], inputs=(source,))


def _run_cli(args, command: str) -> int:
    settings_seed = args.seed
    # Checked here so the message names the option the user typed, not the API's steps_per_frame.
    _check_int(args.steps, "--steps", 1, "use 1 or more, e.g. 5")
    model = _cli_model(args)
    objective = _cli_objective(args, model)
    image, source = _cli_image(args, model, objective)
    out = Path(args.out) if args.out else _default_out(command, source, args.frames)
    _check_outputs(out, source)
    print(f"{command}: {objective.describe()} on {source.name} ({image.shape[1]}x{image.shape[0]}), "
          f"{args.frames} frame(s) x {args.steps} step(s)")  # fmt: skip
    common = dict(
        frames=args.frames, steps_per_frame=args.steps, step_size=args.step_size, octaves=args.octaves,
        octave_scale=args.octave_scale, tile_size=args.tile_size, jitter=args.jitter, normalize=args.normalize,
        seed=settings_seed, progress=not args.no_progress, decay=args.decay, blur_every=args.blur_every,
        blur_sigma=args.blur_sigma,
    )  # fmt: skip
    started = time.perf_counter()
    if command == "zoom":
        result = fractal_zoom(image, objective, model, margin=args.margin, center=tuple(args.center), **common)
    else:
        result = feedback_loop(image, objective, model, **common)
    elapsed = time.perf_counter() - started
    for path in _write_results(result, out, source, args.duration_ms):
        print(f"wrote {path}")
    if result.interrupted:
        kept = f"{len(result)} finished frame(s) were saved" if result else "no frame was finished, nothing saved"
        print(f"interrupted after {result.steps_done} steps: {kept}", file=sys.stderr)
        return 130
    print(f"done: {result.steps_done} steps in {elapsed:.1f} s")
    return 0


def _add_common_options(parser: argparse.ArgumentParser, frames_default: int, steps_default: int) -> None:
    from .models import MODEL_NAMES

    parser.add_argument("image", nargs="?", default=None,
                        help=f"input image: a file path or a sample name (cat, coffee, astronaut, rocket); default {DEFAULT_SAMPLE}")
    parser.add_argument("--model", default="inception5h", choices=MODEL_NAMES, help="network (default inception5h)")
    parser.add_argument("--weights", default=None,
                        help="pretrained | untrained | auto (default: $CADL_WEIGHTS, else pretrained)")
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"),
                        help="compute dtype of inception5h (bfloat16 is faster on CPUs with AVX512_BF16)")
    parser.add_argument("--size", type=int, default=None,
                        help="long side of the working image in px (default: the profile's, 512 or 128 with "
                             "CADL_PROFILE=quick, raised to what the layer needs)")
    parser.add_argument("--layer", default=None,
                        help="layer to dream with (default softmax2; list them with 'python -m cadl_utils layers')")
    parser.add_argument("--neuron", default=None,
                        help="class label or index for a softmax/logits layer (default jellyfish)")
    parser.add_argument("--channel", type=int, default=None,
                        help="maximise this channel of --layer (a ReLU conv layer is read before its ReLU)")
    parser.add_argument("--mean", action="store_true", help="maximise the mean activation of the whole --layer")
    parser.add_argument("--frames", type=int, default=frames_default,
                        help=f"frames to render (default {frames_default}; the profile's). 1 writes one image")
    parser.add_argument("--steps", type=int, default=steps_default,
                        help=f"gradient steps per frame and octave (default {steps_default})")
    parser.add_argument("--step-size", type=float, default=0.01, help="step size in image units 0..1 (default 0.01)")
    parser.add_argument("--octaves", type=int, default=1, help="octaves per frame (default 1; 4 for a classic dream)")
    parser.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (default 1.4)")
    parser.add_argument("--tile-size", type=int, default=None,
                        help=f"compute gradients in tiles of this many px (>= {MIN_TILE}) for large images (default: no tiles)")
    parser.add_argument("--jitter", type=int, default=32, help="random roll per step in px (default 32)")
    parser.add_argument("--normalize", default="std", choices=NORMALIZERS, help="gradient normalisation (default std)")
    parser.add_argument("--decay", type=float, default=0.0, help="pull towards grey per step, e.g. 0.01 (default 0)")
    parser.add_argument("--blur-every", type=int, default=0, help="blur every N steps (default 0: never)")
    parser.add_argument("--blur-sigma", type=float, default=0.5, help="blur strength in px (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same result (default 0)")
    parser.add_argument("--duration-ms", type=int, default=100, help="display time of each GIF frame (default 100)")
    parser.add_argument("--out", default=None,
                        help="output file: .gif or .mp4 for frames (a .png of the last frame is written next to it), "
                             ".png/.jpg for one image (default outputs/<command>-<image>.gif)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_cli(subparsers) -> None:
    """Add the ``dream`` (feedback loop / single dream) and ``zoom`` (fractal zoom) sub-commands."""
    from .config import profile

    active = profile()
    frames_default = active.frames
    steps_default = max(1, active.steps // 20)
    dream_parser = subparsers.add_parser(
        "dream",
        help="Deep Dream: the feedback loop as a GIF (default: jellyfish neuron of softmax2)",
        description="Deep Dream an image. Each frame adds --steps small gradient steps to the previous one "
        "(the course's 'softmax' result with the defaults); --frames 1 --octaves 4 --steps 10 makes a classic "
        "single Deep Dream picture. Ctrl-C stops and saves the frames finished so far.",
    )
    _add_common_options(dream_parser, frames_default, steps_default)
    dream_parser.set_defaults(func=lambda args: _run_cli(args, "dream"))

    zoom_parser = subparsers.add_parser(
        "zoom",
        help="fractal zoom: dream, crop every margin, resize back, repeat (a GIF)",
        description="Fractal zoom: after each frame's steps the image is cropped at every margin around "
        "--center and resized back to its size, so the dream zooms in forever. Ctrl-C stops and saves the "
        "frames finished so far.",
    )
    _add_common_options(zoom_parser, frames_default, steps_default)
    zoom_parser.add_argument("--margin", type=float, default=0.02,
                             help="cut at each end per frame: a fraction below 1 (default 0.02), else pixels")
    zoom_parser.add_argument("--center", type=float, nargs=2, default=(0.5, 0.5), metavar=("Y", "X"),
                             help="zoom centre as fractions of height and width (default 0.5 0.5)")
    zoom_parser.set_defaults(func=lambda args: _run_cli(args, "zoom"))
