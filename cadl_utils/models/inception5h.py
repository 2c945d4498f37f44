"""inception5h, Google's 2015 Deep Dream network, run natively in TensorFlow 2.

The frozen TF1 graph (``tensorflow_inception_graph.pb``) is interpreted node by node with a small op
table, so features are TF2 tensors (differentiable, eager or in ``tf.function``); it matches TensorFlow's
``import_graph_def`` to float tolerance and is faster. Weights are non-trainable variables, and a request
computes only the nodes its layers need. Three rewrites (LRN by a banded 1x1 conv, the strided RGB conv2d0 as
space-to-depth, a ReLU moved after its max-pool) sit behind one switch, ``rewrites``. Input: RGB 0..255 minus 117.
Over 224 px, logits and softmax give several class rows per image: ``extract`` averages them (``rows=True`` keeps them).
"""

from __future__ import annotations

import copy
import difflib
import graphlib
import math
import threading
import warnings
from collections import Counter, namedtuple
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from google.protobuf.message import DecodeError

from .. import config
from ..errors import CadlError, LayerError, ModelError, ParameterError
from ..images import resize
from ..settings import MAX_SEED, Settings, check_float, check_int, setting
from . import download, standin
from .base import LayerInfo, Model

config.quiet_tensorflow()
import tensorflow as tf  # noqa: E402

MEAN = 117.0
INPUT_NODE = "input"
CLASSIFY_SIZE = 224
# TF's defaults for LRN attributes a graph may leave out.
_LRN_DEFAULTS = {"depth_radius": 5, "bias": 1.0, "alpha": 1.0, "beta": 0.5}
_MAX_SEARCH_SIZE = 4096


# One graph node without its weights: name, op, data inputs (a tuple) and plain-Python attributes.
_Node = namedtuple("_Node", "name op inputs attrs")
# Per-image shape: a spatial map (h, w, channels) or ``rows`` rows of ``channels`` values.
_Shape = namedtuple("_Shape", "h w channels rows spatial", defaults=(None, None, None, None, True))


# --- reading the GraphDef -----------------------------------------------------------------------
def _attr_value(value):
    """A NodeDef attribute as plain Python (strings decoded, lists as lists); tensors are skipped."""
    field = value.WhichOneof("value")
    if field == "s":
        return value.s.decode("utf-8", "replace")
    if field in ("i", "f", "b", "type"):
        return getattr(value, field)
    if field == "list":
        for kind in ("i", "f", "b", "type"):
            if getattr(value.list, kind):
                return list(getattr(value.list, kind))
        return [s.decode("utf-8", "replace") for s in value.list.s]
    return None


def _parse_graph(graph_def) -> tuple[dict[str, _Node], dict[str, np.ndarray]]:
    """Split a GraphDef into light nodes (in file order) and the values of its Const nodes."""
    nodes, consts = {}, {}
    for node_def in graph_def.node:
        inputs = []
        for text in node_def.input:
            name, _, index = text.partition(":")
            if index not in ("", "0"):
                raise ModelError(f"node {node_def.name!r} reads output {text!r}; only single-output ops are supported")
            if not text.startswith("^"):  # control dependencies: a frozen graph needs none
                inputs.append(name)
        attrs = {}
        for key, value in node_def.attr.items():
            if node_def.op == "Const" and key == "value":
                consts[node_def.name] = tf.make_ndarray(value.tensor)
            else:
                attrs[key] = _attr_value(value)
        nodes[node_def.name] = _Node(node_def.name, node_def.op, tuple(inputs), attrs)
    return nodes, consts


# --- static shapes: which image sizes a node can be computed at ----------------------------------
class _SizeProblem(Exception):
    """A node cannot be computed at the given input size (``kind``: ``small`` or ``reshape``; ``detail``: why)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


def _window_out(size: int | None, k: int, stride: int, padding: str, node: str) -> int | None:
    if size is None:
        return None
    if padding == "SAME":
        return -(-size // stride)
    if size < k:
        raise _SizeProblem("small", f"{node} is a {k}x{k} VALID window but its input is only {size} px")
    return (size - k) // stride + 1


def _node_shape(node: _Node, consts: dict, shapes: dict[str, _Shape], h, w) -> _Shape:
    """The per-image shape of one node from its inputs' shapes (h, w None: channels only)."""
    data = [shapes[i] for i in node.inputs if i in shapes]
    if node.op == "Placeholder":
        return _Shape(h, w, 3)
    if node.op in ("Conv2D", "MaxPool", "AvgPool"):
        if node.op == "Conv2D":
            if len(node.inputs) != 2 or node.inputs[1] not in consts:
                raise ModelError(f"{node.name}: the filter of a Conv2D must be a Const node")
            kh, kw, _, channels = consts[node.inputs[1]].shape
        else:
            _, kh, kw, _ = node.attrs.get("ksize", [1, 1, 1, 1])
            channels = data[0].channels
        stride = node.attrs.get("strides", [1, 1, 1, 1])
        pad = node.attrs.get("padding", "SAME" if node.op == "Conv2D" else "VALID")
        return _Shape(_window_out(data[0].h, kh, stride[1], pad, node.name),
                      _window_out(data[0].w, kw, stride[2], pad, node.name), int(channels))
    if node.op in ("Concat", "ConcatV2"):
        counts = [part.channels for part in data]
        return data[0]._replace(channels=None if None in counts else sum(counts))
    if node.op == "Reshape":
        return _reshape_shape(node.name, data[0], consts.get(node.inputs[1]))
    if node.op == "MatMul":
        cols = consts[node.inputs[1]].shape[1] if node.inputs[1] in consts else None
        return _Shape(channels=cols, rows=data[0].rows, spatial=False)
    return data[0] if data else _Shape()  # element-wise ops keep their first input's shape


def _reshape_shape(name: str, src: _Shape, target) -> _Shape:
    """Shape after a Reshape to [-1, K]: the rows per image, if the image's values split evenly."""
    if target is None or target.ndim != 1 or len(target) != 2 or target[0] != -1 or target[1] <= 0:
        return _Shape(spatial=False)
    width = int(target[1])
    if src.channels is None or (src.h is None if src.spatial else src.rows is None):
        return _Shape(channels=width, spatial=False)
    cells = src.h * src.w if src.spatial else src.rows
    grid = f"{src.h}x{src.w}x{src.channels}" if src.spatial else f"{src.rows}x{src.channels}"
    values = cells * src.channels
    if values % width:
        need = width // math.gcd(width, src.channels)
        raise _SizeProblem("reshape", f"{name} reshapes each image's {grid} values to rows of {width}, "
                                   f"which needs a grid of a multiple of {need} cells")
    return _Shape(channels=width, rows=values // width, spatial=False)


# --- the op table (``_Graph.plan`` has checked the layout: NHWC, SAME or VALID) ----------------------
def _op_conv2d(node: _Node, args):
    attrs = node.attrs
    return tf.nn.conv2d(args[0], args[1], strides=attrs.get("strides", [1, 1, 1, 1]),
                        padding=attrs.get("padding", "SAME"), dilations=attrs.get("dilations") or [1, 1, 1, 1])


def _op_pool(node: _Node, args):
    pool = tf.nn.max_pool2d if node.op == "MaxPool" else tf.nn.avg_pool2d
    return pool(args[0], ksize=node.attrs["ksize"], strides=node.attrs["strides"], padding=node.attrs["padding"])


def _op_lrn(node: _Node, args):
    # TensorFlow has no bfloat16 LRN kernel on CPU: normalise in float32.
    attrs = {key: node.attrs.get(key, default) for key, default in _LRN_DEFAULTS.items()}
    return tf.cast(tf.nn.local_response_normalization(tf.cast(args[0], tf.float32), **attrs), args[0].dtype)


_OPS = {
    "Conv2D": _op_conv2d,
    "BiasAdd": lambda node, args: tf.nn.bias_add(args[0], args[1]),
    "Relu": lambda node, args: tf.nn.relu(args[0]),
    "MaxPool": _op_pool,
    "AvgPool": _op_pool,
    "LRN": _op_lrn,
    "Concat": lambda node, args: tf.concat(list(args[1:]), axis=int(args[0])),
    "ConcatV2": lambda node, args: tf.concat(list(args[:-1]), axis=int(args[-1])),
    "Reshape": lambda node, args: tf.reshape(args[0], args[1]),
    "MatMul": lambda node, args: tf.linalg.matmul(args[0], args[1], transpose_a=node.attrs.get("transpose_a", False),
                                                  transpose_b=node.attrs.get("transpose_b", False)),
    "Add": lambda node, args: tf.add(args[0], args[1]),
    "AddV2": lambda node, args: tf.add(args[0], args[1]),
    # Softmax runs in float32 even for a bfloat16 model: probabilities need the precision.
    "Softmax": lambda node, args: tf.nn.softmax(tf.cast(args[0], tf.float32)),
    "Identity": lambda node, args: tf.identity(args[0]),
}
SUPPORTED_OPS = ("Placeholder", "Const", *_OPS)


# --- the rewrites (used when the model's ``rewrites`` is True; the ReLU/max-pool swap is in _Graph.run) ----
def _s2d_applies(node: _Node, x, kernel) -> bool:
    """Whether a Conv2D is strided SAME on few input channels (conv2d0 on the RGB image): only such a conv
    has a slow input gradient (TF's strided Conv2DBackpropInput with 3 output channels)."""
    attrs, strides = node.attrs, list(node.attrs.get("strides", [1, 1, 1, 1]))
    return (attrs.get("padding", "SAME") == "SAME" and list(attrs.get("dilations") or [1, 1, 1, 1]) == [1, 1, 1, 1]
            and strides[1] > 1 and strides == [1, strides[1], strides[1], 1]
            and x.shape.rank == 4 and kernel.shape.is_fully_defined() and kernel.shape[2] <= 4)


def _same_pads(size, k: int, stride: int, blocks: int):
    """TF's SAME padding (top, bottom), the bottom extended to ``stride * (out + blocks - 1)``; ``size`` is
    an int (static shape) or a scalar int32 tensor (images of any size in one trace)."""
    out = -(-size // stride)
    total = (out - 1) * stride + k - size
    top = max(total, 0) // 2 if isinstance(size, int) else tf.maximum(total, 0) // 2
    return top, stride * (out + blocks - 1) - size - top


def _conv2d_fast(node: _Node, args):
    """Conv2D; a strided SAME conv on few channels runs as space-to-depth plus a stride-1 VALID conv: the
    same sums (the kernel zero-padded to a multiple of s, its taps regrouped into s*s*C_in channels), but
    the input gradient is a stride-1 backprop on 12 channels instead of TF's slow strided one on 3."""
    x, kernel = args
    if not _s2d_applies(node, x, kernel):
        return _op_conv2d(node, args)
    stride = int(node.attrs["strides"][1])
    kh, kw, cin, cout = (int(n) for n in kernel.shape)
    bh, bw = -(-kh // stride), -(-kw // stride)
    height = x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]
    width = x.shape[2] if x.shape[2] is not None else tf.shape(x)[2]
    top, bottom = _same_pads(height, kh, stride, bh)
    left, right = _same_pads(width, kw, stride, bw)
    # Static pads are ints; traced for any size, scalar tensors that tf.pad packs with the ints.
    blocks = tf.nn.space_to_depth(tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]), stride)
    padded = tf.pad(kernel, [[0, stride * bh - kh], [0, stride * bw - kw], [0, 0], [0, 0]])
    # Tap (stride*a + i, stride*b + j) of input channel c goes to block tap (a, b), channel
    # (i * stride + j) * cin + c: the channel order of tf.nn.space_to_depth.
    taps = tf.reshape(padded, [bh, stride, bw, stride, cin, cout])
    taps = tf.reshape(tf.transpose(taps, [0, 2, 1, 3, 4, 5]), [bh, bw, stride * stride * cin, cout])
    return tf.nn.conv2d(blocks, taps, strides=1, padding="VALID")


def _lrn_fast(node: _Node, args):
    """LRN, x * (bias + alpha * window sum of x^2)^-beta, in the compute dtype: the window sum a 1x1 conv with a
    banded channel matrix (the bias fused into it), the gradient by hand (TF's LRN is float32-only; autodiff
    makes ~15 large ops). Elementwise ops on these large maps cost more than the convs: each one counts."""
    attrs = {key: node.attrs.get(key, default) for key, default in _LRN_DEFAULTS.items()}
    channels = args[0].shape[-1] if args[0].shape.rank is not None else None
    if channels is None or attrs["depth_radius"] < 0:
        return _op_lrn(node, args)
    index = np.arange(channels)
    band = (np.abs(index[:, None] - index[None, :]) <= int(attrs["depth_radius"])).astype(np.float32)
    bias, alpha, beta = float(attrs["bias"]), float(attrs["alpha"]), float(attrs["beta"])
    forward, backward = (tf.constant(band[None, None] * f, args[0].dtype) for f in (alpha, 2.0 * alpha * beta))
    offset = tf.constant(np.full(channels, bias, np.float32), args[0].dtype)

    @tf.custom_gradient
    def lrn(x):
        scale = tf.nn.bias_add(tf.nn.conv2d(tf.square(x), forward, 1, "VALID"), offset)
        power = tf.math.rsqrt(scale) if beta == 0.5 else tf.pow(scale, -beta)
        y = x * power

        def grad(g):
            # dy_c/dx_k = power_k [c = k] - 2 alpha beta x_k y_c / scale_c [|c - k| <= radius]; the band is symmetric.
            # With beta 0.5, -g y / scale is ReciprocalGrad(power, g y) = -g y power^2: one op, not a division.
            ratio = tf.raw_ops.ReciprocalGrad(y=power, dy=g * y) if beta == 0.5 else -g * y / scale
            return g * power + x * tf.nn.conv2d(ratio, backward, 1, "VALID")

        return y, grad

    return lrn(args[0])


_REWRITES = {"Conv2D": _conv2d_fast, "LRN": _lrn_fast}


# --- the graph ----------------------------------------------------------------------------------
class _Graph:
    """A parsed frozen graph: nodes, weights as variables, execution plans and static shapes."""

    def __init__(self, graph_def, dtype: str):
        self.dtype = tf.as_dtype(dtype)
        self.nodes, consts = _parse_graph(graph_def)
        if INPUT_NODE not in self.nodes or self.nodes[INPUT_NODE].op != "Placeholder":
            raise ModelError(f"the graph has no Placeholder named {INPUT_NODE!r}; it is not inception5h "
                             "(delete the file and load again, or use weights='untrained')")
        floats = {name for name, value in consts.items() if np.issubdtype(value.dtype, np.floating)}
        self.static = {name: value for name, value in consts.items() if name not in floats}
        self.variables = {name: tf.Variable(tf.cast(consts[name], self.dtype), trainable=False,
                                            name="".join(c if c.isalnum() or c in "_-." else "_" for c in name))
                          for name in floats}
        # Shape inference needs only the weights' shapes: zero-size views, not a second copy.
        self.shape_consts = {k: np.broadcast_to(np.int8(0), v.shape) if k in floats else v for k, v in consts.items()}
        self._plans: dict[tuple[str, ...], tuple[str, ...]] = {}

    def plan(self, targets: Sequence[str]) -> tuple[str, ...]:
        """The ancestors of ``targets`` (inclusive), inputs first; every op must be supported."""
        key = tuple(sorted(set(targets)))
        if key not in self._plans:
            needed, queue = {}, list(key)  # a dict: an ordered set
            while queue:
                name = queue.pop()
                if name not in self.nodes:
                    raise ModelError(f"the graph has no node {name!r} (read by another node)")
                if name not in needed:
                    needed[name] = self.nodes[name].inputs
                    queue.extend(needed[name])
            try:
                order = tuple(graphlib.TopologicalSorter(needed).static_order())
            except graphlib.CycleError as error:
                raise ModelError(f"the graph has a cycle through {error.args[1][0]!r}; it is not a frozen "
                                 "inception5h graph") from error
            for node in (self.nodes[name] for name in order):
                if node.op not in SUPPORTED_OPS:
                    raise ModelError(f"node {node.name!r} uses the op {node.op!r}, which this loader does not implement "
                                     f"(supported: {', '.join(SUPPORTED_OPS)}); the file is not the inception5h graph")
                layout = node.attrs.get("data_format") or "NHWC", node.attrs.get("padding", "SAME")
                if layout[0] != "NHWC" or layout[1] not in ("SAME", "VALID"):
                    raise ModelError(f"node {node.name!r} uses data_format {layout[0]} and padding {layout[1]}; "
                                     "only NHWC with SAME or VALID padding is supported")
            self._plans[key] = order
        return self._plans[key]

    def shapes(self, targets: Sequence[str], h=None, w=None) -> dict[str, _Shape]:
        """Per-image shapes for an h x w input (None: channels only); raises _SizeProblem."""
        shapes = {}
        for name in self.plan(targets):
            if self.nodes[name].op != "Const":
                shapes[name] = _node_shape(self.nodes[name], self.shape_consts, shapes, h, w)
        return shapes

    def size_problem(self, node: str, h: int, w: int) -> _SizeProblem | None:
        try:
            self.shapes([node], h, w)
        except _SizeProblem as problem:
            return problem
        return None

    def run(self, inputs, targets: Sequence[str], rewrites: bool) -> list:
        """Compute ``targets`` for network-space inputs (float32 outputs)."""
        values, plan = {}, self.plan(targets)
        readers = Counter(source for name in plan for source in self.nodes[name].inputs)
        for name in plan:
            node = self.nodes[name]
            source = self.nodes[node.inputs[0]] if node.inputs else node
            if rewrites and node.op == "MaxPool" and source.op == "Relu" and readers[source.name] == 1:
                # ReLU after the max-pool: the same values, and its gradient on the 4x smaller pooled map (the
                # unused ReLU before it is pruned from the traced graph).
                values[name] = tf.nn.relu(_op_pool(node, [values[source.inputs[0]]]))
            elif node.op == "Placeholder":
                if name != INPUT_NODE:
                    raise ModelError(f"the graph has a second input {name!r}; only {INPUT_NODE!r} is fed")
                values[name] = tf.cast(inputs, self.dtype)
            elif node.op == "Const":
                values[name] = self.variables.get(name, self.static.get(name))
            else:
                op = (_REWRITES.get(node.op) if rewrites else None) or _OPS[node.op]
                values[name] = op(node, [values[i] for i in node.inputs])
        return [tf.cast(values[name], tf.float32) for name in targets]


# --- the model ----------------------------------------------------------------------------------
class Inception5h(Model):
    """inception5h (pretrained or the untrained stand-in) behind the cadl_utils Model interface.

    Attributes: ``weights``; ``source`` (cache path, file, or the stand-in and its seed); ``fallback_reason``
    (why ``weights="auto"`` fell back, else None); ``precision`` (asked for: auto, float32 or bfloat16),
    ``dtype`` (what the network computes in) and ``precision_reason`` (why; outputs are float32);
    ``rewrites`` (LRN, conv2d0 and the ReLU before a max-pool by the faster rewrites; False: TF's plain ops).
    """

    name = "inception5h"

    def __init__(self, graph_def, labels: Sequence[str] | None, *, weights: str = "pretrained", source: str = "",
                 precision: str | None = None, rewrites: bool = True):
        """Build the model from a ``tf.compat.v1.GraphDef`` and the lines of the labels file (or None)."""
        self.weights, self.source, self.fallback_reason, self.rewrites = weights, source, None, rewrites
        self.precision = config.precision(precision)
        self.dtype, self.precision_reason = config.compute_dtype(self.precision)
        self.graph = _Graph(graph_def, self.dtype)
        self._min_sizes: dict[str, int] = {}
        self._node_of: dict[str, str] = {}
        self.layers = self._inventory()
        self.graph.plan([self._node_of[info.name] for info in self.layers])  # unsupported ops fail now
        lines = [line.strip() for line in labels or []]
        count = max(standin.NUM_CLASSES, len(lines))
        self.labels = [(lines[i] if i < len(lines) else "") or f"(no label: {i})" for i in range(count)]

    def nodes_for(self, names: Sequence[str]) -> tuple[str, ...]:
        """Debugging aid: the graph nodes ``extract(images, names)`` computes, in order."""
        return self.graph.plan([self._node_of[self.layer(name).name] for name in names])

    def _consumer(self, name: str, ops: tuple[str, ...], preferred: str) -> str | None:
        """The node of one of ``ops`` reading ``name``: ``preferred`` if it is one, else the first."""
        found = [n.name for n in self.graph.nodes.values() if name in n.inputs and n.op in ops]
        return preferred if preferred in found else (found[0] if found else None)

    def _inventory(self) -> list[LayerInfo]:
        """The layer inventory read from the graph: convs, mixed blocks, pools, logits, softmax."""
        channels = self.graph.shapes(list(self.graph.nodes))
        layers = []
        for node in self.graph.nodes.values():
            name, op = node.name, node.op
            count = channels[name].channels if name in channels else None
            if op == "Conv2D" and name.endswith("_pre_relu/conv"):
                # The graph's BiasAdd and Relu normally carry these names; follow the edges anyway.
                pre = name[: -len("/conv")]
                bias = self._consumer(name, ("BiasAdd", "Add", "AddV2"), pre)
                relu = self._consumer(bias, ("Relu",), pre[: -len("_pre_relu")]) if bias else None
                for layer, node_name, kind in ((pre, bias, "conv_pre_relu"), (pre[: -len("_pre_relu")], relu, "conv")):
                    if node_name is not None:
                        self._node_of[layer] = node_name
                        layers.append(LayerInfo(layer, kind, count))
                continue
            if op in ("Concat", "ConcatV2") and name.startswith("mixed"):
                kind = "mixed"
            elif op in ("MaxPool", "AvgPool") and not name.startswith("mixed"):
                kind = "pool"
            elif name.endswith("_pre_activation") and op in ("BiasAdd", "Add", "AddV2"):
                kind = "logits"
            elif op == "Softmax":
                kind = "softmax"
            else:
                continue
            self._node_of[name] = name
            layers.append(LayerInfo(name, kind, count))
        return layers

    def min_size(self, name: str) -> int:
        """Exact smallest side (px, square image) for layer ``name`` (``softmax2``: 193, for its 7x7 VALID pool)."""
        node = self._node_of[self.layer(name).name]
        if name not in self._min_sizes:
            sides = (s for s in range(1, _MAX_SEARCH_SIZE + 1) if self.graph.size_problem(node, s, s) is None)
            side = next(sides, None)
            if side is None:
                raise LayerError(f"{name!r} cannot be computed at any size up to {_MAX_SEARCH_SIZE} px")
            self._min_sizes[name] = side
        return self._min_sizes[name]

    def check_size(self, name: str, height: int, width: int) -> None:
        """Raise LayerError unless layer ``name`` can be computed on a height x width image (naming
        the minimum size, or, for the auxiliary heads' reshape, sizes that work)."""
        node, h, w = self._node_of[self.layer(name).name], int(height), int(width)
        works = self.graph.size_problem
        problem = works(node, h, w)  # no walrus: AutoGraph converts this method inside tf.functions and warns on one
        if problem is None:
            return
        if problem.kind == "small":
            need = self.min_size(name)
            raise LayerError(
                f"layer {name!r} needs images of at least {need}x{need} px, got {height}x{width} ({problem.detail}). "
                f"Use a larger image (e.g. resize it to {max(need, CLASSIFY_SIZE)} px) or an earlier layer.")
        # Nearby sizes that work: the nearest square and, for a non-square image, one keeping its height.
        square = next((s for d in range(_MAX_SEARCH_SIZE) for s in (max(h, w) - d, max(h, w) + d)
                       if s >= 1 and works(node, s, s) is None), None)
        width = next((c for d in range(1, 513) for c in (w - d, w + d) if c >= 1 and works(node, h, c) is None), None)
        found = [(square, square)] if square else []
        if h != w and width:
            found.append((h, width))
        sizes = ", ".join(f"{a}x{b}" for a, b in found)
        other = ""
        if name != "softmax2" and "softmax2" in self.layer_names("softmax"):
            other = f", or use softmax2 (any size from {self.min_size('softmax2')} px)"
        raise LayerError(f"layer {name!r} cannot be computed on a {height}x{width} image: {problem.detail}. "
                         f"Sizes that work nearby: {sizes or 'none found'}. Resize the image{other}.")

    def preprocess(self, images):
        return images * 255.0 - MEAN  # RGB 0..255 minus 117

    def deprocess(self, inputs):
        return (inputs + MEAN) / 255.0

    def run_nodes(self, inputs, nodes: Sequence[str]) -> list:
        """Raw graph nodes (any name in ``model.graph.nodes``) of preprocessed inputs [N, H, W, 3]: one float32
        tensor per node, exactly as the graph computes it (no row averaging)."""
        for name in nodes:
            if name not in self.graph.nodes:
                close = difflib.get_close_matches(name, list(self.graph.nodes), n=5, cutoff=0.5)
                hint = f" Closest nodes: {', '.join(close)}." if close else ""
                raise LayerError(f"inception5h's graph has no node {name!r}.{hint}")
        return self.graph.run(inputs, list(nodes), self.rewrites)

    def extract(self, images, names: Sequence[str], *, rows: bool = False) -> list:
        """Differentiable features of a batch [N, H, W, 3] of RGB in [0, 1]: one float32 tensor per name, [N, h, w, C],
        or [N, C] for logits and softmax (a large image's rows averaged; ``rows=True`` keeps them: [N * rows, C])."""
        images = tf.convert_to_tensor(images)
        infos = [self.layer(name) for name in self.check_batch(images, names)]
        images = tf.cast(images, tf.float32)
        values = self.run_nodes(self.preprocess(images), [self._node_of[info.name] for info in infos])
        if rows:
            return values
        return [tf.reduce_mean(tf.reshape(value, [tf.shape(images)[0], -1, info.channels]), axis=1)
                if info.kind in ("logits", "softmax") else value for info, value in zip(infos, values)]

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """softmax2 of one image (scaled up to 224 px if smaller), for ``classify``."""
        height, width = image.shape[:2]
        if min(height, width) < CLASSIFY_SIZE:
            scale = CLASSIFY_SIZE / min(height, width)
            image = resize(image, (max(CLASSIFY_SIZE, round(height * scale)), max(CLASSIFY_SIZE, round(width * scale))))
        return self.extract(image[None], ["softmax2"])[0][0].numpy()


# --- loading ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadOptions(Settings):
    """How ``load_inception5h`` gets the network (also ``load_model("inception5h", weights, **options)``)."""

    cache_dir: object = setting(None, "cache root (default CADL_CACHE_DIR or ~/.cache/cadl_utils)")
    path: object = setting(None, "an inception5h.zip or .pb you already have (or a folder holding one)")
    sha1: str | None = setting(None, "expected SHA-1 of path (default: the pinned one)")
    verify: bool = setting(True, "check the SHA-1s (False only for a graph you trust; warns)")
    url: str | None = setting(None, "a mirror of inception5h.zip (default CADL_INCEPTION5H_URL or Google's)")
    zip_sha1: str | None = setting(None, "expected SHA-1 of a downloaded zip (default: the pin)")
    pb_sha1: str | None = setting(None, "expected SHA-1 of its graph (default: the pin)")
    seed: int = setting(0, "seed of the untrained stand-in's weights")
    precision: str | None = setting(None, "auto, float32 or bfloat16 (None: CADL_PRECISION or auto; old name dtype)")
    rewrites: bool = setting(True, "faster LRN, conv2d0 and ReLU/max-pool rewrites (False: TF's plain ops)")
    progress: object = setting(True, "download progress bar: True, False or a tqdm-like object")
    timeout: float = setting(30.0, "seconds to wait for the server (0..3600)")
    retries: int = setting(3, "download attempts after the first (0..20)")

    def check(self) -> None:
        self._set("precision", config.precision(self.precision))
        self._set("seed", check_int(self.seed, "seed", minimum=0, maximum=MAX_SEED))
        self._set("timeout", check_float(self.timeout, "timeout", above=0, at_most=3600))
        self._set("retries", check_int(self.retries, "retries", minimum=0, maximum=20))
        if self.sha1 is not None and self.path is None:
            raise ParameterError("sha1= checks the file given as path=; for a download (or a mirror) pass "
                                 "zip_sha1= and pb_sha1=")


_MODELS: dict[tuple, Inception5h] = {}
_MODELS_LOCK = threading.Lock()


def _shared(key: tuple, build) -> Inception5h:
    """The model cached under ``key``, built by ``build()`` the first time (once, whatever the threads)."""
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = build()
        return _MODELS[key]


def untrained_inception5h(seed: int = 0, precision: str | None = None, rewrites: bool = True) -> Inception5h:
    """The untrained stand-in (same graph, seeded random weights), built once per process and shared."""
    precision = config.precision(precision)
    return _shared(("untrained", int(seed), precision, rewrites), lambda: Inception5h(
        standin.standin_graphdef(seed), standin.standin_labels(), weights="untrained",
        source=f"untrained stand-in (seed {seed}, built in memory)", precision=precision, rewrites=rewrites))


def _load_pretrained(options: LoadOptions) -> Inception5h:
    """The verified files (``path``, else the cache or a download), loaded once per file version and options."""
    if options.path is not None:
        files = download.inception5h_from_file(options.path, sha1=options.sha1, verify=options.verify,
                                               cache_dir=options.cache_dir)
    else:
        zip_sha1, pb_sha1 = options.zip_sha1 or download.ZIP_SHA1, options.pb_sha1 or download.PB_SHA1
        if not options.verify:
            zip_sha1 = pb_sha1 = None  # no check
        files = download.ensure_inception5h(options.cache_dir, options.url, zip_sha1=zip_sha1, pb_sha1=pb_sha1,
                                            timeout=options.timeout, retries=options.retries, progress=options.progress)
    source = f"{files.source}: {files.pb}" + ("" if files.verified else " (not verified against a SHA-1)")
    pb, labels = files.pb.resolve(), files.labels
    try:
        key = ("pretrained", str(pb), pb.stat().st_size, pb.stat().st_mtime_ns, str(labels), options.precision,
               options.rewrites)
        lines = labels.read_text(encoding="utf-8").splitlines() if labels is not None else None
        return _shared(key, lambda: Inception5h(tf.compat.v1.GraphDef.FromString(pb.read_bytes()), lines,
                                                weights="pretrained", source=source, precision=options.precision,
                                                rewrites=options.rewrites))
    except (OSError, UnicodeDecodeError) as error:
        raise ModelError(f"cannot read the graph or labels file ({pb}, {labels}): {error}") from error
    except DecodeError as error:
        raise ModelError(f"{pb} is not a TensorFlow graph (.pb): {error}. Delete it and load again, "
                         "or use weights='untrained'") from error


def load_inception5h(weights: str | None = None, options: LoadOptions | None = None, **overrides) -> Inception5h:
    """Load inception5h; ``model.weights`` says what was loaded, ``source`` from where, ``fallback_reason`` why.

    Args:
        weights: ``pretrained`` (download or cache, verify, load), ``untrained`` (the seeded stand-in),
            ``auto`` (pretrained when obtainable, else the stand-in with a warning) or None
            (``CADL_WEIGHTS``; ``pretrained`` when ``path`` is given).
        options: a LoadOptions; ``**overrides`` change single fields of it (``dtype``: the old name of ``precision``).
    """
    if "dtype" in overrides:
        overrides["precision"] = overrides.pop("dtype")
    options = LoadOptions.make(options, **overrides)
    mode = config.weights_mode("pretrained" if weights is None and options.path is not None else weights)
    if mode == "untrained":
        if options.path is not None:
            raise ParameterError("path= loads your own graph file; use weights='pretrained' (or 'auto') with it")
        return untrained_inception5h(options.seed, options.precision, options.rewrites)
    if mode == "pretrained":
        return _load_pretrained(options)
    try:
        return _load_pretrained(options)
    except (CadlError, OSError, ImportError) as error:
        reason = f"{type(error).__name__}: {error}"
    warnings.warn("inception5h: the pretrained weights are not available, so the UNTRAINED stand-in is used "
                  f"(pictures will be textures, not objects). Reason: {reason}", RuntimeWarning, stacklevel=2)
    model = copy.copy(untrained_inception5h(options.seed, options.precision, options.rewrites))
    model.fallback_reason = reason  # a copy: the shared stand-in is not marked
    return model
