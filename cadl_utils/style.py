"""Style transfer: paint a content image in the style of one or more style images.

The pixels are optimised to lower content + style + total variation terms: features at the *content
layer*, Gram matrices (divided by positions x channels, so sizes need not match; several style images
blend by averaging them) at the *style layers*. ``normalize`` makes each term relative to its target,
so the same weights suit inception5h and VGG19. Start with ``style_transfer``, ``StyleSettings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import tensorflow as tf

from .config import weights_mode
from .errors import LayerError, ParameterError
from .images import montage, save_image
from .runs import Result
from .settings import Settings, check_choice, check_float, check_int, check_seed, setting

# Layer kinds whose outputs are feature maps [N, h, w, C] (logits and softmax are vectors).
SPATIAL_KINDS = ("conv_pre_relu", "conv", "mixed", "pool")

# The layer presets (StyleSettings(layers=...)). default: inception5h's content layer mixed4b has stride 16 like
# VGG19's block5_conv2 (the layout, not the textures); style from conv2d2 to mixed4c (strokes up to motifs).
DEFAULT_LAYERS: dict[str, dict[str, Any]] = {
    "inception5h": {"content": "mixed4b",
                    "style": dict.fromkeys(["conv2d2", "mixed3a", "mixed3b", "mixed4a", "mixed4c"], 1.0)},
    "vgg19": {"content": "block5_conv2", "style": {f"block{i}_conv1": 1.0 for i in range(1, 6)}},
    "random-multiscale": {"content": "scale4", "style": {f"scale{2**k}": 1.0 for k in range(5)}},
}
# course, as the CADL course had it: content early (the picture's edges stay), style late (large motifs, few strokes).
COURSE_LAYERS: dict[str, dict[str, Any]] = {
    "inception5h": {"content": "conv2d2", "style": dict.fromkeys(["mixed4c", "mixed4d", "mixed4e"], 1.0)},
    "vgg19": {"content": "block2_conv2", "style": dict.fromkeys(["block4_conv1", "block5_conv1"], 1.0)},
    "random-multiscale": {"content": "scale1", "style": dict.fromkeys(["scale4", "scale8", "scale16"], 1.0)},
}
LAYER_PRESETS = {"default": DEFAULT_LAYERS, "course": COURSE_LAYERS}

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "style", "noise")
TERMS = ("content", "style", "tv", "total")
MAX_WEIGHT = 1e12  # above it float32 losses can overflow
MAX_STEPS = 100_000
MAX_SIDE = 4096  # of the picture and of a scaled style image: bounded memory

_RGB_TO_YIQ = np.array([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
                       np.float32)  # fmt: skip
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype(np.float32)


def gram_matrix(features) -> tf.Tensor:
    """``F^T F / (h * w * C)`` of feature maps [N, h, w, C] (F: [h*w, C]), [N, C, C]: symmetric, PSD, size-free."""
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
    """Sum of squared differences of two Gram matrices (one layer's raw style term, as in the tutorial)."""
    return tf.reduce_mean(tf.reduce_sum(tf.square(gram - target_gram), axis=[-2, -1]))


def rgb_to_yiq(image) -> np.ndarray:
    """RGB [..., 3] -> YIQ [..., 3] (Y: luminance; I, Q: colour)."""
    return np.asarray(image, np.float32) @ _RGB_TO_YIQ.T


def yiq_to_rgb(image) -> np.ndarray:
    """YIQ [..., 3] -> RGB [..., 3] (not clipped)."""
    return np.asarray(image, np.float32) @ _YIQ_TO_RGB.T


def match_luminance(source_y: np.ndarray, reference_y: np.ndarray) -> np.ndarray:
    """``source_y`` moved to the mean and spread of ``reference_y`` (colour preservation, Gatys et al.)."""
    source_y, spread = np.asarray(source_y, np.float32), float(np.std(source_y))
    gain = float(np.std(reference_y)) / spread if spread >= 1e-6 else 1.0  # a flat source is only shifted
    return np.clip((source_y - source_y.mean()) * gain + np.mean(reference_y), 0.0, 1.0).astype(np.float32)


def combine_luminance(y: np.ndarray, chroma_image: np.ndarray) -> np.ndarray:
    """RGB image with luminance ``y`` [H, W] (or [H, W, 1]) and the I/Q chroma of ``chroma_image``."""
    yiq = rgb_to_yiq(chroma_image)
    yiq[..., 0] = np.asarray(y, np.float32).reshape(yiq.shape[:2])
    return np.clip(yiq_to_rgb(yiq), 0.0, 1.0).astype(np.float32)


def _weight(value: Any, name: str) -> float:
    return check_float(value, name, at_least=0.0, at_most=MAX_WEIGHT, fix="use 0 to switch a term off")


def _layer_spec(spec: Any) -> tuple[tuple[str, float], ...] | None:
    """Style layers as ``((name, weight), ...)`` from ``"a,b:2"``, a mapping, names or (name, weight) pairs."""
    if spec is None:
        return None
    try:
        if isinstance(spec, str):
            spec = [part.partition(":")[::2] for part in spec.split(",") if part.strip()]
        items = spec.items() if isinstance(spec, Mapping) else [(i, "") if isinstance(i, str) else i for i in spec]
        pairs = tuple((str(name).strip(), float(1.0 if weight == "" else weight)) for name, weight in items)
    except (TypeError, ValueError):
        raise ParameterError(f"style_layers must be layer names with optional weights, e.g. 'conv2d2,mixed3a:2'; "
                             f"got {spec!r}") from None  # fmt: skip
    if not pairs:
        raise ParameterError("no style layers given: name at least one, e.g. style_layers=['mixed3a']")
    for name, weight in pairs:
        _weight(weight, f"weight of style layer {name!r}")
    if sum(weight for _, weight in pairs) <= 0.0:
        raise ParameterError("all style layer weights are 0: give at least one layer a positive weight")
    return pairs


@dataclass(frozen=True)
class StyleSettings(Settings):
    """The options of a style transfer, checked once when made (``StyleSettings.make(**overrides)``)."""

    optimizer: str = setting("adam", "adam, or lbfgs (SciPy L-BFGS-B, pixels bounded to [0, 1])", choices=OPTIMIZERS)
    steps: int | None = setting(None, f"Adam steps or L-BFGS iterations, 0..{MAX_STEPS} (None: the profile's)")
    size: int | None = setting(None, f"long side of the picture, 8..{MAX_SIDE} px (None: the profile's)")
    learning_rate: float = setting(0.02, "Adam step in pixel units, in (0, 1]")
    beta1: float = setting(0.9, "Adam's first-moment decay, in [0, 1)")
    beta2: float = setting(0.999, "Adam's second-moment decay, in [0, 1)")
    epsilon: float = setting(1e-8, "Adam's epsilon, in (0, 1]")
    content_weight: float = setting(1.0, f"weight of the content term, 0..{MAX_WEIGHT:g}")
    style_weight: float = setting(10.0, f"weight of the style term, 0..{MAX_WEIGHT:g} (more: more style)")
    tv_weight: float = setting(0.1, f"weight of the total variation (smoothness), 0..{MAX_WEIGHT:g}")
    layers: str = setting("default", "layer preset: default, or course (content early, style late)",
                          choices=tuple(LAYER_PRESETS))  # fmt: skip
    content_layer: str | None = setting(None, "content layer (None: the preset's, e.g. mixed4b)")
    style_layers: Any = setting(None, "style layers[:weight], e.g. conv2d2,mixed3a:2 (None: the preset's)", type=str)
    blend: tuple[float, ...] | None = setting(None, "one weight per style image (None: equal)", type=float, nargs="+")
    style_scale: float = setting(1.0, "style image size relative to the content, (0, 16]; bigger, larger strokes")
    normalize: bool = setting(True, "relative loss terms (off: the tutorial's raw terms)")
    preserve_color: bool = setting(False, "transfer only the luminance and keep the content's colours")
    init: Any = setting("content", "start: content, style, noise (or an array the content's size)", choices=INITS)
    seed: int | None = setting(0, "random seed of init noise (None: a random one)")
    frame_every: int | None = setting(None, "steps between recorded frames, >= 1 (None: about 20 frames)")
    steps_per_call: int = setting(10, "Adam steps per compiled call, 1..1000 (fewer Python round trips)")
    progress: bool = setting(True, "show a progress bar")
    weights: str | None = setting(None, "weights mode of a model given by name", cli=False)

    def check(self) -> None:
        set_ = self._set
        set_("optimizer", check_choice(self.optimizer, "optimizer", OPTIMIZERS))
        set_("layers", check_choice(self.layers, "layers", tuple(LAYER_PRESETS)))
        for name, low, high in (("steps", 0, MAX_STEPS), ("size", 8, MAX_SIDE), ("frame_every", 1, MAX_STEPS)):
            if getattr(self, name) is not None:
                set_(name, check_int(getattr(self, name), name, minimum=low, maximum=high))
        set_("steps_per_call", check_int(self.steps_per_call, "steps_per_call", minimum=1, maximum=1000))
        set_("learning_rate", check_float(self.learning_rate, "learning_rate", above=0, at_most=1, fix="use e.g. 0.02"))
        set_("beta1", check_float(self.beta1, "beta1", at_least=0.0, below=1.0, fix="use e.g. 0.9"))
        set_("beta2", check_float(self.beta2, "beta2", at_least=0.0, below=1.0, fix="use e.g. 0.999"))
        set_("epsilon", check_float(self.epsilon, "epsilon", above=0.0, at_most=1.0, fix="use e.g. 1e-8"))
        for name in ("content_weight", "style_weight", "tv_weight"):
            set_(name, _weight(getattr(self, name), name))
        if self.content_weight + self.style_weight + self.tv_weight <= 0.0:
            raise ParameterError("content, style and tv weights are all 0: there is nothing to optimise")
        if self.content_layer is not None and (not isinstance(self.content_layer, str) or not self.content_layer):
            raise ParameterError(f"content_layer must be a layer name, got {self.content_layer!r}")
        set_("style_layers", _layer_spec(self.style_layers))
        if self.blend is not None:
            blend = tuple(self.blend) if isinstance(self.blend, (tuple, list, np.ndarray)) else (self.blend,)
            set_("blend", tuple(_weight(value, "blend weight") for value in blend))
            if sum(self.blend) <= 0.0:
                raise ParameterError("blend weights are all 0: give at least one style image a positive weight")
        set_("style_scale", check_float(self.style_scale, "style_scale", above=0, at_most=16, fix="1: the same size"))
        for name in ("normalize", "preserve_color", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ParameterError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if isinstance(self.init, str):
            set_("init", check_choice(self.init, "init", INITS))
        set_("seed", check_seed(self.seed))
        if self.weights is not None:
            set_("weights", weights_mode(self.weights))


def check_pairs(pairs: Any) -> list[tuple[float, float]]:
    """A weight sweep as checked (content weight, style weight) pairs (ParameterError: empty, malformed, (0, 0))."""
    try:
        pairs = [(content, style) for content, style in pairs]
    except (TypeError, ValueError):
        raise ParameterError(f"pairs must be a list of (content_weight, style_weight) pairs, e.g. [(1, 10), (1, 100)]; "
                             f"got {pairs!r}") from None  # fmt: skip
    out = [(_weight(c, "sweep content weight"), _weight(s, "sweep style weight")) for c, s in pairs]
    if not out:
        raise ParameterError("the weight sweep is empty: give at least one (content_weight, style_weight) pair")
    if (0.0, 0.0) in out:
        raise ParameterError("sweep pair (0, 0) has nothing to optimise: give one weight a positive value")
    return out


def _spatial_layer(model, name: str, role: str) -> str:
    """``name`` if ``model`` has it with feature maps (LayerError otherwise)."""
    info = model.layer(name)
    if info.kind not in SPATIAL_KINDS:
        spatial = [n for n in model.layer_names() if model.layer(n).kind in SPATIAL_KINDS]
        raise LayerError(f"{role} layer {name!r} is a {info.kind} layer without positions; style transfer needs a "
                         f"convolution or mixed layer, e.g. {', '.join(spatial[-6:])}")  # fmt: skip
    return name


def default_layers(model, preset: str = "default") -> tuple[str, dict[str, float]]:
    """``(content_layer, {style_layer: weight})`` of ``model`` in ``preset`` (``default`` or ``course``, see
    ``LAYER_PRESETS``); for other models, picked along their conv and mixed layers."""
    chosen = LAYER_PRESETS[check_choice(preset, "layers", tuple(LAYER_PRESETS))].get(getattr(model, "name", ""))
    if chosen is not None and all(n in model.layer_names() for n in [chosen["content"], *chosen["style"]]):
        return chosen["content"], dict(chosen["style"])
    candidates = [i.name for i in model.layers if i.kind in ("conv", "mixed")]
    if not candidates:
        raise LayerError(f"{model.name} has no convolution or mixed layers to use for style transfer")
    last = len(candidates) - 1
    if preset == "course":  # content a fifth of the way in, style the last third
        picks = np.linspace(round(0.67 * last), last, num=min(3, last + 1)).round().astype(int)
        return candidates[round(0.2 * last)], {candidates[i]: 1.0 for i in sorted(set(picks.tolist()))}
    content_index = min(last, int(round(0.6 * last)))
    picks = np.linspace(0, content_index, num=min(5, content_index + 1)).round().astype(int)
    return candidates[content_index], {candidates[i]: 1.0 for i in sorted(set(picks.tolist()))}


def resolve_style_layers(model, style_layers: Any) -> dict[str, float]:
    """Style layers as ``{name: weight}`` (from ``"a,b:2"``, a mapping or names), checked against ``model``."""
    return {_spatial_layer(model, name, "style"): weight for name, weight in _layer_spec(style_layers)}


@dataclass
class StyleResult(Result):
    """One run: ``frames`` every ``frame_every`` steps (the first is the start) and their ``frame_steps``;
    ``history``: the weighted terms content, style, tv and total, at the start and after each step; ``seconds``;
    ``evaluations`` of loss and gradient (L-BFGS: one or more per step); ``settings`` (all filled in)."""

    frame_steps: list[int] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TERMS})
    seconds: float = 0.0
    evaluations: int = 0
    settings: StyleSettings | None = None


@dataclass
class SweepResult(Result):
    """A weight sweep: ``frames`` are the final pictures, ``results`` the StyleResults of ``pairs``."""

    pairs: list[tuple[float, float]] = field(default_factory=list)
    results: list[StyleResult] = field(default_factory=list)

    def grid(self, cols: int | None = None) -> np.ndarray:
        """All final pictures in one montage (``cols`` default: about square)."""
        if not self.frames:
            raise ParameterError("the sweep has no pictures yet: run at least one weight pair")
        return montage(self.frames, cols)

    def save_gif(self, path: str | Path, duration_ms: int = 500, inputs: Sequence = ()) -> Path:
        """Write the sweep GIF (one frame per pair, atomically) and return its path."""
        self.grid()  # an empty sweep is refused with the message above
        return super().save_gif(path, duration_ms=duration_ms, inputs=inputs)

    def save_grid(self, path: str | Path, cols: int | None = None, inputs: Sequence = ()) -> Path:
        """Write the montage of all pairs (atomically) and return its path."""
        return save_image(self.grid(cols), path, inputs=inputs)


def style_transfer(content, style, model=None, settings: StyleSettings | None = None, *, callback=None,
                   **overrides: Any) -> StyleResult:  # fmt: skip
    """Paint ``content`` in the style of ``style`` (images: paths or RGB arrays; ``style`` may be a list to blend).

    Args:
        model: a Model, a model name (``inception5h``, ``vgg19``, ``random-multiscale``) or None (inception5h).
        settings: a StyleSettings (None: the defaults), changed by ``**overrides``.
        callback: ``callback(StepInfo)`` at every frame (``terms``: content, style, tv); False stops.

    Returns a StyleResult (Ctrl-C or a stop keeps the frames so far, ``interrupted=True``).
    """
    return StyleTransfer(content, style, model, settings, **overrides).run(callback=callback)


def weight_sweep(content, style, pairs, model=None, settings: StyleSettings | None = None, *, callback=None,
                 **overrides: Any) -> SweepResult:  # fmt: skip
    """``style_transfer`` once per ``(content_weight, style_weight)`` in ``pairs``, sharing targets and traces;
    returns a SweepResult: ``frames`` (one per pair), ``grid()``, ``save_gif``, ``save_grid``."""
    checked = check_pairs(pairs)  # before the targets are computed
    return StyleTransfer(content, style, model, settings, **overrides).sweep(checked, callback=callback)


# The engine uses the helpers above; the package imports this module first, so the cycle resolves.
from .style_engine import StyleTransfer  # noqa: E402,F401
