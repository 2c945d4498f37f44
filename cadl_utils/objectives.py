"""What Deep Dream maximises: objectives built from a network's neurons, channels and layers.

An objective says which layers it needs (``.layers``) and turns them into one number to MAXIMISE:

- ``feature_loss(features)``: from the features of whatever the engine feeds the network (the
  randomly rolled image, or one tile of it);
- ``pixel_loss(image)``: from the full, un-rolled image in [0, 1] (0 unless a term looks at pixels).

Keeping the two apart lets pixel terms (smoothness, distance to a guide) see the whole picture while
the network sees jittered tiles. Objectives combine with ``+``, ``-``, unary ``-`` and ``*`` / ``/`` by a
number into a ``WeightedSum``::

    0.7 * neuron("jellyfish") + 0.3 * channel("mixed4d_3x3_bottleneck_pre_relu", 139) - 0.1 * tv()

Indices and weights live in ``tf.Variable`` s: ``set_index`` / ``set_weight`` change them without
recompiling the engine's step (a slider can move them freely). Names, labels and indices are checked
against a model by ``validate(model)``: at construction when a ``model=`` is given, otherwise when the
engine first uses the objective.
"""

from __future__ import annotations

import math
import numbers
import weakref
from typing import Mapping, Sequence

import numpy as np
import tensorflow as tf

from .errors import LayerError, ModelError, ParameterError

# Layer kinds whose features are one vector per image ([N, C]) rather than a map ([N, h, w, C]).
VECTOR_KINDS = ("logits", "softmax")


# --- pixel-space helpers ---------------------------------------------------------------------------


def total_variation(image) -> tf.Tensor:
    """Mean absolute difference between neighbouring pixels (a measure of noise; 0 for a flat image).

    The vertical and horizontal neighbour differences are averaged separately and then together,
    so the value does not depend on the image size: about 1/3 for uniform random noise in [0, 1].
    An image one pixel high (or wide) contributes 0 for that direction instead of NaN.

    Args:
        image: [H, W, C] or [N, H, W, C] float tensor (works inside tf.function with unknown sizes).

    Returns:
        Scalar float32 tensor.
    """
    image = tf.convert_to_tensor(image)
    image = tf.cast(image, tf.float32)
    if image.shape.rank == 3:
        image = image[None]
    dy = tf.abs(image[:, 1:, :, :] - image[:, :-1, :, :])
    dx = tf.abs(image[:, :, 1:, :] - image[:, :, :-1, :])
    return 0.5 * (_safe_mean(dy) + _safe_mean(dx))


def _safe_mean(values: tf.Tensor) -> tf.Tensor:
    """Mean of a tensor that may be empty (0.0 then, not NaN)."""
    count = tf.cast(tf.size(values), tf.float32)
    return tf.reduce_sum(values) / tf.maximum(count, 1.0)


# --- the protocol ------------------------------------------------------------------------------------


def _check_weight(value, what: str = "weight") -> float:
    """A finite real number, or ParameterError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{what} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ParameterError(f"{what} must be finite, got {value}; use a number such as 0.5 or -1.0")
    return value


class Objective:
    """Base class of every objective (also the protocol guided and style terms implement).

    Subclasses set ``layers`` and override ``feature_loss`` and/or ``pixel_loss`` (both to MAXIMISE)
    and ``validate``. Both losses must work inside ``tf.function`` on images of unknown size and
    should only read Python state that is fixed after ``validate``: anything a user may change
    later belongs in a ``tf.Variable``.
    """

    #: Names of the layers ``feature_loss`` reads (final after ``validate``).
    layers: tuple[str, ...] = ()

    def feature_loss(self, features: Mapping[str, tf.Tensor]) -> tf.Tensor:
        """The value to maximise from network features.

        Args:
            features: layer name -> features of the batch the engine fed the network ([N, h, w, C]
                or [N, C]); holds at least ``self.layers``.

        Returns:
            Scalar float32 tensor.
        """
        return tf.constant(0.0)

    def pixel_loss(self, image) -> tf.Tensor:
        """The value to maximise from the full, un-jittered image.

        Args:
            image: [N, H, W, 3] float32 in [0, 1].

        Returns:
            Scalar float32 tensor (0.0 here: plain network objectives ignore pixels).
        """
        return tf.constant(0.0)

    @property
    def uses_pixels(self) -> bool:
        """Whether ``pixel_loss`` is more than the constant 0 (the engine skips its gradient if not)."""
        return type(self).pixel_loss is not Objective.pixel_loss

    def validate(self, model) -> "Objective":
        """Check names and indices against ``model`` (and resolve labels). Returns self.

        Raises:
            LayerError: unknown layer or label, index out of range.
        """
        return self

    def describe(self) -> str:
        """A short human-readable description (used in previews and CLI output)."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    # --- arithmetic ------------------------------------------------------------------------------
    def _terms(self) -> list[tuple[float, "Objective"]]:
        """(weight, objective) pairs this objective is the sum of; a single objective is 1 * itself."""
        return [(1.0, self)]

    def __mul__(self, factor) -> "WeightedSum":
        if isinstance(factor, Objective):
            raise ParameterError(
                "objectives cannot be multiplied with each other; multiply by a number and add, "
                "e.g. 0.5 * a + 0.5 * b"
            )
        factor = _check_weight(factor, "objective factor")
        return WeightedSum([(weight * factor, objective) for weight, objective in self._terms()])

    __rmul__ = __mul__

    def __truediv__(self, divisor) -> "WeightedSum":
        divisor = _check_weight(divisor, "objective divisor")
        if divisor == 0.0:
            raise ParameterError("cannot divide an objective by 0; use a non-zero number")
        return self * (1.0 / divisor)

    def __neg__(self) -> "WeightedSum":
        return self * -1.0

    def __add__(self, other) -> "WeightedSum":
        if isinstance(other, numbers.Real) and not isinstance(other, bool) and other == 0:
            # Lets sum([...]) start from 0.
            return WeightedSum(self._terms())
        if not isinstance(other, Objective):
            raise ParameterError(
                f"an objective can only be added to another objective, got {type(other).__name__}; "
                "constants do not change the gradient"
            )
        return WeightedSum(self._terms() + other._terms())

    __radd__ = __add__

    def __sub__(self, other) -> "WeightedSum":
        if not isinstance(other, Objective):
            raise ParameterError(f"only an objective can be subtracted from an objective, got {type(other).__name__}")
        return self + (-1.0) * other

    def __rsub__(self, other) -> "WeightedSum":
        return (-1.0) * self + other


class WeightedSum(Objective):
    """``w1 * a + w2 * b + ...`` of objectives; weights are tf.Variables (change them with ``set_weight``).

    Built by the arithmetic operators; nested sums are flattened, so ``terms`` are never sums.
    """

    def __init__(self, terms: Sequence[tuple[float, Objective]]):
        """Args:
        terms: (weight, objective) pairs; an objective may appear more than once.
        """
        flat: list[tuple[float, Objective]] = []
        for weight, objective in terms:
            if not isinstance(objective, Objective):
                raise ParameterError(f"terms of a weighted sum must be objectives, got {type(objective).__name__}")
            for inner_weight, inner in objective._terms():
                flat.append((_check_weight(weight) * inner_weight, inner))
        if not flat:
            raise ParameterError("a weighted sum needs at least one objective")
        self.terms: tuple[Objective, ...] = tuple(objective for _, objective in flat)
        self._weights = [tf.Variable(weight, dtype=tf.float32, trainable=False) for weight, _ in flat]

    @property
    def layers(self) -> tuple[str, ...]:
        names: list[str] = []
        for objective in self.terms:
            for name in objective.layers:
                if name not in names:
                    names.append(name)
        return tuple(names)

    @property
    def weights(self) -> tuple[float, ...]:
        """Current weights, one per term."""
        return tuple(float(variable.numpy()) for variable in self._weights)

    def set_weight(self, value: float, term: int | None = None) -> None:
        """Change one weight without recompiling.

        Args:
            value: the new weight (finite; negative descends that term).
            term: which term (index into ``terms``); may be left out when there is only one.
        """
        if term is None:
            if len(self._weights) != 1:
                raise ParameterError(
                    f"this sum has {len(self._weights)} terms: say which one, e.g. set_weight(0.5, term=1)"
                )
            term = 0
        if not isinstance(term, (int, np.integer)) or not 0 <= int(term) < len(self._weights):
            raise ParameterError(f"term must be an index 0..{len(self._weights) - 1}, got {term!r}")
        self._weights[int(term)].assign(_check_weight(value))

    def set_weights(self, values: Sequence[float]) -> None:
        """Change all weights at once (one per term, in order)."""
        values = list(values)
        if len(values) != len(self._weights):
            raise ParameterError(f"expected {len(self._weights)} weights, got {len(values)}")
        checked = [_check_weight(value) for value in values]
        for variable, value in zip(self._weights, checked):
            variable.assign(value)

    def _terms(self) -> list[tuple[float, Objective]]:
        return [(weight, objective) for weight, objective in zip(self.weights, self.terms)]

    @property
    def uses_pixels(self) -> bool:
        return any(objective.uses_pixels for objective in self.terms)

    def feature_loss(self, features):
        total = tf.constant(0.0)
        for variable, objective in zip(self._weights, self.terms):
            if objective.layers:
                total += variable * tf.cast(objective.feature_loss(features), tf.float32)
        return total

    def pixel_loss(self, image):
        total = tf.constant(0.0)
        for variable, objective in zip(self._weights, self.terms):
            if objective.uses_pixels:
                total += variable * tf.cast(objective.pixel_loss(image), tf.float32)
        return total

    def validate(self, model) -> "WeightedSum":
        for objective in self.terms:
            objective.validate(model)
        return self

    def describe(self) -> str:
        parts = []
        for i, (weight, objective) in enumerate(zip(self.weights, self.terms)):
            sign = "-" if weight < 0 else "+"
            text = objective.describe() if abs(weight) == 1.0 else f"{abs(weight):g} * {objective.describe()}"
            if i == 0:
                parts.append(f"-{text}" if weight < 0 else text)
            else:
                parts.append(f"{sign} {text}")
        return " ".join(parts)


# --- network objectives ----------------------------------------------------------------------------


def _check_index_type(index, what: str) -> int:
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise LayerError(f"{what} must be an integer, got {index!r}")
    if int(index) < 0:
        raise LayerError(f"{what} must be 0 or more, got {index}")
    return int(index)


def _check_layer_name(name, what: str = "layer") -> str:
    if not isinstance(name, str) or not name.strip():
        raise LayerError(f"{what} must be a layer name such as 'mixed4c', got {name!r}")
    return name


class _IndexedObjective(Objective):
    """Shared code of objectives that pick one channel (or class) of one layer."""

    def __init__(self, layer: str, index: int):
        self._layer = layer
        self._index = tf.Variable(index, dtype=tf.int32, trainable=False)
        self._model_ref = None
        self._channels: int | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        return (self._layer,)

    @property
    def layer_name(self) -> str:
        """The layer actually read (after ``validate``, for a channel possibly its ``_pre_relu``)."""
        return self._layer

    @property
    def index(self) -> int:
        """The current channel / class index."""
        return int(self._index.numpy())

    @property
    def model(self):
        """The model this objective was last validated against (None before ``validate``)."""
        return self._model_ref() if self._model_ref is not None else None

    def _check_range(self, index: int) -> int:
        if self._channels is not None and not 0 <= index < self._channels:
            raise LayerError(
                f"index {index} is out of range for {self._layer!r}, which has {self._channels} channels "
                f"(valid: 0..{self._channels - 1})"
            )
        return index

    def _remember(self, model, info) -> None:
        self._model_ref = weakref.ref(model)
        self._channels = int(info.channels)


class Neuron(_IndexedObjective):
    """One class (or channel) value: ``features[:, index]`` of a vector layer such as softmax2."""

    def __init__(self, label_or_index: str | int, layer: str = "softmax2", model=None):
        """Args:
        label_or_index: a class label (resolved with ``model.label_index``) or an index.
        layer: a softmax or logits layer; a spatial layer is read at the centre of its map.
        model: check (and resolve the label) now; otherwise at first use.
        """
        _check_layer_name(layer)
        # A label is kept and resolved again by every validate(), so one objective works with
        # models whose label lists differ; an index given directly is used as is.
        self._target: str | None = None
        index = 0
        if isinstance(label_or_index, str):
            if not label_or_index.strip():
                raise LayerError("the neuron label is empty; give a class label such as 'jellyfish' or an index")
            self._target = label_or_index
        else:
            index = _check_index_type(label_or_index, "neuron index")
        super().__init__(layer, index)
        if model is not None:
            self.validate(model)

    @property
    def resolved(self) -> bool:
        """False while a label still waits for a model to give it an index."""
        return self._target is None or self.model is not None

    @property
    def label(self) -> str | None:
        """The class label of the current index (with a validated model), else the label given."""
        model = self.model
        if model is not None:
            return model.label(self.index)
        return self._target

    def validate(self, model) -> "Neuron":
        info = model.layer(self._layer)
        index = model.label_index(self._target) if self._target is not None else self.index
        model.check_channel(self._layer, index)
        self._remember(model, info)
        self._index.assign(index)
        return self

    def set_index(self, label_or_index: str | int) -> None:
        """Point at another class or channel without recompiling.

        Args:
            label_or_index: an index, or a label (needs a validated model).
        """
        if isinstance(label_or_index, str):
            model = self.model
            if model is None:
                raise ModelError("a label needs a model: call validate(model) first, or pass an index")
            index = model.label_index(label_or_index)
            target: str | None = label_or_index
        else:
            index = _check_index_type(label_or_index, "neuron index")
            target = None
        self._index.assign(self._check_range(index))
        self._target = target

    def feature_loss(self, features):
        if not self.resolved:
            raise ModelError(
                f"neuron {self._target!r} has not been resolved to an index: call validate(model) first"
            )
        values = tf.cast(features[self._layer], tf.float32)
        if values.shape.rank == 4:
            # A "neuron" of a map is the channel's unit at the centre of the image.
            shape = tf.shape(values)
            values = values[:, shape[1] // 2, shape[2] // 2, :]
        return tf.reduce_mean(tf.gather(values, self._index, axis=-1))

    def describe(self) -> str:
        label = self.label
        if self.model is not None and label:
            what = f"{label!r} ({self.index})"
        else:
            what = repr(label) if label else str(self.index)
        return f"neuron {what} of {self._layer}"


class Channel(_IndexedObjective):
    """Mean activation of one channel of a layer, over all positions (and the batch)."""

    def __init__(self, layer: str, index: int, pre_relu: bool = True, model=None):
        """Args:
        layer: layer name.
        index: channel index.
        pre_relu: when ``layer`` is a ReLU conv output ``X`` and the model also has ``X_pre_relu``,
            read ``X_pre_relu`` instead (same channels, but it has a gradient where the ReLU is off,
            which is what Deep Dream wants). ``False`` reads exactly ``layer``. Names that already end
            in ``_pre_relu`` and non-conv layers (mixed, pool) are always read as given.
        model: check now; otherwise at first use.
        """
        self.requested_layer = _check_layer_name(layer)
        self.pre_relu = bool(pre_relu)
        super().__init__(layer, _check_index_type(index, "channel index"))
        if model is not None:
            self.validate(model)

    def validate(self, model) -> "Channel":
        name = self.requested_layer
        info = model.layer(name)
        if self.pre_relu and info.kind == "conv":
            candidate = f"{name}_pre_relu"
            if candidate in model.layer_names("conv_pre_relu"):
                name = candidate
                info = model.layer(name)
        model.check_channel(name, self.index)
        self._layer = name
        self._remember(model, info)
        return self

    def set_index(self, index: int) -> None:
        """Point at another channel without recompiling."""
        self._index.assign(self._check_range(_check_index_type(index, "channel index")))

    def feature_loss(self, features):
        values = tf.cast(features[self._layer], tf.float32)
        return tf.reduce_mean(tf.gather(values, self._index, axis=-1))

    def describe(self) -> str:
        return f"channel {self.index} of {self._layer}"


class LayerMean(Objective):
    """Mean activation of a whole layer (every channel and position), or of its square."""

    def __init__(self, name: str, squared: bool = False, model=None):
        """Args:
        name: layer name, read exactly as given.
        squared: maximise the mean of the squared activations (the classic notebook's choice for
            pre-ReLU layers, where a plain mean also rewards pushing negative units further down).
        model: check now; otherwise at first use.
        """
        self.name = _check_layer_name(name)
        self.squared = bool(squared)
        if model is not None:
            self.validate(model)

    @property
    def layers(self) -> tuple[str, ...]:
        return (self.name,)

    def validate(self, model) -> "LayerMean":
        model.layer(self.name)
        return self

    def feature_loss(self, features):
        values = tf.cast(features[self.name], tf.float32)
        if self.squared:
            values = tf.square(values)
        return tf.reduce_mean(values)

    def describe(self) -> str:
        return f"mean {'square ' if self.squared else ''}activation of {self.name}"


class TotalVariation(Objective):
    """``total_variation`` of the full image as a pixel term; give it a NEGATIVE weight to smooth."""

    def pixel_loss(self, image):
        return total_variation(image)

    def describe(self) -> str:
        return "total variation"


# --- constructors ----------------------------------------------------------------------------------


def neuron(label_or_index: str | int, layer: str = "softmax2", model=None) -> Neuron:
    """Maximise one class (a softmax or logits unit), e.g. ``neuron("jellyfish")``.

    Args:
        label_or_index: class label (looked up with ``model.label_index``) or index.
        layer: ``softmax2`` (default), another softmax head, or a logits layer such as
            ``softmax2_pre_activation`` (does not saturate). On a spatial layer, the centre unit.
        model: validate now (LayerError on a bad name, label or index); else at first use.

    Returns:
        A Neuron objective (``set_index`` changes the class without recompiling).
    """
    return Neuron(label_or_index, layer=layer, model=model)


def channel(layer: str, index: int, pre_relu: bool = True, model=None) -> Channel:
    """Maximise the mean of one channel, e.g. ``channel("mixed4d_3x3_bottleneck_pre_relu", 139)``.

    Args:
        layer: layer name. With ``pre_relu=True`` (default) a ReLU conv name ``X`` is read as
            ``X_pre_relu`` when the model has it (same channel, non-zero gradient); the layer actually
            used is ``objective.layer_name`` after validation.
        index: channel index.
        pre_relu: False reads exactly ``layer``.
        model: validate now; else at first use.

    Returns:
        A Channel objective (``set_index`` changes the channel without recompiling).
    """
    return Channel(layer, index, pre_relu=pre_relu, model=model)


def layer(name: str, squared: bool = False, model=None) -> LayerMean:
    """Maximise the mean activation of a whole layer, e.g. ``layer("mixed4c")``.

    Args:
        name: layer name (read exactly as given).
        squared: maximise the mean square instead.
        model: validate now; else at first use.

    Returns:
        A LayerMean objective.
    """
    return LayerMean(name, squared=squared, model=model)


def tv() -> TotalVariation:
    """The total variation of the image as a term; subtract it to smooth: ``neuron(...) - 0.5 * tv()``."""
    return TotalVariation()


def evaluate(objective: Objective, model, image) -> float:
    """The objective's value on one image (features of the whole image plus the pixel term).

    Args:
        objective: any Objective (validated against ``model`` here).
        model: a cadl_utils Model.
        image: [H, W, 3] float in [0, 1].

    Returns:
        The value as a Python float.
    """
    objective.validate(model)
    batch = tf.convert_to_tensor(np.asarray(image, np.float32))[None]
    total = tf.constant(0.0)
    if objective.layers:
        outputs = model.extract(batch, list(objective.layers))
        total += objective.feature_loss(dict(zip(objective.layers, outputs)))
    if objective.uses_pixels:
        total += objective.pixel_loss(batch)
    return float(total.numpy())
