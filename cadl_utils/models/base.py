"""The interface every network in cadl_utils offers (inception5h and the Keras backbones).

Engines (dream, guided, style) only talk to this interface:

- ``model.layers``: the inventory, a list of ``LayerInfo(name, kind, channels)``.
- ``model.extract(images, names)``: differentiable features for a batch of images in [0, 1].
- ``model.preprocess`` / ``model.deprocess``: between [0, 1] RGB and the network's input space.
- ``model.labels``, ``model.label_index(name)``, ``model.classify(image, top)``.
- ``model.check_channel(name, index)``, ``model.min_size(name)``, ``model.check_size(name, h, w)``
  for early, clear errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import LayerError, ModelError


@dataclass(frozen=True)
class LayerInfo:
    """One entry of a model's layer inventory.

    Attributes:
        name: the name used in ``extract`` (for inception5h, the graph node name).
        kind: ``conv_pre_relu``, ``conv``, ``mixed``, ``pool``, ``logits`` or ``softmax``.
        channels: number of channels (classes for logits and softmax).
    """

    name: str
    kind: str
    channels: int


class Model:
    """Base class: shared inventory look-ups and checks. Subclasses implement ``extract``.

    Attributes:
        name: model name (``inception5h``, ``vgg19``, ``inception_v3``).
        weights: ``pretrained`` or ``untrained`` (what was actually loaded).
        layers: the inventory.
        labels: class labels; an index without a label reads ``(no label: N)``.
    """

    name: str = "model"
    weights: str = "untrained"
    layers: list[LayerInfo]
    labels: list[str]

    # --- inventory -------------------------------------------------------------------------
    def layer_names(self, kind: str | None = None) -> list[str]:
        """Names of the layers, optionally only those of one kind."""
        return [info.name for info in self.layers if kind is None or info.kind == kind]

    def layer(self, name: str) -> LayerInfo:
        """The inventory entry for ``name``.

        Raises:
            LayerError: unknown name; the message lists the closest names.
        """
        for info in self.layers:
            if info.name == name:
                return info
        close = difflib.get_close_matches(name, self.layer_names(), n=5, cutoff=0.5)
        hint = f" Closest names: {', '.join(close)}." if close else ""
        raise LayerError(
            f"{self.name} has no layer {name!r}.{hint} "
            f"See model.layers or model.layer_names() for all {len(self.layers)} layers."
        )

    def check_channel(self, name: str, index: int) -> LayerInfo:
        """Check that ``index`` is a valid channel of layer ``name``.

        Raises:
            LayerError: unknown layer, or index outside 0..channels-1.
        """
        info = self.layer(name)
        if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
            raise LayerError(f"channel index of {name!r} must be an integer, got {index!r}")
        if not 0 <= int(index) < info.channels:
            raise LayerError(
                f"channel {index} is out of range for {name!r}, which has {info.channels} channels "
                f"(valid: 0..{info.channels - 1})"
            )
        return info

    def min_size(self, name: str) -> int:
        """Smallest input side (pixels) at which layer ``name`` can be computed. Default 1."""
        self.layer(name)
        return 1

    def check_size(self, name: str, height: int, width: int) -> None:
        """Raise LayerError unless layer ``name`` can be computed on a height x width image.

        The default compares with ``min_size``; models with stricter rules override it.
        """
        need = self.min_size(name)
        if min(int(height), int(width)) < need:
            raise LayerError(
                f"layer {name!r} of {self.name} needs images of at least {need}x{need} px, "
                f"got {height}x{width}. Use a larger image or an earlier layer."
            )

    # --- labels ----------------------------------------------------------------------------
    def label(self, index: int) -> str:
        """The label of class ``index`` (``(no label: N)`` where the model has none)."""
        if 0 <= index < len(self.labels) and self.labels[index]:
            return self.labels[index]
        return f"(no label: {index})"

    def label_index(self, label: str | int) -> int:
        """The class index of a label (exact, then case-insensitive match).

        Raises:
            LayerError: unknown label; the message lists the closest labels.
        """
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            return int(label)
        for i, text in enumerate(self.labels):
            if text == label:
                return i
        lowered = str(label).strip().lower()
        for i, text in enumerate(self.labels):
            if text.lower() == lowered:
                return i
        close = difflib.get_close_matches(str(label), [t for t in self.labels if t], n=5, cutoff=0.6)
        hint = f" Closest labels: {', '.join(close)}." if close else ""
        raise LayerError(f"{self.name} has no class label {label!r}.{hint}")

    # --- computation -----------------------------------------------------------------------
    def preprocess(self, images):
        """Map RGB images in [0, 1] (float, ..., H, W, 3) to the network's input space."""
        raise NotImplementedError

    def deprocess(self, inputs):
        """Inverse of ``preprocess``: network input space back to RGB in [0, 1] (not clipped)."""
        raise NotImplementedError

    def extract(self, images, names: Sequence[str]) -> list:
        """Differentiable features of a batch of images.

        Args:
            images: float32 tensor [N, H, W, 3], RGB in [0, 1].
            names: layer names from the inventory.

        Returns:
            One tensor per name: [N, h, w, C] for spatial layers, [N, C] for logits and softmax
            (softmax rows of a larger image are averaged per image).
        """
        raise NotImplementedError

    def classify(self, image, top: int = 5) -> list[tuple[int, str, float]]:
        """Top classes of one image.

        Args:
            image: RGB array [H, W, 3] in [0, 1] (resized up to the minimum size if smaller).
            top: how many classes.

        Returns:
            ``(index, label, probability)`` tuples, most probable first.
        """
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the model and its weights, shown in notebooks and the CLI."""
        text = f"{self.name} ({self.weights} weights, {len(self.layers)} layers)"
        if self.weights == "untrained":
            text += " - UNTRAINED: pictures are textures, not objects"
        return text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def require_weights_known(weights: str) -> None:
    """Raise ModelError unless ``weights`` is a concrete mode (``pretrained`` or ``untrained``)."""
    if weights not in ("pretrained", "untrained"):
        raise ModelError(f"weights must be 'pretrained' or 'untrained' here, got {weights!r}")
