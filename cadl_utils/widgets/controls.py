"""The small controls: PNG bytes, the untrained banner, layer and channel pickers, sliders, images."""

import html
from pathlib import Path
from typing import Any, Callable, Sequence

import imageio.v3 as iio
import ipywidgets as w
import numpy as np

from .. import images
from ..config import cache_dir
from ..errors import CadlError, ImageError, ParameterError

#: Layer kinds offered by the Deep Dream layer dropdown (ReLU convs are dreamt on their pre-ReLU twin).
DREAM_KINDS = ("conv", "mixed", "logits", "softmax")
#: Layer kinds whose channels are classes (the channel slider shows their label).
CLASS_KINDS = ("logits", "softmax")
# Where explorers start: the first of these layers the model has (the classic notebook's first), channel 139.
_PREFERRED_LAYERS, _PREFERRED_CHANNEL = ("mixed4d_3x3_bottleneck", "mixed4c", "mixed"), 139
_NOISE, _YOURS = "(noise)", "(your image)"


def tag(widget: Any, css_class: str) -> Any:
    """Add the contract's CSS class and return the widget (so construction stays one expression)."""
    widget.add_class(css_class)
    return widget


def control(kind: type, css_class: str, description: str, **options: Any) -> Any:
    """A control of class ``css_class`` that reports a change only when released (a slider, a text box)."""
    return tag(kind(description=description, continuous_update=False, **options), css_class)


def png_bytes(image: Any) -> bytes:
    """The PNG file's bytes of an image array (for an ``ipywidgets.Image``)."""
    return iio.imwrite("<bytes>", images.to_uint8(image), extension=".png")


def banner_html(model: Any) -> str | None:
    """The banner's inner HTML for a model with untrained weights (or an ``auto`` fallback), else None."""
    reason = getattr(model, "fallback_reason", None)
    stand_in = getattr(model, "weights", None) == "untrained" and getattr(model, "has_pretrained", True)
    if not stand_in and not reason:  # random-multiscale is random by design: nothing better to point to
        return None
    name = html.escape(str(getattr(model, "name", "model")))
    lines = ["<b>These pictures come from an untrained network (random weights): expect textures, not jellyfish.</b>"]
    if reason:
        lines.append(f"weights='auto' fell back to the untrained stand-in because: {html.escape(str(reason))}")
    which = "" if name == "inception5h" else f'"{name}", '
    lines.append(f"To get the real {name}, set <code>CADL_WEIGHTS=pretrained</code> before starting Jupyter, or load "
                 f"it with <code>load_model({which}weights=\"pretrained\")</code>. It needs internet once (then it is "
                 f"cached in <code>{html.escape(str(cache_dir()))}</code>)"
                 + ("; offline, put <code>inception5h.zip</code> (about 50 MB) in that folder." if not which else "."))
    return ('<div style="background:#fff3cd;border:2px solid #d39e00;border-radius:4px;color:#533f03;'
            f'padding:8px 12px;margin:4px 0;line-height:1.4">&#9888; {"<br>".join(lines)}</div>')


def untrained_banner(model: Any) -> w.HTML | None:
    """An ``ipywidgets.HTML`` warning (class ``cadl-untrained-banner``) for untrained weights, else None."""
    text = banner_html(model)
    return None if text is None else tag(w.HTML(value=text, layout=w.Layout(width="100%")), "cadl-untrained-banner")


def show_banner(model: Any) -> bool:
    """Display the banner as plain HTML output (visible without widgets: nbval, GitHub); True if shown."""
    text = banner_html(model)
    if text is not None:
        from IPython.display import HTML, display  # only where a notebook shows it
        display(HTML(f'<div class="cadl-untrained-banner">{text}</div>'))
    return text is not None


def layer_dropdown(model: Any, kinds: Sequence[str] | None = DREAM_KINDS, value: str | None = None) -> w.Dropdown:
    """A dropdown (class ``cadl-layer``) of the model's layers of ``kinds`` (None: all), shown as
    ``"name (C channels)"``, starting at ``value`` (default: a classic Deep Dream layer, else the middle one)."""
    options = [(f"{i.name} ({i.channels} channels)", i.name) for i in model.layers if kinds is None or i.kind in kinds]
    names = [name for _, name in options]
    offered = f"kinds {', '.join(kinds or ())}"
    if not names:
        raise ParameterError(f"{model.name} has no layers of {offered}: choose other kinds (see model.layers)")
    if value is None:
        value = next((name for name in _PREFERRED_LAYERS if name in names), names[len(names) // 2])
    elif not isinstance(value, str) or value not in names:
        model.layer(str(value))  # an unknown name raises LayerError with the closest names
        raise ParameterError(f"layer {value!r} is not offered here: use a layer of {offered}")
    return tag(w.Dropdown(options=options, value=value, description="layer", layout=w.Layout(width="28em")),
               "cadl-layer")


class ChannelSlider:
    """A channel (or class) slider of one layer (``.slider``, class ``cadl-channel``) starting at ``value`` (default:
    jellyfish for class layers, else 139 or 0) and a label naming the choice (``.label``, ``cadl-channel-label``:
    ``class 647: jellyfish`` or ``channel 139 of 528``)."""

    def __init__(self, model: Any, layer: str, value: int | None = None):
        self.model, self.layer = model, layer
        self.slider = control(w.IntSlider, "cadl-channel", "channel", min=0, max=model.layer(layer).channels - 1)
        self.label = tag(w.Label(), "cadl-channel-label")
        self.widget = w.HBox([self.slider, self.label])
        self.slider.observe(lambda _change: self._relabel(), "value")
        self.set_layer(layer, self._default(layer) if value is None else value)

    def _default(self, layer: str) -> int:
        """Jellyfish for class layers, channel 139 for others; 0 where the layer has no such channel."""
        info, labels = self.model.layer(layer), list(self.model.labels)
        index = _PREFERRED_CHANNEL
        if info.kind in CLASS_KINDS:
            index = labels.index("jellyfish") if "jellyfish" in labels else 0
        return index if index < info.channels else 0

    def set_layer(self, layer: str, value: int | None = None) -> None:
        """Point the slider at ``layer``, at channel ``value`` (default: the current one if it fits)."""
        channels = self.model.layer(layer).channels
        if value is None:
            value = self.slider.value if self.slider.value < channels else self._default(layer)
        self.model.check_channel(layer, value)  # LayerError for a non-integer, not int()'s TypeError
        self.layer = layer
        with self.slider.hold_trait_notifications():  # checked together: no clamping to the old range
            self.slider.max, self.slider.value = channels - 1, int(value)
        self._relabel()

    def _relabel(self) -> None:
        info, index = self.model.layer(self.layer), self.slider.value
        self.slider.description = "class" if info.kind in CLASS_KINDS else "channel"
        self.label.value = f"class {index}: {self.model.label(index)}" if info.kind in CLASS_KINDS \
            else f"channel {index} of {info.channels}"


def samples(kind: str) -> dict[str, Path]:
    """The sample images of a kind by name (none when the package was installed without data/)."""
    try:
        return images.sample_images(kind)
    except ImageError:
        return {}


def _stem(source: Any) -> str:
    return (Path(source).stem or "your_image") if isinstance(source, (str, Path)) else "your_image"


class ImagePicker:
    """Choose an image: a sample dropdown (``cadl-image-picker``; ``noise`` adds grey noise), a path box
    (``cadl-image-path``, press Enter) and an upload button (``cadl-image-upload``), all in ``.widget``. ``image``:
    the current float32 [H, W, 3] image (long side at most ``max_side``); ``name``: its short name; ``version``
    grows with each image. A bad path or upload keeps the image; ``error`` and ``report(message)`` say why."""

    def __init__(self, kind: str = "photo", image: Any = None, *, description: str = "image",
                 max_side: int | None = None, noise: bool = False, report: Callable[[str], None] | None = None):
        """Args: kind: ``photo`` or ``style`` samples; image: the first (path, array, sample name; None: a sample)."""
        self.max_side, self.report, self.error, self.version = max_side, report, None, 0
        self.changed: Callable[[], Any] | None = None  # called after every new image
        # Each choice of the dropdown is (source, name).
        self._sources = {name: (path, name) for name, path in samples(kind).items()}
        self._sources.update({_NOISE: (_NOISE, "noise")} if noise else {})
        if image is not None and not (isinstance(image, str) and image in self._sources):
            self._sources = {_YOURS: (image, _stem(image)), **self._sources}
        if not self._sources:
            raise ImageError("no sample images are available; pass an image, e.g. image='my_photo.jpg'")
        first = image if isinstance(image, str) and image in self._sources else next(iter(self._sources))
        self.image, self.name = self._load(self._sources[first][0]), self._sources[first][1]
        self.dropdown = tag(w.Dropdown(options=list(self._sources), value=first, description=description),
                            "cadl-image-picker")
        self.path = control(w.Text, "cadl-image-path", "", placeholder="or type an image path, then Enter",
                           layout=w.Layout(width="22em"))
        self.upload = tag(w.FileUpload(accept="image/*", multiple=False, description="upload"), "cadl-image-upload")
        self.widget = w.HBox([self.dropdown, self.path, self.upload])
        self.dropdown.observe(lambda change: self.use(*self._sources[change["new"]]), "value")
        self.path.observe(self._typed, "value")
        self.upload.observe(self._uploaded, "value")

    def use(self, source: Any, name: str | None = None, *, what: str = "image") -> bool:
        """Switch to an image (anything ``images.as_image`` accepts); False (image kept, ``error`` and
        ``report`` say why) if it cannot be used."""
        try:
            image = self._load(source, what)
        except CadlError as error:
            noun = "image" if what == "image" else "upload"
            self.error = f"could not use that {noun}, keeping {self.name!r}: {error}"
            if self.report is not None:
                self.report(self.error)
            return False
        self.image, self.name, self.error = image, name or _stem(source), None
        self.version += 1
        if self.changed is not None:
            self.changed()
        return True

    def _load(self, source: Any, what: str = "image") -> np.ndarray:
        if isinstance(source, str) and source == _NOISE:  # grey and a little noise, to dream from nothing
            side = self.max_side or 512
            return np.random.default_rng(0).uniform(0.4, 0.6, size=(side, side, 3)).astype(np.float32)
        return images.as_image(source, what, max_side=self.max_side)

    def _typed(self, change: dict) -> None:
        if str(change["new"]).strip():
            self.use(str(change["new"]).strip())

    def _uploaded(self, change: dict) -> None:
        if change["new"]:
            item = change["new"][0]
            name = str(item.get("name", "upload"))
            self.use(bytes(item.get("content") or b""), Path(name).stem, what=f"the upload {name!r}")
