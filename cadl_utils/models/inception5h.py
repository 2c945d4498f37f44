"""inception5h, Google's 2015 Deep Dream network, run natively in TensorFlow 2.

The network ships as a frozen TensorFlow 1 graph (``tensorflow_inception_graph.pb``). Instead of
importing it into a v1 session, this module interprets its node list with a small table of ops, so
features are ordinary TF2 tensors: differentiable with ``tf.GradientTape``, usable eagerly and inside
``tf.function``. Weights are held once as non-trainable ``tf.Variable``s (so traced functions capture
handles, not 54 MB of constants), and a request computes only the nodes its layers depend on (asking
for ``conv2d0`` never runs the classifier heads).

Preprocessing is the original one: RGB in 0..255 minus a single mean of 117.

Softmax and logits on images larger than 224 px: ``avgpool0`` is a 7x7 VALID pool, so a larger image
yields a grid of class rows (299 px gives 4x4 = 16 rows per image). ``extract`` averages the rows of
each image (mean probability, or mean logit), so it always returns ``[N, 1008]``; ``extract_rows``
returns the raw rows. The auxiliary heads (softmax0/1) reshape their 4x4x128 grid to ``[-1, 2048]``,
which only works when the grid holds a multiple of 16 cells (224 px works, 299 px does not); such
sizes raise a LayerError naming a size that works.

Load it with ``load_inception5h(weights=...)``: ``pretrained`` (download, verify, cache),
``untrained`` (a seeded stand-in with the same graph, built in memory) or ``auto``.
"""

from __future__ import annotations

import copy
import difflib
import math
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import config
from ..errors import CadlError, ImageError, LayerError, ModelError, ParameterError
from . import standin
from .base import LayerInfo, Model

MEAN = 117.0
INPUT_NODE = "input"
NUM_CLASSES = 1008
CLASSIFY_SIZE = 224
DTYPES = ("float32", "bfloat16")
SUPPORTED_OPS = (
    "Placeholder", "Const", "Conv2D", "BiasAdd", "Relu", "MaxPool", "AvgPool", "LRN", "Concat",
    "ConcatV2", "Reshape", "MatMul", "Add", "AddV2", "Softmax", "Identity",
)  # fmt: skip
# TF's defaults for LRN attributes a graph may leave out.
_LRN_DEFAULTS = {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}
_MAX_SEARCH_SIZE = 4096


class _Pinned:
    """Marker for "use the SHA-1 pinned in cadl_utils.models.download"."""

    def __repr__(self) -> str:
        return "<pinned>"


PINNED = _Pinned()


@dataclass(frozen=True)
class _Node:
    """One graph node, stripped of its weights: name, op, data inputs and plain-Python attributes."""

    name: str
    op: str
    inputs: tuple[str, ...]
    attrs: dict


# --------------------------------------------------------------------------------------------
# Reading the GraphDef
# --------------------------------------------------------------------------------------------
def _attr_value(value):
    """A NodeDef attribute as plain Python (strings decoded, lists as lists); tensors are skipped."""
    field = value.WhichOneof("value")
    if field == "s":
        return value.s.decode("utf-8", "replace")
    if field in ("i", "f", "b", "type"):
        return getattr(value, field)
    if field == "list":
        for kind in ("i", "f", "b", "type"):
            items = list(getattr(value.list, kind))
            if items:
                return items
        return [s.decode("utf-8", "replace") for s in value.list.s]
    return None


def _input_name(text: str, node: str) -> str:
    if text.startswith("^"):
        return ""  # control dependency: frozen inference graphs need none
    name, _, index = text.partition(":")
    if index not in ("", "0"):
        raise ModelError(f"node {node!r} reads output {text!r}; only single-output ops are supported")
    return name


def _parse_graph(graph_def) -> tuple[dict[str, _Node], dict[str, np.ndarray]]:
    """Split a GraphDef into light nodes (in file order) and the values of its Const nodes."""
    import tensorflow as tf

    nodes: dict[str, _Node] = {}
    consts: dict[str, np.ndarray] = {}
    for node_def in graph_def.node:
        inputs = tuple(n for n in (_input_name(t, node_def.name) for t in node_def.input) if n)
        attrs = {}
        for key, value in node_def.attr.items():
            if node_def.op == "Const" and key == "value":
                consts[node_def.name] = tf.make_ndarray(value.tensor)
            else:
                attrs[key] = _attr_value(value)
        nodes[node_def.name] = _Node(node_def.name, node_def.op, inputs, attrs)
    return nodes, consts


# --------------------------------------------------------------------------------------------
# Static shapes: which image sizes a node can be computed at
# --------------------------------------------------------------------------------------------
class _SizeProblem(Exception):
    """A node cannot be computed at the given input size (``kind`` is ``small`` or ``reshape``)."""

    def __init__(self, node: str, kind: str, detail: str):
        super().__init__(detail)
        self.node = node
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class _Shape:
    """Per-image shape: a spatial map (h, w, channels) or ``rows`` rows of ``channels`` values."""

    h: int | None = None
    w: int | None = None
    channels: int | None = None
    rows: int | None = None
    spatial: bool = True


def _window_out(size: int | None, k: int, stride: int, padding: str, node: str) -> int | None:
    if size is None:
        return None
    if padding == "SAME":
        return -(-size // stride)
    if size < k:
        raise _SizeProblem(node, "small", f"{node} is a {k}x{k} VALID window but its input is only {size} px")
    return (size - k) // stride + 1


def _propagate(nodes: dict[str, _Node], consts: dict, plan: Sequence[str], h, w) -> dict[str, _Shape]:
    """Per-image shapes of the nodes in ``plan`` for an h x w input (None: channels only)."""
    shapes: dict[str, _Shape] = {}
    for name in plan:
        node = nodes[name]
        op = node.op
        if op == "Const":
            continue
        data = [shapes[i] for i in node.inputs if i in shapes]
        if op == "Placeholder":
            shapes[name] = _Shape(h, w, 3)
        elif op == "Conv2D":
            if len(node.inputs) != 2 or node.inputs[1] not in consts:
                raise ModelError(f"{name}: the filter of a Conv2D must be a Const node")
            kernel = consts[node.inputs[1]].shape
            stride = node.attrs.get("strides", [1, 1, 1, 1])
            pad = node.attrs.get("padding", "SAME")
            oh = _window_out(data[0].h, kernel[0], stride[1], pad, name)
            ow = _window_out(data[0].w, kernel[1], stride[2], pad, name)
            shapes[name] = _Shape(oh, ow, int(kernel[3]))
        elif op in ("MaxPool", "AvgPool"):
            k = node.attrs.get("ksize", [1, 1, 1, 1])
            stride = node.attrs.get("strides", [1, 1, 1, 1])
            pad = node.attrs.get("padding", "VALID")
            oh = _window_out(data[0].h, k[1], stride[1], pad, name)
            ow = _window_out(data[0].w, k[2], stride[2], pad, name)
            shapes[name] = _Shape(oh, ow, data[0].channels)
        elif op in ("Concat", "ConcatV2"):
            parts = [shapes[i] for i in node.inputs if i in shapes]
            counts = [p.channels for p in parts]
            total = None if None in counts else sum(counts)
            shapes[name] = _Shape(parts[0].h, parts[0].w, total, parts[0].rows, parts[0].spatial)
        elif op == "Reshape":
            shapes[name] = _reshape_shape(name, data[0], consts.get(node.inputs[1]))
        elif op == "MatMul":
            cols = consts[node.inputs[1]].shape[1] if node.inputs[1] in consts else None
            shapes[name] = _Shape(channels=cols, rows=data[0].rows, spatial=False)
        else:  # element-wise ops keep their first data input's shape
            shapes[name] = data[0] if data else _Shape()
    return shapes


def _reshape_shape(name: str, src: _Shape, target) -> _Shape:
    """Shape after a Reshape to [-1, K]: the rows per image, if the image's values split evenly."""
    if target is None or target.ndim != 1 or len(target) != 2 or target[0] != -1 or target[1] <= 0:
        return _Shape(spatial=False)
    width = int(target[1])
    if src.spatial:
        if src.h is None or src.w is None or src.channels is None:
            return _Shape(channels=width, spatial=False)
        cells, values = src.h * src.w, src.h * src.w * src.channels
        grid = f"{src.h}x{src.w}x{src.channels}"
    else:
        if src.rows is None or src.channels is None:
            return _Shape(channels=width, spatial=False)
        cells, values = src.rows, src.rows * src.channels
        grid = f"{src.rows}x{src.channels}"
    if values % width:
        need = width // math.gcd(width, values // cells) if cells else width
        raise _SizeProblem(
            name,
            "reshape",
            f"{name} reshapes each image's {grid} values to rows of {width}, which needs a grid of a "
            f"multiple of {need} cells",
        )
    return _Shape(channels=width, rows=values // width, spatial=False)


# --------------------------------------------------------------------------------------------
# The op table
# --------------------------------------------------------------------------------------------
def _require_nhwc(node: _Node) -> None:
    if node.attrs.get("data_format", "NHWC") not in ("NHWC", ""):
        raise ModelError(f"node {node.name!r} uses data_format {node.attrs['data_format']}; only NHWC is supported")


def _op_conv2d(tf, node, args):
    _require_nhwc(node)
    padding = node.attrs.get("padding", "SAME")
    if padding not in ("SAME", "VALID"):
        raise ModelError(f"node {node.name!r} uses padding {padding}; only SAME and VALID are supported")
    if _s2d_applies(node, args[0], args[1]):
        return _conv2d_space_to_depth(tf, args[0], args[1], int(node.attrs["strides"][1]))
    return tf.nn.conv2d(
        args[0], args[1], strides=node.attrs.get("strides", [1, 1, 1, 1]), padding=padding,
        dilations=node.attrs.get("dilations") or [1, 1, 1, 1],
    )  # fmt: skip


def _op_pool(tf, node, args):
    _require_nhwc(node)
    pool = tf.nn.max_pool2d if node.op == "MaxPool" else tf.nn.avg_pool2d
    return pool(args[0], ksize=node.attrs["ksize"], strides=node.attrs["strides"], padding=node.attrs["padding"])


def _s2d_applies(node, x, kernel) -> bool:
    """Whether ``_conv2d_space_to_depth`` takes this Conv2D: strided SAME, few input channels.

    Only such a conv (inception5h's conv2d0 on the RGB image) has a slow input gradient: TF's
    strided Conv2DBackpropInput with 3 output channels runs far below the machine's matmul rate.
    """
    strides = list(node.attrs.get("strides", [1, 1, 1, 1]))
    dilations = list(node.attrs.get("dilations") or [1, 1, 1, 1])
    stride = strides[1]
    return (
        node.attrs.get("padding", "SAME") == "SAME"
        and dilations == [1, 1, 1, 1]
        and stride > 1 and strides == [1, stride, stride, 1]
        and x.shape.rank == 4 and kernel.shape.is_fully_defined() and kernel.shape[2] <= 4
    )  # fmt: skip


def _same_pads(tf, size, k: int, stride: int, blocks: int):
    """Top and bottom padding: TF's SAME padding, the bottom extended to ``stride * (out + blocks - 1)``.

    ``size`` is an int (static shape) or a scalar int32 tensor (images of any size in one trace).
    """
    out = -(-size // stride)
    total = (out - 1) * stride + k - size
    top = max(total, 0) // 2 if isinstance(size, int) else tf.maximum(total, 0) // 2
    return top, stride * (out + blocks - 1) - size - top


def _conv2d_space_to_depth(tf, x, kernel, stride: int):
    """A SAME conv with stride s, computed as space-to-depth (s x s) + a stride-1 VALID conv.

    Why (speed): the same sums as ``tf.nn.conv2d(x, kernel, s, "SAME")`` (the kernel is zero-padded
    to a multiple of s and its taps regrouped into s*s*C_in channels), but the input gradient is a
    stride-1 backprop on 12 channels instead of TF's slow strided backprop on 3 channels.
    """
    kh, kw, cin, cout = (int(n) for n in kernel.shape)
    bh, bw = -(-kh // stride), -(-kw // stride)
    height = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
    width = x.shape[2] if x.shape[2] is not None else tf.shape(x)[2]
    top, bottom = _same_pads(tf, height, kh, stride, bh)
    left, right = _same_pads(tf, width, kw, stride, bw)
    pads = [[0, 0], [top, bottom], [left, right], [0, 0]]
    if not all(isinstance(n, int) for n in (top, bottom, left, right)):
        pads = tf.stack([tf.stack([tf.cast(n, tf.int32) for n in pair]) for pair in pads])
    blocks = tf.nn.space_to_depth(tf.pad(x, pads), stride)
    padded = tf.pad(kernel, [[0, stride * bh - kh], [0, stride * bw - kw], [0, 0], [0, 0]])
    # Tap (stride*a + i, stride*b + j) of input channel c goes to block tap (a, b), channel
    # (i * stride + j) * cin + c: the channel order of tf.nn.space_to_depth.
    taps = tf.reshape(padded, [bh, stride, bw, stride, cin, cout])
    taps = tf.reshape(tf.transpose(taps, [0, 2, 1, 3, 4, 5]), [bh, bw, stride * stride * cin, cout])
    return tf.nn.conv2d(blocks, taps, strides=1, padding="VALID")


def _op_lrn(tf, node, args):
    attrs = {key: node.attrs.get(key, default) for key, default in _LRN_DEFAULTS.items()}
    x = args[0]
    # TensorFlow has no bfloat16 LRN kernel on CPU: normalise in float32.
    x32 = tf.cast(x, tf.float32)
    channels = x.shape[-1] if x.shape.rank is not None else None
    if channels is not None and attrs["depth_radius"] >= 0:
        y = _lrn_banded(tf, x32, int(channels), **attrs)
    else:
        y = tf.nn.local_response_normalization(x32, **attrs)
    return tf.cast(y, x.dtype)


def _lrn_banded(tf, x, channels: int, depth_radius: int, bias: float, alpha: float, beta: float):
    """``tf.nn.local_response_normalization`` as a matmul plus element-wise maths.

    Why (speed): TF's LRN kernel and especially its gradient loop over the channel window; here the
    window's sum of squares is one matmul of x^2 with a banded 0/1 channel matrix, and the
    automatic gradient is a matmul too. Same formula: x * (bias + alpha * window sum)^-beta.
    (A hand-written gradient measured no faster, so the automatic one is kept.)
    """
    index = np.arange(channels)
    band = (np.abs(index[:, None] - index[None, :]) <= int(depth_radius)).astype(np.float32)
    # einsum, not a Conv2D/MatMul node: graph FLOP counters keep counting the network's own convs.
    window = tf.einsum("nhwc,cd->nhwd", tf.square(x), tf.constant(band))
    scale = float(bias) + float(alpha) * window
    if float(beta) == 0.5:
        return x * tf.math.rsqrt(scale)
    return x * tf.pow(scale, -float(beta))


def _op_bias_add(tf, node, args):
    _require_nhwc(node)
    return tf.nn.bias_add(args[0], args[1])


def _op_matmul(tf, node, args):
    return tf.linalg.matmul(
        args[0], args[1], transpose_a=node.attrs.get("transpose_a", False),
        transpose_b=node.attrs.get("transpose_b", False),
    )  # fmt: skip


_OPS: dict[str, Callable] = {
    "Conv2D": _op_conv2d,
    "BiasAdd": _op_bias_add,
    "Relu": lambda tf, node, args: tf.nn.relu(args[0]),
    "MaxPool": _op_pool,
    "AvgPool": _op_pool,
    "LRN": _op_lrn,
    "Concat": lambda tf, node, args: tf.concat(list(args[1:]), axis=int(args[0])),
    "ConcatV2": lambda tf, node, args: tf.concat(list(args[:-1]), axis=int(args[-1])),
    "Reshape": lambda tf, node, args: tf.reshape(args[0], args[1]),
    "MatMul": _op_matmul,
    "Add": lambda tf, node, args: tf.add(args[0], args[1]),
    "AddV2": lambda tf, node, args: tf.add(args[0], args[1]),
    # Softmax runs in float32 even for a bfloat16 model: probabilities need the precision.
    "Softmax": lambda tf, node, args: tf.nn.softmax(tf.cast(args[0], tf.float32)),
    "Identity": lambda tf, node, args: tf.identity(args[0]),
}


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------
class Inception5h(Model):
    """inception5h (pretrained or untrained stand-in) behind the cadl_utils Model interface.

    Attributes:
        weights: ``pretrained`` or ``untrained``.
        source: where the graph came from (cache path, file, URL, or the stand-in and its seed).
        fallback_reason: why ``auto`` fell back to the stand-in (None otherwise).
        dtype: compute dtype, ``float32`` or ``bfloat16`` (outputs are always float32).
        last_run_nodes: the graph nodes the last ``extract``/``run_nodes`` call computed, in order.
    """

    name = "inception5h"

    def __init__(
        self,
        graph_def,
        labels: Sequence[str] | None,
        *,
        weights: str = "pretrained",
        source: str = "",
        dtype: str = "float32",
    ):
        """Build the model from a GraphDef and the lines of the labels file.

        Args:
            graph_def: a ``tf.compat.v1.GraphDef`` with inception5h's nodes.
            labels: the label file's lines (index 0 is ``dummy``), or None for none.
            weights: ``pretrained`` or ``untrained`` (recorded, shown by ``describe``).
            source: a human-readable origin, e.g. the .pb path.
            dtype: ``float32`` or ``bfloat16`` (weights and input are cast; outputs are float32).
        """
        import tensorflow as tf

        if dtype not in DTYPES:
            raise ParameterError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.weights = weights
        self.source = source
        self.dtype = dtype
        self.fallback_reason: str | None = None
        self.last_run_nodes: tuple[str, ...] = ()
        self._tf = tf
        self._compute_dtype = tf.as_dtype(dtype)
        self._nodes, consts = _parse_graph(graph_def)
        if INPUT_NODE not in self._nodes or self._nodes[INPUT_NODE].op != "Placeholder":
            raise ModelError(
                f"the graph has no Placeholder named {INPUT_NODE!r}; it is not inception5h "
                "(delete the file and load again, or use weights='untrained')"
            )
        self._static = {k: v for k, v in consts.items() if not np.issubdtype(v.dtype, np.floating)}
        self._variables = {
            name: tf.Variable(tf.cast(value, self._compute_dtype), trainable=False, name=_var_name(name))
            for name, value in consts.items()
            if np.issubdtype(value.dtype, np.floating)
        }
        # Shape inference needs the weights' shapes only: keep zero-size views, not a second copy.
        self._shapes_consts = {
            k: np.broadcast_to(np.int8(0), v.shape) if k in self._variables else v for k, v in consts.items()
        }
        del consts
        self._plans: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._checked: set[tuple[str, ...]] = set()
        self._min_sizes: dict[str, int] = {}
        self._node_of: dict[str, str] = {}
        self.layers = self._inventory()
        self._check_ops([self._node_of[info.name] for info in self.layers])
        self.labels = _full_labels(labels)

    # --- graph structure ------------------------------------------------------------------------
    def graph_node_names(self) -> list[str]:
        """Every node name of the underlying graph, in file order (for ``run_nodes``)."""
        return list(self._nodes)

    def _consumers(self, name: str, ops: tuple[str, ...]) -> list[str]:
        return [n.name for n in self._nodes.values() if name in n.inputs and n.op in ops]

    def _inventory(self) -> list[LayerInfo]:
        """The layer inventory read from the graph: convs, mixed blocks, pools, logits, softmax."""
        channels = _propagate(self._nodes, self._shapes_consts, list(self._nodes_topological()), None, None)
        layers: list[LayerInfo] = []
        for node in self._nodes.values():
            name, op = node.name, node.op
            if op == "Conv2D" and name.endswith("_pre_relu/conv"):
                pre = name[: -len("/conv")]
                base = pre[: -len("_pre_relu")]
                count = channels[name].channels
                # The graph's BiasAdd and Relu normally carry these names; follow the edges anyway.
                bias = _prefer(pre, self._consumers(name, ("BiasAdd", "Add", "AddV2")))
                if bias is None:
                    continue
                self._node_of[pre] = bias
                layers.append(LayerInfo(pre, "conv_pre_relu", count))
                relu = _prefer(base, self._consumers(bias, ("Relu",)))
                if relu is not None:
                    self._node_of[base] = relu
                    layers.append(LayerInfo(base, "conv", count))
            elif op in ("Concat", "ConcatV2") and name.startswith("mixed"):
                layers.append(LayerInfo(name, "mixed", channels[name].channels))
            elif op in ("MaxPool", "AvgPool") and not name.startswith("mixed"):
                layers.append(LayerInfo(name, "pool", channels[name].channels))
            elif name.endswith("_pre_activation") and op in ("BiasAdd", "Add", "AddV2"):
                layers.append(LayerInfo(name, "logits", channels[name].channels))
            elif op == "Softmax":
                layers.append(LayerInfo(name, "softmax", channels[name].channels))
        for info in layers:
            self._node_of.setdefault(info.name, info.name)
        return layers

    def _nodes_topological(self):
        return self._plan(tuple(self._nodes))

    def _plan(self, targets: tuple[str, ...]) -> tuple[str, ...]:
        """The ancestors of ``targets`` (inclusive) in an order where inputs come first."""
        key = tuple(sorted(set(targets)))
        if key in self._plans:
            return self._plans[key]
        order: list[str] = []
        done: set[str] = set()
        open_: set[str] = set()  # on the current path: meeting one again means a cycle
        for target in key:
            if target not in self._nodes:
                raise LayerError(f"inception5h's graph has no node {target!r}")
            stack = [(target, False)]
            while stack:
                name, expanded = stack.pop()
                if name in done:
                    continue
                if expanded:
                    open_.discard(name)
                    done.add(name)
                    order.append(name)
                    continue
                if name in open_:
                    raise ModelError(f"the graph has a cycle through {name!r}; it is not a frozen inception5h graph")
                open_.add(name)
                stack.append((name, True))
                for parent in reversed(self._nodes[name].inputs):
                    if parent not in self._nodes:
                        raise ModelError(f"node {name!r} reads {parent!r}, which is not in the graph")
                    if parent not in done:
                        stack.append((parent, False))
        plan = tuple(order)
        self._plans[key] = plan
        return plan

    def _check_ops(self, targets: list[str]) -> None:
        plan = self._plan(tuple(targets))
        if plan in self._checked:
            return
        for name in plan:
            op = self._nodes[name].op
            if op not in SUPPORTED_OPS:
                raise ModelError(
                    f"node {name!r} uses the op {op!r}, which this loader does not implement "
                    f"(supported: {', '.join(SUPPORTED_OPS)}); the file is not the inception5h graph"
                )
        self._checked.add(plan)

    # --- sizes -----------------------------------------------------------------------------------
    def _shape_problem(self, node: str, h: int, w: int) -> _SizeProblem | None:
        try:
            _propagate(self._nodes, self._shapes_consts, self._plan((node,)), h, w)
        except _SizeProblem as problem:
            return problem
        return None

    def min_size(self, name: str) -> int:
        """Exact smallest side (px, square image) at which layer ``name`` can be computed.

        Example: ``softmax2`` needs ``ceil(side / 32) >= 7`` for its 7x7 VALID average pool, so 193.
        """
        self.layer(name)
        if name not in self._min_sizes:
            node = self._node_of[name]
            for side in range(1, _MAX_SEARCH_SIZE + 1):
                if self._shape_problem(node, side, side) is None:
                    self._min_sizes[name] = side
                    break
            else:
                raise LayerError(f"{name!r} cannot be computed at any size up to {_MAX_SEARCH_SIZE} px")
        return self._min_sizes[name]

    def _nearest_working(self, node: str, h: int, w: int) -> list[tuple[int, int]]:
        """Nearby sizes that work: the nearest square and, for a non-square image, one keeping its height."""
        found: list[tuple[int, int]] = []
        side = max(h, w)
        for delta in range(_MAX_SEARCH_SIZE):
            hits = [s for s in (side - delta, side + delta) if s >= 1 and self._shape_problem(node, s, s) is None]
            if hits:
                found.append((hits[0], hits[0]))
                break
        if h != w:
            for delta in range(1, 513):
                hits = [c for c in (w - delta, w + delta) if c >= 1 and self._shape_problem(node, h, c) is None]
                if hits:
                    found.append((h, hits[0]))
                    break
        return found

    def check_size(self, name: str, height: int, width: int) -> None:
        """Raise LayerError unless layer ``name`` can be computed on a height x width image.

        Raises:
            LayerError: image too small (names the minimum size), or a size the auxiliary heads'
                reshape cannot take (names sizes that work).
        """
        self.layer(name)
        node = self._node_of[name]
        problem = self._shape_problem(node, int(height), int(width))
        if problem is None:
            return
        if problem.kind == "small":
            need = self.min_size(name)
            raise LayerError(
                f"layer {name!r} needs images of at least {need}x{need} px, got {height}x{width} "
                f"({problem.detail}). Use a larger image (e.g. resize it to {max(need, CLASSIFY_SIZE)} px) "
                "or an earlier layer."
            )
        sizes = ", ".join(f"{a}x{b}" for a, b in self._nearest_working(node, int(height), int(width)))
        other = ""
        if name != "softmax2" and "softmax2" in self.layer_names("softmax"):
            other = f", or use softmax2 (any size from {self.min_size('softmax2')} px)"
        raise LayerError(
            f"layer {name!r} cannot be computed on a {height}x{width} image: {problem.detail}. "
            f"Sizes that work nearby: {sizes or 'none found'}. Resize the image{other}."
        )

    # --- computation -----------------------------------------------------------------------------
    def preprocess(self, images):
        """RGB in [0, 1] -> the network's input space (0..255 minus 117)."""
        return images * 255.0 - MEAN

    def deprocess(self, inputs):
        """The network's input space -> RGB in [0, 1] (not clipped)."""
        return (inputs + MEAN) / 255.0

    def run_nodes(self, inputs, nodes: Sequence[str]) -> list:
        """Compute raw graph nodes (any name from ``graph_node_names``) for network-space inputs.

        Args:
            inputs: float tensor [N, H, W, 3] already preprocessed (0..255 minus 117).
            nodes: graph node names, e.g. ``localresponsenorm0`` or ``nn0``.

        Returns:
            One float32 tensor per node, exactly as the graph computes it (no row averaging).
        """
        tf = self._tf
        targets = tuple(nodes)
        for name in targets:
            if name not in self._nodes:
                close = difflib.get_close_matches(name, list(self._nodes), n=5, cutoff=0.5)
                hint = f" Closest nodes: {', '.join(close)}." if close else ""
                raise LayerError(f"inception5h's graph has no node {name!r}.{hint}")
        plan = self._plan(targets)
        self._check_ops(list(targets))
        x = tf.cast(inputs, self._compute_dtype)
        values: dict[str, object] = {}
        for name in plan:
            node = self._nodes[name]
            if node.op == "Placeholder":
                if name != INPUT_NODE:
                    raise ModelError(f"the graph has a second input {name!r}; only {INPUT_NODE!r} is fed")
                values[name] = x
            elif node.op == "Const":
                values[name] = self._variables.get(name, self._static.get(name))
            else:
                values[name] = _OPS[node.op](tf, node, [values[i] for i in node.inputs])
        self.last_run_nodes = plan
        return [tf.cast(values[name], tf.float32) for name in targets]

    def extract(self, images, names: Sequence[str], *, rows: bool = False) -> list:
        """Differentiable features of a batch of images.

        Args:
            images: float32 [N, H, W, 3], RGB in [0, 1] (a tensor or an array).
            names: layer names from ``layers``.
            rows: for logits/softmax, return the graph's raw rows ([N * rows, 1008]) instead of
                the per-image mean ([N, 1008]).

        Returns:
            One float32 tensor per name: [N, h, w, C] for spatial layers, [N, C] for logits and
            softmax (images larger than 224 px give several rows; they are averaged per image).
        """
        tf = self._tf
        names = list(names)
        infos = [self.layer(name) for name in names]
        images = _as_batch(tf, images)
        height, width = images.shape[1], images.shape[2]
        if height is not None and width is not None:
            for name in names:
                self.check_size(name, height, width)
        nodes = [self._node_of[name] for name in names]
        values = self.run_nodes(self.preprocess(images), nodes)
        if rows:
            return values
        count = tf.shape(images)[0]
        result = []
        for info, value in zip(infos, values):
            if info.kind in ("logits", "softmax"):
                value = tf.reduce_mean(tf.reshape(value, [count, -1, info.channels]), axis=1)
            result.append(value)
        return result

    def extract_rows(self, images, names: Sequence[str]) -> list:
        """Like ``extract`` but logits/softmax keep every row the graph gives ([N * rows, 1008])."""
        return self.extract(images, names, rows=True)

    def classify(self, image, top: int = 5) -> list[tuple[int, str, float]]:
        """Top classes of one image by softmax2 (images under 224 px are scaled up to 224).

        Args:
            image: RGB array [H, W, 3] in [0, 1].
            top: how many classes (1..1008).

        Returns:
            ``(index, label, probability)`` tuples, most probable first.
        """
        tf = self._tf
        if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= NUM_CLASSES:
            raise ParameterError(f"top must be an integer from 1 to {NUM_CLASSES}, got {top!r}")
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ImageError(f"classify takes one RGB image [H, W, 3], got shape {array.shape}; for a batch call extract")
        height, width = array.shape[:2]
        if min(height, width) < CLASSIFY_SIZE:
            scale = CLASSIFY_SIZE / min(height, width)
            size = (max(CLASSIFY_SIZE, round(height * scale)), max(CLASSIFY_SIZE, round(width * scale)))
            array = tf.image.resize(array, size, method="bilinear").numpy()
        probs = self.extract(array[None], ["softmax2"])[0][0].numpy()
        order = np.argsort(-probs, kind="stable")[: int(top)]
        return [(int(i), self.label(int(i)), float(probs[i])) for i in order]

    def describe(self) -> str:
        """One line naming the model, its weights and (for bfloat16) its compute dtype."""
        text = super().describe()
        if self.dtype != "float32":
            text += f" [{self.dtype}]"
        return text


def _prefer(name: str, candidates: list[str]) -> str | None:
    if name in candidates:
        return name
    return candidates[0] if candidates else None


def _var_name(node: str) -> str:
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in node)


def _full_labels(lines: Sequence[str] | None) -> list[str]:
    """1008 labels: the file's lines, and ``(no label: N)`` where the file has none."""
    lines = [line.strip() for line in (lines or [])]
    labels = []
    for index in range(max(NUM_CLASSES, len(lines))):
        text = lines[index] if index < len(lines) else ""
        labels.append(text or f"(no label: {index})")
    return labels


def _as_batch(tf, images):
    images = tf.convert_to_tensor(images)
    if not images.dtype.is_floating:
        raise ImageError(f"images must be float RGB in [0, 1], got dtype {images.dtype.name}; divide uint8 by 255")
    images = tf.cast(images, tf.float32)
    shape = images.shape
    if shape.rank != 4 or shape[-1] not in (3, None):
        raise ImageError(f"images must be a batch [N, H, W, 3], got shape {list(shape)}; add a batch axis with x[None]")
    return images


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------
_MODELS: dict[tuple, Inception5h] = {}
_MODELS_LOCK = threading.Lock()


def untrained_inception5h(seed: int = 0, dtype: str = "float32") -> Inception5h:
    """The untrained stand-in, built in memory once per (seed, dtype) and then shared.

    Args:
        seed: seed of the random weights.
        dtype: ``float32`` or ``bfloat16``.

    Returns:
        An Inception5h with ``weights == "untrained"``.
    """
    key = ("untrained", int(seed), dtype)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = Inception5h(
                standin.standin_graphdef(seed),
                standin.standin_labels(),
                weights="untrained",
                source=f"untrained stand-in (seed {seed}, built in memory)",
                dtype=dtype,
            )
        return _MODELS[key]


def read_graphdef(path: str | os.PathLike):
    """Read a frozen GraphDef (.pb) file.

    Raises:
        ModelError: the file is missing or not a GraphDef.
    """
    import tensorflow as tf
    from google.protobuf.message import DecodeError

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read the graph file {path}: {error}") from error
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(data)
    except DecodeError as error:
        raise ModelError(
            f"{path} is not a TensorFlow graph (.pb): {error}. Delete it and load again, "
            "or use weights='untrained'"
        ) from error
    return graph_def


def read_labels(path: str | os.PathLike | None) -> list[str] | None:
    """The lines of a labels file (None when there is no file)."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"cannot read the labels file {path}: {error}") from error


def pretrained_from_files(pb: str | os.PathLike, labels: str | os.PathLike | None, source: str = "", dtype: str = "float32") -> Inception5h:
    """Load inception5h from a .pb and a labels file (cached in-process per file version and dtype)."""
    pb = Path(pb).resolve()
    try:
        stat = pb.stat()
    except OSError as error:
        raise ModelError(f"cannot read the graph file {pb}: {error}") from error
    key = ("pretrained", str(pb), stat.st_size, stat.st_mtime_ns, str(labels), dtype)
    with _MODELS_LOCK:
        if key not in _MODELS:
            model = Inception5h(read_graphdef(pb), read_labels(labels), weights="pretrained", source=source or str(pb), dtype=dtype)
            _MODELS[key] = model
        return _MODELS[key]


def _load_pretrained(cache_dir, path, sha1, verify, url, dtype, zip_sha1, pb_sha1, download_options) -> Inception5h:
    from . import download

    if path is not None:
        files = download.inception5h_from_file(
            path, sha1=None if sha1 is PINNED else sha1, verify=verify, cache_dir=cache_dir
        )
    else:
        if sha1 is not PINNED:
            raise ParameterError(
                "sha1= checks the file given as path=; for a download (or a mirror) pass zip_sha1= and pb_sha1="
            )
        hashes = {}
        if not verify:
            hashes = {"zip_sha1": None, "pb_sha1": None}
        for key, value in (("zip_sha1", zip_sha1), ("pb_sha1", pb_sha1)):
            if value is not PINNED and verify:
                hashes[key] = value
        files = download.ensure_inception5h(cache_dir, url, **hashes, **download_options)
    source = f"{files.source}: {files.pb}"
    if not getattr(files, "verified", True):
        source += " (not verified against a SHA-1)"
    return pretrained_from_files(files.pb, files.labels, source=source, dtype=dtype)


def load_inception5h(
    weights: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    path: str | os.PathLike | None = None,
    sha1=PINNED,
    verify: bool = True,
    url: str | None = None,
    seed: int = 0,
    dtype: str = "float32",
    *,
    zip_sha1=PINNED,
    pb_sha1=PINNED,
    progress: bool = True,
    timeout: float | None = None,
    retries: int | None = None,
) -> Inception5h:
    """Load inception5h.

    Args:
        weights: ``pretrained`` (download/cache, verify, load), ``untrained`` (seeded stand-in
            built in memory) or ``auto`` (pretrained when obtainable, else the stand-in with a
            warning); None reads ``CADL_WEIGHTS`` (default ``pretrained``). Passing ``path``
            without ``weights`` means ``pretrained``.
        cache_dir: folder for the download (default ``CADL_CACHE_DIR`` or ~/.cache/cadl_utils).
        path: a zip or .pb you already have (or a folder holding one), used instead of downloading.
        sha1: expected SHA-1 of ``path`` (default: the pinned hash of a zip or .pb).
        verify: check hashes (False only for a custom graph you trust; a warning is shown).
        url: a mirror of inception5h.zip (default ``CADL_INCEPTION5H_URL`` or Google's URL).
        seed: seed of the untrained stand-in.
        dtype: compute dtype, ``float32`` or ``bfloat16``.
        zip_sha1, pb_sha1: expected hashes of a download and of its graph (default: the pins; for
            tests and custom mirrors).
        progress: show a download progress bar (or a ``hook(received, total)``).
        timeout, retries: network settings of the download (default: the download module's).

    Returns:
        An Inception5h; ``model.weights`` says what was loaded, ``model.source`` where from and
        ``model.fallback_reason`` why ``auto`` fell back to the stand-in.
    """
    if dtype not in DTYPES:
        raise ParameterError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if weights is None and path is not None:
        weights = "pretrained"
    mode = config.weights_mode(weights)
    if mode == "untrained":
        if path is not None:
            raise ParameterError("path= loads your own graph file; use weights='pretrained' (or 'auto') with it")
        return untrained_inception5h(seed, dtype)
    options = {"progress": progress}
    if timeout is not None:
        options["timeout"] = timeout
    if retries is not None:
        options["retries"] = retries
    args = (cache_dir, path, sha1, verify, url, dtype, zip_sha1, pb_sha1, options)
    if mode == "pretrained":
        return _load_pretrained(*args)
    try:
        return _load_pretrained(*args)
    except (CadlError, OSError, ImportError) as error:
        reason = f"{type(error).__name__}: {error}"
    warnings.warn(
        "inception5h: the pretrained weights are not available, so the UNTRAINED stand-in is used "
        f"(pictures will be textures, not objects). Reason: {reason}",
        RuntimeWarning,
        stacklevel=2,
    )
    model = copy.copy(untrained_inception5h(seed, dtype))  # shares the weights, not the reason
    model.fallback_reason = reason
    return model
