"""Tests of cadl_utils.models.keras_backbones (untrained networks, small images, no network access)."""

from __future__ import annotations

import json
import time
import urllib.error

import numpy as np
import pytest
import tensorflow as tf

from cadl_utils.errors import DownloadError, ImageError, LayerError, ModelError, ParameterError
from cadl_utils.models import keras_backbones as kb
from cadl_utils.models.keras_backbones import KerasBackbone, imagenet_labels, load_keras_backbone

VGG_CONV_CHANNELS = {
    "block1": (64, 2),
    "block2": (128, 2),
    "block3": (256, 4),
    "block4": (512, 4),
    "block5": (512, 4),
}
INCEPTION_MIXED_CHANNELS = [256, 288, 288, 768, 768, 768, 768, 768, 1280, 2048, 2048]


@pytest.fixture(scope="module")
def vgg() -> KerasBackbone:
    """Untrained VGG19, seed 0 (shared; tests must not change its weights)."""
    return load_keras_backbone("vgg19", weights="untrained", seed=0)


@pytest.fixture(scope="module")
def inception() -> KerasBackbone:
    """Untrained InceptionV3, seed 0 (shared; tests must not change its weights)."""
    return load_keras_backbone("inception_v3", weights="untrained", seed=0)


@pytest.fixture
def offline_keras(tmp_path, monkeypatch):
    """Keras's cache in an empty temporary folder and its URL fetcher failing like an offline machine.

    Returns:
        The list of URLs Keras tried to fetch.
    """
    from keras.src.backend import config as keras_config
    from keras.src.utils import file_utils

    monkeypatch.setattr(keras_config, "_KERAS_DIR", str(tmp_path / "keras_home"))
    attempts: list[str] = []

    def refuse(url, *args, **kwargs):
        attempts.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "urlretrieve", refuse)
    return attempts


def _images(n: int, height: int, width: int, seed: int = 0) -> tf.Tensor:
    rng = np.random.default_rng(seed)
    return tf.constant(rng.random((n, height, width, 3), dtype=np.float32))


def _inception_side(side: int, stage: str) -> int:
    """InceptionV3's spatial side after the stem (mixed0-2), mixed3-7 or mixed8-10, by hand."""
    side = (side - 3) // 2 + 1  # conv 3x3 stride 2 valid
    side = side - 2  # conv 3x3 valid (then a same conv)
    side = (side - 3) // 2 + 1  # max pool 3x3 stride 2
    side = side - 2  # conv 3x3 valid (after a 1x1)
    side = (side - 3) // 2 + 1  # max pool 3x3 stride 2 -> mixed0..mixed2
    reductions = {"mixed2": 0, "mixed7": 1, "mixed10": 2}[stage]
    for _ in range(reductions):
        side = (side - 3) // 2 + 1  # mixed3 and mixed8 reduce with 3x3 stride 2 valid
    return side


# --- inventory -------------------------------------------------------------------------------------
def test_vgg19_inventory_has_16_convs_with_keras_names_and_channels(vgg):
    expected = {
        f"{block}_conv{i}": channels
        for block, (channels, count) in VGG_CONV_CHANNELS.items()
        for i in range(1, count + 1)
    }
    convs = {info.name: info.channels for info in vgg.layers if info.kind == "conv"}
    assert convs == expected
    assert len(convs) == 16
    assert vgg.layer_names("pool") == [f"block{i}_pool" for i in range(1, 6)]
    assert vgg.layer("logits").kind == "logits" and vgg.layer("logits").channels == 1000
    assert vgg.layer("predictions").kind == "softmax" and vgg.layer("predictions").channels == 1000


def test_inception_v3_inventory_has_mixed_blocks_and_94_conv_units(inception):
    mixed = [(info.name, info.channels) for info in inception.layers if info.kind == "mixed"]
    assert mixed == [(f"mixed{i}", c) for i, c in enumerate(INCEPTION_MIXED_CHANNELS)]
    convs = inception.layer_names("conv")
    assert sorted(convs) == sorted(["conv2d"] + [f"conv2d_{i}" for i in range(1, 94)])
    assert inception.layer("conv2d").channels == 32
    assert inception.layer("conv2d_4").channels == 192
    assert inception.layer_names("softmax") == ["predictions"]


def test_inception_names_do_not_depend_on_earlier_builds(inception):
    # A second build in the same process gets Keras names like conv2d_94; ours must not change.
    again = load_keras_backbone("inception_v3", weights="untrained", seed=0)
    assert again.layers == inception.layers


def test_min_sizes(vgg, inception):
    assert vgg.min_size("block1_conv1") == 1
    assert vgg.min_size("block5_pool") == 32
    assert vgg.min_size("predictions") == 224
    assert inception.min_size("mixed2") == 27
    assert inception.min_size("mixed7") == 43
    assert inception.min_size("mixed10") == 75
    assert inception.min_size("logits") == 75
    for stage, side in [("mixed2", 27), ("mixed7", 43), ("mixed10", 75)]:
        assert _inception_side(side, stage) >= 1 > _inception_side(side - 1, stage)


# --- extraction ------------------------------------------------------------------------------------
@pytest.mark.parametrize("height,width", [(64, 64), (96, 128)])
def test_vgg19_extract_shapes_at_any_size(vgg, height, width):
    conv, pool = vgg.extract(_images(2, height, width), ["block5_conv2", "block3_pool"])
    assert conv.shape == (2, height // 16, width // 16, 512)
    assert pool.shape == (2, height // 8, width // 8, 256)


@pytest.mark.parametrize("height,width", [(80, 80), (128, 96)])
def test_inception_v3_extract_shapes_at_any_size(inception, height, width):
    early, mid, late = inception.extract(_images(1, height, width), ["mixed2", "mixed7", "mixed10"])
    assert early.shape == (1, _inception_side(height, "mixed2"), _inception_side(width, "mixed2"), 288)
    assert mid.shape == (1, _inception_side(height, "mixed7"), _inception_side(width, "mixed7"), 768)
    assert late.shape == (1, _inception_side(height, "mixed10"), _inception_side(width, "mixed10"), 2048)


def test_extract_returns_names_in_order_with_repeats(vgg):
    first, second, again = vgg.extract(_images(1, 32, 32), ["block2_conv1", "block1_pool", "block2_conv1"])
    assert first.shape[-1] == 128 and second.shape[-1] == 64
    np.testing.assert_array_equal(first.numpy(), again.numpy())


def test_extract_runs_only_the_needed_part(vgg):
    vgg.extract(_images(1, 32, 32), ["block1_conv2"])
    runner = vgg._runners[("block1_conv2",)]
    assert "block2_conv1" not in [layer.name for layer in runner.layers]


@pytest.mark.parametrize("model_name,layer", [("vgg", "block5_conv2"), ("inception", "mixed7")])
def test_gradients_wrt_input_are_finite_and_non_zero(request, model_name, layer):
    model = request.getfixturevalue(model_name)
    images = _images(1, 64, 64, seed=3)

    @tf.function
    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            loss = tf.reduce_mean(model.extract(x, [layer])[0])
        return tape.gradient(loss, x)

    grad = gradient(images).numpy()
    assert np.all(np.isfinite(grad))
    assert np.abs(grad).max() > 0


def test_unknown_layer_lists_close_names(vgg, inception):
    with pytest.raises(LayerError, match="block5_conv"):
        vgg.extract(_images(1, 32, 32), ["block5_conv9"])
    with pytest.raises(LayerError, match="mixed1"):
        inception.extract(_images(1, 80, 80), ["mixed11"])


def test_too_small_image_names_the_minimum(inception):
    with pytest.raises(LayerError, match="75x75"):
        inception.extract(_images(1, 74, 90), ["mixed8"])


def test_bad_image_shape_and_empty_names(vgg):
    with pytest.raises(ImageError, match=r"\[N, H, W, 3\]"):
        vgg.extract(tf.zeros((32, 32, 3)), ["block1_conv1"])
    with pytest.raises(ParameterError):
        vgg.extract(_images(1, 32, 32), [])


@pytest.mark.slow
def test_same_seed_same_outputs_other_seed_different(inception):
    images = _images(1, 80, 80, seed=5)
    reference = inception.extract(images, ["mixed5"])[0].numpy()
    same = load_keras_backbone("inception_v3", weights="untrained", seed=0)
    other = load_keras_backbone("inception_v3", weights="untrained", seed=1)
    np.testing.assert_array_equal(same.extract(images, ["mixed5"])[0].numpy(), reference)
    assert not np.allclose(other.extract(images, ["mixed5"])[0].numpy(), reference)


# --- pre/deprocessing ------------------------------------------------------------------------------
def test_preprocess_values(vgg, inception):
    red = tf.constant([[[1.0, 0.0, 0.0]]])
    np.testing.assert_allclose(
        vgg.preprocess(red).numpy()[0, 0], [-103.939, -116.779, 255.0 - 123.68], rtol=1e-6
    )
    np.testing.assert_allclose(inception.preprocess(red).numpy()[0, 0], [1.0, -1.0, -1.0])


@pytest.mark.parametrize("model_name", ["vgg", "inception"])
def test_preprocess_deprocess_round_trip_and_gradient(request, model_name):
    model = request.getfixturevalue(model_name)
    images = _images(2, 16, 24, seed=7)
    np.testing.assert_allclose(model.deprocess(model.preprocess(images)).numpy(), images.numpy(), atol=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(images)
        total = tf.reduce_sum(model.preprocess(images))
    assert np.all(np.abs(tape.gradient(total, images).numpy()) > 0)


# --- head ------------------------------------------------------------------------------------------
def _head_path_logits(model: KerasBackbone, images) -> np.ndarray:
    """Logits through Keras's own classifier graph (penultimate layer, then the predictions kernel)."""
    import keras

    head = model.head_model
    penultimate = keras.Model(head.input, head.get_layer({"vgg19": "fc2", "inception_v3": "avg_pool"}[model.name]).output)
    dense = head.get_layer("predictions")
    return penultimate(model.preprocess(images)).numpy() @ dense.kernel.numpy() + dense.bias.numpy()


@pytest.mark.slow
def test_inception_head_and_features_share_weights(inception):
    images = _images(2, 299, 299, seed=11)
    logits, probs = inception.extract(images, ["logits", "predictions"])
    expected = _head_path_logits(inception, images)
    assert np.std(expected) > 0
    np.testing.assert_allclose(logits.numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    keras_probs = inception.head_model(inception.preprocess(images)).numpy()
    np.testing.assert_allclose(probs.numpy(), keras_probs, atol=1e-6)


@pytest.mark.slow
def test_vgg19_head_and_features_share_weights(vgg):
    images = _images(1, 224, 224, seed=12)
    logits = vgg.extract(images, ["logits"])[0].numpy()
    expected = _head_path_logits(vgg, images)
    np.testing.assert_allclose(logits, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    # Other sizes are resized to the head's 224 x 224 input.
    assert vgg.extract(_images(2, 256, 240), ["predictions"])[0].shape == (2, 1000)


@pytest.mark.slow
def test_head_is_built_from_the_feature_weights():
    model = load_keras_backbone("inception_v3", weights="untrained", seed=0)
    kernel = kb.canonical_layers(model.features_model)["conv2d_3"].kernel
    changed = kernel.numpy() + 0.5
    kernel.assign(changed)
    np.testing.assert_array_equal(kb.canonical_layers(model.head_model)["conv2d_3"].kernel.numpy(), changed)


@pytest.mark.slow
def test_classify_resizes_and_sorts(inception):
    result = inception.classify(_images(1, 96, 120)[0].numpy(), top=3)
    assert len(result) == 3
    probs = [p for _, _, p in result]
    assert probs == sorted(probs, reverse=True)
    assert all(label == inception.label(i) for i, label, _ in result)
    with pytest.raises(ParameterError):
        inception.classify(_images(1, 96, 96)[0], top=0)
    with pytest.raises(ImageError):
        inception.classify(_images(1, 96, 96), top=3)


# --- weights modes and downloads -------------------------------------------------------------------
def test_pretrained_offline_raises_download_error_quickly(offline_keras, tmp_path):
    start = time.perf_counter()
    with pytest.raises(DownloadError) as caught:
        load_keras_backbone("vgg19", weights="pretrained")
    elapsed = time.perf_counter() - start
    message = str(caught.value)
    assert offline_keras, "Keras's fetcher was not reached"
    assert "vgg19" in message
    assert "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert str(tmp_path / "keras_home" / "models") in message
    assert "KERAS_HOME" in message and "untrained" in message
    assert elapsed < 30


def test_auto_falls_back_to_untrained_with_a_warning(offline_keras):
    with pytest.warns(UserWarning, match="UNTRAINED vgg19"):
        model = load_keras_backbone("vgg19", weights="auto")
    assert model.weights == "untrained"
    assert "vgg19" in model.fallback_reason and "untrained" in model.fallback_reason
    assert "UNTRAINED" in model.describe() and "fallback_reason" in model.describe()


def test_untrained_never_touches_the_network(offline_keras):
    model = load_keras_backbone("vgg19", weights="untrained")
    assert offline_keras == []
    assert model.fallback_reason is None


def test_weights_mode_comes_from_the_environment(monkeypatch, offline_keras):
    monkeypatch.setenv("CADL_WEIGHTS", "untrained")
    assert load_keras_backbone("vgg19").weights == "untrained"
    monkeypatch.setenv("CADL_WEIGHTS", "pretrained")
    with pytest.raises(DownloadError):
        load_keras_backbone("vgg19")


def test_unknown_backbone_name():
    with pytest.raises(ModelError, match="vgg19"):
        load_keras_backbone("vgg91", weights="untrained")


# --- labels ----------------------------------------------------------------------------------------
def test_labels_are_placeholders_offline(offline_keras, vgg):
    labels = imagenet_labels(allow_download=True)
    assert len(labels) == 1000 and labels[5] == "class 5"
    assert vgg.label_index(vgg.labels[42]) == 42


def test_labels_come_from_the_keras_cache(offline_keras, tmp_path):
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    index = {str(i): [f"n{i:08d}", f"thing {i}"] for i in range(1000)}
    index["107"] = ["n01910747", "jellyfish"]
    (cache / "imagenet_class_index.json").write_text(json.dumps(index))
    labels = imagenet_labels()
    assert labels[107] == "jellyfish" and labels[3] == "thing 3"
    model = load_keras_backbone("vgg19", weights="untrained")
    assert model.label_index("jellyfish") == 107 and model.label(107) == "jellyfish"
    assert offline_keras == []


def test_malformed_class_index_gives_placeholders(offline_keras, tmp_path):
    cache = tmp_path / "keras_home" / "models"
    cache.mkdir(parents=True)
    (cache / "imagenet_class_index.json").write_text("{not json")
    assert imagenet_labels()[0] == "class 0"
