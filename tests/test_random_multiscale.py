"""Tests of the random multiscale texture model (cadl_utils/models/random_multiscale.py) and of style with it."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from cadl_utils.errors import LayerError, ModelError
from cadl_utils.images import load_image, sample_images
from cadl_utils.models import load_model
from cadl_utils.models.random_multiscale import RandomMultiscale
from cadl_utils.style import gram_matrix, style_transfer

SIZE = 64  # px: a texture run of 40 L-BFGS iterations takes a few seconds


@pytest.fixture(scope="module")
def model():
    return load_model("random-multiscale")


@pytest.fixture(scope="module")
def starry():
    return load_image(sample_images("style")["starry_night"], max_side=SIZE)


def test_load_model_gives_the_same_seeded_filters_in_every_weights_mode(model):
    for weights in ("pretrained", "untrained", "auto"):
        other = load_model("random-multiscale", weights=weights)
        assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(model.kernels, other.kernels))
    reseeded = load_model("Random_Multiscale", seed=1)
    assert not np.array_equal(reseeded.kernels[0].numpy(), model.kernels[0].numpy())
    assert model.name == "random-multiscale" and model.weights == "untrained"
    assert "random filters" in model.describe() and "no objects" in model.describe()


def test_layers_features_and_sizes(model):
    assert model.layer_names() == ["scale1", "scale2", "scale4", "scale8", "scale16"]
    image = tf.random.uniform([2, 40, 56, 3], seed=1)
    fine, coarse = model.extract(image, ["scale1", "scale8"])
    assert fine.shape == (2, 40, 56, 32) and coarse.shape == (2, 5, 7, 96)
    assert float(tf.reduce_min(coarse)) >= 0.0  # after the ReLU
    with tf.GradientTape() as tape:
        tape.watch(image)
        loss = tf.reduce_sum(model.extract(image, ["scale16"])[0])
    assert float(tf.norm(tape.gradient(loss, image))) > 0.0
    assert model.min_size("scale16") == 33
    with pytest.raises(LayerError, match="at least 33x33"):
        model.extract(tf.zeros([1, 20, 64, 3]), ["scale16"])
    with pytest.raises(LayerError, match="Closest names: scale8, scale4"):
        model.layer("scale3")


def test_classify_is_a_clear_model_error(model):
    with pytest.raises(ModelError, match="no classes.*inception5h"):
        model.classify(np.zeros((32, 32, 3), np.float32))


def _colour_histogram(image: np.ndarray) -> np.ndarray:
    counts, _ = np.histogramdd(image.reshape(-1, 3), bins=4, range=[(0, 1)] * 3)
    return counts.ravel() / counts.sum()


def _independent_distances(image: np.ndarray, style: np.ndarray, judge: RandomMultiscale) -> tuple[float, float]:
    """(Gram distance on ``judge``, a network with other filters; L1 distance of colour histograms)."""
    names = judge.layer_names()
    mine, theirs = judge.extract(tf.constant(image[None]), names), judge.extract(tf.constant(style[None]), names)
    gram = sum(float(tf.reduce_sum((gram_matrix(a) - gram_matrix(b)) ** 2) / tf.reduce_sum(gram_matrix(b) ** 2))
               for a, b in zip(mine, theirs))  # fmt: skip
    return gram, float(np.abs(_colour_histogram(image) - _colour_histogram(style)).sum())


def test_texture_synthesis_moves_towards_the_style_on_an_independent_measure(model, starry):
    """From noise, the style term alone makes a picture whose statistics (judged by a network with OTHER
    random filters, and by colour histograms) are much closer to The Starry Night's than the start's;
    a control run without the style term (TV only) does not get there."""
    judge = RandomMultiscale(seed=12345, levels=((7, 64), (5, 64), (5, 64), (5, 64)))
    runs = {}
    for name, weights in {"styled": (0.0, 1.0, 0.0), "control": (0.0, 0.0, 1.0)}.items():
        content_weight, style_weight, tv_weight = weights
        runs[name] = style_transfer(starry, starry, model, content_weight=content_weight, style_weight=style_weight,
                                    tv_weight=tv_weight, init="noise", optimizer="lbfgs", steps=40, size=SIZE,
                                    progress=False)  # fmt: skip
    start = _independent_distances(runs["styled"].frames[0], starry, judge)
    styled = _independent_distances(runs["styled"].image, starry, judge)
    control = _independent_distances(runs["control"].image, starry, judge)
    assert styled[0] < 0.1 * start[0] and styled[0] < 0.1 * control[0], (start, styled, control)
    assert styled[1] < 0.7 * start[1] and styled[1] < 0.7 * control[1], (start, styled, control)


def test_style_transfer_by_name_uses_the_models_presets(starry):
    result = style_transfer(starry, starry, "random-multiscale", steps=2, size=48, progress=False)
    assert result.settings.content_layer == "scale4" and len(result.settings.style_layers) == 5
    course = style_transfer(starry, starry, "random-multiscale", layers="course", steps=2, size=48, progress=False)
    assert course.settings.content_layer == "scale1"
    assert [name for name, _ in course.settings.style_layers] == ["scale4", "scale8", "scale16"]
