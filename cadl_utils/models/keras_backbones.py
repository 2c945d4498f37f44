"""VGG19 and InceptionV3 from ``keras.applications`` behind the cadl_utils ``Model`` interface.

Two Keras networks make up one backbone, and they share one set of weights:

- the *feature* network: headless, input shape ``(None, None, 3)``, so features can be taken at any
  image size (fully convolutional). ``extract`` builds a small ``keras.Model`` per tuple of
  requested layers, so only the part of the network those layers need is run.
- the *head* network: Keras's complete classifier with its fixed input (224 px for VGG19, 299 px
  for InceptionV3), used by ``classify`` and as the source of the ``logits``/``predictions``
  weights. It is built lazily, on the first use of the head, because VGG19's classifier is large
  (about 550 MB to download and 140 M parameters); style transfer never needs it. When it is built
  the feature network's weights are copied into it, layer by layer, so both compute with the very
  same convolution weights.

Weights modes (see ``cadl_utils.config.weights_mode``):

- ``pretrained``: Keras downloads ImageNet weights into its own cache (``~/.keras/models`` or
  ``$KERAS_HOME/models``). Offline, a ``DownloadError`` says which file to put where by hand.
- ``untrained``: same topology, weights drawn from a seed (stateless, so the same seed gives the
  same network whatever else the program does with random numbers).
- ``auto``: pretrained when obtainable, else untrained with a warning and ``fallback_reason``.

Layer names: VGG19 uses Keras's names (``block5_conv2``, ``block3_pool``...). InceptionV3's
convolution units have no names in Keras (they are numbered in creation order, and the numbers grow
every time a model is built in the same process), so they are renamed to the numbers a fresh process
gives them: ``conv2d``, ``conv2d_1``, ..., ``conv2d_93``. Each denotes the unit's output after batch
normalisation and ReLU (Keras's ``activation_N``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..config import quiet_tensorflow, weights_mode
from ..errors import DownloadError, ImageError, LayerError, ModelError, ParameterError
from .base import LayerInfo, Model, require_weights_known

quiet_tensorflow()

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

HEAD_KINDS = ("logits", "softmax")
CLASS_INDEX_FILE = "imagenet_class_index.json"
CLASS_INDEX_URL = "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
CLASS_INDEX_MD5 = "c2c37ea517e94d9795004a39431a14cb"
NUM_CLASSES = 1000

# The mean pixel (B, G, R order, 0..255 scale) VGG was trained with ("caffe" preprocessing).
VGG_MEAN_BGR = (103.939, 116.779, 123.68)

# Keras names layers it is not told to name with a per-process counter; these are the prefixes the
# two applications use for such layers.
_AUTO_NAMED = re.compile(
    r"^(conv2d|batch_normalization|activation|average_pooling2d|max_pooling2d|concatenate|input_layer)"
    r"(?:_(\d+))?$"
)


@dataclass(frozen=True)
class BackboneSpec:
    """What differs between the supported Keras applications.

    Attributes:
        name: backbone name used by ``load_keras_backbone``.
        builder: the ``keras.applications`` constructor.
        head_size: the classifier's fixed input side in pixels.
        penultimate: Keras layer whose output feeds the ``predictions`` layer.
        weights_files: file names Keras caches for (with top, without top).
    """

    name: str
    builder: Callable[..., keras.Model]
    head_size: int
    penultimate: str
    weights_files: tuple[str, str]


SPECS = {
    "vgg19": BackboneSpec(
        "vgg19",
        keras.applications.VGG19,
        224,
        "fc2",
        ("vgg19_weights_tf_dim_ordering_tf_kernels.h5", "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"),
    ),
    "inception_v3": BackboneSpec(
        "inception_v3",
        keras.applications.InceptionV3,
        299,
        "avg_pool",
        (
            "inception_v3_weights_tf_dim_ordering_tf_kernels.h5",
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
        ),
    ),
}


# --- public entry point ----------------------------------------------------------------------------
def load_keras_backbone(name: str, weights: str | None = None, seed: int = 0) -> "KerasBackbone":
    """Load VGG19 or InceptionV3 from ``keras.applications``.

    Args:
        name: ``vgg19`` or ``inception_v3``.
        weights: ``pretrained``, ``untrained``, ``auto`` or None (``CADL_WEIGHTS``, default pretrained).
        seed: seed of the untrained weights (ignored for pretrained weights).

    Returns:
        The backbone. ``model.weights`` says what was loaded; after an ``auto`` fall-back,
        ``model.fallback_reason`` says why.

    Raises:
        ModelError: unknown backbone name.
        DownloadError: ``pretrained`` weights could not be obtained.
    """
    spec = _spec(name)
    mode = weights_mode(weights)
    if mode != "auto":
        return KerasBackbone(spec.name, mode, seed=seed)
    try:
        return KerasBackbone(spec.name, "pretrained", seed=seed)
    except DownloadError as error:
        warnings.warn(
            f"USING AN UNTRAINED {spec.name} NETWORK: the pretrained weights are not available "
            f"({error}). Results will be textures, not objects.",
            UserWarning,
            stacklevel=2,
        )
        model = KerasBackbone(spec.name, "untrained", seed=seed)
        model.fallback_reason = str(error)
        return model


def keras_cache_dir() -> Path:
    """The folder where Keras keeps downloaded weights (``$KERAS_HOME/models`` or ``~/.keras/models``).

    Returns:
        The folder (it may not exist yet).
    """
    try:
        # Keras reads KERAS_HOME once, at import; ask it rather than guess.
        from keras.src.backend.config import keras_home

        home = keras_home()
    except ImportError:  # pragma: no cover - other Keras layouts
        home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home).expanduser() / "models"


# --- the model ------------------------------------------------------------------------------------
class KerasBackbone(Model):
    """A ``keras.applications`` network (VGG19 or InceptionV3) as a cadl_utils ``Model``.

    Attributes:
        name: ``vgg19`` or ``inception_v3``.
        weights: ``pretrained`` or ``untrained``.
        seed: seed of the untrained weights.
        fallback_reason: why ``auto`` fell back to untrained weights, else None.
        head_size: side in pixels of the classifier's fixed input (224 or 299).
        features_model: the headless Keras network (any input size).
    """

    def __init__(self, name: str, weights: str, seed: int = 0):
        """Build the feature network; the classifier head is built on first use.

        Args:
            name: ``vgg19`` or ``inception_v3``.
            weights: ``pretrained`` or ``untrained`` (resolve ``auto`` with ``load_keras_backbone``).
            seed: seed of the untrained weights.

        Raises:
            DownloadError: pretrained weights could not be obtained.
        """
        require_weights_known(weights)
        self._spec = _spec(name)
        self.name = self._spec.name
        self.weights = weights
        self.seed = int(seed)
        self.fallback_reason: str | None = None
        self.head_size = self._spec.head_size
        self.features_model = self._build_features()
        self._features_by_canon = canonical_layers(self.features_model)
        self._keras_name, self.layers = self._inventory()
        self._min_sizes = self._compute_min_sizes()
        self._head_model: keras.Model | None = None
        self._vgg_penultimate: keras.Model | None = None
        self._runners: dict[tuple[str, ...], keras.Model] = {}
        self.labels = imagenet_labels(allow_download=weights == "pretrained")

    # --- building ---------------------------------------------------------------------------------
    def _build_features(self) -> keras.Model:
        """The headless network with input (None, None, 3), its weights loaded or seeded."""
        keras_weights = "imagenet" if self.weights == "pretrained" else None
        model = self._keras_build(include_top=False, weights=keras_weights, input_shape=(None, None, 3))
        if self.weights == "untrained":
            seed_kernels(model, self.seed)
        return model

    def _keras_build(self, include_top: bool, weights: str | None, **kwargs) -> keras.Model:
        """Call the Keras constructor, turning a failed weights download into a DownloadError."""
        if weights is None:
            return self._spec.builder(include_top=include_top, weights=None, **kwargs)
        try:
            return self._spec.builder(include_top=include_top, weights=weights, **kwargs)
        except Exception as error:  # Keras raises a bare Exception for URL failures
            raise DownloadError(_download_message(self._spec, include_top, error)) from error

    @property
    def head_model(self) -> keras.Model:
        """Keras's complete classifier (fixed input ``head_size``), sharing the feature weights.

        Built on first access: pretrained weights download the with-top file.

        Raises:
            DownloadError: pretrained head weights could not be obtained.
        """
        if self._head_model is None:
            keras_weights = "imagenet" if self.weights == "pretrained" else None
            head = self._keras_build(include_top=True, weights=keras_weights)
            if self.weights == "untrained":
                seed_kernels(head, self.seed)
            copy_weights(self.features_model, head)
            self._head_model = head
        return self._head_model

    def _inventory(self) -> tuple[dict[str, str], list[LayerInfo]]:
        """Inventory entries and, for each, the Keras layer name in the feature network."""
        if self.name == "vgg19":
            keras_name, layers = _vgg_inventory(self.features_model)
        else:
            keras_name, layers = _inception_inventory(self.features_model, self._features_by_canon)
        layers.append(LayerInfo("logits", "logits", NUM_CLASSES))
        layers.append(LayerInfo("predictions", "softmax", NUM_CLASSES))
        return keras_name, layers

    def _compute_min_sizes(self) -> dict[str, int]:
        """Smallest input side for every layer of the inventory."""
        spatial = [info.name for info in self.layers if info.kind not in HEAD_KINDS]
        wanted = {self._keras_name[name]: name for name in spatial}
        by_keras = smallest_input_sizes(self.features_model, list(wanted))
        sizes = {wanted[k]: v for k, v in by_keras.items()}
        if self.name == "vgg19":
            head_min = self.head_size  # Flatten + fc1 need exactly 7x7x512, i.e. 224 px input
        else:
            head_min = max(sizes.values())  # global average pooling works once mixed10 exists
        sizes["logits"] = sizes["predictions"] = head_min
        return sizes

    # --- interface --------------------------------------------------------------------------------
    def min_size(self, name: str) -> int:
        """Smallest input side (pixels) at which layer ``name`` can be computed.

        For VGG19's ``logits``/``predictions`` this is the head's fixed 224 px: ``extract`` resizes
        larger images to 224 x 224 for those two layers.

        Raises:
            LayerError: unknown layer.
        """
        self.layer(name)
        return self._min_sizes[name]

    def preprocess(self, images) -> tf.Tensor:
        """Map RGB in [0, 1] to the network's input space (differentiable).

        VGG19: 0..255 BGR minus the ImageNet mean pixel ("caffe" style). InceptionV3: [-1, 1].

        Args:
            images: float array or tensor [..., H, W, 3], RGB in [0, 1].

        Returns:
            float32 tensor of the same shape.
        """
        x = tf.convert_to_tensor(images, tf.float32)
        if self.name == "vgg19":
            return tf.reverse(x * 255.0, axis=[-1]) - tf.constant(VGG_MEAN_BGR, tf.float32)
        return x * 2.0 - 1.0

    def deprocess(self, inputs) -> tf.Tensor:
        """Exact inverse of ``preprocess``: network input space back to RGB in [0, 1] (not clipped).

        Args:
            inputs: float array or tensor [..., H, W, 3] in the network's input space.

        Returns:
            float32 tensor of the same shape.
        """
        x = tf.convert_to_tensor(inputs, tf.float32)
        if self.name == "vgg19":
            return tf.reverse(x + tf.constant(VGG_MEAN_BGR, tf.float32), axis=[-1]) / 255.0
        return (x + 1.0) / 2.0

    def extract(self, images, names: Sequence[str]) -> list[tf.Tensor]:
        """Differentiable features of a batch of images; works inside ``tf.function``.

        Args:
            images: float32 [N, H, W, 3], RGB in [0, 1].
            names: layer names from the inventory.

        Returns:
            One tensor per name: [N, h, w, C] for spatial layers, [N, 1000] for ``logits`` and
            ``predictions``. For VGG19 those two are computed on the batch resized to 224 x 224.

        Raises:
            LayerError: unknown layer, or images smaller than a layer's ``min_size``.
            ImageError: images are not [N, H, W, 3].
        """
        names = _as_names(names)
        x = tf.convert_to_tensor(images, tf.float32)
        self._check_images(x, names)
        spatial = [n for n in names if self.layer(n).kind not in HEAD_KINDS]
        heads = [n for n in names if n not in spatial]
        results: dict[str, tf.Tensor] = {}
        if spatial or (heads and self.name == "inception_v3"):
            results.update(self._run_features(x, spatial, with_head=bool(heads)))
        if heads:
            logits = self._logits(x, results)
            results["logits"] = logits
            results["predictions"] = tf.nn.softmax(logits, axis=-1)
        return [results[n] for n in names]

    def classify(self, image, top: int = 5) -> list[tuple[int, str, float]]:
        """Top ImageNet classes of one image, through Keras's own classifier.

        Args:
            image: RGB [H, W, 3] in [0, 1]; resized to ``head_size`` x ``head_size``.
            top: how many classes (1..1000).

        Returns:
            ``(index, label, probability)`` tuples, most probable first.

        Raises:
            ImageError: not an [H, W, 3] image.
            ParameterError: ``top`` outside 1..1000.
        """
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= NUM_CLASSES:
            raise ParameterError(f"top must be an integer in 1..{NUM_CLASSES}, got {top!r}")
        x = tf.convert_to_tensor(image, tf.float32)
        if x.shape.rank != 3 or x.shape[-1] != 3:
            raise ImageError(f"classify expects one RGB image [H, W, 3], got shape {tuple(x.shape)}")
        size = (self.head_size, self.head_size)
        resized = tf.image.resize(x[None], size, method="bilinear", antialias=True)
        probs = self.head_model(self.preprocess(resized), training=False)[0].numpy()
        order = np.argsort(-probs)[: int(top)]
        return [(int(i), self.label(int(i)), float(probs[i])) for i in order]

    def describe(self) -> str:
        """One line naming the model and its weights (and why ``auto`` fell back, if it did)."""
        text = super().describe()
        if self.fallback_reason:
            text += " (pretrained weights unavailable; see model.fallback_reason)"
        return text

    # --- helpers ----------------------------------------------------------------------------------
    def _check_images(self, x: tf.Tensor, names: list[str]) -> None:
        """Raise early for a wrong shape or an image too small for a requested layer."""
        if x.shape.rank is not None and (x.shape.rank != 4 or x.shape[-1] not in (3, None)):
            raise ImageError(
                f"extract expects a batch of RGB images [N, H, W, 3] in [0, 1], got shape {tuple(x.shape)}; "
                "add a batch axis with image[None]"
            )
        if x.shape.rank != 4:
            return
        sides = [s for s in x.shape[1:3] if s is not None]
        if not sides:
            return
        for name in names:
            need = self.min_size(name)
            if min(sides) < need:
                raise LayerError(
                    f"layer {name!r} of {self.name} needs images of at least {need} x {need} px, got "
                    f"{x.shape[1]} x {x.shape[2]}; use a larger image or an earlier layer"
                )

    def _run_features(self, x: tf.Tensor, spatial: list[str], with_head: bool) -> dict[str, tf.Tensor]:
        """Run the feature network for ``spatial`` layers (plus mixed10 for InceptionV3's head)."""
        wanted = list(dict.fromkeys(spatial))
        if with_head and self.name == "inception_v3" and "mixed10" not in wanted:
            wanted.append("mixed10")
        runner = self._runner(tuple(wanted))
        outputs = runner(self.preprocess(x), training=False)
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        return dict(zip(wanted, outputs))

    def _runner(self, names: tuple[str, ...]) -> keras.Model:
        """A cached keras.Model whose outputs are exactly ``names`` (only their ancestors run)."""
        if names not in self._runners:
            outputs = [self.features_model.get_layer(self._keras_name[n]).output for n in names]
            model_name = f"{self.name}_features"
            self._runners[names] = keras.Model(self.features_model.input, outputs, name=model_name)
        return self._runners[names]

    def _logits(self, x: tf.Tensor, features: dict[str, tf.Tensor]) -> tf.Tensor:
        """Pre-softmax class scores from the penultimate features and the predictions layer."""
        dense = self.head_model.get_layer("predictions")
        if self.name == "inception_v3":
            penultimate = tf.reduce_mean(features["mixed10"], axis=[1, 2])
        else:
            penultimate = self._vgg_penultimate_model()(self._vgg_head_input(x), training=False)
        kernel, bias = tf.convert_to_tensor(dense.kernel), tf.convert_to_tensor(dense.bias)
        return tf.matmul(penultimate, kernel) + bias

    def _vgg_head_input(self, x: tf.Tensor) -> tf.Tensor:
        """VGG19's head input: the batch resized to 224 x 224 (bilinear, differentiable), preprocessed."""
        size = (self.head_size, self.head_size)
        if x.shape[1:3] != size:
            x = tf.image.resize(x, size, method="bilinear")
        return self.preprocess(x)

    def _vgg_penultimate_model(self) -> keras.Model:
        """fc2 of VGG19 computed from the *feature* network's block5_pool and the head's dense layers."""
        if self._vgg_penultimate is None:
            head = self.head_model
            block5_pool = self.features_model.get_layer("block5_pool").output
            trunk = keras.Model(self.features_model.input, block5_pool)
            inputs = keras.Input((self.head_size, self.head_size, 3))
            x = trunk(inputs)
            for layer_name in ("flatten", "fc1", "fc2"):
                x = head.get_layer(layer_name)(x)
            self._vgg_penultimate = keras.Model(inputs, x, name="vgg19_penultimate")
        return self._vgg_penultimate


# --- inventories ----------------------------------------------------------------------------------
def _vgg_inventory(model: keras.Model) -> tuple[dict[str, str], list[LayerInfo]]:
    """VGG19's conv and pool layers under Keras's own names."""
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            layers.append(LayerInfo(layer.name, "conv", int(layer.output.shape[-1])))
        elif isinstance(layer, keras.layers.MaxPooling2D):
            layers.append(LayerInfo(layer.name, "pool", int(layer.output.shape[-1])))
    return {info.name: info.name for info in layers}, layers


def _inception_inventory(
    model: keras.Model, by_canon: dict[str, keras.layers.Layer]
) -> tuple[dict[str, str], list[LayerInfo]]:
    """InceptionV3's conv units (``conv2d_N`` after BN and ReLU) and mixed0..mixed10 blocks."""
    canon_of = {id(layer): canon for canon, layer in by_canon.items()}
    keras_name: dict[str, str] = {}
    layers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Activation):
            conv = _source_conv(layer)
            name = canon_of[id(conv)]
            layers.append(LayerInfo(name, "conv", int(layer.output.shape[-1])))
        elif re.fullmatch(r"mixed\d+", layer.name):
            name = layer.name
            layers.append(LayerInfo(name, "mixed", int(layer.output.shape[-1])))
        else:
            continue
        keras_name[name] = layer.name
    return keras_name, layers


def _source_conv(layer: keras.layers.Layer) -> keras.layers.Layer:
    """The Conv2D that feeds an Activation through its BatchNormalization."""
    current = layer
    while not isinstance(current, keras.layers.Conv2D):
        parents = _parents(current)
        if len(parents) != 1:
            raise ModelError(f"unexpected InceptionV3 structure at layer {current.name!r}")
        current = parents[0]
    return current


def _parents(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """The layers whose outputs feed ``layer`` (in its first, i.e. only, call)."""
    node = layer._inbound_nodes[0]
    return [parent.operation for parent in node.parent_nodes]


def canonical_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Layers keyed by names that do not depend on how many models the process built before.

    Keras numbers auto-named layers with a process-wide counter (``conv2d_94`` in the second
    InceptionV3). Ranking the numbers within each prefix gives back the first build's names.

    Args:
        model: a Keras functional model.

    Returns:
        Canonical name -> layer, for every layer of the model.
    """
    result: dict[str, keras.layers.Layer] = {}
    numbered: dict[str, list[tuple[int, keras.layers.Layer]]] = {}
    for layer in model.layers:
        match = _AUTO_NAMED.match(layer.name)
        if match is None:
            result[layer.name] = layer
        else:
            number = int(match.group(2)) if match.group(2) else 0
            numbered.setdefault(match.group(1), []).append((number, layer))
    for prefix, entries in numbered.items():
        for rank, (_, layer) in enumerate(sorted(entries, key=lambda entry: entry[0])):
            result[prefix if rank == 0 else f"{prefix}_{rank}"] = layer
    return result


def copy_weights(source: keras.Model, target: keras.Model) -> int:
    """Copy the weights of every layer ``source`` and ``target`` have in common (by canonical name).

    Args:
        source: model to copy from.
        target: model to copy into.

    Returns:
        Number of layers copied.
    """
    source_layers = canonical_layers(source)
    copied = 0
    for canon, layer in canonical_layers(target).items():
        other = source_layers.get(canon)
        if other is None or not layer.weights:
            continue
        for target_var, source_var in zip(layer.weights, other.weights, strict=True):
            target_var.assign(source_var.value)
        copied += 1
    return copied


def seed_kernels(model: keras.Model, seed: int) -> None:
    """Redraw every kernel of ``model`` (Glorot uniform) from ``seed`` and the layer's canonical name.

    Stateless draws keyed by name: the same seed gives the same weights whatever else the process
    did with random numbers, and the feature and head networks get equal weights for equal layers.
    Biases and batch-norm statistics keep Keras's constant initial values.

    Args:
        model: a Keras model built with ``weights=None``.
        seed: any integer.
    """
    for canon, layer in canonical_layers(model).items():
        for variable in layer.weights:
            if variable.name != "kernel":
                continue
            shape = tuple(int(d) for d in variable.shape)
            receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
            fan_in, fan_out = receptive * shape[-2], receptive * shape[-1]
            limit = float(np.sqrt(6.0 / (fan_in + fan_out)))
            key = zlib.crc32(f"{canon}/{variable.name}".encode())
            stateless_seed = tf.constant([int(seed) & 0x7FFFFFFF, key & 0x7FFFFFFF], tf.int64)
            values = tf.random.stateless_uniform(shape, stateless_seed, minval=-limit, maxval=limit)
            variable.assign(values)


# --- minimum sizes --------------------------------------------------------------------------------
def smallest_input_sizes(model: keras.Model, names: Sequence[str], limit: int = 2048) -> dict[str, int]:
    """Smallest square input side for which each named layer has a non-empty output.

    Propagates integer sizes through the graph using each conv/pool layer's kernel, stride and
    padding, trying sides 1, 2, 3, ... until every layer is reached.

    Args:
        model: a Keras functional model with spatial input.
        names: Keras layer names.
        limit: give up above this side.

    Returns:
        Layer name -> side in pixels.
    """
    missing = set(names)
    result: dict[str, int] = {}
    for side in range(1, limit + 1):
        sizes: dict[int, int] = {}
        for name in list(missing):
            if _output_side(model.get_layer(name), side, sizes) >= 1:
                result[name] = side
                missing.discard(name)
        if not missing:
            return result
    raise ModelError(f"layers {sorted(missing)} stay empty for inputs up to {limit} px")


def _output_side(layer: keras.layers.Layer, side: int, memo: dict[int, int]) -> int:
    """Spatial side of ``layer``'s output for a square input of ``side`` px (0 = empty)."""
    if id(layer) in memo:
        return memo[id(layer)]
    parents = _parents(layer)
    incoming = min((_output_side(parent, side, memo) for parent in parents), default=side)
    memo[id(layer)] = _layer_side(layer, incoming)
    return memo[id(layer)]


def _layer_side(layer: keras.layers.Layer, incoming: int) -> int:
    """Output side of one conv or pooling layer (other layers keep the size)."""
    if incoming < 1:
        return 0
    if isinstance(layer, keras.layers.Conv2D):
        kernel, stride, padding = layer.kernel_size[0], layer.strides[0], layer.padding
    elif isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
        kernel, stride, padding = layer.pool_size[0], layer.strides[0], layer.padding
    else:
        return incoming
    if padding == "same":
        return -(-incoming // stride)
    return (incoming - kernel) // stride + 1 if incoming >= kernel else 0


# --- labels ---------------------------------------------------------------------------------------
def imagenet_labels(allow_download: bool = False) -> list[str]:
    """The 1000 ImageNet class names from Keras's class index file, else ``class N`` placeholders.

    Never fails: a missing, unreadable or undownloadable index gives placeholders.

    Args:
        allow_download: fetch the index through Keras when it is not in the Keras cache.

    Returns:
        1000 labels, index i = Keras class i.
    """
    path = keras_cache_dir() / CLASS_INDEX_FILE
    if not path.is_file() and allow_download:
        try:
            fetched = keras.utils.get_file(
                CLASS_INDEX_FILE, CLASS_INDEX_URL, cache_subdir="models", file_hash=CLASS_INDEX_MD5
            )
            path = Path(fetched)
        except Exception:  # offline or refused: fall back to placeholders below
            pass
    labels = _read_class_index(path)
    return labels if labels is not None else [f"class {i}" for i in range(NUM_CLASSES)]


def _read_class_index(path: Path) -> list[str] | None:
    """Parse Keras's ``{"0": ["n01440764", "tench"], ...}``; None if missing or malformed."""
    try:
        index = json.loads(path.read_text(encoding="utf-8"))
        return [str(index[str(i)][1]) for i in range(NUM_CLASSES)]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None


# --- small helpers --------------------------------------------------------------------------------
def _spec(name: str) -> BackboneSpec:
    """The spec of a backbone name, or a ModelError listing the supported names."""
    key = str(name).strip().lower().replace("-", "_")
    if key in SPECS:
        return SPECS[key]
    close = difflib.get_close_matches(key, list(SPECS), n=2, cutoff=0.4)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise ModelError(f"unknown Keras backbone {name!r}: choose one of {', '.join(SPECS)}.{hint}")


def _as_names(names: Sequence[str] | str) -> list[str]:
    """Layer names as a non-empty list (a single string is one name)."""
    if isinstance(names, str):
        return [names]
    names = list(names)
    if not names:
        raise ParameterError("extract needs at least one layer name, e.g. ['block5_conv2']")
    return names


def _download_message(spec: BackboneSpec, include_top: bool, error: Exception) -> str:
    """The DownloadError text: what failed, where to put the file by hand, how to run untrained."""
    with_top, no_top = spec.weights_files
    if include_top:
        needed = f"{with_top} (the classifier, needed by classify, logits and predictions)"
    else:
        needed = f"{no_top} (features; classify, logits and predictions also need {with_top})"
    return (
        f"could not get the pretrained ImageNet weights of {spec.name} through Keras ({error}). "
        f"If this machine is offline, download {needed} elsewhere and put it in {keras_cache_dir()} "
        f"(Keras's cache; set KERAS_HOME to use another folder), or run with untrained weights: "
        f"load_keras_backbone({spec.name!r}, weights='untrained'), or CADL_WEIGHTS=untrained "
        f"(CADL_WEIGHTS=auto falls back to untrained by itself)"
    )
