"""Guided hallucination: move a *dream* image towards (or away from) what a network sees in a *guide*.

Terms (each is a number to MAXIMISE; give it a negative weight to descend it):

- feature similarity at one or more layers, ``metric`` one of
  ``dot``  (normalised dot product of dream and guide features, 1.0 when they are equal),
  ``l1``   (mean absolute feature difference),
  ``l2``   (root-mean-square feature difference);
- pixel distance between dream and guide, ``l1`` (mean absolute) or ``l2`` (mean squared) channel difference;
- total variation (mean absolute neighbour difference), weighted negatively for smoothness.

How dream and guide of different sizes meet
-------------------------------------------
Features are *pooled spatially*: each layer's map [N, h, w, C] is averaged over its positions into a
vector of C channel means, for the dream and for the guide. The guide vectors are computed once, before
the loop, and reused for every step. We pool rather than compare maps position by position because the
pooled vector does not change with the dream's size (octaves), its random roll (jitter) or the tile
the engine is working on, so every engine option works and the guide never needs a second forward
pass. The price is that the layout of the guide is not copied, only the presence of what the network
detects (which is what "what the network sees as similar" asks for). To keep the scale of objects
comparable, the guide is resized to the dream's pixel count (aspect ratio kept) before its features
are taken.

Pixels cannot be pooled, so the pixel term fits the guide to the image it is given: a centre crop to
the image's aspect ratio, then a resize to its size (inside the compiled step, so it follows octaves).

Normalisation: feature terms are divided by the root-mean-square of the guide's vector at that layer
(``dot`` by its square), so a term's value does not depend on the layer's size or activation scale;
with several layers the per-layer values are averaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import tensorflow as tf

from .errors import ImageError, ParameterError

FEATURE_METRICS = ("dot", "l1", "l2")
PIXEL_METRICS = ("l1", "l2")

# Keeps sqrt differentiable at a zero distance (identical dream and guide): d sqrt(x + eps) / dx is finite.
_L2_EPS = 1e-12
# Below this root-mean-square the guide's features are treated as all-zero and not rescaled.
_SCALE_FLOOR = 1e-6

_guide_passes = 0


def guide_feature_passes() -> int:
    """How many times guide features were computed in this process (each is one forward pass).

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
    features = tf.convert_to_tensor(features, tf.float32)
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
    crop_h = tf.minimum(gh, tf.round(gw * th / tw))
    crop_w = tf.minimum(gw, tf.round(gh * tw / th))
    crop_h = tf.maximum(tf.cast(crop_h, tf.int32), 1)
    crop_w = tf.maximum(tf.cast(crop_w, tf.int32), 1)
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
    fitted = fit_guide(guide, shape[1], shape[2])
    difference = image - fitted
    if metric == "l1":
        return tf.reduce_mean(tf.abs(difference))
    return tf.reduce_mean(tf.square(difference))


# --- guide features, computed once --------------------------------------------------------------


@dataclass(frozen=True)
class GuideFeatures:
    """Pooled features of a guide image, computed once and reused by every step.

    Attributes:
        vectors: layer name -> [C] float32 channel means.
        scales: layer name -> RMS of that vector (the unit of the feature terms).
        image: the guide as its features were taken, [H, W, 3] float32 in [0, 1].
        model_name: the model that computed them (terms check they are used with the same one).
    """

    vectors: dict
    scales: dict
    image: np.ndarray
    model_name: str

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers these features cover."""
        return tuple(self.vectors)


def _as_image(image, what: str) -> np.ndarray:
    """A float32 [H, W, 3] array in [0, 1], or ImageError naming ``what`` and the fix."""
    array = np.asarray(image)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3 or array.shape[-1] != 3:
        raise ImageError(
            f"the {what} image must be an RGB array [H, W, 3], got shape {array.shape}; "
            "load files with cadl_utils.images.load_image"
        )
    if not np.issubdtype(array.dtype, np.number):
        raise ImageError(f"the {what} image must be numeric, got dtype {array.dtype}")
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ImageError(f"the {what} image contains NaN or Inf values; replace them before guiding")
    if array.size and (array.min() < 0.0 or array.max() > 1.0):
        raise ImageError(
            f"the {what} image has values outside [0, 1] (min {array.min():.3g}, max {array.max():.3g}); "
            "divide 8-bit images by 255 or use cadl_utils.images.load_image"
        )
    return array


def scale_to_area(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image`` resized so that it has about height * width pixels, keeping its aspect ratio.

    Args:
        image: [H, W, 3] float32.
        height, width: the size whose pixel count is matched.

    Returns:
        [H', W', 3] float32 with H' * W' close to height * width.
    """
    h, w = image.shape[:2]
    factor = float(np.sqrt((height * width) / float(h * w)))
    new_h = max(1, int(round(h * factor)))
    new_w = max(1, int(round(w * factor)))
    if (new_h, new_w) == (h, w):
        return image
    resized = tf.image.resize(image[None], (new_h, new_w), method="bilinear", antialias=True)[0]
    return np.clip(resized.numpy(), 0.0, 1.0).astype(np.float32)


def compute_guide_features(model, guide_image, layers: str | Sequence[str], match_size=None) -> GuideFeatures:
    """Pooled features of the guide at ``layers`` (one forward pass, counted).

    Args:
        model: a cadl_utils Model.
        guide_image: [H, W, 3] in [0, 1].
        layers: one layer name or several.
        match_size: (height, width) of the dream; the guide is first resized to that many pixels
            (aspect kept) so that objects appear at a comparable scale. None: use the guide as is.

    Returns:
        GuideFeatures.

    Raises:
        LayerError: unknown layer, or the guide is smaller than a layer needs.
        ImageError: the guide is not an RGB array in [0, 1].
    """
    global _guide_passes
    names = (layers,) if isinstance(layers, str) else tuple(layers)
    if not names:
        raise ParameterError("no layers given for guide features: name at least one layer, e.g. layers=['mixed4c']")
    guide = _as_image(guide_image, "guide")
    if match_size is not None:
        guide = scale_to_area(guide, int(match_size[0]), int(match_size[1]))
    for name in names:
        model.layer(name)
        needed = model.min_size(name)
        if min(guide.shape[:2]) < needed:
            from .errors import LayerError

            raise LayerError(
                f"the guide is {guide.shape[1]}x{guide.shape[0]} px but layer {name!r} needs at least "
                f"{needed} px on each side; use a larger guide/dream or an earlier layer"
            )
    outputs = model.extract(tf.convert_to_tensor(guide[None]), list(names))
    _guide_passes += 1
    vectors = {}
    scales = {}
    for name, output in zip(names, outputs):
        vector = pool_features(output)[0].numpy().astype(np.float32)
        vectors[name] = vector
        scales[name] = feature_scale(vector)
    return GuideFeatures(vectors=vectors, scales=scales, image=guide, model_name=getattr(model, "name", "model"))
