"""Guided hallucination: move a *dream* image towards (or away from) what a network sees in a *guide*.

Terms to MAXIMISE (a negative weight descends one): ``feature_similarity`` (``dot``, ``l1``, ``l2``) of features
``pooled`` over positions or, as the course did, compared at ``positions``; ``pixel_similarity`` (``l1``, ``l2``),
``smoothness``; ``guided`` runs one of the course's ``PRESETS``. Feature terms are in units of the guide's RMS,
times a gain (``balance``) that makes ``1.0 * feature`` pull as hard as ``1.0 * pixel(l1)`` (else 15-500x harder).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import tensorflow as tf

from . import config
from .dream import MAX_STEPS, DreamSettings, feedback_loop, tile_grid
from .errors import LayerError, ModelError, NonFiniteError, ParameterError
from .files import check_output_paths
from .images import as_image, crop_to_aspect, resize
from .models import resolve_model
from .objectives import Objective, TotalVariation, WeightedSum, check_weight
from .runs import Result
from .settings import Settings, check_choice, check_int, setting

FEATURE_METRICS = ("dot", "l1", "l2")
PIXEL_METRICS = ("l1", "l2")
COMPARE = ("pooled", "positions")
_L2_EPS = 1e-12  # keeps sqrt differentiable at a zero distance (identical dream and guide)
TERM_WEIGHTS = ("feature_weight", "pixel_weight", "tv_weight")
DEFAULT_LAYERS = {"inception5h": ("mixed4c",), "vgg19": ("block4_conv2",), "inception_v3": ("mixed5",)}


def feature_vector(features, compare: str = "pooled") -> tf.Tensor:
    """The float32 vector a feature term compares: ``pooled`` the mean over positions, [N, h, w, C] -> [N, C];
    ``positions`` the map flattened, [N, h, w, C] -> [N, h*w*C] (the course's form). [N, D] is kept."""
    features, compare = tf.cast(features, tf.float32), check_choice(compare, "compare", COMPARE)
    if features.shape.rank not in (2, 4):
        raise ParameterError(f"features must be [N, h, w, C] or [N, C], got shape {features.shape}")
    if features.shape.rank == 4 and compare == "positions":
        return tf.reshape(features, [tf.shape(features)[0], -1])
    return tf.reduce_mean(features, axis=[1, 2]) if features.shape.rank == 4 else features


def feature_scale(guide_vector) -> float:
    """The root-mean-square of a guide's [C] vector (the unit of feature terms); 1.0 for zeros."""
    rms = float(np.sqrt(np.mean(np.square(np.asarray(guide_vector, np.float64))))) if np.size(guide_vector) else 0.0
    return rms if rms > 1e-6 else 1.0  # all (almost) zero: not rescaled


def feature_term(dream_vector, guide_vector, metric: str, scale: float = 1.0) -> tf.Tensor:
    """[N, D] dream and [D] guide vectors (``feature_vector``) compared: ``dot`` mean(d * g) / scale**2 (1.0
    when d == g), ``l1`` mean|d - g| / scale, ``l2`` RMS(d - g) / scale (0.0 when d == g, finite gradient)."""
    metric = check_choice(metric, "feature metric", FEATURE_METRICS)
    dream_vector, guide_vector = tf.cast(dream_vector, tf.float32), tf.cast(guide_vector, tf.float32)
    if metric == "dot":
        return tf.reduce_mean(dream_vector * guide_vector) / float(scale) ** 2
    difference = (dream_vector - guide_vector) / float(scale)
    if metric == "l1":
        # TensorFlow's gradient of |x| at 0 is 0: identical features give a zero step, not NaN.
        return tf.reduce_mean(tf.abs(difference))
    mean_square = tf.reduce_mean(tf.square(difference), axis=-1)
    return tf.reduce_mean(tf.sqrt(mean_square + _L2_EPS) - np.sqrt(_L2_EPS))


def pixel_distance(image, guide, metric: str = "l1") -> tf.Tensor:
    """Mean absolute (``l1``) or mean squared (``l2``) difference of [N, H, W, 3] image and [h, w, 3]
    guide, in [0, 1]. The image's centre, cropped to the guide's aspect ratio, is resized to the guide's size
    if it differs (also in a tf.function; ``guided`` fits the guide to the dream: no crop, no costly resize)."""
    metric = check_choice(metric, "pixel metric", PIXEL_METRICS)
    guide = tf.convert_to_tensor(guide, tf.float32)
    guide = guide[0] if guide.shape.rank == 4 else guide
    height, width = int(guide.shape[0]), int(guide.shape[1])
    fitted = crop_to_aspect(tf.convert_to_tensor(image, tf.float32), height, width)
    same = tf.reduce_all(tf.equal(tf.shape(fitted)[1:3], (height, width)))  # decided as the step runs
    difference = tf.cond(same, lambda: fitted, lambda: resize(fitted, (height, width))) - guide
    return tf.reduce_mean(tf.abs(difference) if metric == "l1" else tf.square(difference))


@dataclass(frozen=True)
class GuideFeatures:
    """A guide's features, computed once: per layer its vector (``feature_vector`` with ``compare``), its RMS
    (``scales``) and the balance gain; ``image`` is the guide as the network saw it, ``model_name`` who saw it."""

    vectors: dict
    scales: dict
    gains: dict
    image: np.ndarray
    model_name: str
    compare: str = "pooled"

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(self.vectors)


def _guide_pass(model, guide: np.ndarray, names: tuple, grid: tuple, reference: dict | None,
                compare: str) -> tuple[dict, dict]:
    """One pass over the guide's tiles (``grid`` from ``dream.tile_grid``): layer -> ``feature_vector``, and layer ->
    mean square of the gradient of the dot term with ``reference``'s vectors (None: the tile's own)."""
    (tile_h, tile_w, tiles), (height, width) = grid, guide.shape[:2]
    vectors, mean_squares = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
    for top, left, y, x in tiles:
        # The part of the tile it adds, as fractions of the tile: (y0, y1, x0, x1).
        own = ((y - top) / tile_h, (min(y + tile_h, height) - top) / tile_h,
               (x - left) / tile_w, (min(x + tile_w, width) - left) / tile_w)  # fmt: skip
        share = (own[1] - own[0]) * (own[3] - own[2]) * tile_h * tile_w / (height * width)
        batch = tf.convert_to_tensor(guide[None, top : top + tile_h, left : left + tile_w])
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch(batch)
            outputs = model.extract(batch, list(names))
            # The gradient of the dot term at the guide says how strongly the layer pulls on pixels.
            vecs = [feature_vector(output, compare) for output in outputs]
            targets = [tf.stop_gradient(v) if reference is None else reference[name][None]
                       for name, v in zip(names, vecs)]  # fmt: skip
            dots = [share * tf.reduce_mean(v * target) for v, target in zip(vecs, targets)]
        for name, output, dot in zip(names, outputs, dots):
            if output.shape.rank == 4:  # pool only the part of the map this tile adds (positions: one tile)
                rows, cols = output.shape[1], output.shape[2]
                y0, y1, x0, x1 = (round(f * n) for f, n in zip(own, (rows, rows, cols, cols)))
                output = output[:, y0:y1, x0:x1] if y1 > y0 and x1 > x0 else output
            vectors[name] = vectors[name] + share * feature_vector(output, compare)[0].numpy().astype(np.float64)
            grad = tape.gradient(dot, batch, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            mean_squares[name] += share * float(tf.reduce_mean(tf.square(grad)))
    return {name: np.asarray(vectors[name], np.float32) for name in names}, mean_squares


def compute_guide_features(model, guide_image, layers: str | Sequence[str], match_size=None,
                           tile_size: int | None = None, compare: str = "pooled") -> GuideFeatures:
    """The guide's feature vectors at ``layers`` (see ``feature_vector``) and their balance gains, from one
    forward and backward pass (with ``tile_size``: two, tile by tile, for bounded memory). ``match_size``: the
    dream's (height, width); the guide is resized to that many pixels (aspect kept), or for ``positions``
    cropped to the dream's aspect and resized to exactly its size, so that the maps line up."""
    names, compare = _layer_names(model, layers), check_choice(compare, "compare", COMPARE)
    guide = as_image(guide_image, "guide image")
    if compare == "positions" and match_size is not None:
        guide = resize(crop_to_aspect(guide, *match_size), tuple(match_size))
    elif match_size is not None:
        factor = math.sqrt(match_size[0] * match_size[1] / (guide.shape[0] * guide.shape[1]))
        guide = resize(guide, (max(1, round(guide.shape[0] * factor)), max(1, round(guide.shape[1] * factor))))
    tile_h, tile_w, tiles = tile_grid(*guide.shape[:2], tile_size)
    if compare == "positions" and len(tiles) > 1:
        raise ParameterError("compare='positions' needs the guide's whole feature map: use tile_size=None or 'pooled'")
    for name in names:
        if min(tile_h, tile_w) < model.min_size(name):
            raise LayerError(f"the guide{' (or its tiles)' if len(tiles) > 1 else ''} is {tile_w}x{tile_h} px but "
                             f"layer {name!r} needs at least {model.min_size(name)} px on each side; use a larger "
                             "guide and dream, a larger tile, or an earlier layer")  # fmt: skip
    vectors = None
    for _ in range(2 if len(tiles) > 1 else 1):  # tiled, the gains need the whole guide's vectors first
        vectors, mean_squares = _guide_pass(model, guide, names, (tile_h, tile_w, tiles), vectors, compare)
    pixel_unit = 1.0 / guide.size  # RMS of the pixel-L1 gradient at this size, 1 / 3HW
    scales = {name: feature_scale(vectors[name]) for name in names}
    rms = {name: float(np.sqrt(mean_squares[name])) / scales[name] ** 2 for name in names}
    gains = {name: pixel_unit / rms[name] if rms[name] > 1e-12 else 1.0 for name in names}  # 1: not measurable
    return GuideFeatures(vectors, scales, gains, guide, getattr(model, "name", "model"), compare)


class FeatureSimilarity(Objective):
    """Feature term at ``layers`` (default: every layer of ``guide``, averaged): ``dot`` similarity or
    ``l1`` / ``l2`` distance of features (``guide.compare``); ``balance`` multiplies it by the guide's gains."""

    def __init__(self, guide: GuideFeatures, layers: str | Sequence[str] | None = None, metric: str = "dot",
                 balance: bool = True):
        if not isinstance(guide, GuideFeatures):
            raise ParameterError(f"guide must come from compute_guide_features(...), got {type(guide).__name__}")
        names = guide.layers if layers is None else _layer_names(None, layers)
        if set(names) - set(guide.layers):
            raise LayerError(f"guide features were computed for {', '.join(guide.layers)}, not for all of "
                             f"{', '.join(names)}; compute them for every layer you compare")  # fmt: skip
        self.guide, self.balance, self.layers = guide, bool(balance), names
        self.metric = check_choice(metric, "feature metric", FEATURE_METRICS)

    def validate(self, model) -> "FeatureSimilarity":
        if getattr(model, "name", "model") != self.guide.model_name:
            raise ModelError(f"these guide features come from {self.guide.model_name}, but the dream runs on "
                             f"{getattr(model, 'name', 'model')}; compute the guide features with the same model")
        _layer_names(model, self.layers)
        return self

    def layer_value(self, features, name: str) -> tf.Tensor:
        """This term at one layer (unbalanced), from the features of the whole image or a tile."""
        guide = self.guide
        vector = feature_vector(features[name], guide.compare)
        if guide.compare == "positions":
            # Read from the image rolled by the jitter (guided: <= 16 px, one cell of mixed4c), the dream's map is off
            # the guide's by a random offset each step: the pull goes to the guide's layout blurred by ~16 px (tested).
            check = tf.debugging.assert_equal(tf.shape(vector)[-1], guide.vectors[name].size, message=(
                f"compare='positions' needs the dream at the guide's (height, width) {guide.image.shape[:2]}, "
                "octaves=1 and tile_size=None; or use compare='pooled'"))
            with tf.control_dependencies([check]):
                vector = tf.identity(vector)
        return feature_term(vector, guide.vectors[name], self.metric, guide.scales[name])

    def feature_loss(self, features) -> tf.Tensor:
        gains = self.guide.gains if self.balance else dict.fromkeys(self.layers, 1.0)
        return tf.add_n([gains[name] * self.layer_value(features, name) for name in self.layers]) / len(self.layers)

    def describe(self) -> str:
        return f"feature {self.metric.upper()} term of the guide ({self.guide.compare}) at {', '.join(self.layers)}"


class PixelSimilarity(Objective):
    """The ``l1`` or ``l2`` pixel distance to a guide (see ``pixel_distance``): a distance, so give it a
    NEGATIVE weight to pull the dream towards the guide."""

    def __init__(self, guide_image, metric: str = "l1"):
        self.metric = check_choice(metric, "pixel metric", PIXEL_METRICS)
        self.guide_image = as_image(guide_image, "guide image")

    def pixel_loss(self, image) -> tf.Tensor:
        return pixel_distance(image, self.guide_image, self.metric)

    def describe(self) -> str:
        return f"pixel {self.metric.upper()} distance to the guide"


feature_similarity = FeatureSimilarity
pixel_similarity = PixelSimilarity
smoothness = TotalVariation  # subtract it to smooth the dream


class GuidedObjective(WeightedSum):
    """``w_f * features + w_p * pixels + w_tv * smoothness``. All three terms are always present (a weight
    may be 0), so ``set_term_weights(w_f, w_p, w_tv)`` can change any of them without recompiling."""

    def __init__(self, recipe: Preset, features: GuideFeatures, pixel_guide):
        self.feature = FeatureSimilarity(features, None, recipe.feature_metric)
        self.pixel, self.tv = PixelSimilarity(pixel_guide, recipe.pixel_metric), TotalVariation()
        super().__init__([(recipe.feature_weight, self.feature), (recipe.pixel_weight, self.pixel),
                          (recipe.tv_weight, self.tv)])  # fmt: skip


@dataclass(frozen=True)
class Preset(Settings):
    """A recipe: which image starts (``start``) and which guides (``guide``), each ``dream`` or
    ``guide``; the feature and pixel metrics; the weight of each term (negative descends it, 0 is off)."""

    name: str
    start: str
    guide: str
    feature_metric: str
    feature_weight: float
    # Chosen by eye (photos, 160 px, 100 steps of 0.01): the dream drifts half way towards the guide's
    # pixels and the feature texture stays visible (at 0.5 it becomes the guide, at 0.1 it barely moves).
    pixel_weight: float = -0.2
    tv_weight: float = -0.25
    pixel_metric: str = "l1"
    why: str = ""

    def check(self) -> None:
        for name, choices in (("start", ("dream", "guide")), ("guide", ("dream", "guide")),
                              ("feature_metric", FEATURE_METRICS), ("pixel_metric", PIXEL_METRICS)):  # fmt: skip
            self._set(name, check_choice(getattr(self, name), name.replace("_", " "), choices))
        for name in TERM_WEIGHTS:
            self._set(name, check_weight(getattr(self, name), name))

    def signs(self) -> str:
        """The signs of the terms, e.g. ``+dot -pixel(l1) -tv``."""
        terms = ((self.feature_weight, self.feature_metric), (self.pixel_weight, f"pixel({self.pixel_metric})"),
                 (self.tv_weight, "tv"))  # fmt: skip
        return " ".join(("+" if weight > 0 else "-") + label for weight, label in terms if weight != 0)


#: The seven variants of the course (subject 1 is the dream image, subject 2 the guide). The loop
#: ASCENDS the weighted sum; the pixel distance and the total variation are always descended when
#: present: they keep the dream close to the guide as a picture and smooth the noise.
PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("self", "guide", "guide", "dot", 1.0, why="the guide as dream: +dot exaggerates what the network sees"),
    Preset("swapped", "guide", "dream", "dot", 1.0, why="subject 2 guided by subject 1: +dot grows what is seen in 1"),
    Preset("dot_notv", "dream", "guide", "dot", 1.0, tv_weight=0.0, why="+dot, no TV: unsmoothed (pixel term kept)"),
    Preset("l1", "dream", "guide", "l1", 1.0, why="+L1 feature distance: what would make the dream differ"),
    Preset("l2", "dream", "guide", "l2", 1.0, why="+L2 feature distance: what would make the dream differ"),
    Preset("l1_neg", "dream", "guide", "l1", -1.0, why="-L1 feature distance: the dream moves towards the guide"),
    # Pixel L2's gradient, 2(x - g) / 3HW, is 2 mean|x - g| times L1's, sign(x - g) / 3HW: measured 0.48-0.69 for
    # the sample photos (mean |x - g| 0.24-0.35 at 512 px), less as the dream nears the guide. -0.4 pulls as L1's
    # -0.2 does at 0.25; cat/astronaut, 256 px, 100 steps: the distance fell 0.27 -> 0.124 (L1 at -0.2: 0.116).
    Preset("l2_neg", "dream", "guide", "l2", -1.0, -0.4, pixel_metric="l2", why="-L2 feature and pixel distances"),
)}  # fmt: skip
PRESET_NAMES = tuple(PRESETS)
#: The file (without extension) each preset writes: the course's own names.
COURSE_FILES = {"self": "guided", "swapped": "guided2", "dot_notv": "guided_dot_notv", "l1": "guided_l1",
                "l2": "guided_l2", "l1_neg": "guided_l1_-fl", "l2_neg": "guided_l2_-fl"}  # fmt: skip


def get_preset(preset: str | Preset) -> Preset:
    """The Preset called ``preset`` (or ``preset`` itself); ParameterError listing the presets if unknown."""
    return preset if isinstance(preset, Preset) else PRESETS[check_choice(preset, "guided preset", PRESET_NAMES)]


def _layer_names(model, layers) -> tuple[str, ...]:
    """``layers`` as a checked tuple (None: ``default_layers(model)``), looked up in ``model`` unless it is None."""
    names = default_layers(model) if layers is None else (layers,) if isinstance(layers, str) else layers
    if not isinstance(names, (list, tuple)) or not names:
        raise ParameterError(f"no feature layers given ({layers!r}): name at least one, e.g. layers=['mixed4c']")
    for name in names:
        if not isinstance(name, str):
            raise LayerError(f"layer names must be strings such as 'mixed4c', got {name!r}")
        if model is not None:
            model.layer(name)
    return tuple(names)


def default_layers(model) -> tuple[str, ...]:
    """The feature layers used when none are given: ``DEFAULT_LAYERS[model.name]`` (inception5h:
    ``mixed4c``), else the middle ``mixed`` layer, else the middle conv layer."""
    if getattr(model, "name", "") in DEFAULT_LAYERS:
        return DEFAULT_LAYERS[model.name]
    candidates = model.layer_names("mixed") or model.layer_names("conv") or model.layer_names("conv_pre_relu")
    if not candidates:
        raise ModelError(f"{getattr(model, 'name', 'model')} has no spatial layer to guide with; pass layers=[...]")
    return (candidates[len(candidates) // 2],)


def guided_objective(model, preset: str | Preset, guide_image, layers: str | Sequence[str] | None = None,
                     match_size=None, tile_size: int | None = None, compare: str = "pooled") -> GuidedObjective:
    """The objective of one preset (its metrics and weights): guide features computed once, pixel and
    smoothness terms. ``match_size`` is the dream's (height, width) (default: the guide's own size); ``layers``,
    ``tile_size`` and ``compare`` as in ``compute_guide_features``. Its weights change without recompiling."""
    recipe = get_preset(preset)
    guide = as_image(guide_image, "guide image")
    features = compute_guide_features(model, guide, _layer_names(model, layers), match_size, tile_size, compare)
    # The pixel guide is fitted once from the original guide (sharper than from the area-matched copy).
    pixel_guide = guide if match_size is None else resize(crop_to_aspect(guide, *match_size), tuple(match_size))
    return GuidedObjective(recipe, features, pixel_guide)


@dataclass(frozen=True)
class GuidedSettings(Settings):
    """Every setting of ``guided`` and ``render_presets`` (checked when made)."""

    preset: str | Preset = setting("self", "which variant (a name, or your own Preset)", choices=PRESET_NAMES)
    layers: tuple[str, ...] | None = setting(None, "feature layers (None: inception5h's mixed4c)", nargs="+", type=str)
    steps: int | None = setting(None, f"gradient steps (1..{MAX_STEPS}; None: the profile's, 100 full / 4 quick)")
    frame_every: int | None = setting(None, "steps between two frames, must divide steps (None: about 20 frames)")
    step_size: float = setting(0.01, "how far each normalised step moves the pixels (0 < s <= 10)")
    octaves: int = setting(1, "octaves per frame (1: every step at full size)")
    tile_size: int | None = setting(None, "gradient tiles of this many px (None: whole image; prefer >= 256)")
    seed: int | None = setting(0, "random seed of the jitter (None: a fresh one)")
    max_side: int | None = setting(None, "shrink image files to this long side in px (None: the profile's size)")
    progress: bool = setting(True, "show a progress bar")
    feature_weight: float | None = setting(None, "weight of the feature term (None: the preset's)")
    pixel_weight: float | None = setting(None, "weight of the pixel distance (None: the preset's)")
    tv_weight: float | None = setting(None, "weight of the total variation (None: the preset's)")
    compare: str = setting("pooled", "feature terms on the spatial mean (pooled) or the map position by position "
                           "(positions, the course's form: octaves=1, no tiles)", choices=COMPARE)

    def check(self) -> None:
        if not isinstance(self.preset, Preset):
            self._set("preset", get_preset(self.preset).name)
        if self.layers is not None:
            self._set("layers", _layer_names(None, self.layers))
        for name, low, high in (("steps", 1, MAX_STEPS), ("frame_every", 1, MAX_STEPS), ("max_side", 8, 16384)):
            if getattr(self, name) is not None:
                fix = f"use a whole number from {low} to {high}, or None for the default"
                self._set(name, check_int(getattr(self, name), name, minimum=low, maximum=high, fix=fix))
        for name in TERM_WEIGHTS:
            if getattr(self, name) is not None:
                self._set(name, check_weight(getattr(self, name), name))
        # The engine's own checks, once; its normalised values (e.g. a drawn seed) are kept.
        engine = self.dream_settings()
        for name in ("step_size", "octaves", "tile_size", "seed", "progress"):
            self._set(name, getattr(engine, name))
        self._set("compare", check_choice(self.compare, "compare", COMPARE))
        if self.compare == "positions" and (self.octaves > 1 or self.tile_size):
            raise ParameterError("compare='positions' needs octaves=1 and tile_size=None, or compare='pooled'")

    def dream_settings(self) -> DreamSettings:
        """The feedback loop's settings: ``steps / frame_every`` frames, the start image first."""
        steps = config.profile().steps if self.steps is None else self.steps
        # Default: about 20 frames, a frame every (the largest divisor of steps up to steps / 20) steps.
        every = self.frame_every or next(e for e in range(max(1, steps // 20), 0, -1) if steps % e == 0)
        if steps % every:
            lower = steps - steps % every
            raise ParameterError(f"steps ({steps}) must be a multiple of frame_every ({every}) so that frames are "
                                 f"equally far apart; use steps={lower or every} or {lower + every}")  # fmt: skip
        return DreamSettings(frames=steps // every, frame_every=every, step_size=self.step_size, octaves=self.octaves,
                             tile_size=self.tile_size, jitter=16, seed=self.seed, include_start=True,
                             progress=self.progress)  # fmt: skip

    def recipe(self) -> Preset:
        """The preset with the weights given here."""
        weights = {name: getattr(self, name) for name in TERM_WEIGHTS if getattr(self, name) is not None}
        return replace(get_preset(self.preset), **weights)


@dataclass
class GuidedResult(Result):
    """``guided``'s frames (the start image, then one every ``frame_every`` steps), with the Preset, layers,
    start image, guide (as the pixel term sees it), GuidedObjective (reusable) and the model's weights."""

    preset: Preset | None = None
    layers: tuple = ()
    start: np.ndarray | None = None
    guide: np.ndarray | None = None
    objective: GuidedObjective | None = None
    model_description: str = ""
    untrained: bool = False


def guided(dream_image, guide_image, model=None, settings: GuidedSettings | None = None, *, callback=None,
           **overrides) -> GuidedResult:
    """Guided hallucination with one preset: ``steps / frame_every + 1`` frames of its accumulation.

    Args:
        dream_image, guide_image: subjects 1 and 2 ([H, W, 3] in [0, 1], uint8, or file paths).
        model: a Model, a model name, or None for inception5h (``CADL_WEIGHTS`` decides the weights).
        settings: GuidedSettings; ``**overrides`` change some of them (``preset="l1", steps=20``).
        callback: gets a ``runs.StepInfo`` after every step; returning False stops (as Ctrl-C does).
    """
    settings = GuidedSettings.make(settings, **overrides)
    loop, recipe = settings.dream_settings(), settings.recipe()
    shrink = settings.max_side or config.profile().size
    # Image files are shrunk to max_side; arrays keep the size the caller chose.
    subjects = {role: as_image(image, f"{role} image", shrink if isinstance(image, (str, os.PathLike)) else None)
                for role, image in (("dream", dream_image), ("guide", guide_image))}  # fmt: skip
    start, guide = subjects[recipe.start], subjects[recipe.guide]
    model = resolve_model(model)
    names = _layer_names(model, settings.layers)
    objective = guided_objective(model, recipe, guide, names, start.shape[:2], settings.tile_size, settings.compare)
    run = feedback_loop(start, objective, model, loop, callback=callback)
    return GuidedResult(**vars(run), preset=recipe, layers=names, start=start, guide=objective.pixel.guide_image,
                        objective=objective, model_description=model.describe(),
                        untrained=getattr(model, "weights", "") == "untrained")  # fmt: skip


def preset_paths(out_dir, presets: Sequence[str]) -> dict[str, tuple[Path, Path]]:
    """preset name -> (GIF, PNG) in ``out_dir``, named as the course named them (``COURSE_FILES``: self ->
    ``guided.gif``, swapped -> ``guided2.gif``, l1_neg -> ``guided_l1_-fl.gif``...)."""
    folder = Path(os.path.expanduser(out_dir))
    return {name: (folder / f"{COURSE_FILES[name]}.gif", folder / f"{COURSE_FILES[name]}.png") for name in presets}


def render_presets(dream_image, guide_image, out_dir, presets: Sequence[str] | None = None, model=None,
                   settings: GuidedSettings | None = None, *, duration_ms: int = 100, callback=None,
                   **overrides) -> list[GuidedResult]:
    """Run ``presets`` (default: all seven), writing ``preset_paths`` (every file checked first) with
    ``duration_ms`` per GIF frame; the rest as in ``guided``. Returns each preset's GuidedResult; after
    Ctrl-C the last is ``interrupted`` (its files are written) and later presets are skipped."""
    if presets is not None and not isinstance(presets, (list, tuple)):
        raise ParameterError(f"presets must be a list of preset names such as ['self', 'l1'], got {presets!r}")
    names = PRESET_NAMES if presets is None else tuple(get_preset(name).name for name in presets)
    settings = GuidedSettings.make(settings, **overrides)
    inputs = [item for item in (dream_image, guide_image) if isinstance(item, (str, os.PathLike))]
    targets = preset_paths(out_dir, names)
    check_output_paths([path for pair in targets.values() for path in pair], inputs=inputs)
    model = resolve_model(model)
    results = []
    for name in names:
        try:
            result = guided(dream_image, guide_image, model, settings, callback=callback, preset=name)
        except NonFiniteError as error:  # write the finite frames before it, then report it
            if error.result.frames:
                error.result.save_gif(targets[name][0], duration_ms, inputs=inputs)
                error.result.save(targets[name][1], inputs=inputs)
            raise
        result.save_gif(targets[name][0], duration_ms, inputs=inputs)
        result.save(targets[name][1], inputs=inputs)
        results.append(result)
        if result.interrupted:
            break
    return results
