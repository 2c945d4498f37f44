"""Style transfer: paint a content image in the style of one or more style images.

The picture is optimised directly (pixels in [0, 1]) to minimise a weighted sum of three terms:

- content: mean squared difference between the picture's and the content image's features at one
  layer (the *content layer*);
- style: squared difference between Gram matrices (channel-by-channel correlations of the features)
  of the picture and the style image(s), at one or more *style layers* with per-layer weights;
- total variation: mean absolute difference between neighbouring pixels (smoothness).

Gram matrices are divided by (positions x channels), so their size does not depend on the image size:
a style image can be larger or smaller than the content (``style_scale``) and several style images
can be blended by averaging their Gram matrices with blend weights.

Loss scaling
------------
With ``normalize=True`` (default) each term is *relative*: the content term is divided by the mean
square of the content features, each style layer's term by the squared norm of its target Gram
matrix. A term is then about 1 when the picture is as far from the target as a blank is, whatever the
network or layer, so the same weights work for inception5h and VGG19. ``normalize=False`` gives the raw
terms (the TensorFlow tutorial's definitions), used by the benchmark. The optimisers additionally
divide the total by its value at the start, so the first step is well scaled for any weights.

Default layers (``DEFAULT_LAYERS``)
-----------------------------------
- inception5h: content ``mixed4b``; style ``conv2d2``, ``mixed3a``, ``mixed3b``, ``mixed4a``,
  ``mixed4c`` (equal weights). mixed4b sits at stride 16 like VGG19's ``block5_conv2`` (the
  tutorial's content layer): deep enough to fix the layout of the scene but not its textures, which the
  style is free to repaint. The style layers span strides 4 to 16, fine strokes and colours
  (conv2d2, three convolutions deep) up to larger motifs (mixed4a/mixed4c), as block1..5_conv1 do for
  VGG. The post-ReLU outputs are used: Gram matrices of rectified features are the classic texture
  statistics.
- vgg19: content ``block5_conv2``, style ``block1_conv1`` .. ``block5_conv1`` (Gatys et al., and the
  TensorFlow tutorial).
- any other model: the content layer is a convolution/mixed layer about 60 % of the way into the
  network; style layers are up to five layers spread evenly before and at it.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import tensorflow as tf

from .errors import ImageError, LayerError, ParameterError
from .images import as_image
from .objectives import total_variation

# Layer kinds whose outputs are feature maps [N, h, w, C] (logits and softmax are vectors).
SPATIAL_KINDS = ("conv_pre_relu", "conv", "mixed", "pool")

DEFAULT_LAYERS: dict[str, dict[str, Any]] = {
    "inception5h": {
        "content": "mixed4b",
        "style": {"conv2d2": 1.0, "mixed3a": 1.0, "mixed3b": 1.0, "mixed4a": 1.0, "mixed4c": 1.0},
    },
    "vgg19": {
        "content": "block5_conv2",
        "style": {f"block{i}_conv1": 1.0 for i in range(1, 6)},
    },
}

# Weights for normalize=True (relative terms). Style is weighted up because a relative style term
# changes much less per step than a relative content term; tv keeps noise out of flat regions.
DEFAULT_CONTENT_WEIGHT = 1.0
DEFAULT_STYLE_WEIGHT = 10.0
DEFAULT_TV_WEIGHT = 0.1

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "style", "noise")
# Adam step in pixel units (the TensorFlow tutorial's value).
DEFAULT_LEARNING_RATE = 0.02

# Floors for the denominators of relative terms: a constant or black image can give all-zero features,
# and a zero denominator would turn the loss into inf/NaN.
_RELATIVE_EPS = 1e-6
# Largest weight accepted: above it float32 losses can overflow.
_MAX_WEIGHT = 1e12
# Largest side of a (scaled) style image, to keep memory bounded.
_MAX_STYLE_SIDE = 4096

# RGB -> YIQ (NTSC). Y is luminance, I and Q are the chroma ("colour") channels.
_RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ],
    dtype=np.float64,
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)

TERMS = ("content", "style", "tv", "total")


# --- loss math --------------------------------------------------------------------------------


def gram_matrix(features) -> tf.Tensor:
    """Gram matrix of a feature map, normalised by positions and channels.

    Args:
        features: float tensor [N, h, w, C].

    Returns:
        [N, C, C] tensor ``F^T F / (h * w * C)`` where F is [h*w, C]; symmetric, positive semi-definite,
        and independent of the image size for a stationary texture.
    """
    features = tf.convert_to_tensor(features, tf.float32)
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[3]])
    count = tf.cast(shape[1] * shape[2] * shape[3], tf.float32)
    # An empty map (0 positions) would divide by zero; its Gram matrix is all zeros anyway.
    return tf.matmul(flat, flat, transpose_a=True) / tf.maximum(count, 1.0)


def content_loss(features, target) -> tf.Tensor:
    """Mean squared difference between two feature maps (the content term, un-normalised)."""
    return tf.reduce_mean(tf.square(tf.convert_to_tensor(features, tf.float32) - target))


def gram_loss(gram, target_gram) -> tf.Tensor:
    """Sum of squared differences of two Gram matrices (one layer's style term, un-normalised).

    With ``gram_matrix``'s normalisation this equals the mean squared difference of the
    positions-normalised Gram matrices (the TensorFlow tutorial's per-layer style loss).
    """
    return tf.reduce_mean(tf.reduce_sum(tf.square(gram - target_gram), axis=[-2, -1]))


# --- colour -----------------------------------------------------------------------------------


def rgb_to_yiq(image):
    """RGB [..., 3] -> YIQ [..., 3] (numpy array or tensor, same kind back)."""
    if isinstance(image, tf.Tensor):
        return tf.tensordot(image, tf.constant(_RGB_TO_YIQ.T, image.dtype), axes=1)
    image = np.asarray(image)
    return (image @ _RGB_TO_YIQ.T.astype(image.dtype if image.dtype.kind == "f" else np.float32)).astype(
        np.float32
    )


def yiq_to_rgb(image):
    """YIQ [..., 3] -> RGB [..., 3] (not clipped; numpy array or tensor, same kind back)."""
    if isinstance(image, tf.Tensor):
        return tf.tensordot(image, tf.constant(_YIQ_TO_RGB.T, image.dtype), axes=1)
    image = np.asarray(image, np.float32)
    return (image @ _YIQ_TO_RGB.T.astype(np.float32)).astype(np.float32)


def match_luminance(source_y: np.ndarray, reference_y: np.ndarray) -> np.ndarray:
    """Shift and scale ``source_y`` to the mean and standard deviation of ``reference_y``.

    Used before a colour-preserving transfer so the style's brightness and contrast do not override the
    content's (Gatys et al., "Preserving colour in neural artistic style transfer"). A flat source is
    only shifted.
    """
    source_y = np.asarray(source_y, np.float32)
    mean_s, std_s = float(source_y.mean()), float(source_y.std())
    mean_r, std_r = float(np.mean(reference_y)), float(np.std(reference_y))
    if std_s < 1e-6:
        out = source_y - mean_s + mean_r
    else:
        out = (source_y - mean_s) * (std_r / std_s) + mean_r
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def combine_luminance(y: np.ndarray, chroma_image: np.ndarray) -> np.ndarray:
    """RGB image with luminance ``y`` [H, W] or [H, W, 1] and the I/Q chroma of ``chroma_image``."""
    y = np.asarray(y, np.float32).reshape(np.shape(chroma_image)[:2])
    yiq = rgb_to_yiq(np.asarray(chroma_image, np.float32))
    yiq[..., 0] = y
    return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)


# --- checks -----------------------------------------------------------------------------------


def _check_weight(name: str, value) -> float:
    """A loss weight as float; ParameterError for NaN, inf, negative or absurdly large values."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number) or number < 0.0 or number > _MAX_WEIGHT:
        raise ParameterError(
            f"{name} must be a finite number between 0 and {_MAX_WEIGHT:g}, got {value!r}; "
            "use 0 to switch a term off"
        )
    return number


def _check_choice(name: str, value: str, allowed: Sequence[str]) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        raise ParameterError(f"unknown {name} {value!r}: use one of {', '.join(allowed)}")
    return text


def _check_count(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _spatial_layer(model, name: str, role: str) -> str:
    """Check that ``name`` exists in ``model`` and has feature maps (LayerError otherwise)."""
    info = model.layer(name)
    if info.kind not in SPATIAL_KINDS:
        spatial = [n for n in model.layer_names() if model.layer(n).kind in SPATIAL_KINDS]
        raise LayerError(
            f"{role} layer {name!r} is a {info.kind} layer without positions; style transfer needs a "
            f"convolution or mixed layer, e.g. {', '.join(spatial[-6:])}"
        )
    return name


def default_layers(model) -> tuple[str, dict[str, float]]:
    """The default content layer and style layer weights for ``model`` (see ``DEFAULT_LAYERS``).

    Args:
        model: a cadl_utils Model.

    Returns:
        ``(content_layer, {style_layer: weight})``.
    """
    preset = DEFAULT_LAYERS.get(getattr(model, "name", ""))
    if preset is not None and all(n in model.layer_names() for n in [preset["content"], *preset["style"]]):
        return preset["content"], dict(preset["style"])
    candidates = [i.name for i in model.layers if i.kind in ("conv", "mixed")]
    if not candidates:
        raise LayerError(f"{model.name} has no convolution or mixed layers to use for style transfer")
    content_index = min(len(candidates) - 1, int(round(0.6 * (len(candidates) - 1))))
    picks = np.linspace(0, content_index, num=min(5, content_index + 1)).round().astype(int)
    style = {candidates[i]: 1.0 for i in sorted(set(picks.tolist()))}
    return candidates[content_index], style


def resolve_style_layers(model, style_layers) -> dict[str, float]:
    """Style layers as ``{name: weight}`` from a mapping, a list of names or a ``"a,b:2"`` string.

    Raises:
        LayerError: unknown or non-spatial layer.
        ParameterError: empty selection, bad or all-zero weights.
    """
    if isinstance(style_layers, str):
        parsed: dict[str, float] = {}
        for part in style_layers.split(","):
            part = part.strip()
            if not part:
                continue
            name, _, weight = part.partition(":")
            parsed[name.strip()] = _check_weight(f"weight of style layer {name.strip()!r}", weight or 1.0)
        style_layers = parsed
    elif not isinstance(style_layers, Mapping):
        style_layers = {str(n): 1.0 for n in style_layers}
    if not style_layers:
        raise ParameterError("no style layers given: name at least one, e.g. style_layers=['mixed3a']")
    out = {}
    for name, weight in style_layers.items():
        out[_spatial_layer(model, name, "style")] = _check_weight(f"weight of style layer {name!r}", weight)
    if sum(out.values()) <= 0.0:
        raise ParameterError("all style layer weights are 0: give at least one layer a positive weight")
    return out


# --- images -----------------------------------------------------------------------------------


def _resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resize with antialiasing (downscaling a style image must not alias its texture)."""
    if image.shape[:2] == (height, width):
        return np.asarray(image, np.float32)
    out = tf.image.resize(image[None], (height, width), method="bilinear", antialias=True)[0]
    return np.clip(out.numpy(), 0.0, 1.0).astype(np.float32)


def _scaled_shape(shape: Sequence[int], long_side: int) -> tuple[int, int]:
    height, width = int(shape[0]), int(shape[1])
    factor = long_side / max(height, width)
    return max(1, int(round(height * factor))), max(1, int(round(width * factor)))


def _resolve_model(model, weights):
    """A Model instance from None (inception5h), a name, or an instance."""
    if model is None or isinstance(model, str):
        from .models import load_model

        return load_model(model or "inception5h", weights)
    return model


# --- results ----------------------------------------------------------------------------------


@dataclass
class StyleResult:
    """The outcome of one style-transfer run.

    Attributes:
        image: final picture, float32 [H, W, 3] in [0, 1].
        frames: pictures taken every ``frame_every`` steps (the first is the start, the last the end).
        frame_steps: the step number of each frame.
        history: the weighted terms ``content``, ``style``, ``tv`` and their ``total`` (not divided by the
            optimiser's start scale) of the start picture and after every step: ``steps + 1`` values each.
        interrupted: True when Ctrl-C (or a callback) stopped the run early; everything so far is kept.
        seconds: wall time of the optimisation.
        evaluations: loss-and-gradient evaluations (Adam: one per step; L-BFGS: one or more per
            iteration, for its line search).
        settings: the options used (model, layers, weights, optimiser...).
    """

    image: np.ndarray
    frames: list[np.ndarray] = field(default_factory=list)
    frame_steps: list[int] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TERMS})
    interrupted: bool = False
    seconds: float = 0.0
    evaluations: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        """Number of optimisation steps taken."""
        return max(0, len(self.history["total"]) - 1)

    def save_gif(self, path, duration_ms: int = 100, inputs: Sequence = ()) -> Path:
        """Write the progression GIF (atomically) and return its path."""
        from .images import save_gif

        return save_gif(self.frames or [self.image], path, duration_ms=duration_ms, inputs=inputs)

    def save(self, path, inputs: Sequence = ()) -> Path:
        """Write the final image (PNG/JPEG by suffix, atomically) and return its path."""
        from .images import save_image

        return save_image(self.image, path, inputs=inputs)


@dataclass
class SweepResult:
    """The outcome of a weight sweep: one final picture per (content weight, style weight) pair.

    Attributes:
        pairs: the pairs that were run, in order.
        results: one StyleResult per pair.
        interrupted: True when Ctrl-C stopped the sweep; pairs finished so far are kept.
    """

    pairs: list[tuple[float, float]]
    results: list[StyleResult]
    interrupted: bool = False

    @property
    def frames(self) -> list[np.ndarray]:
        """The final picture of each pair."""
        return [r.image for r in self.results]

    def grid(self, cols: int | None = None) -> np.ndarray:
        """All final pictures in one montage (``cols`` default: about square)."""
        from .images import montage

        frames = self.frames
        if not frames:
            raise ParameterError("the sweep has no pictures yet: run at least one weight pair")
        cols = cols or int(math.ceil(math.sqrt(len(frames))))
        return montage(frames, cols)

    def save_gif(self, path, duration_ms: int = 500, inputs: Sequence = ()) -> Path:
        """Write the sweep GIF (one frame per pair, atomically) and return its path."""
        from .images import save_gif

        if not self.results:
            raise ParameterError("the sweep has no pictures yet: run at least one weight pair")
        return save_gif(self.frames, path, duration_ms=duration_ms, inputs=inputs)

    def save_grid(self, path, cols: int | None = None, inputs: Sequence = ()) -> Path:
        """Write the montage of all pairs (atomically) and return its path."""
        from .images import save_image

        return save_image(self.grid(cols), path, inputs=inputs)


# --- the engine -------------------------------------------------------------------------------


class StyleTransfer:
    """Targets (content features, blended style Gram matrices) computed once; compiled loss and steps.

    Build one per (content, style, model, size) and call ``run`` or ``sweep`` as often as you like:
    changing the weights (``set_weights``) does not recompute targets or retrace the compiled steps.

    Attributes:
        model: the network.
        content_layer: content layer name.
        style_layers: ``{name: weight}``.
        content: the content image [H, W, 3] (resized).
        styles: the style images as used (resized by ``style_scale``).
        target_computations: how many times targets were computed (1 after construction).
        trace_count: how many times the compiled functions were traced.
    """

    def __init__(
        self,
        content,
        style,
        model=None,
        *,
        weights: str | None = None,
        size: int | None = None,
        content_layer: str | None = None,
        style_layers=None,
        style_blend: Sequence[float] | None = None,
        style_scale: float = 1.0,
        content_weight: float = DEFAULT_CONTENT_WEIGHT,
        style_weight: float = DEFAULT_STYLE_WEIGHT,
        tv_weight: float = DEFAULT_TV_WEIGHT,
        normalize: bool = True,
        preserve_color: bool = False,
    ):
        """Load the images, choose and check layers, compute the targets once.

        Args:
            content: content image (path or array [H, W, 3] in [0, 1]).
            style: a style image, or a list of them (blended with ``style_blend``).
            model: a Model, a model name (``inception5h``, ``vgg19``) or None (inception5h).
            weights: weights mode when the model is loaded here (``pretrained``, ``untrained``, ``auto``).
            size: largest long side of the working picture in pixels (larger content images are
                shrunk, smaller ones kept; default: the profile's size).
            content_layer: layer for the content term (default: ``default_layers(model)``).
            style_layers: ``{name: weight}``, a list of names or ``"a,b:2"`` (default per model).
            style_blend: one weight per style image (default equal); Gram targets are averaged with them.
            style_scale: style image long side as a multiple of the content's (bigger = larger strokes).
            content_weight, style_weight, tv_weight: loss weights (>= 0).
            normalize: relative loss terms (see the module docs); False gives the raw terms.
            preserve_color: transfer only luminance and keep the content's colours (YIQ chroma).

        Raises:
            ParameterError, LayerError, ImageError: bad options, with the fix in the message.
        """
        from .config import profile

        self.model = _resolve_model(model, weights)
        size = profile().size if size is None else _check_count("size", size, 8)
        self.normalize = bool(normalize)
        self.preserve_color = bool(preserve_color)

        default_content, default_style = default_layers(self.model)
        self.content_layer = _spatial_layer(self.model, content_layer or default_content, "content")
        self.style_layers = resolve_style_layers(
            self.model, default_style if style_layers is None else style_layers
        )

        style_list = list(style) if isinstance(style, (list, tuple)) else [style]
        if not style_list:
            raise ParameterError("no style image given: pass a style image (path or array)")
        self.style_blend = self._check_blend(style_blend, len(style_list))
        scale = float(style_scale) if isinstance(style_scale, (int, float, np.floating)) else float("nan")
        if not math.isfinite(scale) or scale <= 0.0:
            raise ParameterError(f"style_scale must be a positive number (1.0 = same size), got {style_scale!r}")

        self.content = as_image(content, "content image", max_side=size)
        height, width = self.content.shape[:2]
        style_side = int(round(scale * max(height, width)))
        if style_side > _MAX_STYLE_SIDE:
            raise ParameterError(
                f"style_scale {scale:g} makes the style image {style_side} px long; keep it under "
                f"{_MAX_STYLE_SIDE} px (use a smaller style_scale or size)"
            )
        self.styles = []
        for i, item in enumerate(style_list):
            loaded = as_image(item, f"style image {i + 1}")
            self.styles.append(_resize(loaded, *_scaled_shape(loaded.shape, max(1, style_side))))
        self._check_sizes()

        # What the network sees: greyscale luminance when colours are preserved.
        if self.preserve_color:
            self._content_y = rgb_to_yiq(self.content)[..., 0]
            self._net_content = np.repeat(self._content_y[..., None], 3, axis=-1)
            self._net_styles = [
                np.repeat(match_luminance(rgb_to_yiq(s)[..., 0], self._content_y)[..., None], 3, axis=-1)
                for s in self.styles
            ]
        else:
            self._net_content = self.content
            self._net_styles = list(self.styles)

        self._weights = {
            "content": tf.Variable(0.0, trainable=False, dtype=tf.float32),
            "style": tf.Variable(0.0, trainable=False, dtype=tf.float32),
            "tv": tf.Variable(0.0, trainable=False, dtype=tf.float32),
        }
        self.set_weights(content_weight, style_weight, tv_weight)

        self.target_computations = 0
        self.trace_count = 0
        self._compute_targets()

        channels = 1 if self.preserve_color else 3
        self._image = tf.Variable(tf.zeros([1, height, width, channels]), trainable=False)
        self._scale = tf.Variable(1.0, trainable=False)
        # Adam state; reset at the start of every run.
        self._m = tf.Variable(tf.zeros_like(self._image), trainable=False)
        self._v = tf.Variable(tf.zeros_like(self._image), trainable=False)
        self._t = tf.Variable(0.0, trainable=False)
        self._adam = {
            "lr": tf.Variable(0.02, trainable=False),
            "beta1": tf.Variable(0.9, trainable=False),
            "beta2": tf.Variable(0.999, trainable=False),
            "eps": tf.Variable(1e-8, trainable=False),
        }
        self._adam_fn = tf.function(self._adam_steps)
        self._grad_fn = tf.function(self._value_and_grad)
        self._terms_fn = tf.function(self._terms_of_variable)

    # --- set-up helpers ------------------------------------------------------------------------
    @staticmethod
    def _check_blend(blend, count: int) -> list[float]:
        if blend is None:
            return [1.0 / count] * count
        values = [_check_weight("style blend weight", b) for b in blend]
        if len(values) != count:
            raise ParameterError(
                f"style_blend has {len(values)} weights for {count} style images: give one weight per image"
            )
        total = sum(values)
        if total <= 0.0:
            raise ParameterError("style_blend weights are all 0: give at least one style image a positive weight")
        return [v / total for v in values]

    def _check_sizes(self) -> None:
        layers = [self.content_layer, *self.style_layers]
        need = max(self.model.min_size(n) for n in layers)
        if min(self.content.shape[:2]) < need:
            raise LayerError(
                f"the content image is {self.content.shape[1]}x{self.content.shape[0]} px but layers "
                f"{', '.join(layers)} need at least {need} px: use a larger size"
            )
        # Style images only go through the style layers.
        need = max(self.model.min_size(n) for n in self.style_layers)
        for i, s in enumerate(self.styles):
            if min(s.shape[:2]) < need:
                raise LayerError(
                    f"style image {i + 1} is {s.shape[1]}x{s.shape[0]} px after style_scale, but the style "
                    f"layers need at least {need} px: use a larger style_scale or size"
                )

    def _compute_targets(self) -> None:
        """Content features and blended Gram matrices (one forward pass per image), plus scales."""
        self.target_computations += 1
        content_features = self.model.extract(tf.constant(self._net_content[None]), [self.content_layer])[0]
        self._content_target = tf.constant(content_features)
        names = list(self.style_layers)
        blended = {n: None for n in names}
        for weight, image in zip(self.style_blend, self._net_styles):
            features = self.model.extract(tf.constant(image[None]), names)
            for name, feats in zip(names, features):
                contribution = weight * gram_matrix(feats)
                blended[name] = contribution if blended[name] is None else blended[name] + contribution
        self._style_targets = {n: tf.constant(g) for n, g in blended.items()}

        if self.normalize:
            content_scale = float(tf.reduce_mean(tf.square(self._content_target))) + _RELATIVE_EPS
            style_scales = {
                n: float(tf.reduce_sum(tf.square(g))) + _RELATIVE_EPS for n, g in self._style_targets.items()
            }
        else:
            content_scale = 1.0
            style_scales = {n: 1.0 for n in names}
        weight_sum = sum(self.style_layers.values())
        self._content_factor = tf.constant(1.0 / content_scale, tf.float32)
        self._style_factors = {
            n: tf.constant(self.style_layers[n] / weight_sum / style_scales[n], tf.float32) for n in names
        }

    @property
    def content_target(self) -> np.ndarray:
        """The content features at the content layer [1, h, w, C] (computed once)."""
        return self._content_target.numpy()

    @property
    def style_targets(self) -> dict[str, np.ndarray]:
        """The blended target Gram matrices ``{layer: [1, C, C]}`` (computed once)."""
        return {n: g.numpy() for n, g in self._style_targets.items()}

    # --- weights -------------------------------------------------------------------------------
    def set_weights(self, content_weight=None, style_weight=None, tv_weight=None) -> None:
        """Change loss weights (None keeps a weight). No retracing, no new targets.

        Raises:
            ParameterError: NaN, inf, negative, or all weights 0.
        """
        new = {
            "content": self._weights["content"].numpy() if content_weight is None else content_weight,
            "style": self._weights["style"].numpy() if style_weight is None else style_weight,
            "tv": self._weights["tv"].numpy() if tv_weight is None else tv_weight,
        }
        checked = {k: _check_weight(f"{k}_weight", v) for k, v in new.items()}
        if sum(checked.values()) <= 0.0:
            raise ParameterError("content, style and tv weights are all 0: there is nothing to optimise")
        for key, value in checked.items():
            self._weights[key].assign(value)

    @property
    def weights(self) -> dict[str, float]:
        """Current loss weights ``{content, style, tv}``."""
        return {k: float(v.numpy()) for k, v in self._weights.items()}

    # --- losses --------------------------------------------------------------------------------
    def _to_rgb(self, image):
        """What the network sees: the variable itself, or its luminance as a grey RGB picture."""
        if self.preserve_color:
            return tf.tile(image, [1, 1, 1, 3])
        return image

    def loss_terms(self, image) -> dict[str, tf.Tensor]:
        """The weighted loss terms of a picture.

        Args:
            image: [1, H, W, 3] RGB in [0, 1] (or [1, H, W, 1] luminance when preserving colour).

        Returns:
            ``{content, style, tv, total}`` scalar tensors (weights applied).
        """
        image = tf.convert_to_tensor(image, tf.float32)
        names = [self.content_layer, *self.style_layers]
        features = self.model.extract(self._to_rgb(image), names)
        content = content_loss(features[0], self._content_target) * self._content_factor
        style = tf.add_n(
            [
                gram_loss(gram_matrix(f), self._style_targets[n]) * self._style_factors[n]
                for n, f in zip(self.style_layers, features[1:])
            ]
        )
        terms = {
            "content": self._weights["content"] * content,
            "style": self._weights["style"] * style,
            "tv": self._weights["tv"] * total_variation(image),
        }
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms

    def _stack(self, terms) -> tf.Tensor:
        return tf.stack([terms[t] for t in TERMS])

    def _terms_of_variable(self) -> tf.Tensor:
        self.trace_count += 1
        return self._stack(self.loss_terms(self._image))

    def _value_and_grad(self):
        self.trace_count += 1
        with tf.GradientTape() as tape:
            tape.watch(self._image)
            terms = self.loss_terms(self._image)
        grad = tape.gradient(terms["total"], self._image)
        # A dead network region gives no gradient; treat it as zero rather than None.
        grad = tf.zeros_like(self._image) if grad is None else grad
        grad = tf.where(tf.math.is_finite(grad), grad, 0.0)
        return terms["total"] * self._scale, grad * self._scale, self._stack(terms)

    def _adam_steps(self, count):
        """``count`` Adam steps in one compiled call; returns the terms before each step [count, 4]."""
        self.trace_count += 1
        history = tf.TensorArray(tf.float32, size=count)
        lr, beta1, beta2, eps = (self._adam[k] for k in ("lr", "beta1", "beta2", "eps"))
        for i in tf.range(count):
            with tf.GradientTape() as tape:
                tape.watch(self._image)
                terms = self.loss_terms(self._image)
            grad = tape.gradient(terms["total"], self._image)
            grad = tf.where(tf.math.is_finite(grad), grad, 0.0) * self._scale
            self._t.assign_add(1.0)
            self._m.assign(beta1 * self._m + (1.0 - beta1) * grad)
            self._v.assign(beta2 * self._v + (1.0 - beta2) * tf.square(grad))
            m_hat = self._m / (1.0 - tf.pow(beta1, self._t))
            v_hat = self._v / (1.0 - tf.pow(beta2, self._t))
            update = lr * m_hat / (tf.sqrt(v_hat) + eps)
            self._image.assign(tf.clip_by_value(self._image - update, 0.0, 1.0))
            history = history.write(i, self._stack(terms))
        return history.stack()

    # --- running -------------------------------------------------------------------------------
    def initial_image(self, init="content", seed: int = 0) -> np.ndarray:
        """The starting picture in the optimised space ([H, W, 3], or [H, W, 1] luminance).

        Args:
            init: ``content``, ``style`` (the first style image, resized), ``noise`` (uniform, seeded),
                or an array [H, W, 3] in [0, 1] of the content's size.
            seed: random seed for ``noise``.
        """
        height, width = self.content.shape[:2]
        if isinstance(init, str):
            kind = _check_choice("init", init, INITS)
            if kind == "content":
                rgb = self._net_content
            elif kind == "style":
                rgb = _resize(self._net_styles[0], height, width)
            else:
                rng = np.random.default_rng(seed)
                rgb = rng.uniform(0.0, 1.0, size=(height, width, 3)).astype(np.float32)
        else:
            rgb = as_image(init, "init array")
            if rgb.shape != (height, width, 3):
                raise ImageError(
                    f"init array has shape {rgb.shape}, expected {(height, width, 3)} (the content's size); "
                    "or pass init='content', 'style' or 'noise'"
                )
            if self.preserve_color:
                rgb = np.repeat(rgb_to_yiq(rgb)[..., :1], 3, axis=-1)
        if self.preserve_color:
            return np.ascontiguousarray(rgb[..., :1], np.float32)
        return np.ascontiguousarray(rgb, np.float32)

    def picture(self, variable_image: np.ndarray | None = None) -> np.ndarray:
        """The RGB picture [H, W, 3] in [0, 1] for the optimised values (default: current state)."""
        values = self._image.numpy()[0] if variable_image is None else np.asarray(variable_image)
        if self.preserve_color:
            return combine_luminance(values[..., 0], self.content)
        return np.clip(values, 0.0, 1.0).astype(np.float32)

    def losses(self, image: np.ndarray | None = None) -> dict[str, float]:
        """The weighted loss terms (floats) of an RGB picture [H, W, 3] (default: current state)."""
        if image is not None:
            values = self.initial_image(image)
            self._image.assign(values[None])
        return dict(zip(TERMS, (float(x) for x in self._terms_fn().numpy())))

    def run(
        self,
        steps: int | None = None,
        *,
        optimizer: str = "adam",
        learning_rate: float | None = None,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
        init="content",
        seed: int = 0,
        frame_every: int | None = None,
        steps_per_call: int = 10,
        progress: bool = True,
        callback: Callable[[int, np.ndarray, dict[str, float]], Any] | None = None,
    ) -> StyleResult:
        """Optimise the picture.

        Args:
            steps: Adam steps or L-BFGS iterations (default: the profile's steps).
            optimizer: ``adam`` (compiled, ``steps_per_call`` steps per call) or ``lbfgs``
                (SciPy L-BFGS-B with bounds [0, 1], TensorFlow gradients).
            learning_rate: Adam step in pixel units (default 0.02).
            beta1, beta2, epsilon: Adam constants.
            init: ``content``, ``style``, ``noise`` or an array (see ``initial_image``).
            seed: random seed for ``noise``.
            frame_every: take a frame every this many steps (default: about 20 frames per run).
            steps_per_call: Adam steps per compiled call between frames (fewer Python round trips).
            progress: show a progress bar.
            callback: ``callback(step, picture, losses)`` at every frame; return False to stop.

        Returns:
            A StyleResult. Ctrl-C stops early and returns what was done (``interrupted=True``).
        """
        from .config import profile

        steps = profile().steps if steps is None else _check_count("steps", steps, 0)
        optimizer = _check_choice("optimizer", optimizer, OPTIMIZERS)
        frame_every = max(1, steps // 20) if frame_every is None else _check_count("frame_every", frame_every, 1)
        steps_per_call = _check_count("steps_per_call", steps_per_call, 1)
        if optimizer == "adam":
            lr = DEFAULT_LEARNING_RATE if learning_rate is None else learning_rate
            for name, value, low, high in (
                ("learning_rate", lr, 0.0, 10.0),
                ("beta1", beta1, 0.0, 1.0),
                ("beta2", beta2, 0.0, 1.0),
                ("epsilon", epsilon, 0.0, 1e6),
            ):
                if not isinstance(value, (int, float, np.floating)) or not (low < float(value) < high):
                    raise ParameterError(f"{name} must be a number in ({low:g}, {high:g}), got {value!r}")
            self._adam["lr"].assign(float(lr))
            self._adam["beta1"].assign(float(beta1))
            self._adam["beta2"].assign(float(beta2))
            self._adam["eps"].assign(float(epsilon))

        start = self.initial_image(init, seed)
        self._image.assign(start[None])
        self._m.assign(tf.zeros_like(self._m))
        self._v.assign(tf.zeros_like(self._v))
        self._t.assign(0.0)
        # Scale the objective so it starts at 1: the optimisers' first steps and SciPy's tolerances then
        # behave the same for any weights (1e-6 .. 1e6) and any network.
        self._scale.assign(1.0)
        first_terms = self._terms_fn().numpy()
        first_total = float(first_terms[-1])
        scale = 1.0 / first_total if math.isfinite(first_total) and first_total > 1e-30 else 1.0
        self._scale.assign(scale)

        result = StyleResult(image=self.picture(), settings=self.settings(optimizer, steps, init, seed))
        result.frames.append(result.image)
        result.frame_steps.append(0)
        if optimizer == "lbfgs":
            # Adam's compiled steps report the terms before each step (so its first row is this one).
            self._record(result, first_terms)
        bar = _progress_bar(steps, progress)
        began = time.perf_counter()
        try:
            if steps > 0:
                runner = self._run_adam if optimizer == "adam" else self._run_lbfgs
                runner(steps, frame_every, steps_per_call, result, bar, callback)
        except KeyboardInterrupt:
            result.interrupted = True
        finally:
            bar.close()
        result.seconds = time.perf_counter() - began
        if optimizer == "adam" or not result.history["total"]:
            # Adam recorded the terms before each step; add those of the final picture.
            self._record(result, self._terms_fn().numpy())
        result.image = self.picture()
        if result.frame_steps[-1] != result.steps:
            result.frames.append(result.image)
            result.frame_steps.append(result.steps)
        return result

    def settings(self, optimizer: str, steps: int, init, seed: int) -> dict[str, Any]:
        """The options of a run, for the result and for captions."""
        return {
            "model": getattr(self.model, "name", "?"),
            "model_weights": getattr(self.model, "weights", "?"),
            "content_layer": self.content_layer,
            "style_layers": dict(self.style_layers),
            "style_blend": list(self.style_blend),
            **{f"{k}_weight": v for k, v in self.weights.items()},
            "normalize": self.normalize,
            "preserve_color": self.preserve_color,
            "optimizer": optimizer,
            "steps": steps,
            "init": init if isinstance(init, str) else "array",
            "seed": seed,
            "size": tuple(self.content.shape[:2]),
        }

    def _record(self, result: StyleResult, terms: np.ndarray) -> None:
        for name, value in zip(TERMS, terms):
            result.history[name].append(float(value))

    def _frame(self, result: StyleResult, step: int, callback) -> bool:
        """Take a frame at ``step``; returns False when the callback asks to stop."""
        picture = self.picture()
        result.frames.append(picture)
        result.frame_steps.append(step)
        if callback is not None:
            losses = {t: result.history[t][-1] for t in TERMS} if result.history["total"] else {}
            if callback(step, picture, losses) is False:
                return False
        return True

    def _run_adam(self, steps, frame_every, steps_per_call, result, bar, callback) -> None:
        done = 0
        while done < steps:
            next_frame = (done // frame_every + 1) * frame_every
            count = min(steps_per_call, next_frame - done, steps - done)
            history = self._adam_fn(tf.constant(count, tf.int32)).numpy()
            result.evaluations += count
            for row in history:
                self._record(result, row)
            done += count
            bar.update(count)
            bar.set_postfix(loss=f"{history[-1][-1]:.4g}", refresh=False)
            if done % frame_every == 0 or done == steps:
                if not self._frame(result, done, callback):
                    result.interrupted = True
                    return

    def _run_lbfgs(self, steps, frame_every, steps_per_call, result, bar, callback) -> None:
        from scipy.optimize import Bounds, minimize

        shape = tuple(self._image.shape)
        last = {"x": None, "terms": None}

        def value_and_grad(x):
            self._image.assign(x.reshape(shape).astype(np.float32))
            value, grad, terms = self._grad_fn()
            result.evaluations += 1
            last["x"] = x.copy()
            last["terms"] = terms.numpy()
            value = float(value)
            if not math.isfinite(value):
                # Tell the line search this point is bad instead of handing SciPy a NaN.
                return 1e30, np.zeros(x.size)
            return value, grad.numpy().astype(np.float64).ravel()

        state = {"step": 0, "x": None}

        def on_iteration(intermediate_result):
            x = intermediate_result.x
            state["step"] += 1
            state["x"] = x.copy()
            if last["x"] is None or not np.array_equal(last["x"], x):
                self._image.assign(x.reshape(shape).astype(np.float32))
                terms = self._terms_fn().numpy()
            else:
                terms = last["terms"]
            self._record(result, terms)
            bar.update(1)
            bar.set_postfix(loss=f"{terms[-1]:.4g}", refresh=False)
            step = state["step"]
            if step % frame_every == 0 or step == steps:
                self._image.assign(x.reshape(shape).astype(np.float32))
                if not self._frame(result, step, callback):
                    result.interrupted = True
                    raise StopIteration

        x0 = self._image.numpy().astype(np.float64).ravel()
        # ftol = gtol = 0: run the requested number of iterations (stopping early only when the line
        # search cannot improve), so a progression has the frames asked for. maxcor 10 (SciPy's
        # default) keeps L-BFGS-B's float64 work arrays at about 25 values per optimised value
        # (600 bytes per RGB pixel, about 160 MB at 512 x 512).
        try:
            outcome = minimize(
                value_and_grad,
                x0,
                jac=True,
                method="L-BFGS-B",
                bounds=Bounds(0.0, 1.0),
                callback=on_iteration,
                options={"maxiter": steps, "maxfun": steps * 4 + 20, "ftol": 0.0, "gtol": 0.0, "maxcor": 10},
            )
            final = outcome.x
        except KeyboardInterrupt:
            result.interrupted = True
            final = state["x"] if state["x"] is not None else x0
            self._image.assign(np.asarray(final).reshape(shape).astype(np.float32))
            raise
        # Leave the variable at the accepted point (the last evaluation may be a rejected trial).
        self._image.assign(np.asarray(final).reshape(shape).astype(np.float32))
        if result.frame_steps[-1] != result.steps and result.steps > 0:
            self._frame(result, result.steps, callback)

    def sweep(
        self,
        pairs: Sequence[tuple[float, float]],
        *,
        progress: bool = True,
        **run_options,
    ) -> SweepResult:
        """Run once per (content weight, style weight) pair from the same start; tv weight unchanged.

        Args:
            pairs: list of ``(content_weight, style_weight)``.
            progress: show a progress bar per pair.
            **run_options: passed to ``run`` (steps, optimizer, init, seed...).

        Returns:
            A SweepResult (Ctrl-C keeps the pairs finished so far).

        Raises:
            ParameterError: empty list, or a pair that is not two valid weights.
        """
        checked = check_pairs(pairs)
        saved = self.weights
        sweep = SweepResult(pairs=[], results=[])
        try:
            for content_weight, style_weight in checked:
                self.set_weights(content_weight, style_weight)
                result = self.run(progress=progress, **run_options)
                if result.interrupted:
                    sweep.interrupted = True
                    break
                sweep.pairs.append((content_weight, style_weight))
                sweep.results.append(result)
        except KeyboardInterrupt:
            sweep.interrupted = True
        finally:
            self.set_weights(saved["content"], saved["style"], saved["tv"])
        return sweep


def check_pairs(pairs) -> list[tuple[float, float]]:
    """Validate a weight sweep: a non-empty list of (content weight, style weight) pairs.

    Raises:
        ParameterError: empty, malformed, NaN/inf/negative weights, or a (0, 0) pair.
    """
    try:
        items = list(pairs)
    except TypeError:
        raise ParameterError(f"pairs must be a list of (content_weight, style_weight), got {pairs!r}") from None
    if not items:
        raise ParameterError("the weight sweep is empty: give at least one (content_weight, style_weight) pair")
    out = []
    for item in items:
        try:
            content_weight, style_weight = item
        except (TypeError, ValueError):
            raise ParameterError(
                f"sweep entry {item!r} is not a (content_weight, style_weight) pair, e.g. (1.0, 10.0)"
            ) from None
        pair = (
            _check_weight("sweep content weight", content_weight),
            _check_weight("sweep style weight", style_weight),
        )
        if pair == (0.0, 0.0):
            raise ParameterError("sweep pair (0, 0) has nothing to optimise: give one weight a positive value")
        out.append(pair)
    return out


def parse_pairs(text: str | Sequence[str]) -> list[tuple[float, float]]:
    """Parse ``"1:10,1:100"`` (or a list of ``"C:S"`` strings) into weight pairs.

    Raises:
        ParameterError: a malformed entry (the message shows the expected form).
    """
    parts = [text] if isinstance(text, str) else list(text)
    pairs = []
    for part in parts:
        for token in str(part).split(","):
            token = token.strip()
            if not token:
                continue
            left, sep, right = token.partition(":")
            try:
                if not sep:
                    raise ValueError
                pairs.append((float(left), float(right)))
            except ValueError:
                raise ParameterError(
                    f"cannot read sweep pair {token!r}: write CONTENT:STYLE weights, e.g. --sweep 1:1 1:10 1:100"
                ) from None
    return check_pairs(pairs)


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="style", unit="step", disable=not enabled, leave=False)


# --- one-call API -----------------------------------------------------------------------------

_ENGINE_KEYS = (
    "weights",
    "size",
    "content_layer",
    "style_layers",
    "style_blend",
    "style_scale",
    "content_weight",
    "style_weight",
    "tv_weight",
    "normalize",
    "preserve_color",
)


def _split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    engine = {k: v for k, v in options.items() if k in _ENGINE_KEYS}
    run = {k: v for k, v in options.items() if k not in _ENGINE_KEYS}
    return engine, run


def style_transfer(content, style, model=None, **options) -> StyleResult:
    """Paint ``content`` in the style of ``style`` (one image or a list to blend).

    Args:
        content: content image (path or array [H, W, 3] in [0, 1]).
        style: style image or list of style images.
        model: Model, model name (``inception5h`` default, ``vgg19``) or None.
        **options: any ``StyleTransfer`` option (weights, size, content_layer, style_layers,
            style_blend, style_scale, content_weight, style_weight, tv_weight, normalize, preserve_color)
            and any ``StyleTransfer.run`` option (steps, optimizer, learning_rate, init, seed,
            frame_every, steps_per_call, progress, callback).

    Returns:
        StyleResult with the final image, progression frames and loss history.
    """
    engine_options, run_options = _split_options(options)
    return StyleTransfer(content, style, model, **engine_options).run(**run_options)


def weight_sweep(content, style, pairs, model=None, **options) -> SweepResult:
    """One style transfer per (content weight, style weight) pair, sharing targets and compiled steps.

    Args:
        content, style, model: as for ``style_transfer``.
        pairs: list of ``(content_weight, style_weight)``; must not be empty.
        **options: as for ``style_transfer`` (content_weight/style_weight are taken from the pairs).

    Returns:
        SweepResult: ``frames`` (one per pair), ``grid()``, ``save_gif``, ``save_grid``.
    """
    checked = check_pairs(pairs)
    engine_options, run_options = _split_options(options)
    engine_options.setdefault("content_weight", checked[0][0])
    engine_options.setdefault("style_weight", checked[0][1])
    engine = StyleTransfer(content, style, model, **engine_options)
    return engine.sweep(checked, **run_options)


# --- command line -----------------------------------------------------------------------------


def add_cli(subparsers) -> None:
    """Register ``style`` with the ``python -m cadl_utils`` parser."""
    from .config import profile

    full, quick = profile("full"), profile("quick")
    parser = subparsers.add_parser(
        "style",
        help="style transfer: progression GIF, or a weight sweep GIF and grid",
        description=(
            "Paint CONTENT in the style of STYLE (several STYLE images are blended). Writes a progression "
            "GIF and the final PNG, or with --sweep a GIF and a grid with one picture per weight pair."
        ),
    )
    parser.add_argument("content", nargs="?", help="content image (default: the sample photo 'coffee')")
    parser.add_argument("style", nargs="*", help="style image(s) (default: the sample style 'swirls')")
    parser.add_argument("--model", default="inception5h", choices=("inception5h", "vgg19"),
                        help="network whose features are compared (default inception5h)")
    parser.add_argument("--weights", default=None,
                        help="pretrained, untrained or auto (default: $CADL_WEIGHTS, else pretrained)")
    parser.add_argument("--optimizer", default="adam", choices=OPTIMIZERS,
                        help="adam (compiled steps) or lbfgs (SciPy L-BFGS-B, pixels bounded to [0, 1]) (default adam)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"Adam steps or L-BFGS iterations (default: the profile's, {full.steps} full / "
                             f"{quick.steps} quick)")
    parser.add_argument("--size", type=int, default=None,
                        help="largest long side of the picture in px; larger content images are shrunk "
                             f"(default: the profile's, {full.size} full / {quick.size} quick)")
    parser.add_argument("--lr", type=float, default=None,
                        help=f"Adam learning rate in pixel units 0..1 (default {DEFAULT_LEARNING_RATE})")
    parser.add_argument("--content-weight", type=float, default=DEFAULT_CONTENT_WEIGHT,
                        help=f"weight of the content term, >= 0 (default {DEFAULT_CONTENT_WEIGHT:g})")
    parser.add_argument("--style-weight", type=float, default=DEFAULT_STYLE_WEIGHT,
                        help=f"weight of the style term, >= 0; raise it for more style "
                             f"(default {DEFAULT_STYLE_WEIGHT:g})")
    parser.add_argument("--tv-weight", type=float, default=DEFAULT_TV_WEIGHT,
                        help=f"weight of the total variation (smoothness), >= 0 "
                             f"(default {DEFAULT_TV_WEIGHT:g})")
    parser.add_argument("--content-layer", default=None,
                        help=f"content layer (default per model: {DEFAULT_LAYERS['inception5h']['content']} for "
                             f"inception5h, {DEFAULT_LAYERS['vgg19']['content']} for vgg19)")
    parser.add_argument("--style-layers", default=None,
                        help="style layers with optional weights, e.g. conv2d2,mixed3a:2 (default per model)")
    parser.add_argument("--blend", type=float, nargs="+", default=None,
                        help="one blend weight per style image (default: equal weights)")
    parser.add_argument("--style-scale", type=float, default=1.0,
                        help="style image size relative to the content; bigger gives larger strokes (default 1.0)")
    parser.add_argument("--preserve-color", action="store_true",
                        help="transfer only the luminance and keep the content's colours")
    parser.add_argument("--init", default="content", choices=INITS,
                        help="starting picture: the content image, the style image or seeded noise (default content)")
    parser.add_argument("--seed", type=int, default=0, help="random seed of --init noise (default 0)")
    parser.add_argument("--frame-every", type=int, default=None,
                        help="steps between GIF frames (default: about 20 frames per run)")
    parser.add_argument(
        "--sweep", nargs="+", default=None, metavar="C:S",
        help="content:style weight pairs, one picture each, e.g. --sweep 1:1 1:10 1:100 (default: no sweep)",
    )
    parser.add_argument("--out", default="outputs", help="output folder (default: outputs)")
    parser.add_argument("--name", default="style",
                        help="file name prefix: NAME.gif and NAME.png, or NAME-sweep.gif and NAME-sweep-grid.png "
                             "with --sweep (default: style)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run_cli)


def _default_inputs(args) -> tuple[Any, list[Any]]:
    from .images import sample_images

    content = args.content
    if content is None:
        photos = sample_images("photo")
        content = photos.get("coffee") or next(iter(photos.values()))
    styles = list(args.style)
    if not styles:
        samples = sample_images("style")
        styles = [samples.get("swirls") or next(iter(samples.values()))]
    return content, styles


def run_cli(args) -> int:
    """Run the ``style`` sub-command; returns the exit code (130 after Ctrl-C, outputs kept)."""
    from .files import check_output_paths

    content, styles = _default_inputs(args)
    pairs = parse_pairs(args.sweep) if args.sweep is not None else None
    out = Path(args.out)
    if pairs is None:
        gif_path, png_path = out / f"{args.name}.gif", out / f"{args.name}.png"
    else:
        gif_path, png_path = out / f"{args.name}-sweep.gif", out / f"{args.name}-sweep-grid.png"
    file_inputs = [p for p in (content, *styles) if isinstance(p, (str, Path))]
    # Before the model and the images are loaded: an unusable --out costs a second, not a render.
    check_output_paths((gif_path, png_path), inputs=file_inputs)
    engine = StyleTransfer(
        content,
        styles,
        args.model,
        weights=args.weights,
        size=args.size,
        content_layer=args.content_layer,
        style_layers=args.style_layers,
        style_blend=args.blend,
        style_scale=args.style_scale,
        content_weight=args.content_weight if pairs is None else pairs[0][0],
        style_weight=args.style_weight if pairs is None else pairs[0][1],
        tv_weight=args.tv_weight,
        preserve_color=args.preserve_color,
    )
    from .cli import announce_model

    announce_model(engine.model)
    run_options = {
        "steps": args.steps,
        "optimizer": args.optimizer,
        "learning_rate": args.lr,
        "init": args.init,
        "seed": args.seed,
        "frame_every": args.frame_every,
        "progress": not args.no_progress,
    }
    if pairs is None:
        result = engine.run(**run_options)
        written = [
            result.save_gif(gif_path, inputs=file_inputs),
            result.save(png_path, inputs=file_inputs),
        ]
        interrupted = result.interrupted
    else:
        sweep = engine.sweep(pairs, **run_options)
        written = []
        if sweep.results:
            written.append(sweep.save_gif(gif_path, inputs=file_inputs))
            written.append(sweep.save_grid(png_path, inputs=file_inputs))
        interrupted = sweep.interrupted
    for path in written:
        print(f"wrote {path}")
    if interrupted:
        print("interrupted: the files above hold the frames rendered so far", file=sys.stderr)
        return 130
    return 0


__all__ = [
    "DEFAULT_LAYERS",
    "StyleResult",
    "StyleTransfer",
    "SweepResult",
    "add_cli",
    "check_pairs",
    "combine_luminance",
    "content_loss",
    "default_layers",
    "gram_loss",
    "gram_matrix",
    "match_luminance",
    "parse_pairs",
    "resolve_style_layers",
    "rgb_to_yiq",
    "style_transfer",
    "total_variation",
    "weight_sweep",
    "yiq_to_rgb",
]
