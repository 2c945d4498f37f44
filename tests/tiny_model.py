"""A tiny network that implements the cadl_utils Model interface, for fast engine tests.

It has the same kinds of layers as inception5h (conv pre_relu/relu, a concat "mixed" block, logits
and a softmax head with labels) but runs in milliseconds, so engine tests can take many steps.
Integration tests use the real inception5h stand-in instead.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cadl_utils.models.base import LayerInfo, Model

LABELS = ["dummy", "jellyfish", "broom", "minibus", "espresso", "school bus", "", "", "", ""]


class TinyModel(Model):
    """conv1 (3x3, 8) -> conv2 (3x3 stride 2, 16) -> mixed (1x1 8 | 3x3 8) -> pool -> logits(10)."""

    name = "tiny"
    weights = "untrained"

    def __init__(self, seed: int = 0):
        rng = np.random.default_rng(seed)

        def conv(k, cin, cout):
            std = np.sqrt(2.0 / (k * k * cin))
            w = rng.normal(0.0, std, size=(k, k, cin, cout)).astype(np.float32)
            b = rng.normal(0.0, 0.1, size=(cout,)).astype(np.float32)
            return tf.Variable(w, trainable=False), tf.Variable(b, trainable=False)

        self.w = {
            "conv1": conv(3, 3, 8),
            "conv2": conv(3, 8, 16),
            "mixed_1x1": conv(1, 16, 8),
            "mixed_3x3": conv(3, 16, 8),
        }
        # Small weights: activations are in the hundreds (inputs are 0..255), keep the softmax unsaturated.
        dense = rng.normal(0.0, 0.002, size=(16, 10)).astype(np.float32)
        self.dense = tf.Variable(dense, trainable=False)
        self.dense_b = tf.Variable(np.zeros(10, np.float32), trainable=False)
        self.labels = list(LABELS)
        self.layers = [
            LayerInfo("conv1_pre_relu", "conv_pre_relu", 8),
            LayerInfo("conv1", "conv", 8),
            LayerInfo("conv2_pre_relu", "conv_pre_relu", 16),
            LayerInfo("conv2", "conv", 16),
            LayerInfo("mixed_1x1_pre_relu", "conv_pre_relu", 8),
            LayerInfo("mixed_3x3_pre_relu", "conv_pre_relu", 8),
            LayerInfo("mixed", "mixed", 16),
            LayerInfo("logits", "logits", 10),
            LayerInfo("softmax", "softmax", 10),
        ]
        self.calls: dict[str, int] = {}

    def preprocess(self, images):
        return images * 255.0 - 117.0

    def deprocess(self, inputs):
        return (inputs + 117.0) / 255.0

    def _conv(self, x, name, stride=1):
        w, b = self.w[name]
        return tf.nn.bias_add(tf.nn.conv2d(x, w, stride, "SAME"), b)

    def extract(self, images, names):
        for n in names:
            self.layer(n)
        images = tf.convert_to_tensor(images, tf.float32)
        out = {}
        out["conv1_pre_relu"] = self._conv(self.preprocess(images), "conv1")
        out["conv1"] = tf.nn.relu(out["conv1_pre_relu"])
        out["conv2_pre_relu"] = self._conv(out["conv1"], "conv2", stride=2)
        out["conv2"] = tf.nn.relu(out["conv2_pre_relu"])
        out["mixed_1x1_pre_relu"] = self._conv(out["conv2"], "mixed_1x1")
        out["mixed_3x3_pre_relu"] = self._conv(out["conv2"], "mixed_3x3")
        out["mixed"] = tf.concat(
            [tf.nn.relu(out["mixed_1x1_pre_relu"]), tf.nn.relu(out["mixed_3x3_pre_relu"])], axis=-1
        )
        pooled = tf.reduce_mean(out["mixed"], axis=[1, 2])
        out["logits"] = tf.matmul(pooled, self.dense) + self.dense_b
        out["softmax"] = tf.nn.softmax(out["logits"])
        for n in names:
            self.calls[n] = self.calls.get(n, 0) + 1
        return [out[n] for n in names]

    def classify(self, image, top=5):
        probs = self.extract(tf.convert_to_tensor(image, tf.float32)[None], ["softmax"])[0][0].numpy()
        order = np.argsort(-probs)[:top]
        return [(int(i), self.label(int(i)), float(probs[i])) for i in order]
