"""An untrained stand-in for inception5h: the same graph, node by node, with seeded random weights.

Tests and offline machines use it: a ``GraphDef`` with the real graph's node names, op types and
channel counts (59 Conv2D layers, 7,548 channels, 1008-way softmax heads), so the loader, the inventory
and every engine follow the real code paths. Convolutions are zero-sum He-normal filters (see
``CONV_GAIN``: activations keep their spread, almost no channel is dead); the classifiers are scaled
down so the softmax heads stay unsaturated. Pictures made with it are textures, not objects.
"""

from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path

import numpy as np

from .. import config
from ..errors import OutputError
from ..files import atomic_write, check_output_path
from ..settings import check_seed
from .download import LABELS_NAME, PB_NAME

config.quiet_tensorflow()
import tensorflow as tf  # noqa: E402

NUM_CLASSES = 1008
NUM_LABELS = 1001

# Class labels the course uses; every other index gets a plain placeholder.
KNOWN_LABELS = {647: "jellyfish", 851: "broom", 920: "minibus", 947: "espresso", 962: "school bus"}

# Inception blocks: (name, 1x1, 3x3 bottleneck, 3x3, 5x5 bottleneck, 5x5, pool reduce).
MIXED_BLOCKS = (
    ("mixed3a", 64, 96, 128, 16, 32, 32),
    ("mixed3b", 128, 128, 192, 32, 96, 64),
    ("mixed4a", 192, 96, 204, 16, 48, 64),
    ("mixed4b", 160, 112, 224, 24, 64, 64),
    ("mixed4c", 128, 128, 256, 24, 64, 64),
    ("mixed4d", 112, 144, 288, 32, 64, 64),
    ("mixed4e", 256, 160, 320, 32, 128, 128),
    ("mixed5a", 256, 160, 320, 48, 128, 128),
    ("mixed5b", 384, 192, 384, 48, 128, 128),
)

# Max pools between stages, keyed by the block they follow.
POOL_AFTER = {"mixed3b": "maxpool4", "mixed4e": "maxpool10"}

# LRN attributes are not documented for the original graph; these follow a published port
# (depth radius 4, Caffe's alpha 1e-4 divided by the window of 9 channels, beta 0.5).
LRN_ATTRS = {"depth_radius": 4, "bias": 1.0, "alpha": 1e-4 / 9.0, "beta": 0.5}

# He-normal gain for zero-sum filters: such a filter passes only the variance of its input, not the
# mean, and a ReLU output's mean square is 1 / (1 - 1/pi) times its variance; He's 2 assumes the
# mean passes too. With this gain the activations keep their spread through the 22 layers.
CONV_GAIN = 2.0 / (1.0 - 1.0 / np.pi)

# The features reaching the classifiers have an RMS of about 40-80 (inputs are in 0..255 minus 117
# units); dividing the usual 1/sqrt(fan_in) scale by this keeps the logits' spread near 1, so the
# untrained softmax neither saturates (zero gradients) nor is flat. Measured on seed 0.
CLASSIFIER_FEATURE_SCALE = 50.0


class _GraphWriter:
    """Accumulates NodeDefs and seeded random constants in a fixed order (a seed gives the same graph)."""

    def __init__(self, seed: int):
        self.graph = tf.compat.v1.GraphDef()
        # Producer 8 predates every deprecation of the ops used (e.g. the old Concat), like the 2015 graph.
        self.graph.versions.producer = 8
        self.rng = np.random.default_rng(seed)
        self.consts, self.ops = [], []

    def node(self, name: str, op: str, inputs=(), **attrs) -> str:
        """Add an op on float32 values; attributes are stored by their Python type."""
        node = tf.compat.v1.NodeDef(name=name, op=op)
        node.input.extend(inputs)
        node.attr["T"].type = tf.float32.as_datatype_enum
        for key, value in attrs.items():
            if isinstance(value, list):
                node.attr[key].list.i.extend(value)
            elif isinstance(value, tf.DType):
                node.attr[key].type = value.as_datatype_enum
            else:  # by exact type: a bool is an int too
                field = {str: "s", bool: "b", float: "f", int: "i"}[type(value)]
                setattr(node.attr[key], field, value.encode() if isinstance(value, str) else value)
        self.ops.append(node)
        return name

    def const(self, name: str, value: np.ndarray) -> str:
        node = tf.compat.v1.NodeDef(name=name, op="Const")
        node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        self.consts.append(node)
        return name

    def normal(self, shape, std: float) -> np.ndarray:
        return (self.rng.standard_normal(size=shape, dtype=np.float32) * np.float32(std)).astype(np.float32)

    def conv(self, name: str, x: str, cin: int, cout: int, k: int, stride: int = 1) -> str:
        """Conv2D (SAME) + BiasAdd + Relu named like the original: X_pre_relu/conv, X_pre_relu, X."""
        kernel = self.normal((k, k, cin, cout), np.sqrt(CONV_GAIN / (k * k * cin)))
        # Zero-sum filters: after a ReLU every input is >= 0, and a filter whose weights happen to sum
        # to a clearly negative number would be off everywhere (a dead channel with zero gradient).
        kernel -= kernel.mean(axis=(0, 1, 2), keepdims=True)
        w = self.const(f"{name}_w", kernel)
        b = self.const(f"{name}_b", self.normal((cout,), 1.0))
        self.node(f"{name}_pre_relu/conv", "Conv2D", [x, w], strides=[1, stride, stride, 1], padding="SAME",
                  data_format="NHWC", use_cudnn_on_gpu=True)
        self.node(f"{name}_pre_relu", "BiasAdd", [f"{name}_pre_relu/conv", b], data_format="NHWC")
        return self.node(name, "Relu", [f"{name}_pre_relu"])

    def pool(self, name: str, op: str, x: str, k: int, stride: int, padding: str) -> str:
        return self.node(name, op, [x], ksize=[1, k, k, 1], strides=[1, stride, stride, 1], padding=padding,
                         data_format="NHWC")

    def concat(self, name: str, parts: list[str]) -> str:
        """The pre-1.0 ``Concat`` op: axis first (a Const named NAME/concat_dim), then the values."""
        axis = self.const(f"{name}/concat_dim", np.array(3, dtype=np.int32))
        return self.node(name, "Concat", [axis, *parts], N=len(parts))

    def reshape(self, name: str, x: str, shape) -> str:
        target = self.const(f"{name}/shape", np.array(shape, dtype=np.int32))
        return self.node(name, "Reshape", [x, target], Tshape=tf.int32)

    def dense(self, name: str, x: str, fan_in: int, units: int, suffix: str, std: float | None = None) -> str:
        """MatMul + BiasAdd named NAME{suffix}/matmul and NAME{suffix}; weights NAME_w, NAME_b (``std`` None:
        a classifier's, see CLASSIFIER_FEATURE_SCALE)."""
        if std is None:
            std = 1.0 / (np.sqrt(fan_in) * CLASSIFIER_FEATURE_SCALE)
        w = self.const(f"{name}_w", self.normal((fan_in, units), std))
        b = self.const(f"{name}_b", self.normal((units,), 0.01))
        self.node(f"{name}{suffix}/matmul", "MatMul", [x, w], transpose_a=False, transpose_b=False)
        return self.node(f"{name}{suffix}", "BiasAdd", [f"{name}{suffix}/matmul", b], data_format="NHWC")


def _mixed_block(g: _GraphWriter, x: str, cin: int, spec) -> tuple[str, int]:
    name, c1, c3r, c3, c5r, c5, cp = spec
    branch1 = g.conv(f"{name}_1x1", x, cin, c1, 1)
    bottleneck3 = g.conv(f"{name}_3x3_bottleneck", x, cin, c3r, 1)
    branch3 = g.conv(f"{name}_3x3", bottleneck3, c3r, c3, 3)
    bottleneck5 = g.conv(f"{name}_5x5_bottleneck", x, cin, c5r, 1)
    branch5 = g.conv(f"{name}_5x5", bottleneck5, c5r, c5, 5)
    pooled = g.pool(f"{name}_pool", "MaxPool", x, 3, 1, "SAME")
    branch_pool = g.conv(f"{name}_pool_reduce", pooled, cin, cp, 1)
    g.concat(name, [branch1, branch3, branch5, branch_pool])
    return name, c1 + c3 + c5 + cp


def _aux_head(g: _GraphWriter, index: int, x: str, cin: int) -> str:
    """head{i}_pool -> head{i}_bottleneck -> reshape [-1, 2048] -> nn{i} -> reshape -> softmax{i}."""
    pool = g.pool(f"head{index}_pool", "AvgPool", x, 5, 3, "VALID")
    bottleneck = g.conv(f"head{index}_bottleneck", pool, cin, 128, 1)
    flat = g.reshape(f"head{index}_bottleneck/reshape", bottleneck, [-1, 2048])
    pre = g.dense(f"nn{index}", flat, 2048, 1024, "_pre_relu", np.sqrt(2.0 / 2048))
    hidden = g.node(f"nn{index}", "Relu", [pre])
    hidden_flat = g.reshape(f"nn{index}/reshape", hidden, [-1, 1024])
    logits = g.dense(f"softmax{index}", hidden_flat, 1024, NUM_CLASSES, "_pre_activation")
    return g.node(f"softmax{index}", "Softmax", [logits])


def build_standin_graphdef(seed: int = 0):
    """A new GraphDef of the stand-in: inception5h's node names, op types and shapes, weights from ``seed``."""
    g = _GraphWriter(seed)
    placeholder = tf.compat.v1.NodeDef(name="input", op="Placeholder")
    placeholder.attr["dtype"].type = tf.float32.as_datatype_enum
    placeholder.attr["shape"].shape.CopyFrom(tf.TensorShape([None, None, None, 3]).as_proto())
    g.ops.append(placeholder)
    x = g.conv("conv2d0", "input", 3, 64, 7, stride=2)
    x = g.pool("maxpool0", "MaxPool", x, 3, 2, "SAME")
    x = g.node("localresponsenorm0", "LRN", [x], **LRN_ATTRS)
    x = g.conv("conv2d1", x, 64, 64, 1)
    x = g.conv("conv2d2", x, 64, 192, 3)
    x = g.node("localresponsenorm1", "LRN", [x], **LRN_ATTRS)
    x = g.pool("maxpool1", "MaxPool", x, 3, 2, "SAME")
    channels = 192
    heads_input = {}
    for spec in MIXED_BLOCKS:
        x, channels = _mixed_block(g, x, channels, spec)
        if spec[0] in ("mixed4a", "mixed4d"):
            heads_input[spec[0]] = (x, channels)
        if spec[0] in POOL_AFTER:
            x = g.pool(POOL_AFTER[spec[0]], "MaxPool", x, 3, 2, "SAME")
    pooled = g.pool("avgpool0", "AvgPool", x, 7, 1, "VALID")
    heads = [_aux_head(g, 0, *heads_input["mixed4a"]), _aux_head(g, 1, *heads_input["mixed4d"])]
    flat = g.reshape("avgpool0/reshape", pooled, [-1, channels])
    logits = g.dense("softmax2", flat, channels, NUM_CLASSES, "_pre_activation")
    heads.append(g.node("softmax2", "Softmax", [logits]))
    for name, head in zip(("output", "output1", "output2"), heads):
        g.node(name, "Identity", [head])
    g.graph.node.extend(g.consts + g.ops)  # constants first, as in the original file
    return g.graph


@functools.cache
def standin_graphdef(seed: int = 0):
    """The stand-in GraphDef for ``seed``, built once per process and shared: do not modify it."""
    return build_standin_graphdef(int(seed))


def standin_labels() -> list[str]:
    """The stand-in's 1001 labels: ``dummy``, the course's real labels in place, else ``standin class N``."""
    labels = ["dummy"] + [f"standin class {i}" for i in range(1, NUM_LABELS)]
    for index, text in KNOWN_LABELS.items():
        labels[index] = text
    return labels


def export_standin_zip(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write the stand-in as a zip laid out like inception5h.zip (graph, labels, LICENSE), atomically;
    the same seed gives the same bytes. Returns the path."""
    seed = check_seed(seed)
    if isinstance(path, (str, os.PathLike)) and Path(path).suffix.lower() != ".zip":
        folder = os.path.isdir(os.path.expanduser(path))  # False, not an error, for names the system refuses
        raise OutputError(f"{path} is {'a folder' if folder else 'not a .zip file name'}: the stand-in is written "
                          f"as a zip, e.g. {Path(path) / 'inception5h.zip' if folder else str(path) + '.zip'}")
    target = check_output_path(path)
    license_text = (
        f"UNTRAINED STAND-IN for Google's inception5h network, generated by cadl_utils (seed {seed}).\n\n"
        "It has the topology and node names of tensorflow_inception_graph.pb but seeded random weights: it "
        "recognises nothing. It exists so that tests and offline machines can run every code path.\n"
        "Only the labels jellyfish, broom, minibus, espresso and school bus are real.\n"
    )
    entries = [("LICENSE", license_text.encode("utf-8"), zipfile.ZIP_DEFLATED),
               (LABELS_NAME, "\n".join(standin_labels()).encode("utf-8"), zipfile.ZIP_DEFLATED),
               # Random float32 weights do not compress: store them and save seconds.
               (PB_NAME, standin_graphdef(seed).SerializeToString(), zipfile.ZIP_STORED)]
    with atomic_write(target) as temp, zipfile.ZipFile(temp, "w") as archive:
        for name, data, compression in entries:
            # A fixed time stamp: the same seed gives the same zip bytes (and SHA-1).
            info = zipfile.ZipInfo(name, date_time=(2015, 7, 1, 0, 0, 0))
            info.compress_type, info.external_attr = compression, 0o644 << 16
            archive.writestr(info, data)
    return target
