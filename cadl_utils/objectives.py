"""What Deep Dream maximises: objectives built from a network's neurons, channels and layers.

This module starts with the pixel-space helpers other engines share (``total_variation``); the
composable objectives follow.
"""

from __future__ import annotations

import tensorflow as tf


def total_variation(image) -> tf.Tensor:
    """Mean absolute difference between neighbouring pixels (a measure of noise; 0 for a flat image).

    The vertical and horizontal neighbour differences are averaged separately and then together,
    so the value does not depend on the image size: about 1/3 for uniform random noise in [0, 1].
    An image one pixel high (or wide) contributes 0 for that direction instead of NaN.

    Args:
        image: [H, W, C] or [N, H, W, C] float tensor (works inside tf.function with unknown sizes).

    Returns:
        Scalar float32 tensor.
    """
    image = tf.convert_to_tensor(image)
    image = tf.cast(image, tf.float32)
    if image.shape.rank == 3:
        image = image[None]
    dy = tf.abs(image[:, 1:, :, :] - image[:, :-1, :, :])
    dx = tf.abs(image[:, :, 1:, :] - image[:, :, :-1, :])
    return 0.5 * (_safe_mean(dy) + _safe_mean(dx))


def _safe_mean(values: tf.Tensor) -> tf.Tensor:
    """Mean of a tensor that may be empty (0.0 then, not NaN)."""
    count = tf.cast(tf.size(values), tf.float32)
    return tf.reduce_sum(values) / tf.maximum(count, 1.0)
