"""Deep Dream: gradient ascent on an image, with octaves, tiles, the feedback loop and fractal zoom.

One step (``Dreamer.step``) rolls the image by a random offset (jitter, plus a random tile offset
when tiling, so borders never stay in one place), takes the gradient of ``objective.feature_loss``
for the whole image or in tiles (``TILE_BATCH`` tiles' activations in memory at a time), rolls it back, adds
the gradient of ``objective.pixel_loss`` on the un-rolled image, normalises it, zeroes non-finite
values and adds ``step_size`` times it; then optional decay and blur, and clipping to [0, 1]. The
compiled functions take only tensors with open sizes: new step sizes, images, sizes, tile sizes or
normalisations never recompile them. All tiles have one shape; the last row and column are moved
back to end at the border and keep only their new pixels, so each pixel has exactly one tile.

``dream``, ``feedback_loop`` and ``fractal_zoom`` take a ``DreamSettings`` (or its fields as keywords),
return a ``runs.Result`` and call ``callback(StepInfo)`` after every step. Ctrl-C (or a callback
returning False) stops them with ``interrupted=True``, keeping the picture after the last finished
step (``dream``) or the finished frames (the loops drop the frame being rendered).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .errors import LayerError, ParameterError
from .images import as_image, resize
from .objectives import Objective
from .runs import Callback, Result, StepInfo, Stop, check_finite, finish, progress_bar, report
from .settings import Settings, check_choice, check_float, check_int, check_seed, is_int, setting

NORMALIZERS = ("std", "maxabs", "laplacian", "none")
# Below these sizes tiles make seams and per-tile overhead dominates.
MIN_TILE = 32
MIN_IMAGE = 8
_EPS = 1e-8  # divisor floor of the normalisations: a zero gradient (flat image) stays zero
_LAPLACIAN_LEVELS = 4  # bands of the Laplacian pyramid (as in the classic Deep Dream notebook)
_BLUR_RADIUS = 4  # taps of the blur kernel each side (enough for sigma up to 2)
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
            self._set("octaves", check_int(self.octaves, "octaves", minimum=1, maximum=MAX_OCTAVES, fix="use e.g. 4"))
        self._set("octave_scale", check_float(self.octave_scale, "octave_scale", above=1, at_most=4, fix="use e.g. 1.4"))
        no_tiles = self.tile_size is None or (is_int(self.tile_size) and self.tile_size == 0)
        tile = None if no_tiles else check_int(self.tile_size, "tile_size", minimum=MIN_TILE, maximum=MAX_TILE,
                                               fix="use None (no tiles) or e.g. 512")  # fmt: skip
        self._set("tile_size", tile)
        self._set("jitter", check_int(self.jitter, "jitter", minimum=0, maximum=4096, fix="use 0 (no roll) or e.g. 32"))
        self._set("normalize", check_choice(self.normalize, "gradient normalisation", NORMALIZERS))
        self._set("seed", check_seed(self.seed))
        self._set("decay", check_float(self.decay, "decay", at_least=0, below=1, fix="use 0 (none) or e.g. 0.01"))
        self._set("blur_every", check_int(self.blur_every, "blur_every", minimum=0, maximum=MAX_STEPS, fix="use 0 or e.g. 10"))
        self._set("blur_sigma", check_float(self.blur_sigma, "blur_sigma", above=0, at_most=2, fix="use e.g. 0.5, or blur more often"))
        self._set("margin", check_float(self.margin, "margin", above=0, at_most=MAX_TILE, fix="use e.g. 0.02 or 4 (px)"))
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
        raise ParameterError(f"center must be (y, x) fractions between 0 and 1 such as (0.5, 0.5), got {center!r}") from None
    return cy, cx


class ImageTooSmallError(LayerError, ParameterError):
    """The image (or a tile, or an octave) is smaller than the objective's layers need (a size to change)."""


# --- gradient maths (plain TensorFlow, usable eagerly and inside tf.function) -----------------------


def _as_batch(image) -> tuple[tf.Tensor, bool]:
    image = tf.convert_to_tensor(image, tf.float32)
    return (image[None], True) if image.shape.rank == 3 else (image, False)


def laplacian_normalize(grad, levels: int = _LAPLACIAN_LEVELS) -> tf.Tensor:
    """Laplacian-pyramid normalisation of [H, W, 3] or [N, H, W, 3] (the classic notebook's ``lap_normalize``).

    Low frequencies of a raw Deep Dream gradient are weak; giving every band unit RMS makes large,
    smooth patterns instead of pixel noise. The sum is then divided by its std, like ``std``.
    """
    grad, single = _as_batch(grad)
    taps = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
    kernel = tf.constant(np.tile(np.outer(taps, taps)[:, :, None, None], (1, 1, 3, 1)))  # 5x5 binomial per channel

    def upsample(low, like):
        return tf.nn.depthwise_conv2d_backprop_input(tf.shape(like), kernel * 4.0, low, [1, 2, 2, 1], "SAME")

    bands, current = [], grad
    for _ in range(levels - 1):
        low = tf.nn.depthwise_conv2d(current, kernel, [1, 2, 2, 1], "SAME")
        bands.append(current - upsample(low, current))
        current = low
    bands.append(current)
    bands = [band / tf.maximum(tf.sqrt(tf.reduce_mean(tf.square(band))), _EPS) for band in bands]
    merged = bands[-1]
    for high in reversed(bands[:-1]):
        merged = upsample(merged, high) + high
    merged = merged / (tf.math.reduce_std(merged) + _EPS)
    return merged[0] if single else merged


def normalize_gradient(grad, method: str = "std") -> tf.Tensor:
    """Scale a gradient [H, W, 3] or [N, H, W, 3] so that ``step_size`` means the same on every image.

    ``method``: ``std`` (divide by the standard deviation), ``maxabs`` (by the largest absolute value:
    no pixel moves more than ``step_size``), ``laplacian`` (``laplacian_normalize``) or ``none``.
    NaN/Inf entries become 0 and a zero gradient stays zero.
    """
    method = check_choice(method, "gradient normalisation", NORMALIZERS)
    return _normalize_by_id(tf.convert_to_tensor(grad, tf.float32), tf.constant(NORMALIZERS.index(method)))


def _normalize_by_id(grad: tf.Tensor, method_id: tf.Tensor) -> tf.Tensor:
    """``normalize_gradient`` with the method as an int tensor (a switch inside the graph)."""
    grad = tf.where(tf.math.is_finite(grad), grad, tf.zeros_like(grad))
    branches = [  # in the order of NORMALIZERS
        lambda: grad / (tf.math.reduce_std(grad) + _EPS),
        lambda: grad / (tf.reduce_max(tf.abs(grad)) + _EPS),
        lambda: laplacian_normalize(grad),
        lambda: grad,
    ]
    return tf.switch_case(method_id, branches)


def gaussian_blur(image, sigma) -> tf.Tensor:
    """Blur float32 [H, W, 3] or [N, H, W, 3] (at least 5 px a side) with a Gaussian of ``sigma`` px
    (a float or scalar tensor, 0 < sigma <= 2); edges are mirrored."""
    image, single = _as_batch(image)
    sigma = tf.maximum(tf.cast(sigma, tf.float32), 1e-3)
    offsets = tf.range(-_BLUR_RADIUS, _BLUR_RADIUS + 1, dtype=tf.float32)
    taps = tf.exp(-0.5 * tf.square(offsets / sigma))
    taps = taps / tf.reduce_sum(taps)
    blurred = tf.pad(image, [[0, 0], [_BLUR_RADIUS] * 2, [_BLUR_RADIUS] * 2, [0, 0]], mode="SYMMETRIC")
    for shape in ([-1, 1, 1, 1], [1, -1, 1, 1]):  # a column of taps, then a row, for each channel
        blurred = tf.nn.depthwise_conv2d(blurred, tf.tile(tf.reshape(taps, shape), [1, 1, 3, 1]), [1, 1, 1, 1], "VALID")
    return blurred[0] if single else blurred


# --- the compiled step ------------------------------------------------------------------------------

_IMAGE = tf.TensorSpec([None, None, 3], tf.float32)
# ints: seed, step index, jitter, normalisation id, blur every; floats: step size, decay, blur sigma
_INTS = tf.TensorSpec([5], tf.int32)
_FLOATS = tf.TensorSpec([3], tf.float32)
_PAIR = tf.TensorSpec([2], tf.int32)
_TILES = tf.TensorSpec([None, None, None, 3], tf.float32)  # a batch of tiles of one size
# Tiles per network call: on 2 cores, 4 take 0.78x the time per tile of one by one (2: 0.87x); peak RSS +1 %.
TILE_BATCH = 4
_INT = tf.TensorSpec([], tf.int32)
_FLOAT = tf.TensorSpec([], tf.float32)


def _pack(settings: DreamSettings, index: int) -> tuple[tf.Tensor, tf.Tensor]:
    """A step's settings as the two tensors the compiled functions take (see _INTS, _FLOATS)."""
    ints = [settings.seed, index % (2**31 - 1), settings.jitter, NORMALIZERS.index(settings.normalize), settings.blur_every]
    floats = [settings.step_size, settings.decay, settings.blur_sigma]
    return tf.constant(ints, tf.int32), tf.constant(floats, tf.float32)


def _roll(image, seed, jitter, tile):
    """(image rolled by jitter plus, when tiles do not cover it, a random tile offset; the shifts).
    ``seed`` is the (seed, step index) pair of the stateless RNG."""
    size = tf.shape(image)[:2]  # (height, width): every line below works on (y, x) pairs
    draws = tf.random.stateless_uniform([4], seed=seed, minval=0, maxval=2**30, dtype=tf.int32)
    # The tile offset moves the tile grid every step (no seams). It is always drawn, so a tile
    # >= the image uses the same random numbers as no tiles at all and gives the same result.
    tiled = tf.cast(tf.logical_and(tile > 0, tile < size), tf.int32)
    shifts = (draws[:2] % (2 * jitter + 1) - jitter + tiled * (draws[2:] % tf.maximum(tile, 1))) % size
    return tf.roll(image, shifts, [0, 1]), shifts


def _update(image, grad, ints, floats):
    """Add step_size * grad, pull towards grey by ``decay``, blur when due, clip to [0, 1]."""
    x = image + floats[0] * grad
    x = 0.5 + (x - 0.5) * (1.0 - floats[1])
    blur_every = ints[4]
    do_blur = tf.logical_and(blur_every > 0, (ints[1] + 1) % tf.maximum(blur_every, 1) == 0)
    x = tf.cond(do_blur, lambda: gaussian_blur(x, floats[2]), lambda: x)
    return tf.clip_by_value(x, 0.0, 1.0)


def tile_grid(height: int, width: int, tile: int | None) -> tuple[int, int, list[tuple[int, int, int, int]]]:
    """(tile height, tile width, [(top, left, y, x)]): tiles of one size covering an image row by row (``tile``
    None: one tile). A tile's own part starts at (y, x); the last of a row or column starts earlier, at (top,
    left), to end at the border, and keeps only its new pixels, so each pixel has exactly one tile."""
    tile_h, tile_w = (height, width) if not tile else (min(tile, height), min(tile, width))
    boxes = [(min(y, height - tile_h), min(x, width - tile_w), y, x)
             for y in range(0, height, tile_h) for x in range(0, width, tile_w)]  # fmt: skip
    return tile_h, tile_w, boxes


class Dreamer:
    """The compiled gradient-ascent step for one model and one objective (get it with ``get_dreamer``).

    The objective's tf.Variables are read at run time: ``set_index`` / ``set_weight`` do not recompile.
    Untiled, a step is one call of one tf.function; tiled, a Python loop calls a compiled gradient of
    ``TILE_BATCH`` tiles at a time (oneDNN kernels run about half as fast inside a graph ``while_loop``). ``functions``
    holds the tf.functions by name; each traces once (``experimental_get_tracing_count()``).
    """

    def __init__(self, model, objective: Objective):
        _check_objective(objective)
        objective.validate(model)
        self.model, self.objective = model, objective
        self.functions = {
            "step": tf.function(self._step_graph, input_signature=[_IMAGE, _INTS, _FLOATS]),
            "gradient": tf.function(self._whole_gradient, input_signature=[_IMAGE, _INTS]),
            "roll": tf.function(_roll, input_signature=[_IMAGE, _PAIR, _INT, _INT]),
            "tiles": tf.function(self._tiles, input_signature=[_TILES, _FLOAT]),
            "combine": tf.function(self._combine, input_signature=[_IMAGE, _IMAGE, _PAIR, _INTS]),
            "finish": tf.function(self._finish_graph, input_signature=[_IMAGE, _IMAGE, _PAIR, _INTS, _FLOATS]),
        }

    # --- graph pieces (Python run at trace time) -----------------------------------------------------
    def _tiles(self, tiles, weight):
        """feature_loss gradients of a batch of tiles [k, h, w, 3], each times ``weight``: (gradients, summed loss).
        Objectives are means over the batch (``Objective.feature_loss``), so k times it is the sum of the tiles'."""
        layers = list(self.objective.layers)
        if not layers:
            return tf.zeros_like(tiles), tf.constant(0.0)
        with tf.GradientTape() as tape:
            tape.watch(tiles)
            outputs = self.model.extract(tiles, layers)
            loss = tf.cast(self.objective.feature_loss(dict(zip(layers, outputs))), tf.float32)
            loss *= tf.cast(tf.shape(tiles)[0], tf.float32) * weight
        return tape.gradient(loss, tiles, unconnected_gradients=tf.UnconnectedGradients.ZERO), loss

    def _combine(self, image, rolled_grad, shifts, ints):
        """Roll the feature gradient back, add the pixel gradient, zero non-finite values, normalise."""
        grad = tf.roll(rolled_grad, -shifts, [0, 1])
        pixel = tf.constant(0.0)
        if self.objective.uses_pixels:
            with tf.GradientTape() as tape:
                tape.watch(image)
                pixel = tf.cast(self.objective.pixel_loss(image[None]), tf.float32)
            grad += tape.gradient(pixel, image, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return _normalize_by_id(grad, ints[3]), pixel

    def _whole_gradient(self, image, ints):
        rolled, shifts = _roll(image, ints[:2], ints[2], tf.constant(0))
        grad, loss = self._tiles(tf.expand_dims(rolled, 0), 1.0)  # rolled[None]: a StridedSliceGrad
        grad = grad[0]
        grad, pixel = self._combine(image, grad, shifts, ints)
        return grad, loss + pixel

    def _step_graph(self, image, ints, floats):
        """One whole untiled step in one graph: roll, gradient, roll back, normalise, update."""
        grad, loss = self._whole_gradient(image, ints)
        return _update(image, grad, ints, floats), loss

    def _finish_graph(self, image, rolled_grad, shifts, ints, floats):
        """The tiled step's end: combine and update in one graph (fewer full-size buffers alive)."""
        grad, pixel = self._combine(image, rolled_grad, shifts, ints)
        return _update(image, grad, ints, floats), pixel

    def _tiled_gradient(self, image: tf.Tensor, ints: tf.Tensor, tile: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The rolled feature gradient, ``TILE_BATCH`` tiles at a time: (rolled gradient, shifts, summed tile loss)."""
        height, width = int(image.shape[0]), int(image.shape[1])
        rolled, shifts = self.functions["roll"](image, ints[:2], ints[2], tf.constant(tile))
        tile_h, tile_w, boxes = tile_grid(height, width, tile)
        # Objectives are means over positions: scaling by the tile's share of the image keeps tiled
        # gradients (and values) on the untiled scale, so pixel terms keep their relative weight.
        weight = tf.constant(tile_h * tile_w / (height * width), tf.float32)
        row, strips, total = [], [], 0.0
        for first in range(0, len(boxes), TILE_BATCH):
            batch = boxes[first : first + TILE_BATCH]
            tiles = tf.stack([rolled[top : top + tile_h, left : left + tile_w] for top, left, _, _ in batch])
            grads, loss = self.functions["tiles"](tiles, weight)
            total += loss  # a tensor: no wait for the device between batches
            for grad, (top, left, y, x) in zip(grads, batch):
                row.append(grad[y - top : y - top + tile_h, x - left : x - left + tile_w])
                if x + tile_w >= width:  # a row of tiles is done: one strip (boxes go row by row)
                    strips.append(tf.concat(row, axis=1))
                    row = []
        # Free each full-size buffer as soon as it is used up (a 4096 px image is 200 MB per copy).
        del rolled
        return tf.concat(strips, axis=0), shifts, total

    # --- public calls --------------------------------------------------------------------------------
    def step(self, image, settings: DreamSettings, index: int = 0) -> tuple[tf.Tensor, float]:
        """One step on [H, W, 3] float32 in [0, 1], with ``settings``' step options; ``index`` (the step's
        number in the run) and the seed fix the random roll. Returns (new image tensor, objective value)."""
        image = tf.convert_to_tensor(image, tf.float32)
        ints, floats = _pack(settings, index)
        if not settings.tile_size:
            new, loss = self.functions["step"](image, ints, floats)
            return new, float(loss)
        rolled_grad, shifts, loss = self._tiled_gradient(image, ints, settings.tile_size)
        new, pixel = self.functions["finish"](image, rolled_grad, shifts, ints, floats)
        return new, float(loss + pixel)

    def gradient(self, image, index: int = 0, settings: DreamSettings | None = None, **overrides) -> np.ndarray:
        """The ascent direction a step would use, float32 [H, W, 3] (for tests, benchmarks, pictures).

        ``settings`` / ``overrides`` give seed, jitter, tile_size and normalize (default: no jitter, raw).
        """
        settings = DreamSettings.make(settings or _RAW_GRADIENT, **overrides)
        image = tf.convert_to_tensor(image, tf.float32)
        ints, _ = _pack(settings, index)
        if not settings.tile_size:
            grad, _ = self.functions["gradient"](image, ints)
        else:
            rolled_grad, shifts, _ = self._tiled_gradient(image, ints, settings.tile_size)
            grad, _ = self.functions["combine"](image, rolled_grad, shifts, ints)
        return grad.numpy()


_RAW_GRADIENT = DreamSettings(jitter=0, normalize="none")


def get_dreamer(model, objective: Objective) -> Dreamer:
    """The Dreamer for this model and objective, built once (cached on the objective, by model)."""
    cache = objective.__dict__.setdefault("_cadl_dreamers", {})
    dreamer = cache.get(id(model))
    if dreamer is None or dreamer.model is not model:  # an id can be reused once a model is freed
        dreamer = cache[id(model)] = Dreamer(model, objective)
    else:
        dreamer.objective.validate(model)
    return dreamer


def _check_objective(objective) -> None:
    if not isinstance(objective, Objective):
        raise ParameterError(f"objective must be a cadl_utils.objectives.Objective, got {type(objective).__name__}; "
                             "build one with neuron(...), channel(...) or layer(...)")


def required_side(model, objective: Objective) -> int:
    """The smallest image side the objective's layers can be computed on (at least MIN_IMAGE)."""
    return max([MIN_IMAGE] + [int(model.min_size(name)) for name in objective.layers])


def _check_sizes(model, objective: Objective, settings: DreamSettings, sizes: list[tuple[int, int]]) -> None:
    """Raise ImageTooSmallError unless every octave, and the tiles of every octave, suit the objective's layers."""
    need, tile = required_side(model, objective), settings.tile_size
    for height, width in reversed(sizes):
        shapes = [(height, width, "image" if (height, width) == sizes[-1] else f"octave {height}x{width}")]
        if tile is not None and tile < max(height, width):
            shapes.append((min(tile, height), min(tile, width), f"tile ({tile} px)"))
        for h, w, what in shapes:
            if min(h, w) < need:
                raise ImageTooSmallError(
                    f"the {what} is {h}x{w} px but the objective ({objective.describe()}) needs at least "
                    f"{need} px on each side; use a larger image (e.g. size={max(need, 224)}), a larger tile, "
                    "fewer octaves or an earlier layer"
                )
            if hasattr(model, "check_size"):  # a Model's own limits, e.g. the auxiliary heads' reshape
                for name in objective.layers:
                    model.check_size(name, h, w)


def octave_sizes(hw: tuple[int, int], octaves: int, scale: float, min_side: int = 1) -> list[tuple[int, int]]:
    """(height, width) of the octaves, smallest first, ending with ``hw``: octave k below the full size
    is ``hw / scale**k``, rounded; repeats, and octaves with a short side under ``min_side``, are left out."""
    settings = DreamSettings(octaves=octaves, octave_scale=scale)
    height, width = int(hw[0]), int(hw[1])
    sizes: list[tuple[int, int]] = []
    for k in range(settings.octaves - 1, -1, -1):
        size = (max(1, round(height / scale**k)), max(1, round(width / scale**k)))
        if (k > 0 and min(size) < min_side) or (sizes and sizes[-1] == size):
            continue
        sizes.append(size)
    return sizes


# --- the loops --------------------------------------------------------------------------------------


class _Run:
    """Steps taken from Python: progress bar, callback, step count, and the latest image."""

    def __init__(self, dreamer: Dreamer, settings: DreamSettings, total: int, callback: Callback | None, desc: str,
                 start: tf.Tensor):
        self.dreamer, self.settings, self.total, self.callback = dreamer, settings, total, callback
        self.done = 0
        # The image after the last finished step: ``steps`` cannot return it when it is interrupted.
        self.latest = start
        self.bar = progress_bar(settings.progress, total, desc)

    def steps(self, x: tf.Tensor, count: int, octave: int = 0, frame: int | None = None) -> tf.Tensor:
        """Take ``count`` steps on x (a tf.Tensor: it stays one between steps, no copies)."""
        self.latest = x
        for _ in range(count):
            x, loss = self.dreamer.step(x, self.settings, self.done)
            check_finite(x, loss, self.done + 1)  # a NaN step stops the run; latest stays the last finite image
            self.latest = x
            self.done += 1
            if self.bar is not None:
                self.bar.update(1)
            if self.callback is not None:
                report(self.callback, StepInfo(self.done, self.total, x.numpy(), loss, octave, frame))
        return x


def _octave_dream(run: _Run, x: tf.Tensor, sizes: list[tuple[int, int]], steps: int, frame=None) -> tf.Tensor:
    """Dream over octaves, smallest first, re-adding the detail each downscale lost."""
    details = []  # high frequencies lost by each downscale, re-added after each upscale (smallest first)
    for size in reversed(sizes[:-1]):
        low = resize(x, size)
        details.append(x - resize(low, tuple(x.shape[:2])))
        x = low
    for octave, size in enumerate(sizes):
        if octave > 0:
            x = tf.clip_by_value(resize(x, size) + details.pop(), 0.0, 1.0)
        x = run.steps(x, steps, octave, frame)
    return x


def _render(kind: str, image, objective, model, settings: DreamSettings, callback: Callback | None) -> Result:
    """What dream ("dream"), feedback_loop ("feedback") and fractal_zoom ("zoom") do: check the objective, image,
    margin, octaves and tiles before any work, then dream the frames, each from the previous one (zoomed for
    "zoom"). A stop drops the unfinished frame, except in dream, whose one picture keeps the steps taken."""
    from .models import resolve_model

    _check_objective(objective)
    array = as_image(image, "input image")
    margins = zoom_margins(array.shape[:2], settings.margin) if kind == "zoom" else None
    model = resolve_model(model)
    dreamer = get_dreamer(model, objective)
    once = kind == "dream"
    sizes = octave_sizes(array.shape[:2], settings.octave_count(4 if once else 1), settings.octave_scale,
                         min_side=required_side(model, objective))  # fmt: skip
    _check_sizes(model, objective, settings, sizes)
    count, steps = (1, settings.steps) if once else (settings.frames, settings.frame_every)
    x, stopped = tf.constant(array), None
    run = _Run(dreamer, settings, count * steps * len(sizes), callback, kind, start=x)
    frames = [array.copy()] if settings.include_start and not once else []
    try:
        for index in range(count):
            x = _octave_dream(run, x, sizes, steps, frame=None if once else index)
            frames.append(np.ascontiguousarray(x.numpy(), np.float32))
            if margins and index + 1 < count:
                x = _zoom_tensor(x, *margins, settings.center)
    except (KeyboardInterrupt, Stop) as stop:
        stopped = stop
        if once and not frames:  # the steps taken are only in run.latest, at the size of their octave
            x = run.latest if run.latest.shape[:2] == array.shape[:2] else resize(run.latest, array.shape[:2])
            frames.append(np.ascontiguousarray(x.numpy(), np.float32))
    finally:
        if run.bar is not None:
            run.bar.close()
    return finish(Result(frames, stopped is not None, run.done), stopped)


def dream(image, objective: Objective, model=None, settings: DreamSettings | None = None, *,
          callback: Callback | None = None, **overrides) -> Result:
    """Deep Dream one image: gradient ascent of ``objective`` over octaves.

    Args:
        image: [H, W, 3] float32 in [0, 1] (or uint8, or a file path).
        objective: what to maximise (``neuron``, ``channel``, ``layer`` or a weighted sum).
        model: a Model or a name; None loads inception5h (``CADL_WEIGHTS`` picks the weights).
        settings, **overrides: a ``DreamSettings`` and/or its fields (``steps`` per octave, ``octaves``
            default 4, step_size, tile_size...). Bad values raise ParameterError before any work.
        callback: called with a ``StepInfo`` after every step; returning False stops the run.

    Returns:
        ``Result`` whose one frame (``.image``) is the picture (float32, the input's size).
    """
    return _render("dream", image, objective, model, DreamSettings.make(settings, **overrides), callback)


def feedback_loop(image, objective: Objective, model=None, settings: DreamSettings | None = None, *,
                  callback: Callback | None = None, **overrides) -> Result:
    """Add a little of the gradient to the image again and again, keeping a frame every few steps
    (with ``neuron("jellyfish")`` on softmax2, the course's "softmax" result).

    Each of ``frames`` frames is the previous one dreamed for ``frame_every`` steps per octave
    (``octaves`` default 1); arguments as in ``dream``. Returns a ``Result`` of the frames (the input
    first with ``include_start``).
    """
    return _render("feedback", image, objective, model, DreamSettings.make(settings, **overrides), callback)


def fractal_zoom(image, objective: Objective, model=None, settings: DreamSettings | None = None, *,
                 callback: Callback | None = None, **overrides) -> Result:
    """The feedback loop with a zoom: after each frame, crop ``margin`` around ``center`` and resize
    back, so the dream grows new detail as it zooms in forever. Arguments as in ``feedback_loop``."""
    return _render("zoom", image, objective, model, DreamSettings.make(settings, **overrides), callback)


# --- zoom ------------------------------------------------------------------------------------------


def zoom_margins(hw: tuple[int, int], margin: float) -> tuple[float, float]:
    """(margin_y, margin_x): pixels (possibly fractional) cut at each end of a (height, width) image per
    zoom step. ``margin`` is a fraction of the side if below 1, else pixels of the SHORT side (the long
    side follows, keeping the aspect ratio)."""
    height, width = int(hw[0]), int(hw[1])
    margin = check_float(margin, "margin", above=0, fix="use a fraction such as 0.02 or a few pixels such as 4")
    fraction = margin if margin < 1.0 else margin / min(height, width)
    margin_y, margin_x = fraction * height, fraction * width
    if 2 * margin_y >= height - 1 or 2 * margin_x >= width - 1:
        raise ParameterError(f"zoom margin {margin:g} is too large for a {height}x{width} image: it must be less "
                             "than half of each side; use a small fraction such as 0.02 or a few pixels")
    return margin_y, margin_x


def _zoom_tensor(image: tf.Tensor, margin_y: float, margin_x: float, center: tuple[float, float]) -> tf.Tensor:
    """Crop [H, W, 3] by the margins around ``center`` and resample back to [H, W, 3]."""
    height, width = int(image.shape[0]), int(image.shape[1])
    crop_h, crop_w = height - 2 * margin_y, width - 2 * margin_x
    # Window centred on the zoom centre, kept inside the image. Coordinates are pixel centres.
    top = min(max(center[0] * height - crop_h / 2, 0.0), height - crop_h)
    left = min(max(center[1] * width - crop_w / 2, 0.0), width - crop_w)
    box = [top / (height - 1), left / (width - 1), (top + crop_h - 1) / (height - 1), (left + crop_w - 1) / (width - 1)]
    zoomed = tf.image.crop_and_resize(image[None], [box], [0], [height, width], method="bilinear")
    return tf.clip_by_value(zoomed[0], 0.0, 1.0)


def zoom_crop(image, margin: float = 0.02, center: tuple[float, float] = (0.5, 0.5)) -> np.ndarray:
    """One fractal-zoom step on [H, W, 3]: crop ``margin`` (see ``zoom_margins``) at each end around
    ``center`` ((y, x) fractions; the window stays inside the image), resize back to the same size."""
    array = as_image(image, "image to zoom")
    margin_y, margin_x = zoom_margins(array.shape[:2], margin)
    return _zoom_tensor(tf.constant(array), margin_y, margin_x, _check_center(center)).numpy()
