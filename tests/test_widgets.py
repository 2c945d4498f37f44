"""Tests for cadl_utils.widgets without a browser: set control values, check previews, labels, GIFs.

Most tests use the tiny model (milliseconds per step) and ``threaded=False`` so that every change
computes its preview before the assignment returns; the stale-result and Stop tests use the worker.
"""

from __future__ import annotations

import io
import threading
import time
from datetime import datetime, timezone

import ipywidgets as w
import numpy as np
import pytest
from PIL import Image

from cadl_utils import widgets
from cadl_utils.errors import ParameterError
from cadl_utils.config import profile
from cadl_utils.errors import LayerError

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)
CONTRACT = {"cadl-preview", "cadl-preview-label", "cadl-status", "cadl-run", "cadl-gif"}
DREAM_CLASSES = CONTRACT | {"cadl-layer", "cadl-channel", "cadl-channel-label", "cadl-step-size", "cadl-steps",
                            "cadl-octaves", "cadl-image-picker", "cadl-image-path"}  # fmt: skip


def classes_in(widget) -> set[str]:
    """Every CSS class in a widget tree."""
    found = set(widget._dom_classes)
    for child in getattr(widget, "children", ()):
        found |= classes_in(child)
    return found


def png_of(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def gif_frames(path) -> int:
    with Image.open(path) as gif:
        return gif.n_frames


@pytest.fixture
def traces(monkeypatch):
    """Total traces of every tf.function made from now on (a recompilation anywhere shows up), observed
    from outside: ``tf.function`` is wrapped to remember what it makes."""
    import tensorflow as tf

    made, real = [], tf.function

    def recording(*args, **kwargs):
        if not args and "func" not in kwargs:  # used as @tf.function(...): a decorator
            return lambda func: recording(func, **kwargs)
        made.append(real(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(tf, "function", recording)
    return lambda: sum(function.experimental_get_tracing_count() for function in made)


@pytest.fixture
def shown(monkeypatch):
    """How many previews were shown, counted from outside: each shown preview is encoded by png_bytes."""
    from cadl_utils.widgets import base

    calls, real = [], base.png_bytes

    def counting(image):
        calls.append(image.shape)
        return real(image)

    monkeypatch.setattr(base, "png_bytes", counting)
    return lambda: len(calls)


@pytest.fixture
def dream(traces, tiny_model, tmp_path):
    """A DreamExplorer on the tiny model, previews computed synchronously."""
    return widgets.DreamExplorer(tiny_model, profile="quick", layer="mixed", channel=0, frames=3,
                                 threaded=False, output_dir=tmp_path)  # fmt: skip


# --- banner ---------------------------------------------------------------------------------------


class FakePretrained:
    name = "inception5h"
    weights = "pretrained"
    fallback_reason = None


def test_banner_appears_for_untrained_weights(tiny_model):
    banner = widgets.untrained_banner(tiny_model)
    assert isinstance(banner, w.HTML)
    assert "cadl-untrained-banner" in banner._dom_classes
    text = banner.value
    assert "untrained network" in text
    assert "expect textures, not jellyfish" in text
    assert "CADL_WEIGHTS=pretrained" in text


def test_banner_for_inception5h_says_how_to_get_the_real_weights():
    class Untrained(FakePretrained):
        weights = "untrained"

    text = widgets.untrained_banner(Untrained()).value
    assert 'load_model(weights="pretrained")' in text
    assert "inception5h.zip" in text and "internet" in text


def test_no_banner_for_pretrained_weights():
    assert widgets.untrained_banner(FakePretrained()) is None
    assert widgets.banner_html(FakePretrained()) is None


def test_no_banner_for_a_model_that_is_random_by_design():
    from cadl_utils.models import load_model

    assert widgets.banner_html(load_model("random-multiscale")) is None


def test_banner_names_the_reason_when_auto_fell_back():
    class FellBack(FakePretrained):
        fallback_reason = "no internet <offline>"

    text = widgets.untrained_banner(FellBack()).value
    assert "fell back" in text and "no internet &lt;offline&gt;" in text


def test_show_banner_displays_html_with_the_contract_class(tiny_model, monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects: shown.extend(objects))
    assert widgets.show_banner(tiny_model) is True
    assert len(shown) == 1
    assert 'class="cadl-untrained-banner"' in shown[0].data and "untrained network" in shown[0].data
    shown.clear()
    assert widgets.show_banner(FakePretrained()) is False
    assert shown == []


# --- layer and channel controls ---------------------------------------------------------------------


def test_layer_dropdown_shows_channel_counts(tiny_model):
    dropdown = widgets.layer_dropdown(tiny_model, kinds=("conv", "softmax"))
    assert "cadl-layer" in dropdown._dom_classes
    assert dropdown.options == (("conv1 (8 channels)", "conv1"), ("conv2 (16 channels)", "conv2"),
                                ("softmax (10 channels)", "softmax"))  # fmt: skip
    with pytest.raises(LayerError, match="Closest"):
        widgets.layer_dropdown(tiny_model, value="mixd")


def test_channel_slider_shows_class_labels_for_class_layers(tiny_model):
    control = widgets.ChannelSlider(tiny_model, "softmax")
    assert "cadl-channel" in control.slider._dom_classes and "cadl-channel-label" in control.label._dom_classes
    # The tiny model's class 1 is "jellyfish", where a class slider starts.
    assert control.slider.value == 1 and control.label.value == "class 1: jellyfish"
    control.slider.value = 3
    assert control.label.value == "class 3: minibus"
    control.set_layer("conv1")
    assert control.slider.max == 7 and control.label.value == "channel 3 of 8"
    control.set_layer("mixed", value=15)
    assert control.slider.max == 15 and control.slider.value == 15


# --- Deep Dream explorer ------------------------------------------------------------------------------


def test_dream_explorer_carries_the_contract_classes(dream):
    assert DREAM_CLASSES <= classes_in(dream.widget)
    assert "cadl-untrained-banner" in classes_in(dream.widget)  # the tiny model is untrained
    for attribute, css in [("layer", "cadl-layer"), ("channel", "cadl-channel"), ("step_size", "cadl-step-size"),
                           ("steps", "cadl-steps"), ("octaves", "cadl-octaves"), ("preview", "cadl-preview"),
                           ("status", "cadl-status"), ("gif", "cadl-gif"), ("run_button", "cadl-run")]:
        assert css in getattr(dream, attribute)._dom_classes, attribute
    assert dream.preview.format == "png" and dream.gif.format == "gif"
    for slider in (dream.channel, dream.step_size, dream.steps, dream.octaves):
        assert slider.continuous_update is False


def test_first_preview_is_a_png_of_the_preview_size(dream):
    data = bytes(dream.preview.value)
    assert data.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(data)) as picture:
        assert max(picture.size) == profile("quick").preview_size
    assert "mixed" in dream.preview_label.value and "channel 0" in dream.preview_label.value
    assert "preview ready" in dream.status_text


def test_channel_change_updates_preview_and_label_without_retracing(dream, traces):
    before_png, before_label, count = bytes(dream.preview.value), dream.preview_label.value, traces()
    assert count >= 1
    dream.channel.value = 5
    assert bytes(dream.preview.value) != before_png
    assert dream.preview_label.value != before_label and "channel 5" in dream.preview_label.value
    assert traces() == count


def test_step_size_octaves_and_image_changes_do_not_retrace(dream, traces):
    count = traces()
    seen = {bytes(dream.preview.value)}
    dream.step_size.value = 0.05
    seen.add(bytes(dream.preview.value))
    dream.octaves.value = 2
    seen.add(bytes(dream.preview.value))
    dream.picker.dropdown.value = "(noise)"
    seen.add(bytes(dream.preview.value))
    assert len(seen) == 4
    assert traces() == count


def test_layer_change_relabels_and_reuses_objectives(dream, traces):
    count = traces()
    dream.layer.value = "softmax"
    assert dream.channel.max == 9
    assert "class" in dream.channel_label.value and "class" in dream.preview_label.value
    count_with_softmax = traces()
    assert count_with_softmax > count  # a new layer is a new objective: a new compiled step
    dream.layer.value = "mixed"
    dream.channel.value = 2
    assert traces() == count_with_softmax  # back to a known layer: its compiled step is reused
    assert "failed" not in dream.status_text


def test_one_preview_per_layer_change(dream, shown):
    before = shown()
    dream.channel.value = 15
    dream.layer.value = "conv1"  # 8 channels: the channel is clamped, which must not ask for a preview
    assert dream.channel.value < 8
    assert shown() == before + 2


def _gated_explorer(tiny_model, tmp_path, gate_after_compute: bool):
    """A threaded explorer whose first preview waits for a gate (before or after its engine call)."""
    explorer = widgets.DreamExplorer(tiny_model, profile="quick", layer="mixed", channel=0, threaded=True,
                                     output_dir=tmp_path)  # fmt: skip
    real = explorer._run
    explorer.gate, explorer.started = threading.Event(), threading.Event()
    explorer.calls, explorer.first_reports = [], []

    def gated(params, preview, callback):
        explorer.calls.append(params.channel)
        if len(explorer.calls) > 1:
            return real(params, preview, callback)

        def logged(info):
            answer = callback(info)
            explorer.first_reports.append(answer)
            return answer

        if gate_after_compute:
            done = real(params, preview, logged)
        explorer.started.set()
        assert explorer.gate.wait(10)
        return done if gate_after_compute else real(params, preview, logged)

    explorer._run = gated
    return explorer


def test_stale_previews_are_dropped(tiny_model, tmp_path, shown):
    explorer = _gated_explorer(tiny_model, tmp_path, gate_after_compute=True)
    before = shown()
    explorer.channel.value = 1  # computed, but held back before it can be shown
    assert explorer.started.wait(10)
    explorer.channel.value = 2
    explorer.channel.value = 3  # replaces the queued request for 2
    explorer.gate.set()
    assert explorer.wait(30)
    assert explorer.calls == [1, 3]  # the request for 2 was stale before it started: never computed
    assert shown() == before + 1  # 1 finished late and was dropped
    assert "channel 3" in explorer.preview_label.value
    newest = bytes(explorer.preview.value)
    explorer.threaded = False
    assert explorer.update_preview()
    assert bytes(explorer.preview.value) == newest  # what is shown is channel 3's preview


def test_a_stale_preview_stops_at_its_next_step(tiny_model, tmp_path):
    explorer = _gated_explorer(tiny_model, tmp_path, gate_after_compute=False)
    explorer.channel.value = 1
    assert explorer.started.wait(10)
    explorer.channel.value = 2
    explorer.gate.set()
    assert explorer.wait(30)
    assert explorer.first_reports == [False]  # the engine was told to stop at its first step
    assert explorer.calls == [1, 2] and "channel 2" in explorer.preview_label.value


def test_a_superseded_generation_is_not_shown(dream):
    old = dream._generation
    dream._generation += 1
    before = bytes(dream.preview.value)
    assert dream._preview_job(old) is False
    assert bytes(dream.preview.value) == before


def test_run_writes_a_gif_with_the_frames_and_shows_it(dream, tmp_path):
    path = dream.run()
    assert path.parent == tmp_path and path.suffix == ".gif"
    assert gif_frames(path) == 3
    assert bytes(dream.gif.value) == path.read_bytes() and dream.gif.layout.display is None
    assert "saved" in dream.status_text and "3 frames" in dream.status_text
    with Image.open(path) as gif:
        assert max(gif.size) == profile("quick").size


def test_run_button_renders_in_the_background_and_stop_stops(tiny_model, tmp_path):
    explorer = widgets.DreamExplorer(tiny_model, profile="quick", layer="mixed", frames=400, threaded=True,
                                     output_dir=tmp_path)  # fmt: skip
    explorer.run_button.click()
    deadline = time.time() + 30
    while explorer.progress.value < 3 * explorer.steps.value and time.time() < deadline:  # 2+ frames done
        time.sleep(0.01)
    assert explorer.run_button.description == "Stop"
    explorer.run_button.click()
    assert explorer.wait(60)
    assert "stopped early" in explorer.status_text
    assert explorer.last_gif is not None and 1 <= gif_frames(explorer.last_gif) < 400
    assert explorer.run_button.description != "Stop"


def test_bad_image_path_shows_a_clear_message_and_keeps_the_image(dream, shown):
    image, png, before = dream.picker.image, bytes(dream.preview.value), shown()
    dream.picker.path.value = "no/such/picture.jpg"
    assert "image file not found" in dream.status_text and "picture.jpg" in dream.status_text
    assert "keeping 'astronaut'" in dream.status_text
    assert dream.picker.image is image and dream.picker.name == "astronaut"
    assert bytes(dream.preview.value) == png and shown() == before


def test_bad_upload_shows_a_message_and_keeps_the_image(dream):
    image = dream.picker.image
    dream.picker.upload.value = ({"name": "notes.txt", "type": "text/plain", "size": 5,
                                  "content": memoryview(b"hello"), "last_modified": NOW},)  # fmt: skip
    assert "notes.txt" in dream.status_text and "not an image" in dream.status_text
    assert dream.picker.image is image


def test_upload_over_the_pixel_budget_is_refused(dream, monkeypatch):
    # Uploads are decoded like files: the budget of CADL_MAX_PIXELS applies to them too.
    image = dream.picker.image
    monkeypatch.setenv("CADL_MAX_PIXELS", "2000")
    pixels = np.zeros((40, 60, 3), np.uint8)
    dream.picker.upload.value = ({"name": "huge.png", "type": "image/png", "size": 1,
                                  "content": memoryview(png_of(pixels)), "last_modified": NOW},)  # fmt: skip
    assert "huge.png" in dream.status_text and "over the budget of 2000" in dream.status_text
    assert dream.picker.image is image


def test_picker_refuses_a_grey_array_with_the_fix(tiny_model):
    picker = widgets.ImagePicker("photo", np.full((20, 30, 3), 0.5, np.float32))
    assert picker.use(np.zeros((20, 30), np.float32)) is False
    assert "RGB array" in picker.error and "load_image" in picker.error
    assert picker.use(np.zeros((20, 30, 3), np.uint8)) is True and picker.image.shape == (20, 30, 3)


def test_upload_and_path_replace_the_image(dream, tmp_path):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(40, 60, 3), dtype=np.uint8)
    png = bytes(dream.preview.value)
    dream.picker.upload.value = ({"name": "mine.png", "type": "image/png", "size": 1,
                                  "content": memoryview(png_of(pixels)), "last_modified": NOW},)  # fmt: skip
    assert dream.picker.image.shape == (40, 60, 3) and dream.picker.name == "mine"
    assert bytes(dream.preview.value) != png and "on mine" in dream.preview_label.value
    path = tmp_path / "other.png"
    path.write_bytes(png_of(pixels[:30]))
    dream.picker.path.value = str(path)
    assert dream.picker.image.shape == (30, 60, 3) and "on other" in dream.preview_label.value


def test_explorer_accepts_an_array_as_its_image(tiny_model, tmp_path):
    image = np.full((50, 70, 3), 0.5, np.float32)
    explorer = widgets.DreamExplorer(tiny_model, image=image, profile="quick", threaded=False, output_dir=tmp_path)
    assert explorer.picker.dropdown.value == "(your image)"
    assert np.allclose(explorer.picker.image, 0.5)
    assert "your_image" in explorer.preview_label.value


def test_repr_mimebundle_shows_the_container(dream):
    bundle = dream._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dream.widget.model_id


def test_preview_errors_are_shown_in_the_status_line(dream):
    png = bytes(dream.preview.value)
    dream._run = lambda params, preview, callback: (_ for _ in ()).throw(LayerError("layer X needs 300 px"))
    dream.channel.value = 4
    assert "preview failed" in dream.status_text and "needs 300 px" in dream.status_text
    assert bytes(dream.preview.value) == png


# --- fractal zoom ---------------------------------------------------------------------------------------


def test_zoom_explorer_previews_frames_and_renders_the_gif(traces, tiny_model, tmp_path):
    zoom = widgets.ZoomExplorer(tiny_model, profile="quick", layer="mixed", frames=3, threaded=False,
                                output_dir=tmp_path)  # fmt: skip
    zoom_classes = {"cadl-zoom-margin", "cadl-zoom-x", "cadl-zoom-y", "cadl-frames"}
    assert DREAM_CLASSES | zoom_classes <= classes_in(zoom.widget)
    with Image.open(io.BytesIO(bytes(zoom.preview.value))) as picture:
        width, height = picture.size
    assert width > 1.9 * height  # two frames side by side
    count, png = traces(), bytes(zoom.preview.value)
    zoom.margin.value = 0.08
    zoom.center_x.value = 0.2
    assert bytes(zoom.preview.value) != png and "margin 0.08" in zoom.preview_label.value
    assert traces() == count
    zoom.frames_slider.value = 4
    path = zoom.run()
    assert gif_frames(path) == 4 and path.name.startswith("zoom_")


# --- style transfer -------------------------------------------------------------------------------------


def test_style_explorer_weights_update_the_preview_without_retracing(traces, tiny_model, tmp_path):
    style = widgets.StyleExplorer(tiny_model, profile="quick", steps=4, threaded=False, output_dir=tmp_path)
    assert CONTRACT | {"cadl-weight-content", "cadl-weight-style", "cadl-weight-tv", "cadl-image-picker",
                       "cadl-image-path", "cadl-steps"} <= classes_in(style.widget)  # fmt: skip
    assert isinstance(style.style_weight, w.FloatLogSlider) and style.style_weight.continuous_update is False
    count, png, label = traces(), bytes(style.preview.value), style.preview_label.value
    assert count >= 1
    style.style_weight.value = 1000.0
    assert bytes(style.preview.value) != png and style.preview_label.value != label
    assert "style 1e+03" in style.preview_label.value
    style.content_weight.value = 0.01
    style.tv_weight.value = 1.0
    assert traces() == count
    png = bytes(style.preview.value)
    style.preserve_color.value = True
    assert bytes(style.preview.value) != png and "preserve colour True" in style.preview_label.value
    path = style.run()
    assert gif_frames(path) == 4 + 1  # the start and one frame per step
    assert bytes(style.gif.value) == path.read_bytes()


def test_style_explorer_changes_style_image(tiny_model, tmp_path):
    style = widgets.StyleExplorer(tiny_model, profile="quick", threaded=False, output_dir=tmp_path)
    names = list(style.style_picker.dropdown.options)
    png = bytes(style.preview.value)
    style.style_picker.dropdown.value = names[-1]
    assert bytes(style.preview.value) != png and f"+ {names[-1]}" in style.preview_label.value


def test_style_explorer_layer_preset_dropdown(tiny_model, tmp_path):
    from cadl_utils.style import default_layers

    style = widgets.StyleExplorer(tiny_model, profile="quick", threaded=False, output_dir=tmp_path)
    assert {"cadl-layers", "cadl-layers-info"} <= classes_in(style.widget)
    assert isinstance(style.layers, w.Dropdown) and list(style.layers.options) == ["default", "course"]
    content, chosen = default_layers(tiny_model, "course")
    png = bytes(style.preview.value)
    style.layers.value = "course"
    assert style.layers_info.value == f"content {content}; style {', '.join(chosen)}"
    assert bytes(style.preview.value) != png and "layers course" in style.preview_label.value
    engine = next(e for key, e in style._engines.items() if "course" in key)
    assert engine.settings.content_layer == content and dict(engine.settings.style_layers) == chosen
    assert "failed" not in style.status_text


# --- guided hallucination -------------------------------------------------------------------------------


def test_guided_explorer_presets_and_weights(traces, tiny_model, tmp_path):
    from cadl_utils.guided import PRESETS

    guided = widgets.GuidedExplorer(tiny_model, profile="quick", preset="l1", steps=4, threaded=False,
                                    output_dir=tmp_path)  # fmt: skip
    assert CONTRACT | {"cadl-weight-feature", "cadl-weight-pixel", "cadl-weight-tv"} <= classes_in(guided.widget)
    for slider in (guided.feature_weight, guided.pixel_weight, guided.tv_weight):
        assert isinstance(slider, w.FloatSlider) and slider.min < 0 < slider.max
    assert guided.feature_weight.value == PRESETS["l1"].feature_weight
    count, png, label = traces(), bytes(guided.preview.value), guided.preview_label.value
    guided.feature_weight.value = -1.5
    assert bytes(guided.preview.value) != png and guided.preview_label.value != label
    assert "feature -1.5" in guided.preview_label.value
    guided.pixel_weight.value = 0.0
    assert traces() == count
    guided.preset.value = "dot_notv"
    assert guided.pixel_weight.value == PRESETS["dot_notv"].pixel_weight < 0 and guided.tv_weight.value == 0.0
    assert "preset dot_notv" in guided.preview_label.value
    assert "failed" not in guided.status_text
    path = guided.run()
    assert gif_frames(path) == 4 + 1


def test_guided_and_zoom_explorers_start_from_their_settings(tiny_model, tmp_path):
    guided = widgets.GuidedExplorer(tiny_model, profile="quick", preset="l1", tv_weight=0.0, steps=6, threaded=False,
                                    preview=False, output_dir=tmp_path)  # fmt: skip
    assert (guided.preset.value, guided.tv_weight.value, guided.steps.value) == ("l1", 0.0, 6)
    zoom = widgets.ZoomExplorer(tiny_model, profile="quick", layer="mixed", margin=0.05, center=(0.25, 0.75),
                                threaded=False, preview=False, output_dir=tmp_path)  # fmt: skip
    assert (zoom.margin.value, zoom.center_y.value, zoom.center_x.value) == (0.05, 0.25, 0.75)
    with pytest.raises(ParameterError, match="preset"):
        widgets.GuidedExplorer(tiny_model, profile="quick", preset="nope", threaded=False, output_dir=tmp_path)


# --- the real network ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_dream_explorer_on_untrained_inception5h(traces, tmp_path, monkeypatch):
    monkeypatch.setenv("CADL_WEIGHTS", "untrained")
    explorer = widgets.DreamExplorer(profile="quick", threaded=False, output_dir=tmp_path)
    assert explorer.model.name == "inception5h" and explorer.model.weights == "untrained"
    assert "cadl-untrained-banner" in classes_in(explorer.widget)
    assert explorer.layer.value == "mixed4d_3x3_bottleneck" and explorer.channel.value == 139
    assert "mixed4d_3x3_bottleneck (" in dict((v, k) for k, v in explorer.layer.options)["mixed4d_3x3_bottleneck"]
    assert bytes(explorer.preview.value).startswith(b"\x89PNG"), explorer.status_text
    count, png, label = traces(), bytes(explorer.preview.value), explorer.preview_label.value
    explorer.channel.value = 140
    assert bytes(explorer.preview.value) != png and explorer.preview_label.value != label
    assert traces() == count
    explorer.layer.value = "softmax2"
    assert "class" in explorer.channel_label.value
    assert "failed" not in explorer.status_text


def test_dream_explorer_sliders_start_from_a_settings_object(tiny_model, tmp_path):
    from cadl_utils.dream import DreamSettings

    first = DreamSettings(step_size=0.02, frame_every=7, octaves=2, frames=9)
    explorer = widgets.DreamExplorer(tiny_model, profile="quick", layer="mixed", settings=first, threaded=False,
                                     preview=False, output_dir=tmp_path)  # fmt: skip
    assert (explorer.step_size.value, explorer.steps.value, explorer.octaves.value) == (0.02, 7, 2)
    assert explorer.frames == 9
    overridden = widgets.DreamExplorer(tiny_model, profile="quick", layer="mixed", settings=first, step_size=0.05,
                                       threaded=False, preview=False, output_dir=tmp_path)  # fmt: skip
    assert overridden.step_size.value == 0.05 and overridden.steps.value == 7
    with pytest.raises(ParameterError, match="step_size"):
        widgets.DreamExplorer(tiny_model, profile="quick", layer="mixed", step_size=float("nan"), threaded=False,
                              preview=False, output_dir=tmp_path)  # fmt: skip
