"""Tests for cadl_utils.objectives."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cadl_utils import objectives as O


# --- total variation -------------------------------------------------------------------------------


def test_total_variation_known_values():
    flat = np.full((8, 9, 3), 0.3, np.float32)
    assert float(O.total_variation(flat)) == 0.0
    # Vertical stripes of 0 and 1: every horizontal neighbour differs by 1, no vertical one does.
    stripes = np.zeros((6, 8, 3), np.float32)
    stripes[:, ::2] = 1.0
    assert float(O.total_variation(stripes)) == pytest.approx(0.5)
    assert float(O.total_variation(np.transpose(stripes, (1, 0, 2)))) == pytest.approx(0.5)


def test_total_variation_is_size_independent_and_batched():
    rng = np.random.default_rng(0)
    small = rng.random((32, 32, 3)).astype(np.float32)
    large = rng.random((128, 96, 3)).astype(np.float32)
    # Uniform noise: E|a - b| = 1/3 for independent a, b.
    assert float(O.total_variation(small)) == pytest.approx(1 / 3, abs=0.03)
    assert float(O.total_variation(large)) == pytest.approx(1 / 3, abs=0.01)
    batch = np.stack([small, small])
    assert float(O.total_variation(batch)) == pytest.approx(float(O.total_variation(small)), rel=1e-6)


def test_total_variation_thin_images_and_gradient_are_finite():
    row = tf.constant(np.linspace(0, 1, 10, dtype=np.float32)[None, :, None] * np.ones((1, 1, 3), np.float32))
    assert float(O.total_variation(row)) == pytest.approx(0.5 * (1 / 9))
    x = tf.Variable(tf.fill((1, 1, 1, 3), 0.5))
    with tf.GradientTape() as tape:
        value = O.total_variation(x)
    grad = tape.gradient(value, x)
    assert float(value) == 0.0
    assert np.all(np.isfinite(grad.numpy()))


def test_total_variation_descends_towards_smooth():
    rng = np.random.default_rng(1)
    x = tf.Variable(rng.random((1, 16, 16, 3)).astype(np.float32))
    before = float(O.total_variation(x))
    for _ in range(20):
        with tf.GradientTape() as tape:
            value = O.total_variation(x)
        grad = tape.gradient(value, x)
        x.assign_sub(0.005 * grad / (tf.math.reduce_std(grad) + 1e-8))
    assert float(O.total_variation(x)) < 0.8 * before


# --- construction and validation --------------------------------------------------------------------

from cadl_utils.errors import LayerError, ModelError, ParameterError  # noqa: E402


def _image(seed=0, size=40):
    return np.random.default_rng(seed).random((size, size, 3)).astype(np.float32)


def test_constructors_validate_when_a_model_is_given(tiny_model):
    with pytest.raises(LayerError, match="no layer"):
        O.channel("conv9", 0, model=tiny_model)
    with pytest.raises(LayerError, match="out of range"):
        O.channel("conv1", 8, model=tiny_model)
    with pytest.raises(LayerError, match="no class label"):
        O.neuron("giraffe", "softmax", model=tiny_model)
    with pytest.raises(LayerError, match="out of range"):
        O.neuron(10, "softmax", model=tiny_model)
    with pytest.raises(LayerError, match="no layer"):
        O.layer("mixed9", model=tiny_model)
    # Type errors are caught even without a model.
    with pytest.raises(LayerError):
        O.channel("conv1", -1)
    with pytest.raises(LayerError):
        O.channel("conv1", 1.5)
    with pytest.raises(LayerError):
        O.neuron("")


def test_validation_waits_for_first_use_without_a_model(tiny_model):
    from cadl_utils import dream as D

    objective = O.neuron("giraffe", "softmax")  # no model: nothing to check against yet
    assert objective.model is None
    with pytest.raises(LayerError, match="giraffe"):
        D.dream(_image(), objective, tiny_model, steps=1, octaves=1, progress=False)
    with pytest.raises(ModelError, match="validate"):
        objective.feature_loss({"softmax": tf.zeros((1, 10))})


def test_neuron_resolves_labels_and_set_index(tiny_model):
    objective = O.neuron("Jellyfish", "softmax", model=tiny_model)
    assert objective.index == 1 and objective.label == "jellyfish"
    objective.set_index("broom")
    assert objective.index == 2
    objective.set_index(5)
    assert objective.label == "school bus"
    with pytest.raises(LayerError):
        objective.set_index(10)
    with pytest.raises(LayerError):
        objective.set_index("giraffe")
    assert "school bus" in objective.describe()
    # Unvalidated neurons cannot take a label (no model to look it up in).
    with pytest.raises(ModelError):
        O.neuron(3, "softmax").set_index("broom")


def test_neuron_reads_the_right_unit():
    features = {"logits": tf.constant([[0.0, 5.0, 1.0], [0.0, 3.0, 1.0]])}
    assert float(O.neuron(1, "logits").feature_loss(features)) == pytest.approx(4.0)
    # On a spatial map: the centre unit of the channel.
    grid = np.zeros((1, 5, 7, 2), np.float32)
    grid[0, 2, 3, 1] = 9.0
    assert float(O.neuron(1, "conv1").feature_loss({"conv1": tf.constant(grid)})) == pytest.approx(9.0)


def test_channel_reads_pre_relu_when_asked(tiny_model):
    assert O.channel("conv1", 3, model=tiny_model).layers == ("conv1_pre_relu",)
    assert O.channel("conv1", 3, pre_relu=False, model=tiny_model).layers == ("conv1",)
    assert O.channel("conv2_pre_relu", 3, model=tiny_model).layers == ("conv2_pre_relu",)
    assert O.channel("mixed", 3, model=tiny_model).layers == ("mixed",)
    values = np.random.default_rng(0).normal(size=(1, 4, 4, 8)).astype(np.float32)
    expected = values[..., 5].mean()
    objective = O.channel("conv1", 5, model=tiny_model)
    assert float(objective.feature_loss({"conv1_pre_relu": tf.constant(values)})) == pytest.approx(expected, rel=1e-5)


def test_layer_mean_and_square():
    values = tf.constant([[[[1.0, -3.0]]]])
    assert float(O.layer("x").feature_loss({"x": values})) == pytest.approx(-1.0)
    assert float(O.layer("x", squared=True).feature_loss({"x": values})) == pytest.approx(5.0)


# --- arithmetic ---------------------------------------------------------------------------------------


def test_arithmetic_builds_flat_weighted_sums():
    a, b, c = O.layer("conv1"), O.channel("conv2", 1), O.neuron(1, "logits")
    total = 0.7 * a + 0.3 * b
    assert isinstance(total, O.WeightedSum)
    assert total.terms == (a, b) and total.term_weights == pytest.approx((0.7, 0.3))
    nested = 2 * (total - c) / 4
    assert nested.terms == (a, b, c)
    assert nested.term_weights == pytest.approx((0.35, 0.15, -0.5))
    assert (-a).term_weights == (-1.0,)
    assert sum([a, b]).term_weights == (1.0, 1.0)
    assert set(nested.layers) == {"conv1", "conv2", "logits"}
    assert "0.7 * mean activation of conv1" in total.describe()
    for bad in (lambda: a * b, lambda: a + 3, lambda: a * float("nan"), lambda: a / 0, lambda: "x" * a):
        with pytest.raises(ParameterError):
            bad()


def test_set_weight_changes_only_that_term():
    a, b = O.layer("conv1"), O.layer("conv2")
    total = a + b
    total.set_weight(-2.0, term=1)
    assert total.term_weights == (1.0, -2.0)
    total.set_term_weights(0.5, 0.25)
    assert total.term_weights == (0.5, 0.25)
    with pytest.raises(ParameterError, match="term"):
        total.set_weight(1.0)
    with pytest.raises(ParameterError):
        total.set_weight(float("inf"), term=0)
    with pytest.raises(ParameterError):
        total.set_term_weights(1.0)
    single = 3 * a
    single.set_weight(0.5)
    assert single.term_weights == (0.5,)
    total.set_term_weights(None, 4.0)  # None keeps a weight
    assert total.term_weights == (0.5, 4.0)


def test_huge_weights_are_refused_even_when_only_their_product_is_huge():
    """Weights whose loss could overflow float32 (issue 15: 1e38 * layer gave an all-NaN picture)."""
    a = O.layer("conv1")
    for make in (lambda: 1e38 * a, lambda: (1e4 * a) * 1e4, lambda: a / 1e-300, lambda: 1e300 * (1e300 * a)):
        with pytest.raises(ParameterError, match="weight|factor|divisor"):
            make()
    total = a + O.layer("conv2")
    with pytest.raises(ParameterError, match="at most"):
        total.set_weight(1e7, term=0)
    assert total.term_weights == (1.0, 1.0)


def test_weighted_sums_are_linear_in_value(tiny_model):
    image = _image(1)
    a = O.channel("conv2", 3)
    b = O.neuron("broom", "logits")
    value_a = O.evaluate(a, tiny_model, image)
    value_b = O.evaluate(b, tiny_model, image)
    combined = O.evaluate(0.7 * a - 2.5 * b, tiny_model, image)
    assert combined == pytest.approx(0.7 * value_a - 2.5 * value_b, rel=1e-4, abs=1e-5)


def test_total_variation_objective_is_a_pixel_term(tiny_model):
    term = O.tv()
    assert term.layers == () and term.uses_pixels
    assert not O.layer("conv1").uses_pixels
    image = _image(2)
    assert O.evaluate(term, tiny_model, image) == pytest.approx(float(O.total_variation(image)), rel=1e-6)
    mixed = O.layer("conv1") - 0.5 * term
    assert mixed.uses_pixels
    expected = O.evaluate(O.layer("conv1"), tiny_model, image) - 0.5 * float(O.total_variation(image))
    assert O.evaluate(mixed, tiny_model, image) == pytest.approx(expected, rel=1e-4)
