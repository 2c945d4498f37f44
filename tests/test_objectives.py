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
