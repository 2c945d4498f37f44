"""What Deep Dream maximises: objectives built from a network's neurons, channels and layers.

An objective names the ``layers`` it needs and gives one number to MAXIMISE from their features (``feature_loss``:
of the rolled image or a tile) and from the full image (``pixel_loss``: smoothness, distance to a guide). They
combine with ``+``, ``-`` and ``*`` / ``/`` by a number: ``0.7 * neuron("jellyfish") - 0.1 * tv()``. Indices and
weights are ``tf.Variable`` s (``set_index`` / ``set_weight`` do not recompile); ``validate(model)`` checks names.
"""

from __future__ import annotations

import numbers
import weakref
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from .errors import LayerError, ModelError, ParameterError
from .settings import check_float, check_int

# Largest objective weight (also of products of weights): beyond it float32 losses overflow to Inf.
MAX_WEIGHT = 1e6


def total_variation(image) -> tf.Tensor:
    """Mean absolute difference of neighbouring pixels of [H, W, C] or [N, H, W, C]: 0 when flat, about 1/3 for
    uniform noise at any size (vertical and horizontal means averaged; one pixel high gives 0, not NaN)."""
    image = tf.cast(tf.convert_to_tensor(image), tf.float32)
    if image.shape.rank == 3:
        image = image[None]
    # Two-tap depthwise convolutions, not slices: the same values, and a gradient about 5x cheaper at 512 px.
    down = tf.constant([-1.0, 1.0], shape=(2, 1, 1, 1)) * tf.ones((1, 1, image.shape[-1], 1))
    means = []
    for axis, kernel in ((1, down), (2, tf.reshape(down, (1, 2, -1, 1)))):
        if image.shape[axis] is not None and image.shape[axis] < 2:
            means.append(0.0 * tf.reduce_mean(image))  # no neighbours: 0, with a zero gradient (not None)
            continue
        difference = tf.abs(tf.nn.depthwise_conv2d(image, kernel, (1, 1, 1, 1), "VALID"))
        means.append(tf.reduce_mean(difference))
    return 0.5 * tf.add_n(means)


def check_weight(value, what: str = "weight") -> float:
    """An objective weight: a finite number between -MAX_WEIGHT and MAX_WEIGHT (the one weight check)."""
    return check_float(value, what, at_least=-MAX_WEIGHT, at_most=MAX_WEIGHT, fix="use a number such as 0.5 or -1.0")


def _check_index(index, what: str) -> int:
    """A channel or class index (LayerError: it names a unit of a layer)."""
    try:
        return check_int(index, what, minimum=0, fix="channels and classes count from 0")
    except ParameterError as error:
        raise LayerError(str(error)) from None


def _check_layer_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise LayerError(f"layer must be a layer name such as 'mixed4c', got {name!r}")
    return name


class Objective:
    """Base class: subclasses set ``layers`` and override ``feature_loss`` and/or ``pixel_loss`` and ``validate``.
    The losses run inside ``tf.function`` on any size; what may change after ``validate`` is a ``tf.Variable``."""

    layers: tuple[str, ...] = ()  # the layers feature_loss reads (final after validate)

    def feature_loss(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The value to maximise from network features (layer -> [N, h, w, C] or [N, C]): a mean over the batch N."""
        return tf.constant(0.0)

    def pixel_loss(self, image) -> tf.Tensor:
        """The value to maximise from the full, un-jittered image [N, H, W, 3] in [0, 1]."""
        return tf.constant(0.0)

    @property
    def uses_pixels(self) -> bool:
        """Whether ``pixel_loss`` is overridden (the engine skips the pixel gradient if not)."""
        return type(self).pixel_loss is not Objective.pixel_loss

    def validate(self, model) -> "Objective":
        """Check names and indices against ``model`` (and resolve labels); LayerError if wrong. Returns self."""
        return self

    def describe(self) -> str:
        """A short human-readable description (used in previews and CLI output)."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def _terms(self) -> list[tuple[float, "Objective"]]:
        return [(1.0, self)]  # the (weight, objective) pairs this objective is the sum of

    def __mul__(self, factor) -> "WeightedSum":
        if isinstance(factor, Objective):
            raise ParameterError("objectives cannot be multiplied with each other; multiply by a number and add, "
                                 "e.g. 0.5 * a + 0.5 * b")
        factor = check_weight(factor, "objective factor")
        return WeightedSum([(weight * factor, objective) for weight, objective in self._terms()])

    __rmul__ = __mul__

    def __truediv__(self, divisor) -> "WeightedSum":
        if check_weight(divisor, "objective divisor") == 0.0:
            raise ParameterError("cannot divide an objective by 0; use a non-zero number")
        return self * (1.0 / divisor)

    def __neg__(self) -> "WeightedSum":
        return self * -1.0

    def __add__(self, other) -> "WeightedSum":
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and other == 0:
            return WeightedSum(self._terms())  # lets sum([...]) start from 0
        if not isinstance(other, Objective):
            raise ParameterError(f"an objective can only be added to another objective, got {type(other).__name__}; "
                                 "constants do not change the gradient")
        return WeightedSum(self._terms() + other._terms())

    __radd__ = __add__

    def __sub__(self, other) -> "WeightedSum":
        if not isinstance(other, Objective):
            raise ParameterError(f"only an objective can be subtracted from an objective, got {type(other).__name__}")
        return self + (-1.0) * other


class WeightedSum(Objective):
    """``w1 * a + w2 * b + ...`` (flat: ``terms`` are never sums); ``set_weight`` does not recompile."""

    def __init__(self, terms: Sequence[tuple[float, Objective]]):
        flat: list[tuple[float, Objective]] = []
        for weight, objective in terms:
            if not isinstance(objective, Objective):
                raise ParameterError(f"terms of a weighted sum must be objectives, got {type(objective).__name__}")
            for inner_weight, inner in objective._terms():
                # Products of allowed weights can leave the range (or overflow to inf): refused here.
                flat.append((check_weight(check_weight(weight) * inner_weight, "combined objective weight"), inner))
        if not flat:
            raise ParameterError("a weighted sum needs at least one objective")
        self.terms: tuple[Objective, ...] = tuple(objective for _, objective in flat)
        self._weights = [tf.Variable(weight, dtype=tf.float32, trainable=False) for weight, _ in flat]

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for objective in self.terms for name in objective.layers))

    @property
    def term_weights(self) -> tuple[float, ...]:
        """The current weights, one per term."""
        return tuple(float(variable.numpy()) for variable in self._weights)

    def set_weight(self, value: float, term: int | None = None) -> None:
        """Change the weight of term number ``term`` (may be left out for one term) without recompiling."""
        count = len(self._weights)
        if term is None and count != 1:
            raise ParameterError(f"this sum has {count} terms: say which one, e.g. set_weight(0.5, term=1)")
        term = check_int(0 if term is None else term, "term", minimum=0, maximum=count - 1, fix="count terms from 0")
        self._weights[term].assign(check_weight(value))

    def set_term_weights(self, *values: float | None) -> None:
        """Change several weights at once without recompiling: one value per term, in order (None keeps one)."""
        if len(values) != len(self._weights):
            raise ParameterError(f"expected {len(self._weights)} weights (one per term), got {len(values)}")
        checked = [None if value is None else check_weight(value) for value in values]
        for variable, value in zip(self._weights, checked):
            if value is not None:
                variable.assign(value)

    def _terms(self) -> list[tuple[float, Objective]]:
        return list(zip(self.term_weights, self.terms))

    @property
    def uses_pixels(self) -> bool:
        return any(objective.uses_pixels for objective in self.terms)

    def feature_loss(self, features):
        return self._sum([(v, o.feature_loss(features)) for v, o in zip(self._weights, self.terms) if o.layers])

    def pixel_loss(self, image):
        return self._sum([(v, o.pixel_loss(image)) for v, o in zip(self._weights, self.terms) if o.uses_pixels])

    @staticmethod
    def _sum(pairs) -> tf.Tensor:
        return tf.add_n([tf.constant(0.0)] + [weight * tf.cast(loss, tf.float32) for weight, loss in pairs])

    def validate(self, model) -> "WeightedSum":
        for objective in self.terms:
            objective.validate(model)
        return self

    def describe(self) -> str:
        text = ""
        for weight, objective in self._terms():
            part = objective.describe() if abs(weight) == 1.0 else f"{abs(weight):g} * {objective.describe()}"
            sign = "-" if weight < 0 else "+"
            text = f"{text} {sign} {part}" if text else ("-" if weight < 0 else "") + part
        return text


class _IndexedObjective(Objective):
    """Shared code of objectives that pick one channel (or class) of one layer."""

    def __init__(self, layer: str, index: int, model=None):
        self._layer, self._model_ref = _check_layer_name(layer), None  # the model is set by validate()
        self._index = tf.Variable(index, dtype=tf.int32, trainable=False)
        if model is not None:
            self.validate(model)

    @property
    def layers(self) -> tuple[str, ...]:
        return (self._layer,)

    @property
    def index(self) -> int:
        """The current channel / class index."""
        return int(self._index.numpy())

    @property
    def model(self):
        """The model this objective was last validated against (None before ``validate``)."""
        return self._model_ref() if self._model_ref is not None else None

    def _point(self, model, layer: str, index: int) -> None:
        """Point at ``index`` of ``layer`` of ``model`` (LayerError if it has no such channel)."""
        model.check_channel(layer, index)
        self._layer, self._model_ref = layer, weakref.ref(model)
        self._index.assign(index)

    def set_index(self, index: int) -> None:
        """Point at another channel (or class) without recompiling."""
        index = _check_index(index, "index")
        if self.model is not None:
            self.model.check_channel(self._layer, index)
        self._index.assign(index)

    def feature_loss(self, features):
        return tf.reduce_mean(tf.gather(tf.cast(features[self._layer], tf.float32), self._index, axis=-1))


class Neuron(_IndexedObjective):
    """Maximise one class (``neuron("jellyfish")``), by label or index, of a softmax or logits layer (e.g.
    ``softmax2_pre_activation``, which does not saturate); on a spatial layer, the centre unit. Checked now
    with ``model=`` (LayerError), else at first use."""

    def __init__(self, label_or_index: str | int, layer: str = "softmax2", model=None):
        if isinstance(label_or_index, str) and not label_or_index.strip():
            raise LayerError("the neuron label is empty; give a class label such as 'jellyfish' or an index")
        # A label is resolved by every validate() (label lists differ between models); an index is kept.
        self._target = label_or_index if isinstance(label_or_index, str) else None
        index = 0 if self._target is not None else _check_index(label_or_index, "neuron index")
        super().__init__(layer, index, model)

    @property
    def label(self) -> str | None:
        """The class label of the current index (with a validated model), else the label given."""
        model = self.model
        return model.label(self.index) if model is not None else self._target

    def validate(self, model) -> "Neuron":
        self._point(model, self._layer, model.label_index(self._target) if self._target is not None else self.index)
        return self

    def set_index(self, label_or_index: str | int) -> None:
        """Point at another class or channel (an index, or a label with a validated model) without recompiling."""
        is_label = isinstance(label_or_index, str)
        if is_label and self.model is None:
            raise ModelError("a label needs a model: call validate(model) first, or pass an index")
        super().set_index(self.model.label_index(label_or_index) if is_label else label_or_index)
        self._target = label_or_index if is_label else None

    def feature_loss(self, features):
        if self._target is not None and self.model is None:
            raise ModelError(f"neuron {self._target!r} has not been resolved to an index: call validate(model) first")
        values = features[self._layer]
        if values.shape.rank == 4:
            # A "neuron" of a map is the channel's unit at the centre of the image.
            shape = tf.shape(values)
            values = values[:, shape[1] // 2, shape[2] // 2, :]
        return super().feature_loss({self._layer: values})

    def describe(self) -> str:
        label = self.label
        what = repr(label) if label else str(self.index)
        return f"neuron {what}{f' ({self.index})' if self.model is not None and label else ''} of {self._layer}"


class Channel(_IndexedObjective):
    """Maximise the mean of one channel, e.g. ``channel("mixed4d_3x3_bottleneck", 139)``; with ``pre_relu`` a ReLU
    conv layer ``X`` is read as ``X_pre_relu`` if the model has it. Checked now with ``model=``, else at first use."""

    def __init__(self, layer: str, index: int, pre_relu: bool = True, model=None):
        self.requested_layer, self.pre_relu = layer, bool(pre_relu)
        super().__init__(layer, _check_index(index, "channel index"), model)

    def validate(self, model) -> "Channel":
        name = self.requested_layer
        # A ReLU conv output X is read as X_pre_relu (same channels, a gradient where the ReLU is off).
        relu_conv = model.layer(name).kind == "conv"
        if self.pre_relu and relu_conv and f"{name}_pre_relu" in model.layer_names("conv_pre_relu"):
            name = f"{name}_pre_relu"
        self._point(model, name, self.index)
        return self

    def describe(self) -> str:
        return f"channel {self.index} of {self._layer}"


class LayerMean(Objective):
    """Maximise the mean activation of a whole layer (``squared``: its mean square), e.g. ``layer("mixed4c")``."""

    def __init__(self, name: str, squared: bool = False, model=None):
        self.name = _check_layer_name(name)
        self.layers, self.squared = (self.name,), bool(squared)
        if model is not None:
            self.validate(model)

    def validate(self, model) -> "LayerMean":
        model.layer(self.name)  # LayerError naming close matches
        return self

    def feature_loss(self, features):
        values = tf.cast(features[self.name], tf.float32)
        return tf.reduce_mean(tf.square(values) if self.squared else values)

    def describe(self) -> str:
        return f"mean {'square ' if self.squared else ''}activation of {self.name}"


class TotalVariation(Objective):
    """``total_variation`` of the full image as a pixel term; subtract it to smooth: ``neuron(...) - 0.5 * tv()``."""

    def pixel_loss(self, image):
        return total_variation(image)

    def describe(self) -> str:
        return "total variation"


# The constructors the lessons use: ``neuron("jellyfish")``, ``channel("mixed4c", 7)``, ``layer("mixed4c")``, ``tv()``.
neuron = Neuron
channel = Channel
layer = LayerMean
tv = TotalVariation


def evaluate(objective: Objective, model, image) -> float:
    """The objective's value on one image [H, W, 3] in [0, 1] (whole-image features plus the pixel term)."""
    objective.validate(model)
    batch = tf.constant(np.asarray(image, np.float32)[None])
    layers = list(objective.layers)
    features = dict(zip(layers, model.extract(batch, layers))) if layers else {}
    return float(objective.feature_loss(features) + objective.pixel_loss(batch))
