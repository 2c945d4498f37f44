"""The explorer base: controls wired to an engine, a live preview and a Run button that writes a GIF.

Changes queue previews on one worker thread (Run shares it: an objective never changes under a running job); a
stale preview stops at its next step and is not shown. ``update_preview()`` and ``run()`` are synchronous."""

import html
import threading
import time
from concurrent import futures
from contextlib import contextmanager, suppress
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator, Sequence

import ipywidgets as w

from ..config import Profile, profile as active_profile
from ..errors import CadlError, ParameterError
from ..models import resolve_model
from ..runs import Result, StepInfo
from ..settings import Settings
from .controls import ImagePicker, png_bytes, tag, untrained_banner

_RUN = "Run (full-size GIF)"
# The smallest side at which a preview is shown on screen (small previews are scaled up for viewing).
_SHOWN = 192


class Explorer:
    """Preview runner, Run button, status line and layout of the explorers. A subclass names its engine's
    ``settings_type`` and the controls that ask for a preview in ``controls``, makes its ImagePickers with
    ``_picker``, calls ``_finish`` and implements ``_run(params, preview, callback) -> (Result, file name)``."""

    controls: tuple[str, ...] = ()
    settings_type: type[Settings] = Settings

    def __init__(self, model: Any, profile: Profile | str | None, settings: Settings | None = None, *,
                 threaded: bool = True, output_dir: str | Path = "outputs", preview: bool = True, **overrides: Any):
        """Args (every explorer's): model: a Model, a model name, or None (inception5h, ``CADL_WEIGHTS``);
        profile: a Profile, ``quick``/``full`` or None (``CADL_PROFILE``); settings, **overrides: the engine's
        settings (``settings_type``), where the controls start; threaded: previews and runs in a background
        thread; output_dir: where Run writes GIFs; preview: compute the first preview now."""
        self.settings = self.settings_type.make(settings, **overrides)  # checked before the model loads
        self.model = resolve_model(model)
        self.profile = profile if isinstance(profile, Profile) else active_profile(profile)
        self.threaded, self.output_dir, self._first_preview = bool(threaded), Path(output_dir), preview
        self.status = tag(w.HTML(value="", layout=w.Layout(width="100%")), "cadl-status")
        self.progress = tag(w.IntProgress(value=0, min=0, max=1, layout=w.Layout(width="12em")), "cadl-progress")
        self.preview = tag(w.Image(format="png"), "cadl-preview")
        self.preview_label = tag(w.HTML(value=""), "cadl-preview-label")
        self.gif = tag(w.Image(format="gif", layout=w.Layout(display="none")), "cadl-gif")
        self.run_button = tag(w.Button(description=_RUN, icon="play", button_style="primary"), "cadl-run")
        self.run_button.on_click(self._clicked_run)
        self.last_gif, self.status_text = None, ""  # the last GIF written; the status line as plain text
        self.pickers, self._generation, self._quiet = {}, 0, False  # pickers: the ImagePickers by name
        self._worker = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="cadl-widgets")
        self._last_job, self._stop = None, threading.Event()

    def _picker(self, name: str, kind: str, image: Any, noise: bool = False) -> ImagePicker:
        picker = ImagePicker(kind, image, description=name, max_side=self.profile.size, noise=noise,
                             report=lambda text: self._say(text, problem=True))
        picker.changed, self.pickers[name] = self.request_preview, picker
        return picker

    def _finish(self, rows: Sequence[w.Widget]) -> None:
        banner = untrained_banner(self.model)
        self.widget = w.VBox(([banner] if banner else []) + [picker.widget for picker in self.pickers.values()]
                             + list(rows) + [w.HBox([self.run_button, self.progress]), self.status,
                                             w.HBox([self.preview, self.preview_label]), self.gif])
        for name in self.controls:
            getattr(self, name).observe(self.request_preview, "value")
        if self._first_preview:
            self.update_preview()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        return self.widget._repr_mimebundle_(**kwargs)

    def _say(self, text: str, problem: bool = False) -> None:
        self.status_text, escaped = text, html.escape(text, quote=False)
        self.status.value = f'<span style="color:#a94442">&#9888; {escaped}</span>' if problem else escaped

    def _fail(self, what: str, error: BaseException) -> None:  # unexpected errors also name their type
        self._say(f"{what} failed: {error if isinstance(error, CadlError) else repr(error)}", problem=True)

    def params(self) -> SimpleNamespace:
        """The controls' values now, and each picker's image, ``<name>_name`` and ``<name>_version``."""
        values = {name: getattr(self, name).value for name in self.controls}
        for name, picker in self.pickers.items():
            values.update({name: picker.image, f"{name}_name": picker.name, f"{name}_version": picker.version})
        return SimpleNamespace(**values)

    def _steps(self, preview: bool, steps: int, step: float, cap: float) -> tuple[int, float]:
        """(steps, step) of a run, or of a preview: fewer, larger steps (up to ``cap``) that go as far."""
        if not preview:
            return steps, step
        fewer = max(1, min(steps, self.profile.preview_steps))
        return fewer, min(cap, step * steps / fewer)

    @contextmanager
    def _quietly(self) -> Iterator[None]:
        """Controls moved from code in this block ask for no preview (the one the user moved asks once)."""
        self._quiet = True
        try:
            yield
        finally:
            self._quiet = False

    def request_preview(self, _change: Any = None) -> None:
        """Ask for a new preview (on the worker when ``threaded``); older ones are dropped."""
        if self._quiet:
            return
        self._generation += 1  # only the widgets' (single) event thread changes it
        if self.threaded:
            self._say("updating the preview...")
            self._last_job = self._worker.submit(self._preview_job, self._generation)
        else:
            self._preview_job(self._generation)

    def update_preview(self) -> bool:
        """Recompute the preview now, in this thread; False if it failed (the status line says why)."""
        self.wait()
        self._generation += 1
        return self._preview_job(self._generation)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until queued previews and runs are done; False if ``timeout`` seconds passed first."""
        return self._last_job is None or not futures.wait([self._last_job], timeout).not_done

    def _preview_job(self, generation: int) -> bool:
        started, picture = time.perf_counter(), None
        try:
            if generation == self._generation:
                params = self.params()
                result, _ = self._run(params, True, self._callback("preview", lambda: generation != self._generation))
                picture = None if result.interrupted else self._picture(result)
        except Exception as error:  # noqa: BLE001 - shown to the user; the previous preview stays
            if generation == self._generation:
                self._fail("preview", error)
            return False
        if picture is None or generation != self._generation:  # stale: dropped
            return False
        (height, width), self.preview.value = picture.shape[:2], png_bytes(picture)
        self.preview.width = str(_SHOWN * width // max(height, width)) if max(height, width) < _SHOWN else ""
        self.preview_label.value = html.escape(f"{self._describe(params)} ({width}x{height} px)", quote=False)
        self._say(f"preview ready ({time.perf_counter() - started:.1f} s)")
        return True

    def _picture(self, result: Result) -> Any:
        return result.image

    def _describe(self, params: SimpleNamespace) -> str:
        """The preview's caption: its images and every control's value."""
        parts = []
        for name in self.controls:
            value = getattr(params, name)
            parts.append(f"{getattr(self, name).description} {f'{value:.3g}' if isinstance(value, float) else value}")
        images = " + ".join(getattr(params, f"{name}_name") for name in self.pickers)
        return f"preview on {images}: {', '.join(parts)}"

    def _callback(self, what: str, stop: Callable[[], bool]) -> Callable[[StepInfo], bool]:
        """The engine callback: moves the progress bar; False (the engine stops) once ``stop()`` is true."""
        def callback(info: StepInfo) -> bool:
            if stop():
                return False
            self.progress.max = max(1, int(info.total))
            self.progress.value = min(int(info.step), self.progress.max)
            self._say(f"{what}: step {info.step} of {info.total}")
            return True

        return callback

    def _clicked_run(self, _button: Any) -> None:
        if self.run_button.description == "Stop":
            self._stop.set()
            self._say("stopping after this step...")
        elif self.threaded:
            self.run_button.description, self.run_button.icon = "Stop", "stop"  # at once, not when the job starts
            self._stop.clear()
            self._last_job = self._worker.submit(self._run_job)
        else:
            with suppress(Exception):  # the status line shows it; a button has no caller to raise to
                self.run()

    def run(self) -> Path:
        """Render, save (in ``output_dir``) and show the full-size GIF now, in this thread; return its path."""
        self.wait()
        self._stop.clear()
        return self._run_job()

    def _run_job(self) -> Path:
        started = time.perf_counter()
        self.run_button.description, self.run_button.icon = "Stop", "stop"
        try:
            result, name = self._run(self.params(), False, self._callback("rendering", self._stop.is_set))
            if not result.frames:
                raise ParameterError("the run was stopped before its first frame: nothing to save; click Run again")
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("._") or "image"
            prefix = type(self).__name__.removesuffix("Explorer").lower()  # dream_..., zoom_..., guided_..., style_...
            self.last_gif = result.save_gif(self.output_dir / f"{prefix}_{safe}.gif")
        except Exception as error:
            self._fail("run", error)
            raise
        finally:
            self.run_button.description, self.run_button.icon = _RUN, "play"
        self.gif.value, self.gif.layout.display = self.last_gif.read_bytes(), None
        stopped, seconds = " (stopped early)" if result.interrupted else "", time.perf_counter() - started
        self._say(f"saved {self.last_gif} ({len(result.frames)} frames, {seconds:.1f} s){stopped}")
        return self.last_gif
