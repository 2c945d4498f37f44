"""Tests for cadl_utils.guided: the loss math, the terms as objectives, presets, the loop and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cadl_utils import guided as G
from cadl_utils.errors import ImageError, LayerError, ParameterError


def _random_image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


def _smooth_image(seed: int, height: int, width: int) -> np.ndarray:
    """A blurry random picture (low-frequency), closer to a photograph than white noise."""
    small = _random_image(seed, max(2, height // 8), max(2, width // 8))
    return tf.image.resize(small[None], (height, width), method="bicubic")[0].numpy().clip(0, 1)


def _feature_value(model, image, guide_features, layer, metric):
    vector = G.pool_features(model.extract(tf.convert_to_tensor(image[None]), [layer])[0])
    return float(G.feature_term(vector, guide_features.vectors[layer], metric, guide_features.scales[layer]))


def _plain_ascent(image, value_fn, steps=15, step_size=0.01):
    """Gradient ascent of value_fn with std-normalised steps, independent of the dream engine."""
    x = tf.Variable(image[None])
    for _ in range(steps):
        with tf.GradientTape() as tape:
            value = value_fn(x)
        grad = tape.gradient(value, x)
        grad = grad / (tf.math.reduce_std(grad) + 1e-8)
        x.assign(tf.clip_by_value(x + step_size * grad, 0.0, 1.0))
    return x.numpy()[0]


# --- loss math -----------------------------------------------------------------------------------


def test_pool_features_averages_positions_and_keeps_vectors():
    maps = tf.reshape(tf.range(2 * 3 * 4 * 5, dtype=tf.float32), (2, 3, 4, 5))
    pooled = G.pool_features(maps).numpy()
    assert pooled.shape == (2, 5)
    np.testing.assert_allclose(pooled, maps.numpy().mean(axis=(1, 2)))
    vectors = tf.constant([[1.0, 2.0]])
    np.testing.assert_allclose(G.pool_features(vectors).numpy(), [[1.0, 2.0]])
    with pytest.raises(ParameterError):
        G.pool_features(tf.zeros((2, 3, 4)))


def test_feature_terms_known_values():
    guide = np.array([3.0, -1.0, 1.0, 1.0], np.float32)
    scale = G.feature_scale(guide)
    assert scale == pytest.approx(np.sqrt(3.0))
    dream = tf.constant([[4.0, -1.0, 1.0, 3.0]])
    # dot: mean(d * g) / scale^2 = (12 + 1 + 1 + 3) / 4 / 3
    assert float(G.feature_term(dream, guide, "dot", scale)) == pytest.approx(17 / 12, rel=1e-5)
    # l1: mean |d - g| / scale = (1 + 0 + 0 + 2) / 4 / sqrt(3)
    assert float(G.feature_term(dream, guide, "l1", scale)) == pytest.approx(0.75 / np.sqrt(3), rel=1e-5)
    # l2: sqrt(mean (d - g)^2 / scale^2) = sqrt(5 / 4 / 3)
    assert float(G.feature_term(dream, guide, "l2", scale)) == pytest.approx(np.sqrt(5 / 12), rel=1e-4)
    # The guide against itself: dot 1, distances 0.
    same = tf.constant(guide[None])
    assert float(G.feature_term(same, guide, "dot", scale)) == pytest.approx(1.0, rel=1e-6)
    assert float(G.feature_term(same, guide, "l1", scale)) == 0.0
    assert float(G.feature_term(same, guide, "l2", scale)) == pytest.approx(0.0, abs=1e-7)


def test_feature_terms_do_not_depend_on_layer_size_or_scale():
    """Repeating every channel (a wider layer) or multiplying activations keeps the values."""
    rng = np.random.default_rng(1)
    guide = rng.normal(size=16).astype(np.float32)
    dream = rng.normal(size=(1, 16)).astype(np.float32)
    for metric in G.FEATURE_METRICS:
        base = float(G.feature_term(dream, guide, metric, G.feature_scale(guide)))
        wide_guide = np.tile(guide, 4)
        wide = float(G.feature_term(np.tile(dream, (1, 4)), wide_guide, metric, G.feature_scale(wide_guide)))
        loud = float(G.feature_term(dream * 50, guide * 50, metric, G.feature_scale(guide * 50)))
        assert wide == pytest.approx(base, rel=1e-4)
        assert loud == pytest.approx(base, rel=1e-4)


def test_feature_scale_of_zero_vector_is_one():
    assert G.feature_scale(np.zeros(8)) == 1.0
    assert G.feature_scale(np.full(8, 2.0)) == pytest.approx(2.0)


def test_unknown_metrics_raise_parameter_error_listing_choices():
    with pytest.raises(ParameterError, match="dot, l1, l2"):
        G.feature_term(tf.zeros((1, 2)), np.zeros(2), "cosine")
    with pytest.raises(ParameterError, match="l1, l2"):
        G.pixel_distance(tf.zeros((1, 4, 4, 3)), np.zeros((4, 4, 3), np.float32), "dot")


def test_pixel_distance_values():
    image = np.full((1, 8, 8, 3), 0.5, np.float32)
    guide = np.full((8, 8, 3), 0.2, np.float32)
    assert float(G.pixel_distance(image, guide, "l1")) == pytest.approx(0.3, rel=1e-5)
    assert float(G.pixel_distance(image, guide, "l2")) == pytest.approx(0.09, rel=1e-5)
    assert float(G.pixel_distance(image, image[0], "l1")) == 0.0


def test_fit_guide_crops_to_aspect_then_resizes():
    # A guide whose left and right thirds are black, centre white: a square crop sees only the centre.
    guide = np.zeros((30, 90, 3), np.float32)
    guide[:, 30:60] = 1.0
    fitted = G.fit_guide(guide, 10, 10).numpy()
    assert fitted.shape == (1, 10, 10, 3)
    assert fitted.min() == pytest.approx(1.0)
    wide = G.fit_guide(guide, 12, 36).numpy()
    assert wide.shape == (1, 12, 36, 3)
    assert wide[0, :, :6].max() < 0.1 and wide[0, :, 15:21].min() > 0.9


def test_fit_guide_follows_dynamic_sizes_inside_tf_function():
    guide = _random_image(0, 20, 30)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    def distance(image):
        return G.pixel_distance(image, guide, "l2")

    for size in [(16, 24), (9, 40), (33, 33)]:
        assert np.isfinite(float(distance(tf.zeros((1, *size, 3)))))
    assert distance.experimental_get_tracing_count() == 1


# --- guide features ------------------------------------------------------------------------------


def test_guide_features_are_pooled_counted_and_scaled(tiny_model):
    guide = _random_image(2, 40, 64)
    before = G.guide_feature_passes()
    features = G.compute_guide_features(tiny_model, guide, ["mixed", "conv1_pre_relu"], match_size=(48, 48))
    assert G.guide_feature_passes() == before + 1
    assert features.layers == ("mixed", "conv1_pre_relu")
    assert features.vectors["mixed"].shape == (16,)
    assert features.vectors["conv1_pre_relu"].shape == (8,)
    # Resized to the dream's pixel count with the guide's aspect ratio (40:64).
    h, w = features.image.shape[:2]
    assert abs(h * w - 48 * 48) < 100 and abs(w / h - 64 / 40) < 0.05
    assert features.scales["mixed"] == pytest.approx(G.feature_scale(features.vectors["mixed"]))


def test_guide_features_bad_input(tiny_model):
    with pytest.raises(LayerError):
        G.compute_guide_features(tiny_model, _random_image(0, 16, 16), ["no_such_layer"])
    with pytest.raises(ParameterError):
        G.compute_guide_features(tiny_model, _random_image(0, 16, 16), [])
    with pytest.raises(ImageError, match="0, 1"):
        G.compute_guide_features(tiny_model, _random_image(0, 16, 16) * 255, ["mixed"])
    with pytest.raises(ImageError, match="NaN"):
        G.compute_guide_features(tiny_model, np.full((16, 16, 3), np.nan, np.float32), ["mixed"])
    with pytest.raises(ImageError, match="RGB"):
        G.compute_guide_features(tiny_model, np.zeros((16, 16), np.float32), ["mixed"])


# --- each term moves the dream the way its sign promises (plain gradient steps) ------------------


@pytest.mark.parametrize("layer", ["mixed", "conv1_pre_relu"])
@pytest.mark.parametrize("metric", G.FEATURE_METRICS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_feature_term_gradient_direction(tiny_model, layer, metric, sign):
    dream = _smooth_image(3, 40, 40)
    guide = _smooth_image(4, 40, 40)
    features = G.compute_guide_features(tiny_model, guide, [layer])
    before = _feature_value(tiny_model, dream, features, layer, metric)

    def value(x):
        vector = G.pool_features(tiny_model.extract(x, [layer])[0])
        return sign * G.feature_term(vector, features.vectors[layer], metric, features.scales[layer])

    after = _feature_value(tiny_model, _plain_ascent(dream, value), features, layer, metric)
    if sign > 0:
        assert after > before * 1.05 + 1e-3
    else:
        assert after < before * 0.95 - 1e-3


@pytest.mark.parametrize("metric", G.PIXEL_METRICS)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_pixel_term_gradient_direction(metric, sign):
    dream = _smooth_image(5, 32, 32) * 0.6 + 0.2
    guide = _smooth_image(6, 48, 40)
    before = float(G.pixel_distance(dream[None], guide, metric))
    after_image = _plain_ascent(dream, lambda x: sign * G.pixel_distance(x, guide, metric))
    after = float(G.pixel_distance(after_image[None], guide, metric))
    assert (after > before * 1.05) if sign > 0 else (after < before * 0.95)


@pytest.mark.parametrize("metric", ["l1", "l2"])
def test_zero_distances_give_finite_zero_gradients(tiny_model, metric):
    """Dream identical to the guide: distances are 0 and their gradients finite (not NaN)."""
    for image in (_smooth_image(7, 32, 32), np.full((32, 32, 3), 0.5, np.float32), np.zeros((32, 32, 3), np.float32)):
        features = G.compute_guide_features(tiny_model, image, ["mixed"])
        x = tf.Variable(image[None])
        with tf.GradientTape() as tape:
            vector = G.pool_features(tiny_model.extract(x, ["mixed"])[0])
            feature = G.feature_term(vector, features.vectors["mixed"], metric, features.scales["mixed"])
            pixel = G.pixel_distance(x, image, metric)
            total = feature + pixel
        grad = tape.gradient(total, x).numpy()
        assert float(feature) == pytest.approx(0.0, abs=1e-5)
        assert float(pixel) == pytest.approx(0.0, abs=1e-6)
        assert np.all(np.isfinite(grad))
