"""Style transfer: paint a content image in the style of one or more style images.

The picture is optimised directly (pixels in [0, 1]) to lower a weighted sum of three terms: content
(mean squared difference of features at the *content layer*), style (squared difference of Gram
matrices, the channel-by-channel correlations of the features, at the *style layers*, each with a
weight) and total variation (smoothness).

Gram matrices are divided by (positions x channels), so they do not depend on the image size: a style
image can be scaled (``style_scale``) and several can be blended by averaging their Gram matrices
(``blend``). With ``normalize=True`` (default) each term is *relative*: the content term is divided by
the mean square of the content features, each style layer's term by the squared norm of its target,
so the same weights work for inception5h and VGG19 (``normalize=False``: the TensorFlow tutorial's raw
terms). The optimisers also divide the total by its start value, so the first step is well scaled.

Default layers (``DEFAULT_LAYERS``): inception5h uses content ``mixed4b`` (stride 16, like VGG19's
``block5_conv2``: deep enough to fix the scene's layout, not its textures) and style ``conv2d2`` to
``mixed4c`` (strides 4 to 16, fine strokes and colours up to larger motifs; post-ReLU outputs, the
classic texture statistics); vgg19 those of Gatys et al. and the tutorial; any other model a content
layer about 60 % of the way in and up to five style layers spread before it.

Start with ``style_transfer`` and ``weight_sweep`` (their options: ``StyleSettings``);
``StyleTransfer`` (in ``style_engine``) keeps targets and compiled steps for many runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from .config import weights_mode
from .errors import LayerError, ParameterError
from .objectives import total_variation
from .runs import Result
from .settings import Settings, check_choice, check_float, check_int, check_seed, setting

# Layer kinds whose outputs are feature maps [N, h, w, C] (logits and softmax are vectors).
SPATIAL_KINDS = ("conv_pre_relu", "conv", "mixed", "pool")

DEFAULT_LAYERS: dict[str, dict[str, Any]] = {
    "inception5h": {
        "content": "mixed4b",
        "style": {"conv2d2": 1.0, "mixed3a": 1.0, "mixed3b": 1.0, "mixed4a": 1.0, "mixed4c": 1.0},
    },
    "vgg19": {"content": "block5_conv2", "style": {f"block{i}_conv1": 1.0 for i in range(1, 6)}},
}

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "style", "noise")
TERMS = ("content", "style", "tv", "total")
# Above this weight float32 losses can overflow.
MAX_WEIGHT = 1e12
MAX_STEPS = 100_000
# Largest side of the picture and of a (scaled) style image, to keep memory bounded.
MAX_SIDE = 4096

# RGB -> YIQ (NTSC). Y is luminance, I and Q are the chroma ("colour") channels.
_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]], np.float32
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


# --- loss math --------------------------------------------------------------------------------


def gram_matrix(features) -> tf.Tensor:
    """Gram matrix ``F^T F / (h * w * C)`` of feature maps [N, h, w, C] (F is [h*w, C]): [N, C, C].

    Symmetric, positive semi-definite, and independent of the image size for a stationary texture.
    """
    features = tf.convert_to_tensor(features, tf.float32)
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[3]])
    count = tf.cast(shape[1] * shape[2] * shape[3], tf.float32)
    # An empty map (0 positions) would divide by zero; its Gram matrix is all zeros anyway.
    return tf.matmul(flat, flat, transpose_a=True) / tf.maximum(count, 1.0)


def content_loss(features, target) -> tf.Tensor:
    """Mean squared difference between two feature maps (the raw content term)."""
    return tf.reduce_mean(tf.square(tf.convert_to_tensor(features, tf.float32) - target))


def gram_loss(gram, target_gram) -> tf.Tensor:
    """Sum of squared differences of two Gram matrices (one layer's raw style term; with
    ``gram_matrix``'s scaling, the tutorial's mean over positions-normalised Gram matrices)."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(gram - target_gram), axis=[-2, -1]))


# --- colour -----------------------------------------------------------------------------------


def rgb_to_yiq(image):
    """RGB [..., 3] -> YIQ [..., 3] (numpy array or tensor, same kind back)."""
    if isinstance(image, tf.Tensor):
        return tf.tensordot(image, tf.constant(_RGB_TO_YIQ.T, image.dtype), axes=1)
    return np.asarray(image, np.float32) @ _RGB_TO_YIQ.T


def yiq_to_rgb(image):
    """YIQ [..., 3] -> RGB [..., 3] (not clipped; numpy array or tensor, same kind back)."""
    if isinstance(image, tf.Tensor):
        return tf.tensordot(image, tf.constant(_YIQ_TO_RGB.T, image.dtype), axes=1)
    return np.asarray(image, np.float32) @ _YIQ_TO_RGB.T


def match_luminance(source_y: np.ndarray, reference_y: np.ndarray) -> np.ndarray:
    """``source_y`` shifted and scaled to the mean and spread of ``reference_y`` (a flat source is only shifted).

    Used before a colour-preserving transfer so the style's brightness and contrast do not override the
    content's (Gatys et al., "Preserving colour in neural artistic style transfer").
    """
    source_y = np.asarray(source_y, np.float32)
    mean_s, std_s = float(source_y.mean()), float(source_y.std())
    mean_r, std_r = float(np.mean(reference_y)), float(np.std(reference_y))
    gain = std_r / std_s if std_s >= 1e-6 else 1.0
    return np.clip((source_y - mean_s) * gain + mean_r, 0.0, 1.0).astype(np.float32)


def combine_luminance(y: np.ndarray, chroma_image: np.ndarray) -> np.ndarray:
    """RGB image with luminance ``y`` [H, W] (or [H, W, 1]) and the I/Q chroma of ``chroma_image``."""
    yiq = rgb_to_yiq(chroma_image)
    yiq[..., 0] = np.asarray(y, np.float32).reshape(yiq.shape[:2])
    return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)


# --- settings ---------------------------------------------------------------------------------


def _weight(value: Any, name: str) -> float:
    return check_float(value, name, at_least=0.0, at_most=MAX_WEIGHT, fix="use 0 to switch a term off")


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ParameterError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _layer_spec(spec: Any) -> tuple[tuple[str, float], ...] | None:
    """Style layers as ``((name, weight), ...)`` from a mapping, names, pairs or a ``"a,b:2"`` string."""
    if spec is None:
        return None
    if isinstance(spec, str):
        items = [tuple(part.partition(":")[::2]) for part in spec.split(",") if part.strip()]
    elif isinstance(spec, Mapping):
        items = list(spec.items())
    elif hasattr(spec, "__iter__"):
        items = [(item, 1.0) if isinstance(item, str) else item for item in spec]
    else:
        raise ParameterError(f"style_layers must be names with weights, e.g. 'conv2d2,mixed3a:2', got {spec!r}")
    if not items:
        raise ParameterError("no style layers given: name at least one, e.g. style_layers=['mixed3a']")
    pairs = []
    for item in items:
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ParameterError(f"style layer {item!r} is not a name or a (name, weight) pair")
        name, weight = str(item[0]).strip(), item[1]
        if isinstance(weight, str):
            try:
                weight = float(weight) if weight.strip() else 1.0
            except ValueError:
                raise ParameterError(f"weight of style layer {name!r} must be a number, got {weight!r}") from None
        pairs.append((name, _weight(weight, f"weight of style layer {name!r}")))
    if sum(w for _, w in pairs) <= 0.0:
        raise ParameterError("all style layer weights are 0: give at least one layer a positive weight")
    return tuple(pairs)


def _blend(blend: Any) -> tuple[float, ...]:
    """One weight per style image (a single number for a single image)."""
    values = list(blend) if hasattr(blend, "__iter__") and not isinstance(blend, str) else [blend]
    values = tuple(_weight(value, "blend weight") for value in values)
    if sum(values) <= 0.0:
        raise ParameterError("blend weights are all 0: give at least one style image a positive weight")
    return values


@dataclass(frozen=True)
class StyleSettings(Settings):
    """The options of a style transfer, checked once when made (``StyleSettings.make(**overrides)``)."""

    optimizer: str = setting("adam", "adam (compiled steps) or lbfgs (SciPy L-BFGS-B, pixels bounded to [0, 1])",
                             choices=OPTIMIZERS)  # fmt: skip
    steps: int | None = setting(None, f"Adam steps or L-BFGS iterations, 0..{MAX_STEPS} (None: the profile's)")
    size: int | None = setting(None, f"largest long side of the picture, 8..{MAX_SIDE} px; larger content images "
                                     "are shrunk (None: the profile's)")  # fmt: skip
    learning_rate: float = setting(0.02, "Adam step in pixel units, in (0, 1]")
    beta1: float = setting(0.9, "Adam's first-moment decay, in [0, 1)")
    beta2: float = setting(0.999, "Adam's second-moment decay, in [0, 1)")
    epsilon: float = setting(1e-8, "Adam's epsilon, in (0, 1]")
    content_weight: float = setting(1.0, f"weight of the content term, 0..{MAX_WEIGHT:g}")
    style_weight: float = setting(10.0, f"weight of the style term, 0..{MAX_WEIGHT:g}; raise it for more style")
    tv_weight: float = setting(0.1, f"weight of the total variation (smoothness), 0..{MAX_WEIGHT:g}")
    content_layer: str | None = setting(None, "content layer (None: the model's, mixed4b for inception5h)")
    style_layers: Any = setting(None, "style layers with optional weights, e.g. conv2d2,mixed3a:2 (None: the "
                                      "model's)", type=str)  # fmt: skip
    blend: tuple[float, ...] | None = setting(None, "one weight per style image, e.g. 0.3 0.7 (None: equal)",
                                              type=float, nargs="+")  # fmt: skip
    style_scale: float = setting(1.0, "style image size relative to the content, (0, 16]; bigger, larger strokes")
    normalize: bool = setting(True, "relative loss terms (off: the tutorial's raw terms)")
    preserve_color: bool = setting(False, "transfer only the luminance and keep the content's colours")
    init: Any = setting("content", "starting picture: content, style, noise (or an array of the content's size)",
                        choices=INITS)  # fmt: skip
    seed: int | None = setting(0, "random seed of init noise (None: a random one)")
    frame_every: int | None = setting(None, "steps between recorded frames, >= 1 (None: about 20 frames)")
    steps_per_call: int = setting(10, "Adam steps per compiled call, 1..1000 (fewer Python round trips)")
    progress: bool = setting(True, "show a progress bar")
    weights: str | None = setting(None, "weights mode of a model given by name", cli=False)

    def check(self) -> None:
        set_ = self._set
        set_("optimizer", check_choice(self.optimizer, "optimizer", OPTIMIZERS))
        for name, low, high in (("steps", 0, MAX_STEPS), ("size", 8, MAX_SIDE), ("frame_every", 1, MAX_STEPS)):
            if getattr(self, name) is not None:
                set_(name, check_int(getattr(self, name), name, minimum=low, maximum=high))
        set_("steps_per_call", check_int(self.steps_per_call, "steps_per_call", minimum=1, maximum=1000))
        set_("learning_rate", check_float(self.learning_rate, "learning_rate", above=0.0, at_most=1.0,
                                          fix="use e.g. 0.02"))  # fmt: skip
        for name in ("beta1", "beta2"):
            set_(name, check_float(getattr(self, name), name, at_least=0.0, below=1.0, fix="use e.g. 0.9"))
        set_("epsilon", check_float(self.epsilon, "epsilon", above=0.0, at_most=1.0, fix="use e.g. 1e-8"))
        for name in ("content_weight", "style_weight", "tv_weight"):
            set_(name, _weight(getattr(self, name), name))
        if self.content_weight + self.style_weight + self.tv_weight <= 0.0:
            raise ParameterError("content, style and tv weights are all 0: there is nothing to optimise")
        if self.content_layer is not None and (not isinstance(self.content_layer, str) or not self.content_layer):
            raise ParameterError(f"content_layer must be a layer name, got {self.content_layer!r}")
        set_("style_layers", _layer_spec(self.style_layers))
        if self.blend is not None:
            set_("blend", _blend(self.blend))
        set_("style_scale", check_float(self.style_scale, "style_scale", above=0.0, at_most=16.0,
                                        fix="1.0 is the content's size"))  # fmt: skip
        for name in ("normalize", "preserve_color", "progress"):
            set_(name, _flag(getattr(self, name), name))
        if isinstance(self.init, str):
            set_("init", check_choice(self.init, "init", INITS))
        set_("seed", check_seed(self.seed))
        if self.weights is not None:
            set_("weights", weights_mode(self.weights))


def check_pairs(pairs: Any) -> list[tuple[float, float]]:
    """A weight sweep as a list of (content weight, style weight) pairs.

    Raises:
        ParameterError: empty, malformed, NaN/inf/negative weights, or a (0, 0) pair.
    """
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise ParameterError(f"pairs must be a list of (content_weight, style_weight), got {pairs!r}")
    items = list(pairs)
    if not items:
        raise ParameterError("the weight sweep is empty: give at least one (content_weight, style_weight) pair")
    out = []
    for item in items:
        if isinstance(item, (str, bytes)) or not hasattr(item, "__len__") or len(item) != 2:
            raise ParameterError(f"sweep entry {item!r} is not a (content_weight, style_weight) pair, e.g. (1.0, 10.0)")
        pair = (_weight(item[0], "sweep content weight"), _weight(item[1], "sweep style weight"))
        if pair == (0.0, 0.0):
            raise ParameterError("sweep pair (0, 0) has nothing to optimise: give one weight a positive value")
        out.append(pair)
    return out


# --- layers -----------------------------------------------------------------------------------


def _spatial_layer(model, name: str, role: str) -> str:
    """``name`` if ``model`` has it with feature maps (LayerError otherwise)."""
    info = model.layer(name)
    if info.kind not in SPATIAL_KINDS:
        spatial = [n for n in model.layer_names() if model.layer(n).kind in SPATIAL_KINDS]
        raise LayerError(
            f"{role} layer {name!r} is a {info.kind} layer without positions; style transfer needs a "
            f"convolution or mixed layer, e.g. {', '.join(spatial[-6:])}"
        )
    return name


def default_layers(model) -> tuple[str, dict[str, float]]:
    """The default ``(content_layer, {style_layer: weight})`` of ``model`` (see ``DEFAULT_LAYERS``)."""
    preset = DEFAULT_LAYERS.get(getattr(model, "name", ""))
    if preset is not None and all(n in model.layer_names() for n in [preset["content"], *preset["style"]]):
        return preset["content"], dict(preset["style"])
    candidates = [i.name for i in model.layers if i.kind in ("conv", "mixed")]
    if not candidates:
        raise LayerError(f"{model.name} has no convolution or mixed layers to use for style transfer")
    content_index = min(len(candidates) - 1, int(round(0.6 * (len(candidates) - 1))))
    picks = np.linspace(0, content_index, num=min(5, content_index + 1)).round().astype(int)
    return candidates[content_index], {candidates[i]: 1.0 for i in sorted(set(picks.tolist()))}


def resolve_style_layers(model, style_layers: Any) -> dict[str, float]:
    """Style layers as ``{name: weight}`` from a mapping, a list of names or a ``"a,b:2"`` string, checked
    against ``model`` (LayerError: unknown or without positions; ParameterError: empty or bad weights)."""
    return {_spatial_layer(model, name, "style"): weight for name, weight in _layer_spec(style_layers)}


# --- results ----------------------------------------------------------------------------------


@dataclass
class StyleResult(Result):
    """One style-transfer run: ``frames`` every ``frame_every`` steps (the first is the start picture).

    Attributes:
        frame_steps: the step of each frame.
        history: the weighted terms ``content``, ``style``, ``tv`` and their ``total`` (not divided by the
            start scale) of the start picture and after every step.
        seconds: wall time of the optimisation.
        evaluations: loss-and-gradient evaluations (Adam: one per step; L-BFGS: one or more per step).
        settings: the StyleSettings used (size, layers and steps filled in).
    """

    frame_steps: list[int] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TERMS})
    seconds: float = 0.0
    evaluations: int = 0
    settings: StyleSettings | None = None


_NO_PICTURES = "the sweep has no pictures yet: run at least one weight pair"


@dataclass
class SweepResult(Result):
    """A weight sweep: ``frames`` holds the final picture of each pair (Ctrl-C keeps the pairs finished).

    Attributes:
        pairs: the (content weight, style weight) pairs run, in order.
        results: one StyleResult per pair.
    """

    pairs: list[tuple[float, float]] = field(default_factory=list)
    results: list[StyleResult] = field(default_factory=list)

    def grid(self, cols: int | None = None) -> np.ndarray:
        """All final pictures in one montage (``cols`` default: about square)."""
        from .images import montage

        if not self.frames:
            raise ParameterError(_NO_PICTURES)
        return montage(self.frames, cols or int(math.ceil(math.sqrt(len(self.frames)))))

    def save_gif(self, path: str | Path, duration_ms: int = 500, inputs: Sequence = ()) -> Path:
        """Write the sweep GIF (one frame per pair, atomically) and return its path."""
        if not self.frames:
            raise ParameterError(_NO_PICTURES)
        return super().save_gif(path, duration_ms=duration_ms, inputs=inputs)

    def save_grid(self, path: str | Path, cols: int | None = None, inputs: Sequence = ()) -> Path:
        """Write the montage of all pairs (atomically) and return its path."""
        from .images import save_image

        return save_image(self.grid(cols), path, inputs=inputs)


# --- one-call API -----------------------------------------------------------------------------


def style_transfer(content, style, model=None, settings: StyleSettings | None = None, *, callback=None,
                   **overrides: Any) -> StyleResult:  # fmt: skip
    """Paint ``content`` in the style of ``style`` (one image or a list to blend).

    Args:
        content: content image (path or RGB array in [0, 1]).
        style: a style image or a list of them.
        model: a Model, a model name (``inception5h``, ``vgg19``) or None (inception5h).
        settings: a StyleSettings (default: the defaults); ``**overrides`` change some of it.
        callback: ``callback(StepInfo)`` at every frame (``terms``: content, style, tv); False stops.

    Returns:
        StyleResult (Ctrl-C or a stop keeps the frames so far, ``interrupted=True``).
    """
    settings = StyleSettings.make(settings, **overrides)
    return StyleTransfer(content, style, model, settings).run(callback=callback)


def weight_sweep(content, style, pairs, model=None, settings: StyleSettings | None = None, *, callback=None,
                 **overrides: Any) -> SweepResult:  # fmt: skip
    """One style transfer per (content weight, style weight) pair, sharing targets and compiled steps.

    Args:
        content, style, model, settings, callback, overrides: as for ``style_transfer``.
        pairs: ``[(content_weight, style_weight), ...]``, not empty.

    Returns:
        SweepResult: ``frames`` (one per pair), ``grid()``, ``save_gif``, ``save_grid``.
    """
    checked = check_pairs(pairs)
    settings = StyleSettings.make(settings, **overrides)
    return StyleTransfer(content, style, model, settings).sweep(checked, callback=callback)


# The engine uses the helpers above; the package imports this module first, so the cycle resolves.
from .style_engine import StyleTransfer  # noqa: E402

__all__ = [
    "DEFAULT_LAYERS", "StyleResult", "StyleSettings", "StyleTransfer", "SweepResult", "check_pairs",
    "combine_luminance", "content_loss", "default_layers", "gram_loss", "gram_matrix", "match_luminance",
    "resolve_style_layers", "rgb_to_yiq", "style_transfer", "total_variation", "weight_sweep", "yiq_to_rgb",
]  # fmt: skip
