"""The interface every network offers (inception5h and the Keras backbones); engines use only this:
``layers`` (``LayerInfo(name, kind, channels)``), ``extract(images, names)``, ``preprocess``/``deprocess``,
``labels``, ``label_index``, ``classify``, and the early, clear checks (``check_channel``, ``check_size``...).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import ImageError, LayerError, ParameterError
from ..settings import check_int, is_int


@dataclass(frozen=True)
class LayerInfo:
    """One inventory entry: ``name`` (as used by ``extract``), ``kind`` (``conv_pre_relu``, ``conv``,
    ``mixed``, ``pool``, ``logits`` or ``softmax``) and ``channels`` (classes for logits and softmax)."""

    name: str
    kind: str
    channels: int


class Model:
    """Base class: inventory look-ups, checks and labels; subclasses implement the computation. Attributes:
    ``name`` (``inception5h``, ``vgg19`` or ``inception_v3``), ``weights`` (``pretrained`` or ``untrained``, what
    was actually loaded), ``layers`` (the inventory), ``labels`` (an index without one reads ``(no label: N)``)."""

    name: str = "model"
    weights: str = "untrained"
    layers: list[LayerInfo]
    labels: list[str]

    def layer_names(self, kind: str | None = None) -> list[str]:
        """Names of the layers, optionally only those of one kind."""
        return [info.name for info in self.layers if kind is None or info.kind == kind]

    def layer(self, name: str) -> LayerInfo:
        """The inventory entry for ``name``; LayerError listing the closest names if there is none."""
        for info in self.layers:
            if info.name == name:
                return info
        close = difflib.get_close_matches(str(name), self.layer_names(), n=5, cutoff=0.5)
        hint = f" Closest names: {', '.join(close)}." if close else ""
        raise LayerError(f"{self.name} has no layer {name!r}.{hint} "
                         f"See model.layers or model.layer_names() for all {len(self.layers)} layers.")

    def check_channel(self, name: str, index: int) -> LayerInfo:
        """The entry of layer ``name``; LayerError unless ``index`` is one of its channels."""
        info = self.layer(name)
        if not is_int(index):
            raise LayerError(f"channel index of {name!r} must be an integer, got {index!r}")
        if not 0 <= int(index) < info.channels:
            raise LayerError(f"channel {index} is out of range for {name!r}, which has {info.channels} channels "
                             f"(valid: 0..{info.channels - 1})")
        return info

    def min_size(self, name: str) -> int:
        """Smallest input side (pixels) at which layer ``name`` can be computed. Default 1."""
        self.layer(name)
        return 1

    def check_size(self, name: str, height: int, width: int) -> None:
        """LayerError unless layer ``name`` can be computed on a height x width image."""
        need = self.min_size(name)
        if min(int(height), int(width)) < need:
            raise LayerError(f"layer {name!r} of {self.name} needs images of at least {need}x{need} px, "
                             f"got {height}x{width}. Use a larger image or an earlier layer.")

    def label(self, index: int) -> str:
        """The label of class ``index`` (``(no label: N)`` where the model has none)."""
        if 0 <= index < len(self.labels) and self.labels[index]:
            return self.labels[index]
        return f"(no label: {index})"

    def label_index(self, label: str | int) -> int:
        """The class index of a label (exact, then case-insensitive); LayerError listing close labels."""
        if is_int(label):
            return int(label)
        lowered = str(label).strip().lower()
        for exact in (True, False):
            for i, text in enumerate(self.labels):
                if text == label if exact else text.lower() == lowered:
                    return i
        close = difflib.get_close_matches(str(label), [t for t in self.labels if t], n=5, cutoff=0.6)
        hint = f" Closest labels: {', '.join(close)}." if close else ""
        raise LayerError(f"{self.name} has no class label {label!r}.{hint}")

    def check_batch(self, images, names: Sequence[str] | str) -> list[str]:
        """``names`` as a list once ``images`` is a float batch [N, H, W, 3] big enough for them (else a CadlError)."""
        names = [names] if isinstance(names, str) else list(names)
        if not names:
            raise ParameterError(f"extract needs at least one layer name, e.g. [{self.layers[0].name!r}]")
        for name in names:
            self.layer(name)
        if not images.dtype.is_floating:
            raise ImageError(f"images must be float RGB in [0, 1], got dtype {images.dtype.name}; divide uint8 by 255")
        shape = images.shape
        if shape.rank is not None and (shape.rank != 4 or shape[-1] not in (3, None)):
            raise ImageError(f"images must be a batch [N, H, W, 3] of RGB in [0, 1], got shape {list(shape)}; "
                             "add a batch axis with image[None]")
        if shape.rank == 4 and shape[1] is not None and shape[2] is not None:
            for name in names:
                self.check_size(name, shape[1], shape[2])
        return names

    def preprocess(self, images):
        """RGB images in [0, 1] (float, [..., H, W, 3]) -> the network's input space."""
        raise NotImplementedError

    def deprocess(self, inputs):
        """Inverse of ``preprocess`` (not clipped)."""
        raise NotImplementedError

    def extract(self, images, names: Sequence[str]) -> list:
        """Differentiable features of a float32 batch [N, H, W, 3] in [0, 1]: one tensor per layer name,
        [N, h, w, C] for spatial layers, [N, C] for logits and softmax."""
        raise NotImplementedError

    def classify(self, image, top: int = 5) -> list[tuple[int, str, float]]:
        """The ``top`` most probable classes ``(index, label, probability)`` of one RGB image [H, W, 3]."""
        top = check_int(top, "top", minimum=1, maximum=len(self.labels))
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 3 or array.shape[-1] != 3:
            raise ImageError(f"classify takes one RGB image [H, W, 3], got shape {array.shape}; for a batch, extract")
        probs = self.probabilities(array)
        order = np.argsort(-probs, kind="stable")[:top]
        return [(int(i), self.label(int(i)), float(probs[i])) for i in order]

    def probabilities(self, image: np.ndarray) -> np.ndarray:
        """The class probabilities of one RGB image [H, W, 3] (float32 numpy), for ``classify``."""
        raise NotImplementedError

    def describe(self) -> str:
        """One line naming the model, its weights and compute dtype (and why), for notebooks and the CLI."""
        text = f"{self.name} ({self.weights} weights, {len(self.layers)} layers)"
        if getattr(self, "precision_reason", None):
            text += f" [{self.dtype} compute, {self.precision_reason}]"
        if self.weights == "untrained":
            text += " - UNTRAINED: pictures are textures, not objects"
        if getattr(self, "fallback_reason", None):
            text += " (pretrained weights unavailable; see model.fallback_reason)"
        return text

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"
