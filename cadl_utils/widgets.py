"""Sliders for the notebooks: controls wired to the engines, a small live preview and a Run button.

Every control carries the CSS classes of the widgets DOM contract (notes/CONTRACTS.md), so a browser
test can find it: ``cadl-layer``, ``cadl-channel``, ``cadl-step-size``, ``cadl-steps``, ``cadl-octaves``,
``cadl-weight-<name>``, ``cadl-run``, ``cadl-preview``, ``cadl-preview-label``, ``cadl-status``,
``cadl-gif``, ``cadl-image-picker``, ``cadl-image-path`` and ``cadl-untrained-banner``.

How a preview runs
------------------
Sliders report a change when they are released (``continuous_update=False``). Each change bumps a
generation counter and asks a background worker for a preview. The worker reads the controls when it
starts, calls the engine at the profile's preview size and step count, and shows the result only if no
newer change arrived in the meantime; a run that became stale is also told to stop at its next step (the
engines stop when their callback returns False). The worker runs one job at a time, previews and the Run
button alike, so our TensorFlow work never overlaps and an objective's variables (``set_index``,
``set_weight``) are never changed under a running job. Changing a channel, a step size or the image
reuses the same objective and its compiled step: nothing is retraced.

Without a browser (tests, scripts) use ``update_preview()`` and ``run()``, which work synchronously.
"""

from __future__ import annotations

import html
import io
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
from PIL import Image as PILImage

from . import images
from .config import Profile, cache_dir
from .config import profile as active_profile
from .errors import CadlError, ImageError, ParameterError

__all__ = [
    "DREAM_KINDS",
    "ChannelSlider",
    "DreamExplorer",
    "GuidedExplorer",
    "ImagePicker",
    "StyleExplorer",
    "ZoomExplorer",
    "banner_html",
    "channel_slider",
    "layer_dropdown",
    "png_bytes",
    "show_banner",
    "untrained_banner",
]

#: Layer kinds offered by the Deep Dream layer dropdown (ReLU convs are dreamt on their pre-ReLU twin).
DREAM_KINDS = ("conv", "mixed", "logits", "softmax")
#: Layer kinds whose channels are classes (the channel slider shows their label).
CLASS_KINDS = ("logits", "softmax")
# First match is the layer an explorer starts on (the classic notebook's favourite, then a safe one).
_PREFERRED_LAYERS = ("mixed4d_3x3_bottleneck", "mixed4c", "mixed")
_PREFERRED_CHANNEL = 139
# The smallest side at which a preview is shown on screen (small previews are scaled up for viewing).
_MIN_DISPLAY = 192
# Engine limits for the preview's enlarged step (see DreamExplorer._compute_preview).
_MAX_PREVIEW_STEP = 0.25
_MAX_PREVIEW_LEARNING_RATE = 0.1
_NOISE = "(noise)"
_RUN = "Run (full-size GIF)"
_YOURS = "(your image)"


# --- small helpers -----------------------------------------------------------------------------------


def _tag(widget: w.DOMWidget, css_class: str) -> Any:
    """Add the contract's CSS class and return the widget (so construction stays one expression)."""
    widget.add_class(css_class)
    return widget


def png_bytes(image: Any) -> bytes:
    """Encode an image as PNG for an ``ipywidgets.Image``.

    Args:
        image: an image array (anything ``images.load_image`` accepts as an array).

    Returns:
        The PNG file's bytes.
    """
    buffer = io.BytesIO()
    PILImage.fromarray(images.to_uint8(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def _fit(image: np.ndarray, long_side: int, need: int = 1) -> np.ndarray:
    """``image`` resized to ``long_side`` on its long side, larger if its short side would be below ``need``."""
    height, width = image.shape[:2]
    shortest = min(height, width)
    if shortest * long_side / max(height, width) < need:
        long_side = math.ceil(need * max(height, width) / shortest)
    return images.resize(image, int(long_side))


def _noise(side: int, seed: int = 0) -> np.ndarray:
    """Grey with a little uniform noise: the classic starting image for dreaming from nothing."""
    rng = np.random.default_rng(seed)
    return rng.uniform(0.4, 0.6, size=(side, side, 3)).astype(np.float32)


def _error_text(error: BaseException) -> str:
    """The message for the status line; unexpected errors also name their type."""
    if isinstance(error, CadlError):
        return str(error)
    return f"{type(error).__name__}: {error}"


def _safe_name(text: str) -> str:
    """A file-name-safe version of a layer or image name."""
    kept = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(text))
    return kept.strip("._") or "image"


def _preview_steps(steps: int, step: float, preview_steps: int, cap: float) -> tuple[int, float]:
    """(steps, step) of a preview: at most ``preview_steps`` steps, each larger so that the preview
    moves the pixels about as far as ``steps`` steps of ``step`` do; the larger step is capped at ``cap``."""
    fewer = max(1, min(steps, preview_steps))
    return fewer, min(cap, step * steps / fewer)


def _step_size_slider(value: float) -> w.FloatSlider:
    """The gradient step size slider of the dream and guided explorers (``cadl-step-size``)."""
    slider = w.FloatSlider(value=value, min=0.001, max=0.1, step=0.001, readout_format=".3f",
                           description="step size", continuous_update=False)  # fmt: skip
    return _tag(slider, "cadl-step-size")


def _iterations_slider(steps: int | None, default: int) -> w.IntSlider:
    """The slider of a run's total steps (``cadl-steps``), starting at ``steps`` or ``default``."""
    slider = w.IntSlider(value=int(steps or default), min=1, max=max(500, int(steps or 0)),
                         description="iterations", continuous_update=False)  # fmt: skip
    return _tag(slider, "cadl-steps")


# --- the untrained banner ------------------------------------------------------------------------------


def _needs_banner(model: Any) -> bool:
    return getattr(model, "weights", None) == "untrained" or bool(getattr(model, "fallback_reason", None))


def banner_html(model: Any) -> str | None:
    """The banner's inner HTML for a model with untrained weights (or a fallback), else None.

    Args:
        model: a cadl_utils Model.

    Returns:
        HTML text (no ``cadl-untrained-banner`` class of its own: the caller's container has it), or None.
    """
    if not _needs_banner(model):
        return None
    name = getattr(model, "name", "model")
    folder = html.escape(str(cache_dir()))
    lines = [
        "<b>These pictures come from an untrained network (random weights): expect textures, not jellyfish.</b>"
    ]
    reason = getattr(model, "fallback_reason", None)
    if reason:
        lines.append(f"weights='auto' fell back to the untrained stand-in because: {html.escape(str(reason))}")
    if name == "inception5h":
        lines.append(
            "To get the real inception5h, set <code>CADL_WEIGHTS=pretrained</code> before starting Jupyter, "
            "or load it with <code>load_model(weights=\"pretrained\")</code>. It needs internet once "
            f"(about 50 MB, then cached in <code>{folder}</code>); offline, put <code>inception5h.zip</code> "
            "in that folder."
        )
    else:
        lines.append(
            f"To get the real {html.escape(str(name))}, set <code>CADL_WEIGHTS=pretrained</code> or load it "
            f"with <code>load_model(\"{html.escape(str(name))}\", weights=\"pretrained\")</code> "
            "(needs internet once)."
        )
    body = "<br>".join(lines)
    return (
        '<div style="background:#fff3cd;border:2px solid #d39e00;border-radius:4px;color:#533f03;'
        f'padding:8px 12px;margin:4px 0;line-height:1.4">&#9888; {body}</div>'
    )


def untrained_banner(model: Any) -> w.HTML | None:
    """A clearly visible warning box when ``model`` has untrained weights (or ``auto`` fell back).

    Args:
        model: a cadl_utils Model.

    Returns:
        An ``ipywidgets.HTML`` with class ``cadl-untrained-banner``, or None for pretrained weights.
    """
    text = banner_html(model)
    if text is None:
        return None
    return _tag(w.HTML(value=text, layout=w.Layout(width="100%")), "cadl-untrained-banner")


def show_banner(model: Any) -> bool:
    """Display the untrained banner in a notebook when ``model`` needs it.

    It is displayed as plain HTML output (a ``<div class="cadl-untrained-banner">``), so it stays
    visible where widgets do not render (saved notebooks, nbval, GitHub).

    Args:
        model: a cadl_utils Model.

    Returns:
        True when a banner was shown.
    """
    text = banner_html(model)
    if text is None:
        return False
    from IPython.display import HTML, display

    display(HTML(f'<div class="cadl-untrained-banner">{text}</div>'))
    return True


# --- layer and channel controls ---------------------------------------------------------------------


def layer_dropdown(model: Any, kinds: Sequence[str] | None = DREAM_KINDS, value: str | None = None) -> w.Dropdown:
    """A dropdown of a model's layers, each shown as ``"name (C channels)"``.

    Args:
        model: a cadl_utils Model.
        kinds: layer kinds to offer (None: all).
        value: the layer selected first (default: a classic Deep Dream layer, else the middle one).

    Returns:
        An ``ipywidgets.Dropdown`` with class ``cadl-layer``; its ``value`` is the layer name.

    Raises:
        ParameterError: the model has no layer of those kinds.
        LayerError: ``value`` is not one of the offered layers.
    """
    infos = [info for info in model.layers if kinds is None or info.kind in kinds]
    if not infos:
        raise ParameterError(
            f"{getattr(model, 'name', 'the model')} has no layers of kinds {', '.join(kinds or ())}: "
            "choose other kinds (see model.layers)"
        )
    names = [info.name for info in infos]
    if value is None:
        value = next((n for n in _PREFERRED_LAYERS if n in names), names[len(names) // 2])
    elif value not in names:
        model.layer(value)  # an unknown name raises LayerError with the closest names
        raise ParameterError(f"layer {value!r} is not offered here: use one of the kinds {', '.join(kinds or ())}")
    options = [(f"{info.name} ({info.channels} channels)", info.name) for info in infos]
    dropdown = w.Dropdown(options=options, value=value, description="layer", layout=w.Layout(width="28em"))
    return _tag(dropdown, "cadl-layer")


def _default_channel(model: Any, layer: str) -> int:
    """Where a channel slider starts: jellyfish for class layers, channel 139 where it exists, else 0."""
    info = model.layer(layer)
    if info.kind in CLASS_KINDS:
        try:
            index = int(model.label_index("jellyfish"))
        except CadlError:
            index = 0
        return index if 0 <= index < info.channels else 0
    return _PREFERRED_CHANNEL if _PREFERRED_CHANNEL < info.channels else 0


class ChannelSlider:
    """An IntSlider over the channels (or classes) of one layer, plus a label naming the choice.

    Attributes:
        slider: ``ipywidgets.IntSlider`` with class ``cadl-channel``.
        label: ``ipywidgets.Label`` with class ``cadl-channel-label`` (``class 647: jellyfish`` for class
            layers, ``channel 139 of 528`` for others).
        widget: both in a row.
    """

    def __init__(self, model: Any, layer: str, value: int | None = None):
        self.model = model
        self._layer = layer
        info = model.layer(layer)
        start = _default_channel(model, layer) if value is None else int(value)
        model.check_channel(layer, start)
        self.slider = _tag(
            w.IntSlider(value=start, min=0, max=info.channels - 1, description="channel", continuous_update=False),
            "cadl-channel",
        )
        self.label = _tag(w.Label(), "cadl-channel-label")
        self.widget = w.HBox([self.slider, self.label])
        self.slider.observe(lambda _change: self._relabel(), "value")
        self._relabel()

    @property
    def layer(self) -> str:
        """The layer whose channels the slider selects."""
        return self._layer

    def set_layer(self, layer: str, value: int | None = None) -> None:
        """Point the slider at another layer (its range follows; the value is kept when it fits).

        Args:
            layer: layer name.
            value: channel to select (default: keep the current one if in range, else a default).
        """
        info = self.model.layer(layer)
        self._layer = layer
        if value is None:
            value = self.slider.value if self.slider.value < info.channels else _default_channel(self.model, layer)
        self.model.check_channel(layer, int(value))
        # Order matters: never let max drop below the value (ipywidgets would clamp it on its own).
        if info.channels - 1 >= self.slider.max:
            self.slider.max = info.channels - 1
            self.slider.value = int(value)
        else:
            self.slider.value = int(value)
            self.slider.max = info.channels - 1
        self._relabel()

    def describe(self, index: int | None = None) -> str:
        """``class 647: jellyfish`` for class layers, ``channel 139 of 528`` otherwise."""
        index = self.slider.value if index is None else int(index)
        info = self.model.layer(self._layer)
        if info.kind in CLASS_KINDS:
            return f"class {index}: {self.model.label(index)}"
        return f"channel {index} of {info.channels}"

    def _relabel(self) -> None:
        info = self.model.layer(self._layer)
        self.slider.description = "class" if info.kind in CLASS_KINDS else "channel"
        self.label.value = self.describe()


def channel_slider(model: Any, layer: str, value: int | None = None) -> ChannelSlider:
    """A neuron/channel slider for ``layer`` whose label shows class names for class layers.

    Args:
        model: a cadl_utils Model.
        layer: layer name.
        value: starting channel (default: jellyfish for class layers, 139 or 0 otherwise).

    Returns:
        A ChannelSlider (``.slider`` has class ``cadl-channel``, ``.label`` ``cadl-channel-label``).
    """
    return ChannelSlider(model, layer, value)


# --- image pickers ----------------------------------------------------------------------------------


class ImagePicker:
    """Choose an image: a sample dropdown, a path box (press Enter) and an upload button.

    A bad path or upload leaves the current image in place and reports the reason through ``report``
    (the explorers show it in their status line).

    Attributes:
        dropdown: ``ipywidgets.Dropdown`` of sample images, class ``cadl-image-picker``.
        path: ``ipywidgets.Text`` for a file path, class ``cadl-image-path``.
        upload: ``ipywidgets.FileUpload`` (one image), class ``cadl-image-upload``.
        widget: the three in a row.
        image: the current image, float32 [H, W, 3] in [0, 1] (long side at most ``max_side``).
        name: a short name of the current image (for captions and file names).
        version: increases with every new image (cheap change detection).
        error: the last error message, or None after a successful load.
    """

    def __init__(
        self,
        kind: str = "photo",
        image: Any = None,
        *,
        description: str = "image",
        max_side: int | None = None,
        noise: bool = False,
        report: Callable[[str], None] | None = None,
    ):
        """Args:
        kind: ``photo`` or ``style`` (which sample images to offer).
        image: the first image: a path, an array, a sample name, or None for the first sample.
        description: the dropdown's caption.
        max_side: shrink images whose long side is larger than this (None: keep).
        noise: offer a grey-noise image (for dreaming from nothing).
        report: called with an error message when an image cannot be used.
        """
        self.max_side = max_side
        self.report = report
        self.error: str | None = None
        self.version = 0
        self._listeners: list[Callable[[], None]] = []
        try:
            samples = images.sample_images(kind)
        except ImageError as error:
            # A package installed without data/: the path box and upload still work.
            samples = {}
            self.error = str(error)
        self._sources: dict[str, Any] = {name: path for name, path in samples.items()}
        if noise:
            self._sources[_NOISE] = _NOISE
        initial = image
        if isinstance(image, str) and image in self._sources:
            first = image
        elif image is not None:
            self._sources = {_YOURS: image, **self._sources}
            first = _YOURS
        elif self._sources:
            first = next(iter(self._sources))
        else:
            raise ImageError(
                f"no sample images are available ({self.error}); pass an image, e.g. image='my_photo.jpg'"
            )
        self.image = self._load(self._sources[first])
        self.name = self._name_of(first, initial)
        self.dropdown = _tag(
            w.Dropdown(options=list(self._sources), value=first, description=description), "cadl-image-picker"
        )
        self.path = _tag(
            w.Text(placeholder="or type an image path, then Enter", continuous_update=False,
                   layout=w.Layout(width="22em")),
            "cadl-image-path",
        )  # fmt: skip
        self.upload = _tag(w.FileUpload(accept="image/*", multiple=False, description="upload"), "cadl-image-upload")
        self.widget = w.HBox([self.dropdown, self.path, self.upload])
        self.dropdown.observe(self._picked, "value")
        self.path.observe(self._typed, "value")
        self.upload.observe(self._uploaded, "value")

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` after every new image."""
        self._listeners.append(callback)

    def use(self, source: Any, name: str | None = None) -> bool:
        """Switch to an image from a path, an RGB array or a PIL image.

        Args:
            source: what ``images.as_image`` accepts.
            name: caption for it (default: the file name or ``your image``).

        Returns:
            True if the image was loaded; False (image unchanged, ``error`` and ``report`` say why) if not.
        """
        try:
            image = self._load(source)
        except CadlError as error:
            self._refuse(f"could not use that image, keeping {self.name!r}: {error}")
            return False
        self._take(image, name or self._name_of(None, source))
        return True

    def _load(self, source: Any, what: str = "image") -> np.ndarray:
        if isinstance(source, str) and source == _NOISE:
            return _noise(self.max_side or 512)
        return images.as_image(source, what, max_side=self.max_side)

    def _refuse(self, message: str) -> None:
        """Keep the current image and say why the new one cannot be used."""
        self.error = message
        if self.report is not None:
            self.report(message)

    def _take(self, image: np.ndarray, name: str) -> None:
        """Make ``image`` the current one and tell the listeners."""
        self.image = image
        self.name = name
        self.error = None
        self.version += 1
        for listener in list(self._listeners):
            listener()

    @staticmethod
    def _name_of(choice: str | None, source: Any) -> str:
        """A sample's name, ``noise``, a file's stem, or ``your_image`` for arrays."""
        if choice == _NOISE:
            return "noise"
        if choice is not None and choice != _YOURS:
            return choice
        if isinstance(source, (str, Path)):
            return Path(source).stem or "your_image"
        return "your_image"

    def _picked(self, change: dict) -> None:
        choice = change["new"]
        self.use(self._sources[choice], name=self._name_of(choice, self._sources[choice]))

    def _typed(self, change: dict) -> None:
        text = str(change["new"]).strip()
        if text:
            self.use(text)

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        name = item.get("name", "upload") if isinstance(item, dict) else getattr(item, "name", "upload")
        content = item.get("content") if isinstance(item, dict) else getattr(item, "content", None)
        try:
            picture = self._load(bytes(content or b""), what=f"the upload {name!r}")
        except CadlError as error:
            self._refuse(f"could not use that upload, keeping {self.name!r}: {error}")
            return
        self._take(picture, Path(str(name)).stem)


# --- the shared explorer machinery ------------------------------------------------------------------


class _Worker:
    """One background thread that runs jobs in order; a queued preview is replaced by a newer one.

    The thread ends when the queue is empty and starts again with the next job.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: list[tuple[str, Callable[[], Any]]] = []
        self._alive = False

    def submit(self, kind: str, job: Callable[[], Any]) -> None:
        with self._cond:
            if kind == "preview":
                self._jobs = [(k, j) for k, j in self._jobs if k != "preview"]
            self._jobs.append((kind, job))
            if not self._alive:
                self._alive = True
                threading.Thread(target=self._loop, name="cadl-widgets", daemon=True).start()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._jobs:
                    self._alive = False
                    self._cond.notify_all()
                    return
                _, job = self._jobs.pop(0)
            try:
                job()
            except Exception:  # noqa: BLE001 - jobs report their own errors; never kill the worker
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no job is queued or running; False if ``timeout`` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._alive, timeout)


@dataclass
class _Stats:
    """Counters tests and curious users can read."""

    shown: int = 0
    dropped: int = 0
    failed: int = 0
    seconds: list[float] = field(default_factory=list)


class _Explorer:
    """Preview runner (generation counter, worker, status and progress), Run plumbing and layout.

    Subclasses build their controls, then call ``_finish(rows, preview)``, and implement
    ``_read_controls``, ``_compute_preview``, ``_describe`` and ``_render``.
    """

    gif_prefix = "explorer"
    duration_ms = 100

    def __init__(self, model: Any, profile: Profile | str | None, threaded: bool, output_dir: str | Path):
        self.model = _resolve_model(model)
        self.profile = profile if isinstance(profile, Profile) else active_profile(profile)
        self.threaded = bool(threaded)
        self.output_dir = Path(output_dir)
        self.status = _tag(w.HTML(value="", layout=w.Layout(width="100%")), "cadl-status")
        self.progress = _tag(w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="12em")), "cadl-progress")
        self.preview = _tag(w.Image(format="png"), "cadl-preview")
        self.preview_label = _tag(w.HTML(value=""), "cadl-preview-label")
        self.gif = _tag(w.Image(format="gif", layout=w.Layout(display="none")), "cadl-gif")
        self.run_button = _tag(w.Button(description=_RUN, icon="play", button_style="primary"), "cadl-run")
        self.run_button.on_click(self._clicked_run)
        self.stats = _Stats()
        self.last_gif: Path | None = None
        self.widget: w.VBox | None = None
        self._generation = 0
        self._lock = threading.Lock()
        self._quiet = 0
        self._worker = _Worker()
        self._stop = threading.Event()
        self._running = False

    # --- layout and display ------------------------------------------------------------------------
    def _image_picker(self, kind: str, image: Any, description: str = "image", noise: bool = False) -> ImagePicker:
        """An ImagePicker at the profile's size that reports bad images in the status line."""
        return ImagePicker(kind, image, description=description, max_side=self.profile.size, noise=noise,
                           report=lambda text: self._say(text, problem=True))  # fmt: skip

    def _finish(self, rows: Sequence[w.Widget], preview: bool) -> None:
        """Lay the widget out and (optionally) compute the first preview now."""
        banner = untrained_banner(self.model)
        parts: list[w.Widget] = [banner] if banner is not None else []
        parts += list(rows)
        parts.append(w.HBox([self.run_button, self.progress]))
        parts.append(self.status)
        parts.append(w.HBox([self.preview, self.preview_label]))
        parts.append(self.gif)
        self.widget = w.VBox(parts)
        self._watch_for_preview()
        if preview:
            self._preview_job(self._next_generation())

    def _watch_for_preview(self) -> None:
        """Subclasses observe their controls here (``control.observe(self._changed, "value")``)."""

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)

    def display(self) -> None:
        """Show the explorer in a notebook (the same as leaving it as a cell's last expression)."""
        from IPython.display import display

        display(self.widget)

    # --- status ------------------------------------------------------------------------------------
    def _say(self, text: str, problem: bool = False) -> None:
        escaped = html.escape(text, quote=False)
        self.status.value = f'<span style="color:#a94442">&#9888; {escaped}</span>' if problem else escaped

    @property
    def status_text(self) -> str:
        """The status line as plain text."""
        value = self.status.value
        for tag in ('<span style="color:#a94442">', "</span>"):
            value = value.replace(tag, "")
        return html.unescape(value)

    # --- previews ----------------------------------------------------------------------------------
    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Change controls from code without each change asking for its own preview."""
        self._quiet += 1
        try:
            yield
        finally:
            self._quiet -= 1

    def _changed(self, _change: Any = None) -> None:
        if not self._quiet:
            self.request_preview()

    def _next_generation(self) -> int:
        with self._lock:
            self._generation += 1
            return self._generation

    def _is_current(self, generation: int) -> bool:
        return generation == self._generation

    def request_preview(self) -> None:
        """Ask for a new preview (in the background when ``threaded``); older pending ones are dropped."""
        generation = self._next_generation()
        if self.threaded:
            self._say("updating the preview...")
            self._worker.submit("preview", lambda: self._preview_job(generation))
        else:
            self._preview_job(generation)

    def update_preview(self) -> bool:
        """Recompute the preview now, in this thread (for scripts and tests).

        Returns:
            True if a new preview is shown; False if it failed (the status line says why).
        """
        self.wait()
        return self._preview_job(self._next_generation())

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until queued previews and runs are done; False if ``timeout`` seconds passed first."""
        return self._worker.wait(timeout)

    def _preview_job(self, generation: int) -> bool:
        """Compute and show one preview unless a newer request supersedes it."""
        if not self._is_current(generation):
            self.stats.dropped += 1
            return False
        started = time.perf_counter()
        try:
            params = self._read_controls()
            picture = self._compute_preview(params, self._step_reporter("preview", generation))
        except Exception as error:  # noqa: BLE001 - shown to the user; the previous preview stays
            self.stats.failed += 1
            if self._is_current(generation):
                self._say(f"preview failed: {_error_text(error)}", problem=True)
            return False
        if picture is None or not self._is_current(generation):
            self.stats.dropped += 1
            return False
        self.preview.value = png_bytes(picture)
        # Small previews are shown enlarged; larger ones at their own size.
        longest = max(picture.shape[:2])
        self.preview.width = str(_MIN_DISPLAY * picture.shape[1] // longest) if longest < _MIN_DISPLAY else ""
        height, width = picture.shape[:2]
        self.preview_label.value = html.escape(f"{self._describe(params)} ({width}x{height} px)", quote=False)
        seconds = time.perf_counter() - started
        self.stats.shown += 1
        self.stats.seconds.append(seconds)
        self._say(f"preview ready ({seconds:.1f} s)")
        return True

    def _step_reporter(self, what: str, generation: int | None) -> Callable[[int, int], bool]:
        """A per-step callback: moves the progress bar; False (stop) once stale or when Stop was clicked."""

        def report(step: int, total: int) -> bool:
            if generation is not None and not self._is_current(generation):
                return False
            if generation is None and self._stop.is_set():
                return False
            self.progress.max = max(1, int(total))
            self.progress.value = min(int(step), self.progress.max)
            self.status.value = html.escape(f"{what}: step {step} of {total}")
            return True

        return report

    # --- the Run button ----------------------------------------------------------------------------
    def _clicked_run(self, _button: Any) -> None:
        if self._running:
            self._stop.set()
            self._say("stopping after this step...")
            return
        self._running = True
        self._stop.clear()
        if self.threaded:
            self._say("rendering the GIF...")
            self._worker.submit("run", self._run_reporting)
        else:
            self._run_reporting()

    def _run_reporting(self) -> None:
        try:
            self._run_job()
        except Exception as error:  # noqa: BLE001 - the button has no caller to raise to
            self._say(f"run failed: {_error_text(error)}", problem=True)

    def run(self) -> Path:
        """Render the full-size GIF now, in this thread; save it in ``output_dir`` and show it.

        Returns:
            The GIF's path.

        Raises:
            CadlError: bad settings or an image the engine cannot use (also shown in the status line).
        """
        self.wait()
        self._running = True
        self._stop.clear()
        try:
            return self._run_job()
        except Exception as error:
            self._say(f"run failed: {_error_text(error)}", problem=True)
            raise

    def _run_job(self) -> Path:
        started = time.perf_counter()
        self.run_button.description, self.run_button.icon = "Stop", "stop"
        try:
            params = self._read_controls()
            frames, name = self._render(params, self._step_reporter("rendering", None))
            if not frames:
                raise ParameterError("the run was stopped before its first frame: nothing to save; click Run again")
            target = self.output_dir / f"{self.gif_prefix}_{name}.gif"
            path = images.save_gif(frames, target, duration_ms=self.duration_ms)
        finally:
            self._running = False
            self.run_button.description, self.run_button.icon = _RUN, "play"
        self.show_gif(path)
        stopped = " (stopped early)" if self._stop.is_set() else ""
        self._say(f"saved {path} ({len(frames)} frames, {time.perf_counter() - started:.1f} s){stopped}")
        return path

    def show_gif(self, path: str | Path) -> None:
        """Show a GIF file in the explorer's ``cadl-gif`` image."""
        self.gif.value = Path(path).read_bytes()
        self.gif.layout.display = None
        self.last_gif = Path(path)

    # --- for subclasses ----------------------------------------------------------------------------
    def _read_controls(self) -> Any:
        raise NotImplementedError

    def _compute_preview(self, params: Any, report: Callable[[int, int], bool]) -> np.ndarray | None:
        raise NotImplementedError

    def _describe(self, params: Any) -> str:
        raise NotImplementedError

    def _render(self, params: Any, report: Callable[[int, int], bool]) -> tuple[list[np.ndarray], str]:
        raise NotImplementedError


def _resolve_model(model: Any) -> Any:
    if model is None or isinstance(model, str):
        from .models import load_model

        return load_model(model or "inception5h")
    return model


def _dream_callback(report: Callable[[int, int], bool]) -> Callable[[Any], bool]:
    """Adapt a (step, total) reporter to the dream engine's StepInfo callback."""
    return lambda info: report(info.step, info.total)


# --- Deep Dream and fractal zoom ----------------------------------------------------------------------


@dataclass(frozen=True)
class _DreamParams:
    layer: str
    channel: int
    step_size: float
    steps: int
    octaves: int
    image: np.ndarray = field(repr=False)
    image_name: str


class DreamExplorer(_Explorer):
    """Layer, channel, step size, iterations and octaves with a live preview; Run renders a feedback loop GIF.

    Attributes:
        layer, channel, step_size, steps, octaves: the controls (Dropdown, IntSlider, FloatSlider,
            IntSlider, IntSlider) with classes ``cadl-layer``, ``cadl-channel``, ``cadl-step-size``,
            ``cadl-steps``, ``cadl-octaves``. ``steps`` is the gradient steps per frame of the run.
        channel_label: Label with class ``cadl-channel-label`` (the class name for class layers).
        picker: the ImagePicker (``picker.dropdown``, ``picker.path``, ``picker.upload``).
        preview, preview_label, status, progress, run_button, gif: see the module docs.
        frames: frames of the rendered GIF.
        widget: the container to display.
    """

    gif_prefix = "dream"

    def __init__(
        self,
        model: Any = None,
        image: Any = None,
        profile: Profile | str | None = None,
        *,
        layer: str | None = None,
        channel: int | None = None,
        kinds: Sequence[str] | None = DREAM_KINDS,
        step_size: float = 0.01,
        steps: int = 5,
        octaves: int = 1,
        frames: int | None = None,
        threaded: bool = True,
        output_dir: str | Path = "outputs",
        preview: bool = True,
    ):
        """Args:
        model: a Model, a model name, or None for inception5h with ``CADL_WEIGHTS``.
        image: starting image (path, array or sample name); None: the first sample photo.
        profile: a Profile, ``quick``/``full``, or None for ``CADL_PROFILE``.
        layer, channel: where to start (defaults: a classic Deep Dream channel).
        kinds: layer kinds offered in the dropdown.
        step_size, steps, octaves: starting values of the sliders (steps per frame of the run).
        frames: frames of the rendered GIF (default: the profile's).
        threaded: compute previews and runs in a background thread (False: in the calling thread).
        output_dir: where Run writes GIFs.
        preview: compute the first preview now.
        """
        super().__init__(model, profile, threaded, output_dir)
        self.frames = int(frames or self.profile.frames)
        self._objectives: dict[str, Any] = {}
        self.picker = self._image_picker("photo", image, noise=True)
        self.layer = layer_dropdown(self.model, kinds, value=layer)
        self.channel_control = channel_slider(self.model, self.layer.value, channel)
        self.channel = self.channel_control.slider
        self.channel_label = self.channel_control.label
        self.step_size = _step_size_slider(step_size)
        self.steps = _tag(
            w.IntSlider(value=steps, min=1, max=50, description="iterations", continuous_update=False), "cadl-steps"
        )
        self.octaves = _tag(
            w.IntSlider(value=octaves, min=1, max=6, description="octaves", continuous_update=False), "cadl-octaves"
        )
        self._finish(self._rows(), preview)

    def _rows(self) -> list[w.Widget]:
        return [
            self.picker.widget,
            self.layer,
            self.channel_control.widget,
            w.HBox([self.step_size, self.steps, self.octaves]),
        ]

    def _watch_for_preview(self) -> None:
        self.layer.observe(self._layer_changed, "value")
        for control in self._controls():
            control.observe(self._changed, "value")
        self.picker.on_change(self._changed)

    def _controls(self) -> list[w.Widget]:
        return [self.channel, self.step_size, self.steps, self.octaves]

    def _layer_changed(self, change: dict) -> None:
        with self._quietly():
            self.channel_control.set_layer(change["new"])
        self._changed()

    # --- engine wiring -----------------------------------------------------------------------------
    def objective(self, layer: str | None = None, index: int | None = None) -> Any:
        """The objective for a layer and channel: one per layer, re-pointed with ``set_index``.

        Reusing it keeps the engine's compiled step (no retracing when only the channel changes).
        """
        from . import objectives

        layer = self.layer.value if layer is None else layer
        index = self.channel.value if index is None else int(index)
        objective = self._objectives.get(layer)
        if objective is None:
            if self.model.layer(layer).kind in CLASS_KINDS:
                objective = objectives.neuron(index, layer=layer, model=self.model)
            else:
                objective = objectives.channel(layer, index, model=self.model)
            self._objectives[layer] = objective
        elif objective.index != index:
            objective.set_index(index)
        return objective

    @property
    def trace_count(self) -> int:
        """How many times the engine compiled a step for this explorer's objectives (all layers)."""
        from .dream import get_dreamer

        return sum(get_dreamer(self.model, objective).trace_count for objective in self._objectives.values())

    def _read_controls(self) -> _DreamParams:
        return _DreamParams(
            layer=self.layer.value, channel=int(self.channel.value), step_size=float(self.step_size.value),
            steps=int(self.steps.value), octaves=int(self.octaves.value), image=self.picker.image,
            image_name=self.picker.name,
        )  # fmt: skip

    def _working_image(self, params: _DreamParams, objective: Any, side: int) -> np.ndarray:
        from .dream import required_side

        return _fit(params.image, side, required_side(self.model, objective))

    def _preview_settings(self, params: _DreamParams) -> tuple[int, float]:
        """Steps and step size of a preview: fewer, larger steps that move the pixels about as far as
        one frame of the run does."""
        return _preview_steps(params.steps, params.step_size, self.profile.preview_steps, _MAX_PREVIEW_STEP)

    def _compute_preview(self, params: _DreamParams, report: Callable[[int, int], bool]) -> np.ndarray | None:
        from .dream import dream

        objective = self.objective(params.layer, params.channel)
        image = self._working_image(params, objective, self.profile.preview_size)
        steps, step_size = self._preview_settings(params)
        result = dream(
            image, objective, self.model, steps=steps, step_size=step_size, octaves=params.octaves,
            jitter=max(1, max(image.shape[:2]) // 16), seed=0, progress=False, callback=_dream_callback(report),
        )  # fmt: skip
        return None if result.interrupted else np.asarray(result)

    def _render(self, params: _DreamParams, report: Callable[[int, int], bool]) -> tuple[list[np.ndarray], str]:
        from .dream import feedback_loop

        objective = self.objective(params.layer, params.channel)
        image = self._working_image(params, objective, self.profile.size)
        frames = feedback_loop(
            image, objective, self.model, frames=self.frames, steps_per_frame=params.steps,
            step_size=params.step_size, octaves=params.octaves, jitter=max(1, max(image.shape[:2]) // 16),
            seed=0, progress=False, callback=_dream_callback(report),
        )  # fmt: skip
        return list(frames), _safe_name(f"{params.image_name}_{params.layer}_{params.channel}")

    def _what(self, params: _DreamParams) -> str:
        return f"{params.layer}, {self.channel_control.describe(params.channel)}"

    def _describe(self, params: _DreamParams) -> str:
        steps, step_size = self._preview_settings(params)
        return (
            f"preview of {self._what(params)} on {params.image_name}: {steps} steps of {step_size:.3g}, "
            f"{params.octaves} octave{'s' if params.octaves > 1 else ''}"
        )


@dataclass(frozen=True)
class _ZoomParams(_DreamParams):
    margin: float = 0.02
    center: tuple[float, float] = (0.5, 0.5)
    frames: int = 30


class ZoomExplorer(DreamExplorer):
    """Fractal zoom: the Deep Dream controls plus crop margin, zoom centre and frames.

    The preview shows the first ``preview_frames`` frames side by side; Run renders the zoom GIF.

    Attributes:
        margin: FloatSlider (``cadl-zoom-margin``), the fraction cut at each edge per frame.
        center_x, center_y: FloatSliders (``cadl-zoom-x``, ``cadl-zoom-y``), the zoom centre in [0, 1].
        frames_slider: IntSlider (``cadl-frames``), frames of the GIF.
        steps: IntSlider (``cadl-steps``), gradient steps per frame.
        (and everything DreamExplorer has)
    """

    gif_prefix = "zoom"

    def __init__(
        self,
        model: Any = None,
        image: Any = None,
        profile: Profile | str | None = None,
        *,
        margin: float = 0.02,
        center: tuple[float, float] = (0.5, 0.5),
        frames: int | None = None,
        preview_frames: int = 2,
        **options: Any,
    ):
        """Args:
        model, image, profile, **options: as for DreamExplorer (layer, channel, step_size, steps, ...).
        margin: starting crop margin per frame (fraction of each side).
        center: starting zoom centre (y, x) as fractions.
        frames: starting number of GIF frames (default: the profile's).
        preview_frames: frames shown by the preview.
        """
        self.preview_frames = max(1, int(preview_frames))
        self.margin = _tag(
            w.FloatSlider(value=margin, min=0.005, max=0.1, step=0.005, readout_format=".3f",
                          description="margin", continuous_update=False),
            "cadl-zoom-margin",
        )  # fmt: skip
        self.center_y = _tag(
            w.FloatSlider(value=center[0], min=0.0, max=1.0, step=0.05, description="centre y",
                          continuous_update=False),
            "cadl-zoom-y",
        )
        self.center_x = _tag(
            w.FloatSlider(value=center[1], min=0.0, max=1.0, step=0.05, description="centre x",
                          continuous_update=False),
            "cadl-zoom-x",
        )
        chosen = profile if isinstance(profile, Profile) else active_profile(profile)
        start_frames = int(frames or chosen.frames)
        self.frames_slider = _tag(
            w.IntSlider(value=start_frames, min=2, max=max(120, start_frames), description="frames",
                        continuous_update=False),
            "cadl-frames",
        )  # fmt: skip
        super().__init__(model, image, profile, frames=start_frames, **options)
        self.steps.description = "steps/frame"

    def _rows(self) -> list[w.Widget]:
        rows = super()._rows()
        rows.append(w.HBox([self.margin, self.center_x, self.center_y, self.frames_slider]))
        return rows

    def _controls(self) -> list[w.Widget]:
        # The frame count only matters for Run, so it does not trigger a preview.
        return super()._controls() + [self.margin, self.center_x, self.center_y]

    def _read_controls(self) -> _ZoomParams:
        base = super()._read_controls()
        return _ZoomParams(
            **{name: getattr(base, name) for name in base.__dataclass_fields__},
            margin=float(self.margin.value),
            center=(float(self.center_y.value), float(self.center_x.value)),
            frames=int(self.frames_slider.value),
        )

    def _zoom(self, params: _ZoomParams, image: np.ndarray, frames: int, steps: int, step_size: float,
              report: Callable[[int, int], bool]) -> Any:
        from .dream import fractal_zoom

        return fractal_zoom(
            image, self.objective(params.layer, params.channel), self.model, frames=frames,
            steps_per_frame=steps, margin=params.margin, center=params.center, step_size=step_size,
            octaves=params.octaves, jitter=max(1, max(image.shape[:2]) // 16), seed=0, progress=False,
            callback=_dream_callback(report),
        )  # fmt: skip

    def _compute_preview(self, params: _ZoomParams, report: Callable[[int, int], bool]) -> np.ndarray | None:
        objective = self.objective(params.layer, params.channel)
        image = self._working_image(params, objective, self.profile.preview_size)
        steps, step_size = self._preview_settings(params)
        frames = self._zoom(params, image, self.preview_frames, steps, step_size, report)
        if frames.interrupted or not frames:
            return None
        return images.montage(frames, cols=len(frames))

    def _render(self, params: _ZoomParams, report: Callable[[int, int], bool]) -> tuple[list[np.ndarray], str]:
        objective = self.objective(params.layer, params.channel)
        image = self._working_image(params, objective, self.profile.size)
        frames = self._zoom(params, image, params.frames, params.steps, params.step_size, report)
        self.frames = params.frames
        return list(frames), _safe_name(f"{params.image_name}_{params.layer}_{params.channel}")

    def _describe(self, params: _ZoomParams) -> str:
        steps, step_size = self._preview_settings(params)
        return (
            f"first {self.preview_frames} zoom frames of {self._what(params)} on {params.image_name}: "
            f"margin {params.margin:.3f}, centre (x {params.center[1]:.2f}, y {params.center[0]:.2f}), "
            f"{steps} steps of {step_size:.3g} per frame"
        )


# --- style transfer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _StyleParams:
    content_weight: float
    style_weight: float
    tv_weight: float
    preserve_color: bool
    steps: int
    content: np.ndarray = field(repr=False)
    style: np.ndarray = field(repr=False)
    content_name: str = "content"
    style_name: str = "style"
    key: tuple = ()


def _log_slider(value: float, low: int, high: int, description: str, css: str) -> w.FloatLogSlider:
    """A base-10 log slider from 10**low to 10**high (a quarter decade per step)."""
    slider = w.FloatLogSlider(value=value, base=10, min=low, max=high, step=0.25, description=description,
                              readout_format=".3g", continuous_update=False)  # fmt: skip
    return _tag(slider, css)


class StyleExplorer(_Explorer):
    """Content, style and TV weights (log sliders) and colour preservation, with a live preview.

    The preview is a few Adam steps at the profile's preview size; changing a weight reuses the
    compiled steps and the targets (``StyleTransfer.set_weights``), changing an image or colour
    preservation builds a new engine. Run renders the progression GIF at full size.

    Attributes:
        content_weight, style_weight, tv_weight: FloatLogSliders (``cadl-weight-content``,
            ``cadl-weight-style``, ``cadl-weight-tv``).
        preserve_color: Checkbox (``cadl-preserve-color``).
        steps: IntSlider (``cadl-steps``), Adam steps of the run.
        content_picker, style_picker: ImagePickers for the two images.
    """

    gif_prefix = "style"

    def __init__(
        self,
        model: Any = None,
        content: Any = None,
        style: Any = None,
        profile: Profile | str | None = None,
        *,
        content_weight: float | None = None,
        style_weight: float | None = None,
        tv_weight: float | None = None,
        preserve_color: bool = False,
        steps: int | None = None,
        threaded: bool = True,
        output_dir: str | Path = "outputs",
        preview: bool = True,
        **engine_options: Any,
    ):
        """Args:
        model: a Model, a model name (``inception5h``, ``vgg19``) or None (inception5h, ``CADL_WEIGHTS``).
        content, style: images (path, array or sample name); None: the first sample of each kind.
        profile: a Profile, ``quick``/``full``, or None for ``CADL_PROFILE``.
        content_weight, style_weight, tv_weight: starting weights (default: the engine's).
        preserve_color: start with colour preservation on.
        steps: Adam steps of the run (default: the profile's).
        threaded, output_dir, preview: as for DreamExplorer.
        **engine_options: passed to ``style.StyleTransfer`` (content_layer, style_layers, style_scale...).
        """
        from . import style as style_engine

        super().__init__(model, profile, threaded, output_dir)
        self.engine_options = dict(engine_options)
        self._engines: dict[tuple, Any] = {}
        self.content_picker = self._image_picker("photo", content, "content")
        self.style_picker = self._image_picker("style", style, "style")
        if content_weight is None:
            content_weight = style_engine.DEFAULT_CONTENT_WEIGHT
        if style_weight is None:
            style_weight = style_engine.DEFAULT_STYLE_WEIGHT
        if tv_weight is None:
            tv_weight = style_engine.DEFAULT_TV_WEIGHT
        self.content_weight = _log_slider(content_weight, -3, 3, "content", "cadl-weight-content")
        self.style_weight = _log_slider(style_weight, -2, 4, "style", "cadl-weight-style")
        self.tv_weight = _log_slider(tv_weight, -4, 2, "TV", "cadl-weight-tv")
        self.preserve_color = _tag(w.Checkbox(value=bool(preserve_color), description="preserve colour"),
                                   "cadl-preserve-color")  # fmt: skip
        self.steps = _iterations_slider(steps, self.profile.steps)
        rows = [
            self.content_picker.widget,
            self.style_picker.widget,
            w.HBox([self.content_weight, self.style_weight, self.tv_weight]),
            w.HBox([self.preserve_color, self.steps]),
        ]
        self._finish(rows, preview)

    def _watch_for_preview(self) -> None:
        for control in (self.content_weight, self.style_weight, self.tv_weight, self.preserve_color, self.steps):
            control.observe(self._changed, "value")
        self.content_picker.on_change(self._changed)
        self.style_picker.on_change(self._changed)

    def _read_controls(self) -> _StyleParams:
        return _StyleParams(
            content_weight=float(self.content_weight.value), style_weight=float(self.style_weight.value),
            tv_weight=float(self.tv_weight.value), preserve_color=bool(self.preserve_color.value),
            steps=int(self.steps.value), content=self.content_picker.image, style=self.style_picker.image,
            content_name=self.content_picker.name, style_name=self.style_picker.name,
            key=(self.content_picker.version, self.style_picker.version, bool(self.preserve_color.value)),
        )  # fmt: skip

    def engine(self, params: _StyleParams | None = None, size: int | None = None) -> Any:
        """The StyleTransfer for the current images and colour mode at ``size`` (built once, then reused)."""
        from .style import StyleTransfer

        params = self._read_controls() if params is None else params
        size = self.profile.preview_size if size is None else int(size)
        key = (*params.key, size)
        engine = self._engines.get(key)
        if engine is None:
            # Keep only engines of the current images: older ones hold tensors nobody will use again.
            self._engines = {k: v for k, v in self._engines.items() if k[:3] == params.key}
            engine = StyleTransfer(
                params.content, params.style, self.model, size=size, preserve_color=params.preserve_color,
                content_weight=params.content_weight, style_weight=params.style_weight,
                tv_weight=params.tv_weight, **self.engine_options,
            )  # fmt: skip
            self._engines[key] = engine
        else:
            engine.set_weights(params.content_weight, params.style_weight, params.tv_weight)
        return engine

    @property
    def trace_count(self) -> int:
        """How many times the preview engines compiled their functions."""
        return sum(engine.trace_count for key, engine in self._engines.items() if key[3] == self.profile.preview_size)

    def _preview_settings(self, params: _StyleParams) -> tuple[int, float]:
        """Few Adam steps with a larger learning rate, so the preview moves about as far as the run."""
        from .style import DEFAULT_LEARNING_RATE

        return _preview_steps(params.steps, DEFAULT_LEARNING_RATE, self.profile.preview_steps,
                              _MAX_PREVIEW_LEARNING_RATE)  # fmt: skip

    def _compute_preview(self, params: _StyleParams, report: Callable[[int, int], bool]) -> np.ndarray | None:
        engine = self.engine(params)
        steps, learning_rate = self._preview_settings(params)
        result = engine.run(
            steps=steps, optimizer="adam", learning_rate=learning_rate, frame_every=1, steps_per_call=1,
            progress=False, callback=lambda step, _picture, _losses: report(step, steps),
        )  # fmt: skip
        return None if result.interrupted else result.image

    def _render(self, params: _StyleParams, report: Callable[[int, int], bool]) -> tuple[list[np.ndarray], str]:
        engine = self.engine(params, size=self.profile.size)
        result = engine.run(
            steps=params.steps, optimizer="adam", progress=False,
            callback=lambda step, _picture, _losses: report(step, params.steps),
        )  # fmt: skip
        return list(result.frames), _safe_name(f"{params.content_name}_{params.style_name}")

    def _describe(self, params: _StyleParams) -> str:
        steps, _ = self._preview_settings(params)
        colour = ", colours kept" if params.preserve_color else ""
        return (
            f"preview of {params.content_name} in the style of {params.style_name}: weights content "
            f"{params.content_weight:.3g}, style {params.style_weight:.3g}, TV {params.tv_weight:.3g}{colour}; "
            f"{steps} Adam steps"
        )


# --- guided hallucination ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _GuidedParams:
    preset: Any
    feature_weight: float
    pixel_weight: float
    tv_weight: float
    step_size: float
    steps: int
    dream: np.ndarray = field(repr=False)
    guide: np.ndarray = field(repr=False)
    dream_name: str = "dream"
    guide_name: str = "guide"
    versions: tuple = ()


def _weight_slider(value: float, description: str, css: str) -> w.FloatSlider:
    """A loss-weight slider from -2 to 2 (negative descends the term)."""
    slider = w.FloatSlider(value=value, min=-2.0, max=2.0, step=0.05, description=description,
                           readout_format=".2f", continuous_update=False)  # fmt: skip
    return _tag(slider, css)


class GuidedExplorer(_Explorer):
    """Guided hallucination: a preset plus the feature, pixel and TV weights, with a live preview.

    Choosing a preset sets the three weight sliders to its weights (then move them freely: negative
    descends a term). Weight changes reuse the objective and its compiled step
    (``GuidedObjective.set_term_weights``); a new preset metric, image or layer builds a new one.
    Run renders ``guided(...)`` with the current weights as a GIF.

    Attributes:
        preset: Dropdown of ``guided.PRESET_NAMES`` (``cadl-preset``).
        feature_weight, pixel_weight, tv_weight: FloatSliders (``cadl-weight-feature``,
            ``cadl-weight-pixel``, ``cadl-weight-tv``), -2..2.
        step_size: FloatSlider (``cadl-step-size``); steps: IntSlider (``cadl-steps``), steps of the run.
        dream_picker, guide_picker: ImagePickers for subject 1 (dream) and subject 2 (guide).
    """

    gif_prefix = "guided"

    def __init__(
        self,
        model: Any = None,
        dream_image: Any = None,
        guide_image: Any = None,
        profile: Profile | str | None = None,
        *,
        preset: str = "self",
        layers: str | Sequence[str] | None = None,
        step_size: float = 0.01,
        steps: int | None = None,
        threaded: bool = True,
        output_dir: str | Path = "outputs",
        preview: bool = True,
    ):
        """Args:
        model: a Model, a model name, or None for inception5h with ``CADL_WEIGHTS``.
        dream_image: subject 1 (path, array or sample name); None: the first sample photo.
        guide_image: subject 2; None: the second sample photo.
        profile: a Profile, ``quick``/``full``, or None for ``CADL_PROFILE``.
        preset: the preset selected first (see ``guided.PRESET_NAMES``).
        layers: feature layers (default: ``guided.default_layers(model)``).
        step_size, steps: starting values of the sliders (steps: total steps of the run).
        threaded, output_dir, preview: as for DreamExplorer.
        """
        from . import guided as guided_engine

        super().__init__(model, profile, threaded, output_dir)
        start = guided_engine.get_preset(preset)
        self.layers = guided_engine.default_layers(self.model) if layers is None else layers
        self._objectives: dict[tuple, Any] = {}
        if guide_image is None:
            photos = list(_samples_or_empty("photo"))
            guide_image = photos[1] if len(photos) > 1 else None
        self.dream_picker = self._image_picker("photo", dream_image, "dream")
        self.guide_picker = self._image_picker("photo", guide_image, "guide")
        self.preset = _tag(
            w.Dropdown(options=list(guided_engine.PRESET_NAMES), value=start.name, description="preset"),
            "cadl-preset",
        )
        self.preset_info = _tag(w.Label(value=self._preset_text(start)), "cadl-preset-info")
        self.feature_weight = _weight_slider(start.feature_weight, "feature", "cadl-weight-feature")
        self.pixel_weight = _weight_slider(start.pixel_weight, "pixel", "cadl-weight-pixel")
        self.tv_weight = _weight_slider(start.tv_weight, "TV", "cadl-weight-tv")
        self.step_size = _step_size_slider(step_size)
        self.steps = _iterations_slider(steps, self.profile.steps)
        rows = [
            self.dream_picker.widget,
            self.guide_picker.widget,
            w.HBox([self.preset, self.preset_info]),
            w.HBox([self.feature_weight, self.pixel_weight, self.tv_weight]),
            w.HBox([self.step_size, self.steps]),
        ]
        self._finish(rows, preview)

    @staticmethod
    def _preset_text(preset: Any) -> str:
        return f"{preset.signs()}: {preset.why}"

    def _watch_for_preview(self) -> None:
        self.preset.observe(self._preset_changed, "value")
        for control in (self.feature_weight, self.pixel_weight, self.tv_weight, self.step_size, self.steps):
            control.observe(self._changed, "value")
        self.dream_picker.on_change(self._changed)
        self.guide_picker.on_change(self._changed)

    def _preset_changed(self, change: dict) -> None:
        from .guided import get_preset

        chosen = get_preset(change["new"])
        with self._quietly():
            self.feature_weight.value = chosen.feature_weight
            self.pixel_weight.value = chosen.pixel_weight
            self.tv_weight.value = chosen.tv_weight
        self.preset_info.value = self._preset_text(chosen)
        self._changed()

    def _read_controls(self) -> _GuidedParams:
        from .guided import get_preset

        return _GuidedParams(
            preset=get_preset(self.preset.value), feature_weight=float(self.feature_weight.value),
            pixel_weight=float(self.pixel_weight.value), tv_weight=float(self.tv_weight.value),
            step_size=float(self.step_size.value), steps=int(self.steps.value), dream=self.dream_picker.image,
            guide=self.guide_picker.image, dream_name=self.dream_picker.name, guide_name=self.guide_picker.name,
            versions=(self.dream_picker.version, self.guide_picker.version),
        )  # fmt: skip

    def _roles(self, params: _GuidedParams) -> tuple[np.ndarray, np.ndarray]:
        """(start image, guide image) as the preset assigns them."""
        subjects = {"dream": params.dream, "guide": params.guide}
        return subjects[params.preset.start], subjects[params.preset.guide]

    def _preview_entry(self, params: _GuidedParams) -> tuple[Any, np.ndarray]:
        """(objective, start image at preview size), built once per preset metrics, roles and images."""
        from .dream import MIN_IMAGE
        from .guided import guided_objective

        recipe = params.preset
        key = (recipe.start, recipe.guide, recipe.feature_metric, recipe.pixel_metric, *params.versions)
        entry = self._objectives.get(key)
        if entry is None:
            start, guide = self._roles(params)
            need = max([MIN_IMAGE] + [int(self.model.min_size(name)) for name in _names(self.layers)])
            image = _fit(start, self.profile.preview_size, need)
            objective = guided_objective(self.model, recipe, guide, self.layers, match_size=image.shape[:2])
            entry = (objective, image)
            self._objectives[key] = entry
        entry[0].set_term_weights(params.feature_weight, params.pixel_weight, params.tv_weight)
        return entry

    def objective(self, params: _GuidedParams | None = None) -> Any:
        """The preview's GuidedObjective for the current preset and images, carrying the slider weights.

        Guide features are computed once per preset metrics, roles and images; the weights are set
        with ``set_term_weights``, which does not recompile.
        """
        return self._preview_entry(self._read_controls() if params is None else params)[0]

    @property
    def trace_count(self) -> int:
        """How many times the engine compiled a step for this explorer's preview objectives."""
        from .dream import get_dreamer

        return sum(get_dreamer(self.model, objective).trace_count for objective, _ in self._objectives.values())

    def _preview_settings(self, params: _GuidedParams) -> tuple[int, float]:
        """Few, larger steps that move the pixels about as far as the whole run does."""
        return _preview_steps(params.steps, params.step_size, self.profile.preview_steps, _MAX_PREVIEW_STEP)

    def _compute_preview(self, params: _GuidedParams, report: Callable[[int, int], bool]) -> np.ndarray | None:
        from .dream import dream

        objective, image = self._preview_entry(params)
        steps, step_size = self._preview_settings(params)
        result = dream(
            image, objective, self.model, steps=steps, step_size=step_size, octaves=1,
            jitter=max(1, max(image.shape[:2]) // 32), seed=0, progress=False, callback=_dream_callback(report),
        )  # fmt: skip
        return None if result.interrupted else np.asarray(result)

    def _render(self, params: _GuidedParams, report: Callable[[int, int], bool]) -> tuple[list[np.ndarray], str]:
        from dataclasses import replace

        from .guided import guided

        recipe = replace(params.preset, feature_weight=params.feature_weight, pixel_weight=params.pixel_weight,
                         tv_weight=params.tv_weight)  # fmt: skip
        result = guided(
            params.dream, params.guide, preset=recipe, model=self.model, layers=self.layers, steps=params.steps,
            step_size=params.step_size, progress=False, max_side=self.profile.size,
            callback=_dream_callback(report),
        )  # fmt: skip
        return list(result.frames), _safe_name(f"{params.preset.name}_{params.dream_name}_{params.guide_name}")

    def _describe(self, params: _GuidedParams) -> str:
        steps, step_size = self._preview_settings(params)
        start, guide = (params.dream_name, params.guide_name)
        if params.preset.start == "guide":
            start = params.guide_name
        if params.preset.guide == "dream":
            guide = params.dream_name
        return (
            f"preview of preset {params.preset.name} on {start} guided by {guide}: weights feature "
            f"{params.feature_weight:+.2f} ({params.preset.feature_metric}), pixel {params.pixel_weight:+.2f}, "
            f"TV {params.tv_weight:+.2f}; {steps} steps of {step_size:.3g}"
        )


def _names(layers: str | Sequence[str]) -> tuple[str, ...]:
    return (layers,) if isinstance(layers, str) else tuple(layers)


def _samples_or_empty(kind: str) -> dict[str, Path]:
    try:
        return images.sample_images(kind)
    except ImageError:
        return {}
