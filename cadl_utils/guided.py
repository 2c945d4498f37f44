"""Guided hallucination: move a *dream* image towards (or away from) what a network sees in a *guide*.

The terms are objectives of the dream engine (``cadl_utils.objectives``): numbers to MAXIMISE, so a
negative weight descends a term. Combine them freely with ``+``, ``-`` and ``*``:

- ``feature_similarity(guide, layer, metric)`` at one or more layers, ``metric`` one of
  ``dot`` (normalised dot product of dream and guide features, 1.0 when they are equal),
  ``l1`` (mean absolute feature difference) or ``l2`` (root-mean-square feature difference);
- ``pixel_similarity(guide_image, metric)``: ``l1`` (mean absolute) or ``l2`` (mean squared) channel
  difference between dream and guide (a distance: subtract it to pull the dream towards the guide);
- ``smoothness()``: the total variation of the dream (subtract it to smooth).

``guided(dream, guide, preset=...)`` runs one of the seven presets of the course (``PRESETS``) as a
feedback loop and returns the frames; ``save_guided_gif`` writes them.

How dream and guide of different sizes meet
-------------------------------------------
Features are *pooled spatially*: each layer's map [N, h, w, C] is averaged over its positions into a
vector of C channel means, for the dream and for the guide. The guide vectors are computed once,
before the loop, and reused by every step. We pool rather than compare maps position by position
because a pooled vector does not care about the dream's size (octaves), its random roll (jitter) or
which tile the engine is working on, so every engine option works and the guide never needs another
forward pass. The price: the guide's layout is not copied, only the presence of what the network
detects in it, which is what "what the network sees as similar" asks for. So that objects appear at
a comparable scale, the guide is resized to the dream's pixel count (aspect ratio kept) before its
features are taken. Pixels cannot be pooled: the pixel term crops the guide to the dream's aspect
ratio around its centre and resizes it to the dream (inside the compiled step, so it follows octaves).

Units, so that weights mean the same on every layer, size, octave and tile
--------------------------------------------------------------------------
- Feature values are divided by the root-mean-square of the guide's vector (``dot`` by its square):
  they do not depend on the layer's width or activation scale.
- Every term is a mean (over positions, pixels or neighbour pairs), the engine's convention: it
  weighs each tile by its share of the image, so the balance between feature and pixel terms does
  not change with tiling or octaves. With tiles, each tile's pooled features are compared with the
  guide's: for ``dot`` (linear) that sums to the untiled value; for ``l1``/``l2`` it asks every tile
  to be close to (or far from) the guide, a more local version of the same objective.
- ``balance=True`` (default) multiplies a layer's feature terms by a gain measured once on the guide,
  making the gradient of ``1.0 * feature`` as strong as that of ``1.0 * pixel(l1)``. Without it the
  feature gradient is 15 to 500 times stronger depending on the layer (measured on inception5h), and
  pixel and smoothness weights would need retuning for every layer.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import tensorflow as tf

from .errors import ImageError, LayerError, ModelError, ParameterError
from .images import as_image
from .objectives import Objective, TotalVariation, WeightedSum

FEATURE_METRICS = ("dot", "l1", "l2")
PIXEL_METRICS = ("l1", "l2")

# Keeps sqrt differentiable at a zero distance (identical dream and guide): d sqrt(x + eps) / dx is finite.
_L2_EPS = 1e-12
# Below this root-mean-square the guide's features are treated as all-zero and not rescaled.
_SCALE_FLOOR = 1e-6
# Below this gradient RMS the balance gain cannot be measured; the gain stays 1.
_GRADIENT_FLOOR = 1e-12
# Default feature layers per model (else the middle "mixed" layer, else the middle conv layer).
DEFAULT_LAYERS = {
    "inception5h": ("mixed4c",),
    "vgg19": ("block4_conv2",),
    "inception_v3": ("mixed5",),
}

_guide_passes = 0


def guide_feature_passes() -> int:
    """How many times guide features were computed in this process (each is one pass over the guide).

    Tests and benchmarks read it before and after a run: a run computes guide features exactly once.
    """
    return _guide_passes


# --- loss math (plain TensorFlow) ---------------------------------------------------------------


def check_metric(metric: str, allowed: Sequence[str], what: str) -> str:
    """Return ``metric`` lower-cased, or raise ParameterError listing the allowed ones."""
    name = str(metric).strip().lower()
    if name not in allowed:
        raise ParameterError(f"unknown {what} metric {metric!r}: use one of {', '.join(allowed)}")
    return name


def pool_features(features) -> tf.Tensor:
    """Spatial mean of a feature map.

    Args:
        features: [N, h, w, C] (conv, mixed, pool layers) or [N, C] (logits, softmax).

    Returns:
        float32 [N, C]: the mean of each channel over its positions.
    """
    features = tf.cast(tf.convert_to_tensor(features), tf.float32)
    if features.shape.rank == 4:
        return tf.reduce_mean(features, axis=[1, 2])
    if features.shape.rank == 2:
        return features
    raise ParameterError(f"features must be [N, h, w, C] or [N, C], got shape {features.shape}")


def feature_scale(guide_vector) -> float:
    """Root-mean-square of a guide feature vector, the unit feature terms are measured in.

    Args:
        guide_vector: [C] pooled guide features.

    Returns:
        The RMS, or 1.0 when the vector is (almost) all zeros so that nothing is divided by zero.
    """
    vector = np.asarray(guide_vector, np.float64)
    rms = float(np.sqrt(np.mean(np.square(vector)))) if vector.size else 0.0
    return rms if rms > _SCALE_FLOOR else 1.0


def feature_term(dream_vector, guide_vector, metric: str, scale: float = 1.0) -> tf.Tensor:
    """Similarity (``dot``) or distance (``l1``, ``l2``) between pooled feature vectors.

    Args:
        dream_vector: [N, C] pooled dream features (the batch is averaged).
        guide_vector: [C] pooled guide features.
        metric: ``dot``, ``l1`` or ``l2``.
        scale: the guide's RMS (see ``feature_scale``); values are measured in this unit.

    Returns:
        Scalar float32. ``dot``: mean(d * g) / scale**2 (1.0 when d == g); ``l1``: mean|d - g| / scale;
        ``l2``: sqrt(mean((d - g)**2) / scale**2 + eps) - sqrt(eps) (0.0 when d == g, finite gradient).
    """
    metric = check_metric(metric, FEATURE_METRICS, "feature")
    dream_vector = tf.convert_to_tensor(dream_vector, tf.float32)
    guide_vector = tf.cast(guide_vector, tf.float32)
    scale = tf.constant(float(scale), tf.float32)
    if metric == "dot":
        return tf.reduce_mean(dream_vector * guide_vector) / (scale * scale)
    difference = (dream_vector - guide_vector) / scale
    if metric == "l1":
        # The gradient of |x| at 0 is 0 in TensorFlow, so identical features give a zero step, not NaN.
        return tf.reduce_mean(tf.abs(difference))
    mean_square = tf.reduce_mean(tf.square(difference), axis=-1)
    return tf.reduce_mean(tf.sqrt(mean_square + _L2_EPS) - np.sqrt(_L2_EPS))


def fit_guide(guide, height, width) -> tf.Tensor:
    """The guide cropped to the aspect ratio of (height, width) around its centre, then resized to it.

    Args:
        guide: [H, W, 3] or [N, H, W, 3] float32 in [0, 1].
        height, width: target size (Python ints or scalar tensors; works inside tf.function).

    Returns:
        [N, height, width, 3] float32 (N = 1 for a single image).
    """
    guide = tf.convert_to_tensor(guide, tf.float32)
    if guide.shape.rank == 3:
        guide = guide[None]
    shape = tf.shape(guide)
    gh = tf.cast(shape[1], tf.float64)
    gw = tf.cast(shape[2], tf.float64)
    th = tf.cast(height, tf.float64)
    tw = tf.cast(width, tf.float64)
    # The largest window of the target's aspect ratio that fits inside the guide.
    crop_h = tf.maximum(tf.cast(tf.minimum(gh, tf.round(gw * th / tw)), tf.int32), 1)
    crop_w = tf.maximum(tf.cast(tf.minimum(gw, tf.round(gh * tw / th)), tf.int32), 1)
    top = (shape[1] - crop_h) // 2
    left = (shape[2] - crop_w) // 2
    window = guide[:, top : top + crop_h, left : left + crop_w, :]
    size = tf.stack([tf.cast(height, tf.int32), tf.cast(width, tf.int32)])
    return tf.image.resize(window, size, method="bilinear", antialias=True)


def pixel_distance(image, guide, metric: str = "l1") -> tf.Tensor:
    """Mean absolute (``l1``) or mean squared (``l2``) channel difference between image and guide.

    Args:
        image: [N, H, W, 3] float32 in [0, 1] (the dream).
        guide: [h, w, 3] or [1, h, w, 3] float32 in [0, 1]; fitted to the image with ``fit_guide``.
        metric: ``l1`` or ``l2``.

    Returns:
        Scalar float32 in [0, 1]; 0.0 when the image equals the fitted guide.
    """
    metric = check_metric(metric, PIXEL_METRICS, "pixel")
    image = tf.convert_to_tensor(image, tf.float32)
    shape = tf.shape(image)
    difference = image - fit_guide(guide, shape[1], shape[2])
    if metric == "l1":
        return tf.reduce_mean(tf.abs(difference))
    return tf.reduce_mean(tf.square(difference))


# --- images -------------------------------------------------------------------------------------


def _subject(image, what: str, max_side: int | None) -> np.ndarray:
    """A subject of ``guided``: image files are shrunk to ``max_side``; arrays keep the size the caller chose."""
    is_file = isinstance(image, (str, os.PathLike, bytes))
    return as_image(image, what, max_side=max_side if is_file else None)


def scale_to_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` resized to about height * width pixels, keeping its aspect ratio.

    Args:
        image: [H, W, 3] float32.
        height, width: the size whose pixel count is matched.

    Returns:
        [H', W', 3] float32 with H' * W' close to height * width.
    """
    h, w = image.shape[:2]
    factor = math.sqrt((height * width) / float(h * w))
    new_h = max(1, int(round(h * factor)))
    new_w = max(1, int(round(w * factor)))
    if (new_h, new_w) == (h, w):
        return image
    resized = tf.image.resize(image[None], (new_h, new_w), method="bilinear", antialias=True)[0]
    return np.clip(resized.numpy(), 0.0, 1.0).astype(np.float32)


# --- guide features, computed once --------------------------------------------------------------


@dataclass(frozen=True)
class GuideFeatures:
    """Pooled features of a guide image, computed once and reused by every step.

    Attributes:
        vectors: layer name -> [C] float32 channel means.
        scales: layer name -> RMS of that vector (the unit of the feature terms).
        gains: layer name -> the balance gain (see the module docstring), measured on the guide.
        image: the guide as its features were taken, [H, W, 3] float32 in [0, 1].
        model_name: the model that computed them.
    """

    vectors: dict
    scales: dict
    gains: dict
    image: np.ndarray
    model_name: str

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers these features cover."""
        return tuple(self.vectors)


def _check_layers(model, layers) -> tuple[str, ...]:
    names = (layers,) if isinstance(layers, str) else tuple(layers)
    if not names:
        raise ParameterError("no feature layers given: name at least one, e.g. layers=['mixed4c']")
    for name in names:
        if not isinstance(name, str):
            raise LayerError(f"layer names must be strings such as 'mixed4c', got {name!r}")
        model.layer(name)
    return names


@dataclass(frozen=True)
class _Tile:
    """A tile of the guide: its window and the part of it ("own") no earlier tile covered."""

    top: int
    left: int
    height: int
    width: int
    own: tuple[float, float, float, float]  # own window as fractions of the tile: y0, y1, x0, x1
    share: float  # own pixels / image pixels


def _tile_grid(height: int, width: int, tile: int | None) -> list[_Tile]:
    """Tiles covering an image. All have one size; the last row and column are moved back to end at
    the border (like the engine's), so they own only the pixels no earlier tile covered."""
    tile_h = height if not tile else min(int(tile), height)
    tile_w = width if not tile else min(int(tile), width)
    tiles = []
    for own_y in range(0, height, tile_h):
        for own_x in range(0, width, tile_w):
            top, left = min(own_y, height - tile_h), min(own_x, width - tile_w)
            own_h, own_w = min(tile_h, height - own_y), min(tile_w, width - own_x)
            own = ((own_y - top) / tile_h, (own_y - top + own_h) / tile_h,
                   (own_x - left) / tile_w, (own_x - left + own_w) / tile_w)  # fmt: skip
            tiles.append(_Tile(top, left, tile_h, tile_w, own, own_h * own_w / float(height * width)))
    return tiles


def _own_pooled(output, own: tuple[float, float, float, float]) -> np.ndarray:
    """The pooled [C] vector of the part of a tile's feature map that the tile owns."""
    output = tf.convert_to_tensor(output)
    if output.shape.rank == 4:
        rows, cols = int(output.shape[1]), int(output.shape[2])
        y0, y1 = int(round(own[0] * rows)), int(round(own[1] * rows))
        x0, x1 = int(round(own[2] * cols)), int(round(own[3] * cols))
        if y1 > y0 and x1 > x0:
            output = output[:, y0:y1, x0:x1, :]
    return pool_features(output)[0].numpy().astype(np.float64)


def compute_guide_features(model, guide_image, layers: str | Sequence[str], match_size=None,
                           tile_size: int | None = None) -> GuideFeatures:
    """Pooled features of the guide at ``layers`` and the balance gains, computed once (counted).

    Untiled this is one forward and backward pass; tiled, a forward pass then a forward and
    backward pass, tile by tile (the gain's gradient needs the whole guide's vector first).

    Args:
        model: a cadl_utils Model.
        guide_image: [H, W, 3] in [0, 1] (or uint8, or a file path).
        layers: one layer name or several.
        match_size: (height, width) of the dream; the guide is first resized to that many pixels
            (aspect kept) so that objects appear at a comparable scale. None: use the guide as is.
        tile_size: run the network on tiles of at most this many pixels (bounded memory for large
            images; the pooled vector is the share-weighted mean of the tiles'). None: all at once.

    Returns:
        GuideFeatures.

    Raises:
        LayerError: unknown layer, or the guide (or a tile) is smaller than a layer needs.
        ImageError: the guide is not an RGB image in [0, 1].
    """
    global _guide_passes
    names = _check_layers(model, layers)
    guide = as_image(guide_image, "guide image")
    if match_size is not None:
        guide = scale_to_area(guide, int(match_size[0]), int(match_size[1]))
    height, width = guide.shape[:2]
    tiles = _tile_grid(height, width, tile_size)
    for name in names:
        needed = int(model.min_size(name))
        if min(tiles[0].height, tiles[0].width) < needed:
            raise LayerError(
                f"the guide (or its tiles) is {tiles[0].width}x{tiles[0].height} px but layer {name!r} needs at least "
                f"{needed} px on each side; use a larger guide and dream, a larger tile, or an earlier layer"
            )
    if len(tiles) == 1:
        # One pass: the guide's own vector is known inside the pass that measures the gradient.
        vectors, mean_squares = _guide_tile_pass(model, guide, tiles[0], names, None)
    else:
        # The gain's gradient needs the whole guide's vector: pool first, then measure tile by tile.
        vectors, _ = _guide_tile_pass(model, guide, tiles, names, None, gradients=False)
        _, mean_squares = _guide_tile_pass(model, guide, tiles, names, vectors)
    _guide_passes += 1
    pixel_unit = 1.0 / (3.0 * height * width)  # RMS of the pixel-L1 gradient at this size
    scales, gains = {}, {}
    for name in names:
        scales[name] = feature_scale(vectors[name])
        rms = float(np.sqrt(mean_squares[name])) / (scales[name] ** 2)
        gains[name] = pixel_unit / rms if rms > _GRADIENT_FLOOR else 1.0
    return GuideFeatures(vectors, scales, gains, guide, getattr(model, "name", "model"))


def _guide_tile_pass(model, guide: np.ndarray, tiles, names: tuple[str, ...], reference: dict | None,
                     gradients: bool = True) -> tuple[dict, dict]:
    """Run the network over the guide's tiles.

    Args:
        model, guide, names: as in ``compute_guide_features``.
        tiles: one _Tile or a list of them.
        reference: layer -> the whole guide's pooled vector, used in the gain's dot product; None
            uses the vector being computed (exact when there is one tile).
        gradients: also measure the dot product's gradient (else forward passes only).

    Returns:
        (layer -> pooled [C] float32 vector, layer -> mean square of the dot product's gradient over
        the whole guide; empty when ``gradients`` is False).
    """
    tiles = [tiles] if isinstance(tiles, _Tile) else list(tiles)
    sums = {name: 0.0 for name in names}
    mean_squares = {name: 0.0 for name in names}
    for tile in tiles:
        window = guide[None, tile.top : tile.top + tile.height, tile.left : tile.left + tile.width]
        batch = tf.convert_to_tensor(window)
        with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
            tape.watch(batch)
            outputs = model.extract(batch, list(names))
            dots = {}
            if gradients:
                for name, output in zip(names, outputs):
                    pooled = pool_features(output)
                    target = pooled if reference is None else tf.constant(reference[name][None])
                    # The dot term at the guide itself: its gradient says how strongly the layer pulls
                    # on pixels. The tile's share turns the tile's mean into its part of the image's.
                    dots[name] = tile.share * tf.reduce_mean(pooled * tf.stop_gradient(target))
        for name, output in zip(names, outputs):
            sums[name] = sums[name] + tile.share * _own_pooled(output, tile.own)
            if gradients:
                grad = tape.gradient(dots[name], batch)
                if grad is not None:
                    mean_squares[name] += tile.share * float(tf.reduce_mean(tf.square(grad)))
        del tape
    vectors = {name: np.asarray(sums[name], np.float32) for name in names}
    return vectors, (mean_squares if gradients else {})


# --- the terms as objectives of the dream engine ------------------------------------------------


class FeatureSimilarity(Objective):
    """Dot product, L1 or L2 distance between pooled dream and guide features, averaged over layers.

    The value to maximise is the mean over layers of ``gain * feature_term`` (see the module docstring).
    """

    def __init__(self, guide: GuideFeatures, layers: str | Sequence[str] | None = None, metric: str = "dot",
                 balance: bool = True):
        """Args:
        guide: from ``compute_guide_features`` (computed once; never recomputed here).
        layers: a subset of ``guide.layers`` (default: all of them).
        metric: ``dot``, ``l1`` or ``l2``.
        balance: multiply by the gains measured on the guide (default); False gives raw values.
        """
        if not isinstance(guide, GuideFeatures):
            raise ParameterError(
                "guide must be GuideFeatures from compute_guide_features(model, image, layers), "
                f"got {type(guide).__name__}"
            )
        names = guide.layers if layers is None else ((layers,) if isinstance(layers, str) else tuple(layers))
        missing = [name for name in names if name not in guide.vectors]
        if not names or missing:
            raise LayerError(
                f"guide features were computed for {', '.join(guide.layers)}, "
                f"not for {', '.join(missing) or 'no layer'}; compute them for every layer you compare"
            )
        self.guide = guide
        self.metric = check_metric(metric, FEATURE_METRICS, "feature")
        self.balance = bool(balance)
        self._names = names
        self._vectors = {name: tf.constant(guide.vectors[name]) for name in names}

    @property
    def layers(self) -> tuple[str, ...]:
        return self._names

    def validate(self, model) -> "FeatureSimilarity":
        if getattr(model, "name", "model") != self.guide.model_name:
            raise ModelError(
                f"these guide features come from {self.guide.model_name}, but the dream runs on "
                f"{getattr(model, 'name', 'model')}; compute the guide features with the same model"
            )
        for name in self._names:
            model.layer(name)
        return self

    def layer_value(self, features, name: str) -> tf.Tensor:
        """This term at one layer (unbalanced), from the features of the whole image or a tile."""
        return feature_term(pool_features(features[name]), self._vectors[name], self.metric, self.guide.scales[name])

    def feature_loss(self, features) -> tf.Tensor:
        total = tf.constant(0.0)
        for name in self._names:
            gain = self.guide.gains[name] if self.balance else 1.0
            total += gain * self.layer_value(features, name)
        return total / float(len(self._names))

    def describe(self) -> str:
        what = {"dot": "dot product", "l1": "L1 distance", "l2": "L2 distance"}[self.metric]
        return f"feature {what} to the guide at {', '.join(self._names)}"


class PixelSimilarity(Objective):
    """Mean absolute (``l1``) or mean squared (``l2``) channel difference between dream and guide.

    A distance: give it a NEGATIVE weight to pull the dream towards the guide.
    """

    def __init__(self, guide_image, metric: str = "l1"):
        """Args:
        guide_image: [H, W, 3] in [0, 1]; cropped to the dream's aspect ratio and resized to it.
        metric: ``l1`` or ``l2``.
        """
        self.metric = check_metric(metric, PIXEL_METRICS, "pixel")
        self.guide_image = as_image(guide_image, "guide image")
        self._guide = tf.constant(self.guide_image)

    def pixel_loss(self, image) -> tf.Tensor:
        return pixel_distance(image, self._guide, self.metric)

    def describe(self) -> str:
        return f"pixel {self.metric.upper()} distance to the guide"


def feature_similarity(guide_features: GuideFeatures, layer: str | Sequence[str] | None = None,
                       metric: str = "dot", balance: bool = True) -> FeatureSimilarity:
    """Feature term: ``dot`` similarity (maximise to look alike), or ``l1`` / ``l2`` distance.

    Args:
        guide_features: from ``compute_guide_features`` (the guide's features, computed once).
        layer: a layer name or several (default: every layer of ``guide_features``); averaged.
        metric: ``dot``, ``l1`` or ``l2``.
        balance: scale by the gain measured on the guide so that weights are comparable with pixel
            and smoothness terms (default True).

    Returns:
        A FeatureSimilarity objective; ``+ 1.0 * it`` ascends, ``- 1.0 * it`` descends.
    """
    return FeatureSimilarity(guide_features, layer, metric, balance)


def pixel_similarity(guide_image, metric: str = "l1") -> PixelSimilarity:
    """Pixel term: ``l1`` (mean absolute) or ``l2`` (mean squared) distance between dream and guide.

    Args:
        guide_image: [H, W, 3] in [0, 1] (any size: cropped to the dream's aspect and resized).
        metric: ``l1`` or ``l2``.

    Returns:
        A PixelSimilarity objective; subtract it to pull the dream towards the guide's pixels.
    """
    return PixelSimilarity(guide_image, metric)


def smoothness() -> TotalVariation:
    """Total-variation term (the engine's ``objectives.tv()``); subtract it to smooth the dream."""
    return TotalVariation()


class GuidedObjective(WeightedSum):
    """``w_f * features + w_p * pixels + w_tv * smoothness``, with the weights reachable by name.

    All three terms are always present (a weight may be 0), so a slider can switch any of them on
    later without recompiling the engine's step.
    """

    TERM_NAMES = ("feature", "pixel", "tv")

    def __init__(self, feature: FeatureSimilarity, pixel: PixelSimilarity, tv: TotalVariation,
                 feature_weight: float = 1.0, pixel_weight: float = 0.0, tv_weight: float = 0.0):
        """Args:
        feature, pixel, tv: the three terms.
        feature_weight, pixel_weight, tv_weight: their weights (negative descends a term).
        """
        super().__init__([(feature_weight, feature), (pixel_weight, pixel), (tv_weight, tv)])
        self.feature, self.pixel, self.tv = feature, pixel, tv

    def term_weights(self) -> dict[str, float]:
        """{"feature": w_f, "pixel": w_p, "tv": w_tv}."""
        return dict(zip(self.TERM_NAMES, self.weights))

    def set_term_weights(self, feature: float | None = None, pixel: float | None = None,
                         tv: float | None = None) -> None:
        """Change some weights without recompiling (None keeps a weight)."""
        for index, value in enumerate((feature, pixel, tv)):
            if value is not None:
                self.set_weight(value, term=index)


# --- presets ------------------------------------------------------------------------------------

#: Pixel and smoothness weights of the presets, in balanced units (feature weight 1.0). Chosen by eye
#: on the sample photos (inception5h stand-in, 160 px, 100 steps of 0.01): the dream drifts about half
#: way towards the guide's pixels while the feature term's texture stays visible; at 0.5 the pixel
#: pull wins (the dream simply becomes the guide) and the smoothing blurs it, at 0.1 it barely moves.
PIXEL_WEIGHT = 0.2
TV_WEIGHT = 0.25


@dataclass(frozen=True)
class Preset:
    """A recipe: which image starts, which guides, and the sign and weight of each term.

    Attributes:
        name: preset name.
        start: ``dream`` or ``guide``: the image the loop starts from (subject 1 is the dream).
        guide: ``dream`` or ``guide``: the image whose features and pixels guide it.
        feature_metric: ``dot``, ``l1`` or ``l2``.
        feature_weight: positive ascends the feature term, negative descends it.
        pixel_weight: weight of the pixel distance (negative: towards the guide's pixels; 0: off).
        tv_weight: weight of the total variation (negative: smoother; 0: off).
        pixel_metric: ``l1`` or ``l2``.
        why: one line on what the preset shows.
    """

    name: str
    start: str
    guide: str
    feature_metric: str
    feature_weight: float
    pixel_weight: float = -PIXEL_WEIGHT
    tv_weight: float = -TV_WEIGHT
    pixel_metric: str = "l1"
    why: str = ""

    def __post_init__(self) -> None:
        for role in (self.start, self.guide):
            if role not in ("dream", "guide"):
                raise ParameterError(f"preset start and guide must be 'dream' or 'guide', got {role!r}")
        check_metric(self.feature_metric, FEATURE_METRICS, "feature")
        check_metric(self.pixel_metric, PIXEL_METRICS, "pixel")
        for name in ("feature_weight", "pixel_weight", "tv_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
                raise ParameterError(f"{name} must be a finite number, got {value!r}")

    def signs(self) -> str:
        """The signs of the terms, e.g. ``+dot -pixel(l1) -tv``."""
        parts = []
        for weight, label in ((self.feature_weight, self.feature_metric),
                              (self.pixel_weight, f"pixel({self.pixel_metric})"), (self.tv_weight, "tv")):
            if weight != 0:
                parts.append(("+" if weight > 0 else "-") + label)
        return " ".join(parts)


def _preset(name, start, guide, metric, feature_weight, why, **weights) -> Preset:
    return Preset(name, start, guide, metric, feature_weight, why=why, **weights)


#: The seven variants of the course. Subject 1 is the dream image, subject 2 the guide image.
#: Signs (the loop ASCENDS the weighted sum):
#:
#: ======== ======= ======= ========= ========= ==== ================================================
#: preset   starts  guide   feature   pixel(l1) tv   why these signs
#: ======== ======= ======= ========= ========= ==== ================================================
#: self     guide   guide   +dot      -         -    +dot amplifies what the network sees in the guide
#: swapped  guide   dream   +dot      -         -    subject 2 grows what the network sees in subject 1
#: dot_notv dream   guide   +dot      off       off  the feature gradient alone, unsmoothed
#: l1       dream   guide   +L1       -         -    +distance: what would make the dream different
#: l2       dream   guide   +L2       -         -    the same with L2
#: l1_neg   dream   guide   -L1       -         -    -distance: the dream moves towards the guide
#: l2_neg   dream   guide   -L2       -         -    the same with L2
#: ======== ======= ======= ========= ========= ==== ================================================
#:
#: The pixel distance is always descended (negative weight) when present: it keeps the dream close
#: to the guide as a picture, so the feature term shows up as texture rather than as a new image.
#: The total variation is always descended when present: it smooths the noise gradients add.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset("self", "guide", "guide", "dot", 1.0,
                "the guide serves as itself and as the dream: +dot exaggerates what the network sees in it"),
        _preset("swapped", "guide", "dream", "dot", 1.0,
                "the dream is subject 2, guided by subject 1: +dot grows subject 1's features in subject 2"),
        _preset("dot_notv", "dream", "guide", "dot", 1.0,
                "the gradient of the feature dot product alone: no pixel loss, no smoothing",
                pixel_weight=0.0, tv_weight=0.0),
        _preset("l1", "dream", "guide", "l1", 1.0,
                "ascend the L1 feature distance: what would make the dream different from the guide"),
        _preset("l2", "dream", "guide", "l2", 1.0,
                "ascend the L2 feature distance: what would make the dream different from the guide"),
        _preset("l1_neg", "dream", "guide", "l1", -1.0,
                "descend the L1 feature distance: the dream moves towards the guide"),
        _preset("l2_neg", "dream", "guide", "l2", -1.0,
                "descend the L2 feature distance: the dream moves towards the guide"),
    )
}
PRESET_NAMES = tuple(PRESETS)


def get_preset(preset: str | Preset) -> Preset:
    """The Preset called ``preset`` (or ``preset`` itself when it is one).

    Raises:
        ParameterError: unknown name; the message lists the presets.
    """
    if isinstance(preset, Preset):
        return preset
    key = str(preset).strip().lower()
    if key not in PRESETS:
        raise ParameterError(
            f"unknown guided preset {preset!r}: use one of {', '.join(PRESET_NAMES)}, "
            "or build your own with Preset(...) or the terms feature_similarity / pixel_similarity / smoothness"
        )
    return PRESETS[key]


def default_layers(model) -> tuple[str, ...]:
    """The feature layers guided hallucination uses when none are given.

    inception5h: ``mixed4c`` (mid-level parts and textures); other models: their entry in
    ``DEFAULT_LAYERS``, else the middle ``mixed`` layer, else the middle ``conv`` layer.
    """
    names = set(model.layer_names())
    preferred = DEFAULT_LAYERS.get(getattr(model, "name", ""), ())
    if preferred and all(name in names for name in preferred):
        return tuple(preferred)
    for kind in ("mixed", "conv", "conv_pre_relu"):
        candidates = model.layer_names(kind)
        if candidates:
            return (candidates[len(candidates) // 2],)
    raise ModelError(f"{getattr(model, 'name', 'model')} has no spatial layer to guide with; pass layers=[...]")


def guided_objective(model, preset: str | Preset, guide_image, layers: str | Sequence[str] | None = None,
                     match_size=None, tile_size: int | None = None) -> GuidedObjective:
    """The objective of one preset: guide features (computed once), pixel and smoothness terms.

    Args:
        model: a cadl_utils Model.
        preset: a preset name or a Preset (only its metrics and weights are used here; who starts
            and who guides is ``guided``'s business).
        guide_image: the image that guides, [H, W, 3] in [0, 1].
        layers: feature layers (default ``default_layers(model)``).
        match_size: (height, width) of the dream at full size (default: the guide's own size).
        tile_size: compute the guide's features in tiles of this size (see ``compute_guide_features``).

    Returns:
        A GuidedObjective for ``dream`` / ``feedback_loop``; its weights can change without recompiling.
    """
    recipe = get_preset(preset)
    names = _check_layers(model, default_layers(model) if layers is None else layers)
    features = compute_guide_features(model, guide_image, names, match_size=match_size, tile_size=tile_size)
    # The pixel guide is fitted to the dream once, from the original guide (sharper than refitting
    # the area-matched copy); inside the step it is then only rescaled for octaves.
    pixel_guide = features.image
    if match_size is not None:
        original = as_image(guide_image, "guide image")
        pixel_guide = np.clip(fit_guide(original, int(match_size[0]), int(match_size[1]))[0].numpy(), 0.0, 1.0)
    return GuidedObjective(
        FeatureSimilarity(features, names, recipe.feature_metric),
        PixelSimilarity(pixel_guide, recipe.pixel_metric),
        TotalVariation(),
        recipe.feature_weight, recipe.pixel_weight, recipe.tv_weight,
    )


# --- the loop -----------------------------------------------------------------------------------


@dataclass
class GuidedResult:
    """Frames of a guided run and how it ended.

    Attributes:
        frames: float32 [H, W, 3] images in [0, 1]: the start image, then one every ``frames_every`` steps.
        preset: the Preset used.
        layers: the feature layers.
        start: the image the loop started from; guide: the guide as the pixel term sees it (the start's size).
        objective: the GuidedObjective (reuse it, or change its weights, without recompiling).
        interrupted: True when Ctrl-C (or the callback) stopped the run; ``frames`` holds what was done.
        steps_done: gradient steps taken.
        guide_passes: forward passes spent on guide features in this run (1).
        model_description: ``model.describe()`` (says when the weights are untrained).
        untrained: True when the model's weights are the untrained stand-in (show a banner/note).
    """

    frames: list
    preset: Preset
    layers: tuple
    start: np.ndarray
    guide: np.ndarray
    objective: GuidedObjective
    interrupted: bool = False
    steps_done: int = 0
    guide_passes: int = 1
    model_description: str = ""
    untrained: bool = False

    @property
    def image(self) -> np.ndarray:
        """The final image (the last frame)."""
        return self.frames[-1]


def _frames_every(steps: int, frames_every: int | None) -> int:
    if frames_every is None:
        # About 20 frames; the largest step count below steps / 20 that divides steps.
        every = max(1, steps // 20)
        while steps % every:
            every -= 1
        return every
    if isinstance(frames_every, bool) or not isinstance(frames_every, (int, np.integer)) or frames_every < 1:
        raise ParameterError(f"frames_every must be an integer >= 1, got {frames_every!r}")
    if steps % int(frames_every):
        lower = steps - steps % int(frames_every)
        raise ParameterError(
            f"steps ({steps}) must be a multiple of frames_every ({frames_every}) so that every frame is "
            f"the same number of steps apart; use steps={lower or frames_every} or {lower + int(frames_every)}"
        )
    return int(frames_every)


def guided(
    dream_image,
    guide_image,
    preset: str | Preset = "self",
    model=None,
    layers: str | Sequence[str] | None = None,
    steps: int | None = None,
    step_size: float = 0.01,
    frames_every: int | None = None,
    octaves: int = 1,
    tile_size: int | None = None,
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable | None = None,
    *,
    jitter: int = 16,
    normalize: str = "std",
    max_side: int | None = None,
) -> GuidedResult:
    """Guided hallucination with one preset, rendered as the frames of its accumulation.

    Args:
        dream_image: subject 1, [H, W, 3] in [0, 1] (or uint8, or a file path).
        guide_image: subject 2 (any size; see the module docstring for how sizes meet).
        preset: a name from ``PRESET_NAMES`` or your own ``Preset``.
        model: a cadl_utils Model; None loads inception5h (``CADL_WEIGHTS`` decides the weights).
        layers: feature layers (default ``default_layers(model)``).
        steps: gradient steps (default: the profile's, 100 full / 4 quick); with ``octaves`` > 1
            every frame runs its ``frames_every`` steps at each octave.
        step_size: how far each normalised step moves the pixels (> 0).
        frames_every: a frame every this many steps (must divide ``steps``; default about 20 frames).
        octaves: octaves per frame (1: every step at full size).
        tile_size: gradient tiles of this many pixels (None: whole image). Each tile is compared
            with the guide's pooled features (no alignment needed); for ``l1``/``l2`` that makes the
            distance local to each tile, so prefer tiles of 256 px or more.
        seed: random seed of the jitter (None: fresh).
        progress: show a progress bar.
        callback: called with the engine's ``StepInfo`` after every step; returning False stops.
        jitter: random roll in pixels each step.
        normalize: gradient normalisation of the engine (``std``, ``maxabs``, ``laplacian``, ``none``).
        max_side: shrink image files to this long side when loading (default: the profile's size).

    Returns:
        GuidedResult with ``steps / frames_every + 1`` frames (the first is the start image); after
        Ctrl-C, the frames done so far and ``interrupted=True``.

    Raises:
        ParameterError: unknown preset (the message lists them) or a parameter out of range.
        ImageError, LayerError: bad images, unknown layers, images too small for a layer.
    """
    from . import config
    from .dream import default_model, feedback_loop

    recipe = get_preset(preset)
    profile = config.profile()
    max_side = profile.size if max_side is None else max_side
    if steps is None:
        steps = profile.steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps must be an integer >= 1, got {steps!r}")
    steps = int(steps)
    every = _frames_every(steps, frames_every)
    subjects = {
        "dream": _subject(dream_image, "dream image", max_side),
        "guide": _subject(guide_image, "guide image", max_side),
    }
    start = subjects[recipe.start]
    guide = subjects[recipe.guide]
    if model is None:
        model = default_model()
    names = _check_layers(model, default_layers(model) if layers is None else layers)
    before = guide_feature_passes()
    objective = guided_objective(model, recipe, guide, names, match_size=start.shape[:2], tile_size=tile_size)
    frames = feedback_loop(
        start, objective, model=model, frames=steps // every, steps_per_frame=every, step_size=step_size,
        octaves=octaves, tile_size=tile_size, jitter=jitter, normalize=normalize, seed=seed,
        progress=progress, callback=callback, include_start=True,
    )  # fmt: skip
    return GuidedResult(
        frames=list(frames), preset=recipe, layers=names, start=start, guide=objective.pixel.guide_image,
        objective=objective, interrupted=bool(frames.interrupted), steps_done=int(frames.steps_done),
        guide_passes=guide_feature_passes() - before, model_description=model.describe(),
        untrained=getattr(model, "weights", "") == "untrained",
    )


def save_guided_gif(result: GuidedResult, path, duration_ms: int = 100, *, inputs=()) -> Path:
    """Write a guided run's frames as an animated GIF (atomically, via ``images.save_gif``).

    Args:
        result: from ``guided``.
        path: a ``.gif`` file name (folders are created).
        duration_ms: display time per frame.
        inputs: source files that must not be overwritten.

    Returns:
        The written Path.
    """
    from .images import save_gif

    if not isinstance(result, GuidedResult):
        raise ParameterError(f"save_guided_gif needs the GuidedResult of guided(...), got {type(result).__name__}")
    return save_gif(result.frames, path, duration_ms=duration_ms, inputs=inputs)


def render_presets(dream_image, guide_image, out_dir, presets: Sequence[str] | None = None, model=None,
                   *, duration_ms: int = 100, report: Callable[[str], None] | None = print,
                   **options) -> list[Path]:
    """Run several presets and write ``guided_<preset>.gif`` and ``guided_<preset>.png`` for each.

    Used by the ``guide`` command and by ``make demo``. Stops after a preset that was interrupted
    (its partial GIF is still written) and re-raises KeyboardInterrupt.

    Args:
        dream_image, guide_image: as in ``guided`` (file paths are never overwritten).
        out_dir: output folder (created).
        presets: names (default: all seven).
        model: a Model (default: inception5h with ``CADL_WEIGHTS``); loaded once for all presets.
        duration_ms: GIF frame time.
        report: called with one line per file written (default print; None for silence).
        **options: passed to ``guided`` (steps, step_size, frames_every, layers, octaves, ...).

    Returns:
        The paths written, in order.

    Raises:
        OutputError: before anything is rendered, when a file cannot be written in ``out_dir`` or
            would replace one of the input images.
    """
    from .dream import default_model
    from .files import check_output_paths
    from .images import save_image

    names = PRESET_NAMES if presets is None else tuple(get_preset(name).name for name in presets)
    inputs = [item for item in (dream_image, guide_image) if isinstance(item, (str, Path))]
    folder = Path(out_dir).expanduser()
    targets = {name: (folder / f"guided_{name}.gif", folder / f"guided_{name}.png") for name in names}
    # Every preset's files, before the first is rendered: an unusable folder costs a second, not a render.
    check_output_paths([path for pair in targets.values() for path in pair], inputs=inputs)
    if model is None:
        model = default_model()
    written: list[Path] = []
    for name in names:
        gif_path, png_path = targets[name]
        result = guided(dream_image, guide_image, preset=name, model=model, **options)
        gif = save_guided_gif(result, gif_path, duration_ms, inputs=inputs)
        png = save_image(result.image, png_path, inputs=inputs)
        for path in (gif, png):
            written.append(Path(path))
            if report is not None:
                report(f"wrote {path}")
        if result.interrupted:
            if report is not None:
                report(f"interrupted during preset {name!r}: its frames so far were saved; later presets skipped")
            raise KeyboardInterrupt
    return written


# --- command line -------------------------------------------------------------------------------


def _default_pair() -> tuple[Path, Path]:
    """Two sample photographs (dream, guide) for the command line's defaults."""
    from .images import sample_images

    photos = sample_images("photo")
    if len(photos) < 2:
        raise ImageError("fewer than two sample photos in data/photos: give DREAM and GUIDE paths")
    dream = photos.get("cat") or list(photos.values())[0]
    guide = photos.get("coffee") or next(path for path in photos.values() if path != dream)
    return dream, guide


def _run_cli(args: argparse.Namespace) -> int:
    from .dream import default_model

    if args.all_presets and args.preset:
        raise ParameterError("give either --preset or --all-presets, not both")
    presets = PRESET_NAMES if args.all_presets else (args.preset or "self",)
    presets = tuple(get_preset(name).name for name in presets)
    default_dream, default_guide = (None, None)
    if args.dream is None or args.guide is None:
        default_dream, default_guide = _default_pair()
    dream_path = args.dream or default_dream
    guide_path = args.guide or default_guide
    model = default_model(args.weights)
    from .cli import announce_model

    announce_model(model)
    print(f"dream: {dream_path}\nguide: {guide_path}")
    options = {
        "layers": args.layers, "steps": args.steps, "step_size": args.step_size, "frames_every": args.frames_every,
        "octaves": args.octaves, "tile_size": args.tile_size, "seed": args.seed, "progress": not args.no_progress,
        "max_side": args.size,
    }
    render_presets(dream_path, guide_path, args.out, presets, model, duration_ms=args.duration_ms, **options)
    return 0


def add_cli(subparsers) -> None:
    """Add the ``guide`` sub-command: ``python -m cadl_utils guide DREAM GUIDE --preset ...``."""
    parser = subparsers.add_parser(
        "guide",
        help="guided hallucination: a dream image guided by a second image (seven presets)",
        description="Guided hallucination: the dream image changes along the gradient of feature, pixel and "
        "smoothness terms that compare it with the guide. Writes guided_<preset>.gif and .png into --out. "
        "Presets: " + "; ".join(f"{p.name} ({p.signs()}): {p.why}" for p in PRESETS.values()),
    )
    parser.add_argument("dream", nargs="?", default=None, help="dream image, subject 1 (default: a sample photo)")
    parser.add_argument("guide", nargs="?", default=None, help="guide image, subject 2 (default: another sample photo)")
    parser.add_argument("--preset", default=None, choices=PRESET_NAMES, help="which variant (default self)")
    parser.add_argument("--all-presets", action="store_true", help="render all seven presets")
    parser.add_argument("--out", default="outputs/guided", help="output folder (default outputs/guided)")
    parser.add_argument("--layers", nargs="+", default=None, help="feature layers (default: mixed4c for inception5h)")
    parser.add_argument("--steps", type=int, default=None, help="gradient steps (default: profile, 100 full / 4 quick)")
    parser.add_argument("--step-size", type=float, default=0.01, help="size of each normalised step (default 0.01)")
    parser.add_argument("--frames-every", type=int, default=None, help="a frame every N steps (must divide --steps)")
    parser.add_argument("--octaves", type=int, default=1, help="octaves per frame (default 1)")
    parser.add_argument("--tile-size", type=int, default=None, help="gradient tile size in px for large images")
    parser.add_argument("--size", type=int, default=None, help="shrink images to this long side (default: profile)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--weights", default=None, help="pretrained | untrained | auto (default: $CADL_WEIGHTS)")
    parser.add_argument("--duration-ms", type=int, default=100, help="GIF frame time in ms (default 100)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=_run_cli)
