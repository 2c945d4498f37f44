"""VGG19 and InceptionV3 from ``keras.applications`` behind the cadl_utils ``Model`` interface.

Two Keras networks share one set of weights: the headless feature network (any image size) and, built on first
use as VGG19's is 550 MB, Keras's classifier (fixed 224 or 299 px input) for ``classify``, ``logits`` and
``predictions``. InceptionV3's conv units are named as in a fresh process (``conv2d`` ... ``conv2d_93``).
"""

from __future__ import annotations

import json
import re
import warnings
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Sequence

import numpy as np

from ..config import quiet_tensorflow, weights_mode
from ..errors import DownloadError, ModelError
from ..images import resize
from .base import LayerInfo, Model

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

HEAD_KINDS = ("logits", "softmax")
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
NUM_CLASSES = 1000
VGG_MEAN_BGR = (103.939, 116.779, 123.68)  # VGG's mean pixel, B, G, R on the 0..255 scale ("caffe")
# Prefixes Keras numbers with a per-process counter when the applications do not name a layer.
_AUTO_NAMED = re.compile(r"^(conv2d|batch_normalization|activation|average_pooling2d|max_pooling2d|concatenate"
                         r"|input_layer)(?:_(\d+))?$")


# What differs: the keras.applications constructor and the side of the classifier's fixed input.
SPECS = {"vgg19": (keras.applications.VGG19, 224), "inception_v3": (keras.applications.InceptionV3, 299)}


def load_keras_backbone(name: str, weights: str | None = None, seed: int = 0) -> "KerasBackbone":
    """Load ``vgg19`` or ``inception_v3`` with ``weights`` ``pretrained`` (Keras downloads ImageNet weights),
    ``untrained`` (kernels drawn from ``seed``), ``auto`` (pretrained, else untrained with a warning and
    ``model.fallback_reason``) or None (``CADL_WEIGHTS``)."""
    mode = weights_mode(weights)
    if mode != "auto":
        return KerasBackbone(name, mode, seed=seed)
    try:
        return KerasBackbone(name, "pretrained", seed=seed)
    except DownloadError as error:
        model = KerasBackbone(name, "untrained", seed=seed)
        warnings.warn(f"USING AN UNTRAINED {model.name} NETWORK: the pretrained weights are not available ({error}). "
                      "Results will be textures, not objects.", UserWarning, stacklevel=2)
        model.fallback_reason = str(error)
        return model


def keras_cache_dir() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    from keras.src.backend.config import keras_home  # Keras reads KERAS_HOME once, at import: ask it

    return Path(keras_home()).expanduser() / "models"


class KerasBackbone(Model):
    """A ``keras.applications`` network as a cadl_utils ``Model``: ``name``, ``weights``, ``seed`` and
    ``fallback_reason`` as loaded; ``features_model``, the headless network (any input size); ``head_size``,
    the side of the classifier's fixed input (224 or 299)."""

    def __init__(self, name: str, weights: str, seed: int = 0):
        """The feature network (the head comes later); DownloadError if pretrained weights cannot be had."""
        key = str(name).strip().lower().replace("-", "_")
        if key not in SPECS:
            raise ModelError(f"unknown Keras backbone {name!r}: choose one of {', '.join(SPECS)}")
        if weights not in ("pretrained", "untrained"):
            raise ModelError(f"weights must be 'pretrained' or 'untrained' here, got {weights!r}")
        self.name, self.weights, self.seed, self.fallback_reason = key, weights, int(seed), None
        self._builder, self.head_size = SPECS[key]
        self.features_model = self._build(include_top=False, input_shape=(None, None, 3))
        self._keras_name, self.layers = _inventory(self.features_model, self.name)
        memo: dict[tuple[int, int], int] = {}  # shared: the networks' branches meet again
        self._min_sizes = {info.name: smallest_input_side(self.features_model.get_layer(self._keras_name[info.name]),
                                                          memo=memo) for info in self.layers}
        # VGG19's Flatten + fc1 need exactly 7x7x512 (224 px); InceptionV3 pools globally after mixed10.
        head_min = self.head_size if self.name == "vgg19" else max(self._min_sizes.values())
        self.layers += [LayerInfo("logits", "logits", NUM_CLASSES), LayerInfo("predictions", "softmax", NUM_CLASSES)]
        self._min_sizes.update(logits=head_min, predictions=head_min)
        self._head_model: keras.Model | None = None
        self._runners: dict[tuple[str, ...], keras.Model] = {}
        self.labels = imagenet_labels(allow_download=weights == "pretrained")

    def _build(self, include_top: bool, **kwargs) -> keras.Model:
        """The Keras network with its weights loaded or seeded; a failed download is a DownloadError."""
        if self.weights == "untrained":
            model = self._builder(include_top=include_top, weights=None, **kwargs)
            seed_kernels(model, self.seed)
            return model
        try:
            return self._builder(include_top=include_top, weights="imagenet", **kwargs)
        except Exception as error:  # Keras raises a bare Exception for URL failures
            with_top = f"{self.name}_weights_tf_dim_ordering_tf_kernels.h5"
            needed = f"{with_top} (the classifier, needed by classify, logits and predictions)"
            if not include_top:
                needed = f"{with_top[:-3]}_notop.h5 (features; classify, logits and predictions also need {with_top})"
            raise DownloadError(
                f"could not get the pretrained ImageNet weights of {self.name} through Keras ({error}). If this "
                f"machine is offline, download {needed} elsewhere and put it in {keras_cache_dir()} (Keras's cache; "
                f"set KERAS_HOME to use another folder), or run with untrained weights: load_keras_backbone("
                f"{self.name!r}, weights='untrained'), or CADL_WEIGHTS=untrained (CADL_WEIGHTS=auto falls back to "
                "untrained by itself)") from error

    @property
    def head_model(self) -> keras.Model:
        """Keras's complete classifier (input ``head_size``), sharing the feature weights; built on first use."""
        if self._head_model is None:
            head = self._build(include_top=True)
            features = canonical_layers(self.features_model)
            for canon, layer in canonical_layers(head).items():  # share the weights, matched by canonical name
                if canon in features:
                    for target, source in zip(layer.weights, features[canon].weights, strict=True):
                        target.assign(source.value)
            self._head_model = head
        return self._head_model

    def min_size(self, name: str) -> int:
        """Smallest input side (px) for layer ``name`` (VGG19's head: 224; ``extract`` resizes to it)."""
        self.layer(name)
        return self._min_sizes[name]

    def preprocess(self, images) -> tf.Tensor:
        """RGB in [0, 1] -> network input: VGG19 0..255 BGR minus the mean pixel, InceptionV3 [-1, 1]."""
        x = tf.convert_to_tensor(images, tf.float32)
        if self.name == "vgg19":
            return tf.reverse(x * 255.0, axis=[-1]) - tf.constant(VGG_MEAN_BGR, tf.float32)
        return x * 2.0 - 1.0

    def deprocess(self, inputs) -> tf.Tensor:
        x = tf.convert_to_tensor(inputs, tf.float32)
        if self.name == "vgg19":
            return tf.reverse(x + tf.constant(VGG_MEAN_BGR, tf.float32), axis=[-1]) / 255.0
        return (x + 1.0) / 2.0

    def extract(self, images, names: Sequence[str]) -> list[tf.Tensor]:
        """Differentiable features of a batch [N, H, W, 3] in [0, 1] (also inside ``tf.function``): one tensor per
        name, [N, h, w, C], or [N, 1000] for ``logits``/``predictions`` (VGG19: of the batch resized to 224 px)."""
        x = tf.convert_to_tensor(images)
        names = self.check_batch(x, names)
        x = tf.cast(x, tf.float32)
        spatial = list(dict.fromkeys(n for n in names if self.layer(n).kind not in HEAD_KINDS))
        heads = any(self.layer(n).kind in HEAD_KINDS for n in names)
        if heads and self.name == "inception_v3" and "mixed10" not in spatial:
            spatial.append("mixed10")  # its global average feeds the classifier
        results = dict(zip(spatial, self._features(x, spatial))) if spatial else {}
        if heads:
            results["logits"] = self._logits(x, results)
            results["predictions"] = tf.nn.softmax(results["logits"], axis=-1)
        return [results[n] for n in names]

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """Keras's own classifier on the image resized to ``head_size`` (for ``classify``)."""
        resized = resize(image[None], (self.head_size, self.head_size))
        return self.head_model(self.preprocess(resized), training=False)[0].numpy()

    def _features(self, x: tf.Tensor, names: Sequence[str]) -> list[tf.Tensor]:
        """The feature network's outputs of ``names`` for a batch in [0, 1]."""
        key = tuple(names)
        if key not in self._runners:  # outputs exactly these layers, so only their ancestors run
            outputs = [self.features_model.get_layer(self._keras_name[n]).output for n in key]
            self._runners[key] = keras.Model(self.features_model.input, outputs, name=f"{self.name}_features")
        outputs = self._runners[key](self.preprocess(x), training=False)
        return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]

    def _logits(self, x: tf.Tensor, features: dict[str, tf.Tensor]) -> tf.Tensor:
        """Class scores from the penultimate features and the ``predictions`` layer's weights."""
        if self.name == "inception_v3":
            penultimate = tf.reduce_mean(features["mixed10"], axis=[1, 2])
        else:  # fc2 from the *feature* network's block5_pool and the head's dense layers
            size = (self.head_size, self.head_size)
            resized = x if x.shape[1:3] == size else tf.image.resize(x, size, method="bilinear")  # differentiable
            penultimate = self._features(resized, ["block5_pool"])[0]
            for layer_name in ("flatten", "fc1", "fc2"):
                penultimate = self.head_model.get_layer(layer_name)(penultimate)
        dense = self.head_model.get_layer("predictions")
        return tf.matmul(penultimate, tf.convert_to_tensor(dense.kernel)) + tf.convert_to_tensor(dense.bias)


def _inventory(model: keras.Model, name: str) -> tuple[dict[str, str], list[LayerInfo]]:
    """Layer inventory and each entry's Keras name: VGG19's convs and pools; InceptionV3's conv units
    (``conv2d_N`` after BN and ReLU) and mixed0..mixed10 blocks."""
    canon_of = {id(layer): canon for canon, layer in canonical_layers(model).items()}
    keras_name, layers = {}, []
    for layer in model.layers:
        kind, entry = None, layer.name
        if name == "vgg19" and isinstance(layer, (keras.layers.Conv2D, keras.layers.MaxPooling2D)):
            kind = "conv" if isinstance(layer, keras.layers.Conv2D) else "pool"
        elif name != "vgg19" and isinstance(layer, keras.layers.Activation):
            conv = layer
            while not isinstance(conv, keras.layers.Conv2D):  # back through the BatchNormalization
                parents = _parents(conv)
                if len(parents) != 1:
                    raise ModelError(f"unexpected InceptionV3 structure at layer {conv.name!r}")
                conv = parents[0]
            kind, entry = "conv", canon_of[id(conv)]
        elif name != "vgg19" and re.fullmatch(r"mixed\d+", layer.name):
            kind = "mixed"
        if kind:
            keras_name[entry] = layer.name
            layers.append(LayerInfo(entry, kind, int(layer.output.shape[-1])))
    return keras_name, layers


def _parents(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers whose outputs feed ``layer`` (in its first, i.e. only, call)."""
    return [parent.operation for parent in layer._inbound_nodes[0].parent_nodes]


def canonical_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Layers by names independent of earlier builds: Keras's counter numbers are ranked per prefix,
    which gives back a fresh process's names (``conv2d_94`` of a second InceptionV3 -> ``conv2d``)."""
    result, numbered = {}, {}
    for layer in model.layers:
        match = _AUTO_NAMED.match(layer.name)
        if match is None:
            result[layer.name] = layer
        else:
            numbered.setdefault(match.group(1), []).append((int(match.group(2) or 0), layer))
    for prefix, entries in numbered.items():
        for rank, (_, layer) in enumerate(sorted(entries, key=lambda entry: entry[0])):
            result[prefix if rank == 0 else f"{prefix}_{rank}"] = layer
    return result


def seed_kernels(model: keras.Model, seed: int) -> None:
    """Redraw every kernel (Glorot uniform, Keras's initializer with an int seed draws statelessly) keyed by
    ``seed`` and its layer's canonical name: the same weights whatever else the process did, equal in the feature
    and head networks. Biases and batch-norm statistics keep Keras's initial values."""
    for canon, layer in canonical_layers(model).items():
        for variable in layer.weights:
            if variable.name == "kernel":
                key = zlib.crc32(f"{int(seed)}/{canon}".encode()) & 0x7FFFFFFF
                variable.assign(keras.initializers.GlorotUniform(seed=key)(variable.shape))


def smallest_input_side(layer: keras.layers.Layer, side: int = 1, memo: dict | None = None) -> int:
    """Smallest square input side (px) at which ``layer``'s output is at least ``side`` px: each conv or pool
    layer's kernel, stride and padding taken back towards the input; where branches meet, the largest need."""
    memo = {} if memo is None else memo
    if (id(layer), side) not in memo:
        window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        need = side
        if window is not None:  # "valid" needs the whole window at the last position, "same" one pixel
            need = (side - 1) * layer.strides[0] + (1 if layer.padding == "same" else window[0])
        memo[id(layer), side] = max((smallest_input_side(parent, need, memo) for parent in _parents(layer)),
                                    default=need)
    return memo[id(layer), side]


def imagenet_labels(allow_download: bool = False) -> list[str]:
    """The 1000 ImageNet class names from Keras's class index (fetched if allowed), else ``class N``; never fails."""
    path = keras_cache_dir() / CLASS_INDEX_FILE
    if not path.is_file() and allow_download:
        with suppress(Exception):  # offline or refused: placeholders below
            path = Path(keras.utils.get_file(CLASS_INDEX_FILE, CLASS_INDEX_URL, cache_subdir="models",
                                             file_hash=CLASS_INDEX_MD5))
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        return [str(index[str(i)][1]) for i in range(NUM_CLASSES)]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return [f"class {i}" for i in range(NUM_CLASSES)]
