"""A texture model without training: seeded random filters over an image pyramid (``random-multiscale``).

Ustyuzhaninov, Brendel, Gatys & Bethge ("What does it take to generate natural textures?", ICLR 2017): the
Gram statistics of ONE layer of random filters of several sizes (3 to 23 px), after a ReLU, synthesise
textures nearly as well as a trained VGG. Here large filters are replaced by small ones on halved copies of
the picture (a Gaussian pyramid): level k sees it at 1/2^k size, so its 5x5 filters span about 5 * 2^k px,
at a fraction of the cost. It needs no download: the style model of offline machines and of CI.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import config
from ..errors import ModelError
from .base import LayerInfo, Model

config.quiet_tensorflow()
import tensorflow as tf  # noqa: E402

# (filter side, filters) per pyramid level; the finest level has few filters (its Gram is the costliest).
LEVELS = ((5, 32), (5, 96), (5, 96), (5, 96), (5, 96))
MEAN = 0.45  # about the mean of natural pictures: centred inputs, so the ReLUs split them
_TAPS = np.array([1.0, 4.0, 6.0, 4.0, 1.0], np.float32) / 16.0
# The 5x5 binomial blur, one per RGB channel: halving after it does not alias.
BLUR = tf.constant(np.tile(np.outer(_TAPS, _TAPS)[:, :, None, None], (1, 1, 3, 1)))


class RandomMultiscale(Model):
    """Seeded random filters on every level of an image pyramid, then ReLU. Layers ``scale1``, ``scale2``,
    ``scale4``... (named by the level's downsampling; kind ``conv``). No classes: ``classify`` refuses.
    ``weights`` is ``untrained`` (there is no training), ``seed`` draws the filters."""

    has_pretrained = False  # random by design: no "use the pretrained weights" hint applies

    def __init__(self, seed: int = 0, levels: Sequence[tuple[int, int]] = LEVELS):
        self.name, self.weights, self.seed = "random-multiscale", "untrained", int(seed)
        rng = np.random.default_rng(self.seed)
        self.kernels = []
        for side, count in levels:
            kernel = rng.standard_normal((side, side, 3, count)).astype(np.float32)
            # A round Gaussian window: square supports favour horizontal and vertical strokes.
            ramp = np.arange(side) - (side - 1) / 2
            kernel *= np.exp(-(ramp[:, None] ** 2 + ramp[None, :] ** 2) / (side * side / 8))[:, :, None, None]
            # Zero-sum, unit-norm filters: they see structure and colour contrasts, not the mean brightness.
            kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
            kernel /= np.sqrt((kernel**2).sum(axis=(0, 1, 2), keepdims=True))
            self.kernels.append(tf.constant(kernel))
        self.layers = [LayerInfo(f"scale{2**k}", "conv", count) for k, (_, count) in enumerate(levels)]
        self.labels = []

    def describe(self) -> str:
        """One line: what the model is, and that it knows textures, not objects."""
        spans = ", ".join(str(int(k.shape[0]) * 2**i) for i, k in enumerate(self.kernels))
        return (f"{self.name} (seed {self.seed}; random filters spanning {spans} px, {len(self.layers)} layers, "
                f"{sum(i.channels for i in self.layers)} channels; no training, nothing to download) - a texture "
                "model for style: it knows no objects")

    def min_size(self, name: str) -> int:
        """Smallest input side of layer ``name`` (``scale<f>``): 2f + 1, three pixels at its level."""
        return 2 * int(self.layer(name).name[len("scale"):]) + 1

    def preprocess(self, images):
        """RGB in [0, 1] -> centred input (minus ``MEAN``)."""
        return tf.convert_to_tensor(images, tf.float32) - MEAN

    def deprocess(self, inputs):
        """Inverse of ``preprocess``."""
        return tf.convert_to_tensor(inputs, tf.float32) + MEAN

    def extract(self, images, names: Sequence[str]) -> list:
        """ReLU feature maps [N, h / f, w / f, C] of the layers ``names`` (``scale<f>``), differentiable."""
        names = self.check_batch(tf.convert_to_tensor(images), names)
        x, out = self.preprocess(images), {}
        deepest = max(int(n[len("scale"):]) for n in names)
        for k, kernel in enumerate(self.kernels):
            if f"scale{2**k}" in names:
                out[f"scale{2**k}"] = tf.nn.relu(tf.nn.conv2d(_wrap(x, kernel.shape[0] // 2), kernel, 1, "VALID"))
            if 2 ** (k + 1) > deepest:
                break
            x = tf.nn.depthwise_conv2d(_wrap(x, 2), BLUR, [1, 2, 2, 1], "VALID")  # blur, keep every other pixel
        return [out[n] for n in names]

    def classify(self, image, top: int = 5):
        """Refused: random filters have no classes."""
        raise ModelError("random-multiscale has no classes (random filters, no training): classify with "
                         "load_model('inception5h') or load_model('vgg19')")


def _wrap(x, width: int):
    """``x`` with ``width`` pixels of the opposite side added at each side: the picture is a torus, so its
    borders are texture like the rest (zero or mirrored padding drew stripes along them)."""
    x = tf.concat([x[:, -width:], x, x[:, :width]], axis=1)
    return tf.concat([x[:, :, -width:], x, x[:, :, :width]], axis=2)


def load_random_multiscale(weights: str | None = None, seed: int = 0) -> RandomMultiscale:
    """The random multiscale model (``seed`` draws the filters; every ``weights`` mode gives the same ones)."""
    return RandomMultiscale(seed=seed)
