"""Reliability of the whole package: bad inputs, faults and interruptions (docs/reliability.md).

Every row of the table in docs/reliability.md names the test that tries it. Cases that a module's
own tests already cover are referenced there, not repeated here; this file holds the rest, mostly
across module borders (an engine fed a bad image, a CLI interrupted half-way, a download with no
network at all). Engines run on the tiny model (tests/tiny_model.py) and images of 8-48 px; a few
cases use the untrained inception5h stand-in at small sizes.

A case that misbehaves today is kept as ``xfail(strict=True)``: it flips to a failure (XPASS) the
day the module is fixed, so the mark can be removed.
"""

from __future__ import annotations

import errno
import os
import socket
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cadl_utils import objectives as O
from cadl_utils.errors import (
    CadlError,
    DownloadError,
    ImageError,
    LayerError,
    ModelError,
    OutputError,
    ParameterError,
)
from cadl_utils.images import load_image, resize, save_gif, save_image

REPO = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------------
# helpers


def noise(height: int = 32, width: int = 32, seed: int = 0) -> np.ndarray:
    """A random float32 RGB image in [0, 1]."""
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


def leftovers(folder: Path) -> list[str]:
    """Temporary or partial files a writer may have left in ``folder`` (there must be none)."""
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or p.suffix in (".tmp", ".part"))


def write_partial(fp, data: bytes) -> None:
    """What a fake Pillow ``save`` writes before failing: imageio (GIF) passes an open file, save_image a path."""
    if hasattr(fp, "write"):
        fp.write(data)
    else:
        Path(fp).write_bytes(data)


def read_gif(path: Path) -> list[np.ndarray]:
    """All frames of a GIF as uint8 RGB arrays; fails on a truncated or invalid file."""
    frames = []
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        for index in range(gif.n_frames):
            gif.seek(index)
            frames.append(np.asarray(gif.convert("RGB")))
    return frames


def distinct_frames(count: int, size: int = 12) -> list[np.ndarray]:
    """Frames that differ from each other (the GIF encoder merges identical neighbours)."""
    return [np.full((size, size, 3), (i + 1) / (count + 1), np.float32) for i in range(count)]


@pytest.fixture(scope="module")
def inception():
    """The untrained inception5h stand-in (same topology and sizes as the real network)."""
    from cadl_utils.models import load_model

    return load_model("inception5h", weights="untrained")


def stop_at(step: int):
    """A dream callback that presses Ctrl-C after ``step`` steps; records the steps it saw."""
    seen: list[int] = []

    def callback(info):
        seen.append(info.step)
        if info.step >= step:
            raise KeyboardInterrupt

    callback.seen = seen  # type: ignore[attr-defined]
    return callback


# ==================================================================================================
# Images


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims width x height pixels (a decompression bomb's shape)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))  # fmt: skip


@pytest.mark.parametrize("width,height", [(100_000, 100_000), (70_000, 1_000)])
def test_huge_dimensions_are_refused_before_decoding(tmp_path, width, height):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(width, height))
    assert path.stat().st_size < 200  # a few bytes that would decode to gigabytes
    with pytest.raises(ImageError) as caught:
        load_image(path)
    message = str(caught.value)
    assert "bomb.png" in message and "budget" in message and "CADL_MAX_PIXELS" in message


def test_huge_requested_size_is_refused_before_allocating(monkeypatch):
    # Pillow is replaced so that the test never allocates: reaching it means no check happened first.
    def no_resize(self, size, *args, **kwargs):
        raise MemoryError(f"asked to allocate {size[0]}x{size[1]} pixels")

    monkeypatch.setattr(Image.Image, "resize", no_resize)
    with pytest.raises((ParameterError, ImageError)):
        load_image(noise(4, 4), size=200_000)  # 200000 x 200000 x 3 float32 = 480 GB


def test_one_pixel_image_loads_saves_and_scales(tmp_path):
    Image.new("RGB", (1, 1), (10, 200, 30)).save(tmp_path / "dot.png")
    dot = load_image(tmp_path / "dot.png")
    assert dot.shape == (1, 1, 3)
    np.testing.assert_allclose(dot[0, 0], np.array([10, 200, 30]) / 255.0, atol=1e-6)
    grown = resize(dot, (5, 7))
    assert grown.shape == (5, 7, 3) and np.allclose(grown, dot[0, 0], atol=1e-5)
    again = load_image(save_image(dot, tmp_path / "dot-copy.png"))
    np.testing.assert_array_equal(again, dot)


def test_one_pixel_image_is_too_small_to_dream(tiny_model):
    from cadl_utils.dream import ImageTooSmallError, dream

    with pytest.raises(ImageTooSmallError) as caught:
        dream(np.zeros((1, 1, 3), np.float32), O.layer("mixed"), tiny_model, progress=False)
    assert isinstance(caught.value, LayerError) and isinstance(caught.value, ParameterError)
    assert "1x1" in str(caught.value) and "larger image" in str(caught.value)


def test_image_smaller_than_softmax_minimum_names_the_size(inception):
    from cadl_utils.dream import ImageTooSmallError, dream

    with pytest.raises(ImageTooSmallError) as caught:
        dream(noise(48, 48), O.neuron("jellyfish"), inception, steps=1, octaves=1, progress=False)
    message = str(caught.value)
    assert "48x48" in message and str(inception.min_size("softmax2")) in message
    assert "earlier layer" in message


def test_small_images_work_on_early_inception_layers(inception):
    from cadl_utils.dream import dream

    image = noise(40, 40)
    out = dream(image, O.channel("conv2d2", 5), inception, steps=1, octaves=2, progress=False).image
    assert out.shape == image.shape and np.isfinite(out).all()
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert not np.array_equal(out, image)


@pytest.mark.parametrize("mode", ["L", "1", "P", "RGBA", "LA", "CMYK", "I;16", "LAB", "YCbCr", "RGBX", "PA"])
def test_non_rgb_modes_load_as_rgb(tmp_path, mode):
    base = Image.fromarray((noise(6, 5) * 255).astype(np.uint8))
    picture = Image.new("PA", (5, 6)) if mode == "PA" else base.convert(mode)
    path = tmp_path / f"picture-{mode.replace(';', '_')}.tif"
    picture.save(path)
    loaded = load_image(path)
    assert loaded.shape == (6, 5, 3) and loaded.dtype == np.float32
    assert np.isfinite(loaded).all() and 0.0 <= loaded.min() and loaded.max() <= 1.0


def test_float_tiff_out_of_range_names_the_file(tmp_path):
    path = tmp_path / "scan.tif"
    Image.fromarray(np.full((4, 4), 200.0, np.float32), mode="F").save(path)
    with pytest.raises(ImageError) as caught:
        load_image(path)
    assert "scan.tif" in str(caught.value)


def _engine_call(engine: str, tiny_model, image):
    """Feed ``image`` to one engine as its main input."""
    if engine == "dream":
        from cadl_utils.dream import dream

        return dream(image, O.layer("mixed"), tiny_model, steps=1, octaves=1, progress=False)
    if engine == "zoom":
        from cadl_utils.dream import fractal_zoom

        return fractal_zoom(image, O.layer("mixed"), tiny_model, frames=1, frame_every=1, progress=False)
    if engine == "style-content":
        from cadl_utils.style import style_transfer

        return style_transfer(image, noise(16, 16), tiny_model, steps=1, size=32, progress=False)
    if engine == "style-style":
        from cadl_utils.style import style_transfer

        return style_transfer(noise(16, 16), image, tiny_model, steps=1, size=32, progress=False)
    if engine == "guided-dream":
        from cadl_utils.guided import guided

        return guided(image, noise(16, 16), tiny_model, preset="l1", steps=1, progress=False)
    if engine == "guided-guide":
        from cadl_utils.guided import guided

        return guided(noise(16, 16), image, tiny_model, preset="l1", steps=1, progress=False)
    raise AssertionError(engine)


ENGINES = ["dream", "zoom", "style-content", "style-style", "guided-dream", "guided-guide"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_engines_refuse_non_finite_images(tiny_model, engine, value):
    image = noise(16, 16)
    image[3, 4, 1] = value
    with pytest.raises(ImageError, match="NaN|Inf|infinite"):
        _engine_call(engine, tiny_model, image)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "array",
    [
        np.zeros((16, 16, 3), np.complex64),
        np.array([["a"] * 16] * 16),
        np.zeros((16, 16, 2), np.float32),
        np.zeros((2, 16, 16, 3), np.float32),
        np.full((16, 16, 3), 200.0, np.float32),
    ],
    ids=["complex", "strings", "two-channels", "batch-of-two", "float-0-255"],
)
def test_engines_refuse_wrong_dtypes_and_shapes(tiny_model, engine, array):
    with pytest.raises(ImageError):
        _engine_call(engine, tiny_model, array)


@pytest.mark.parametrize("engine", ENGINES)
def test_engines_report_a_missing_file_by_name(tiny_model, engine, tmp_path):
    missing = tmp_path / "no-such-picture.jpg"
    with pytest.raises(ImageError, match="no-such-picture.jpg"):
        _engine_call(engine, tiny_model, str(missing))


# ==================================================================================================
# Parameters


def test_unknown_layer_in_an_objective_suggests_close_names(tiny_model):
    from cadl_utils.dream import dream

    with pytest.raises(LayerError, match="Closest names: mixed"):
        dream(noise(16, 16), O.channel("mixd", 3), tiny_model, steps=1, progress=False)


@pytest.mark.parametrize(
    "make,words",
    [
        (lambda m: O.channel("mixed", 16, model=m), "16 channels"),
        (lambda m: O.neuron(50, layer="softmax", model=m), "10 channels"),
        (lambda m: O.channel("mixed", -1), "must be at least 0"),
        (lambda m: O.neuron(2.5, layer="softmax"), "integer"),
        (lambda m: O.neuron("jellyfsh", layer="softmax", model=m), "Closest labels: jellyfish"),
        (lambda m: O.neuron("", layer="softmax"), "empty"),
    ],
    ids=["channel-too-big", "neuron-too-big", "negative-index", "float-index", "unknown-label", "empty-label"],
)
def test_unknown_neuron_or_label_is_a_layer_error(tiny_model, make, words):
    with pytest.raises(LayerError, match=words):
        make(tiny_model)


def test_unknown_label_on_inception_suggests_the_right_one(inception):
    with pytest.raises(LayerError, match="jellyfish"):
        O.neuron("jelyfish", model=inception)
    assert O.neuron("Jellyfish", model=inception).index == 647


@pytest.mark.parametrize(
    "option,value,words",
    [
        ("steps", 0, "steps must be at least 1"),
        ("steps", -3, "steps must be at least 1"),
        ("steps", 2.5, "steps must be an integer"),
        ("step_size", 0.0, "step_size must be greater than 0"),
        ("step_size", float("nan"), "step_size must be a finite number"),
        ("octaves", 0, "octaves must be at least 1"),
        ("octaves", 10**9, "octaves must be at most 12"),
        ("octave_scale", 1.0, "octave_scale must be greater than 1"),
        ("octave_scale", 0.7, "octave_scale must be greater than 1"),
        ("tile_size", 8, "tile_size must be at least 32"),
        ("tile_size", -64, "tile_size must be at least 32"),
        ("tile_size", 10**12, "tile_size must be at most"),
        ("jitter", -1, "jitter must be at least 0"),
        ("jitter", 10**9, "jitter must be at most"),
        ("step_size", 1e300, "step_size must be at most"),
        ("seed", -1, "seed must be at least 0"),
        ("steps", 10**12, "steps must be at most"),
        ("normalize", "l2", "use one of std"),
        ("seed", "abc", "seed must be an integer"),
        ("decay", 1.0, "decay must be less than 1"),
        ("blur_sigma", 5.0, "blur_sigma must be at most 2"),
    ],
)
def test_dream_parameters_out_of_range(tiny_model, option, value, words):
    from cadl_utils.dream import dream

    with pytest.raises(ParameterError, match=words):
        dream(noise(16, 16), O.layer("mixed"), tiny_model, progress=False, **{option: value})


@pytest.mark.parametrize(
    "options,words",
    [
        ({"margin": 0.5}, "too large for a 32x32 image"),
        ({"margin": 16}, "too large for a 32x32 image"),
        ({"margin": 0}, "margin must be greater than 0"),
        ({"margin": -0.1}, "margin must be greater than 0"),
        ({"margin": float("nan")}, "margin must be a finite number"),
        ({"center": (2.0, 0.5)}, "between 0 and 1"),
        ({"center": "middle"}, "center must be"),
        ({"frames": 0}, "frames must be at least 1"),
        ({"frames": 10**12}, "frames must be at most"),
        ({"frame_every": 0}, "frame_every must be at least 1"),
    ],
)
def test_zoom_parameters_out_of_range(tiny_model, options, words):
    from cadl_utils.dream import fractal_zoom

    with pytest.raises(ParameterError, match=words):
        fractal_zoom(noise(32, 32), O.layer("mixed"), tiny_model, frames=options.pop("frames", 2),
                     frame_every=options.pop("frame_every", 1), progress=False, **options)  # fmt: skip


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "0.5", None])
def test_nan_or_non_numeric_objective_weights(bad):
    base = O.layer("mixed")
    with pytest.raises(ParameterError):
        bad * base  # noqa: B018 - the multiplication itself must refuse
    total = 0.5 * base + 0.5 * O.channel("mixed", 1)
    with pytest.raises(ParameterError):
        total.set_weight(bad, term=0)
    assert total.term_weights == (0.5, 0.5)  # a refused weight changes nothing


def test_objective_arithmetic_mistakes(tiny_model):
    with pytest.raises(ParameterError, match="multiply by a number"):
        O.layer("mixed") * O.layer("conv1")  # noqa: B018
    with pytest.raises(ParameterError, match="divide an objective by 0"):
        O.layer("mixed") / 0  # noqa: B018
    with pytest.raises(ParameterError, match="say which one"):
        (O.layer("mixed") + O.layer("conv1")).set_weight(1.0)


def test_an_objective_must_be_an_objective(tiny_model):
    from cadl_utils.dream import dream

    with pytest.raises(ParameterError, match="neuron"):
        dream(noise(16, 16), "mixed", tiny_model, progress=False)


@pytest.mark.parametrize(
    "options,words",
    [
        ({"content_weight": float("nan")}, "content_weight must be a finite number"),
        ({"style_weight": float("inf")}, "style_weight must be a finite number"),
        ({"tv_weight": -1.0}, "tv_weight must be at least 0"),
        ({"style_weight": 1e13}, "style_weight must be at most 1e\\+12"),
        ({"content_weight": 0, "style_weight": 0, "tv_weight": 0}, "nothing to optimise"),
        ({"size": 0}, "size must be at least 8"),
        ({"size": -32}, "size must be at least 8"),
        ({"size": 10**9}, "size must be at most 4096"),
        ({"style_scale": 0.0}, "style_scale must be greater than 0"),
        ({"style_scale": float("nan")}, "style_scale must be a finite number"),
        ({"style_scale": 1000.0}, "style_scale must be at most 16"),
        ({"style_layers": []}, "no style layers"),
        ({"style_layers": {"conv1": float("nan")}}, "finite"),
        ({"style_layers": {"conv1": 0.0}}, "all style layer weights are 0"),
    ],
)
def test_style_options_out_of_range(tiny_model, options, words):
    from cadl_utils.style import StyleTransfer

    with pytest.raises(ParameterError, match=words):
        StyleTransfer(noise(24, 24), noise(24, 24, seed=1), tiny_model, **options)


@pytest.mark.parametrize(
    "options,words",
    [
        ({"steps": -1}, "steps must be at least 0"),
        ({"steps": 10**12}, "steps must be at most 100000"),
        ({"steps": 1.5}, "steps must be an integer"),
        ({"optimizer": "sgd"}, "use one of adam, lbfgs"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"frame_every": 0}, "frame_every must be at least 1"),
        ({"learning_rate": 1e300}, "learning_rate must be at most 1"),
        ({"init": "zeros"}, "use one of content, style, noise"),
    ],
)
def test_style_run_options_out_of_range(tiny_model, options, words):
    from cadl_utils.style import StyleTransfer

    engine = StyleTransfer(noise(24, 24), noise(24, 24, seed=1), tiny_model, size=24)
    with pytest.raises(ParameterError, match=words):
        engine.run(progress=False, **options)


def test_style_layer_without_positions_is_a_layer_error(tiny_model):
    from cadl_utils.style import StyleTransfer

    with pytest.raises(LayerError, match="without positions"):
        StyleTransfer(noise(24, 24), noise(24, 24), tiny_model, content_layer="softmax")


@pytest.mark.parametrize(
    "pairs,words",
    [
        ([], "the weight sweep is empty"),
        ((), "the weight sweep is empty"),
        ([(1.0, float("nan"))], "finite"),
        ([(1.0,)], "pairs must be a list of \\(content_weight, style_weight\\) pairs"),
        ([(0.0, 0.0)], "nothing to optimise"),
        (5, "pairs must be a list"),
    ],
)
def test_empty_or_bad_weight_sweeps(tiny_model, pairs, words):
    from cadl_utils.style import weight_sweep

    with pytest.raises(ParameterError, match=words):
        weight_sweep(noise(24, 24), noise(24, 24, seed=1), pairs, tiny_model, steps=1, progress=False)


def test_unknown_weights_mode_is_a_parameter_error():
    from cadl_utils.models import load_model

    with pytest.raises(ParameterError, match="pretrained, untrained, auto"):
        load_model("inception5h", weights="random")


@pytest.mark.parametrize("name", ["inception6h", "vgg", "", "resnet50"])
def test_unknown_model_lists_the_models(name):
    from cadl_utils.models import load_model

    with pytest.raises(ModelError, match="inception5h, vgg19, inception_v3"):
        load_model(name, weights="untrained")


@pytest.mark.parametrize("preset", ["l3", "", "SELF-ish", None])
def test_unknown_guided_preset_lists_the_presets(tiny_model, preset):
    from cadl_utils.guided import guided

    with pytest.raises(ParameterError, match="self, swapped, dot_notv, l1, l2, l1_neg, l2_neg"):
        guided(noise(16, 16), noise(16, 16, seed=1), tiny_model, preset=preset, steps=1, progress=False)


@pytest.mark.parametrize(
    "options,error,words",
    [
        ({"steps": 0}, ParameterError, "steps must be at least 1"),
        ({"steps": -2}, ParameterError, "steps must be at least 1"),
        ({"steps": 10**9}, ParameterError, "steps must be at most 100000"),
        ({"steps": 5, "frame_every": 2}, ParameterError, "multiple of frame_every"),
        ({"frame_every": 0}, ParameterError, "frame_every must be at least 1"),
        ({"step_size": float("nan")}, ParameterError, "step_size must be a finite number"),
        ({"octaves": 0}, ParameterError, "octaves must be at least 1"),
        ({"tile_size": 1}, ParameterError, "tile_size must be at least"),
        ({"feature_weight": 1e38}, ParameterError, "feature_weight must be at most"),
        ({"layers": []}, ParameterError, "no feature layers"),
        ({"layers": ["mixd"]}, LayerError, "Closest names: mixed"),
    ],
)
def test_guided_parameters_out_of_range(tiny_model, options, error, words):
    from cadl_utils.guided import guided

    options.setdefault("steps", 2)
    with pytest.raises(error, match=words):
        guided(noise(16, 16), noise(16, 16, seed=1), tiny_model, preset="l1", progress=False, **options)


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("feature_weight", float("nan"), "feature_weight must be a finite number"),
        ("pixel_weight", float("inf"), "pixel_weight must be a finite number"),
        ("feature_metric", "cosine", "use one of dot, l1, l2"),
        ("start", "both", "use one of dream, guide"),
    ],
)
def test_own_guided_preset_with_bad_values(field, value, words):
    from dataclasses import replace

    from cadl_utils.guided import PRESETS

    with pytest.raises(ParameterError, match=words):
        replace(PRESETS["l1"], **{field: value})


def test_guided_weights_cannot_become_nan(tiny_model):
    from cadl_utils.guided import guided_objective

    objective = guided_objective(tiny_model, "l2_neg", noise(16, 16, seed=1))
    before = objective.term_weights
    with pytest.raises(ParameterError, match="finite"):
        objective.set_term_weights(*[float("nan")] * len(before))
    with pytest.raises(ParameterError, match="finite"):
        objective.set_weight(float("inf"), term=0)
    assert objective.term_weights == before


def test_guide_smaller_than_the_layer_minimum_names_the_size(inception):
    from cadl_utils.guided import guided

    with pytest.raises(LayerError) as caught:
        guided(noise(40, 40), noise(40, 40, seed=1), inception, preset="l1", layers=["softmax2"], steps=1,
               progress=False)  # fmt: skip
    assert "193" in str(caught.value) and "earlier layer" in str(caught.value)


# ==================================================================================================
# Files


def test_gif_into_a_missing_folder_is_created(tmp_path):
    from cadl_utils.images import save_animation

    target = tmp_path / "new" / "deeper" / "zoom.gif"
    save_animation(distinct_frames(3), target)
    assert len(read_gif(target)) == 3
    assert leftovers(tmp_path) == []


def test_gif_into_a_read_only_folder(tmp_path, monkeypatch):
    folder = tmp_path / "locked"
    folder.mkdir()
    os.chmod(folder, 0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: simulate the check's answer
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == folder else real_access(p, mode, **kw))
        with pytest.raises(OutputError) as caught:
            save_gif(distinct_frames(2), folder / "anim.gif")
        assert "not writable" in str(caught.value) and "outputs/" in str(caught.value)
        assert list(folder.iterdir()) == []
    finally:
        os.chmod(folder, 0o700)


def test_gif_on_a_read_only_file_system(tmp_path, monkeypatch):
    # Permissions say yes, but the file system refuses the temporary file (EROFS).
    real_open = os.open

    def read_only_fs(path, flags, *args, **kwargs):
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", read_only_fs)
    with pytest.raises(OutputError, match="Read-only file system") as caught:
        save_gif(distinct_frames(2), tmp_path / "anim.gif")
    assert "anim.gif" in str(caught.value)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_output_equal_to_the_input_is_refused_and_the_input_kept(tmp_path, tiny_model):
    from cadl_utils.style import style_transfer

    source = save_image(noise(24, 24), tmp_path / "photo.png")
    before = source.read_bytes()
    result = style_transfer(str(source), noise(24, 24, seed=1), tiny_model, steps=2, size=24, progress=False)
    with pytest.raises(OutputError, match="refusing to overwrite the input"):
        result.save(source, inputs=[source])
    with pytest.raises(OutputError, match="refusing to overwrite the input"):
        result.save(tmp_path / "." / "photo.png", inputs=[str(source)])  # another spelling of it
    assert source.read_bytes() == before


def test_disk_full_during_a_gif_write_keeps_the_previous_gif(tmp_path, monkeypatch):
    target = save_gif(distinct_frames(2), tmp_path / "anim.gif")
    before = target.read_bytes()

    def fill_the_disk(self, fp, *args, **kwargs):
        write_partial(fp, b"GIF89a half a file")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", fill_the_disk)
    with pytest.raises(OutputError, match="disk full") as caught:
        save_gif(distinct_frames(5), target)
    assert "nothing was written" in str(caught.value)
    monkeypatch.undo()
    assert target.read_bytes() == before and len(read_gif(target)) == 2
    assert leftovers(tmp_path) == []


def test_gif_of_zero_frames_from_the_engines(tmp_path):
    from cadl_utils.runs import Result

    with pytest.raises(ImageError, match="no frames"):
        Result([], interrupted=True).save_gif(tmp_path / "zoom.gif")
    assert list(tmp_path.iterdir()) == []


def test_empty_sweep_result_cannot_be_saved(tmp_path):
    from cadl_utils.style import SweepResult

    empty = SweepResult(frames=[], interrupted=True)
    with pytest.raises(CadlError, match="no pictures yet"):
        empty.save_gif(tmp_path / "sweep.gif")
    with pytest.raises(CadlError, match="no pictures yet"):
        empty.save_grid(tmp_path / "grid.png")
    assert list(tmp_path.iterdir()) == []


# ==================================================================================================
# Downloads


@pytest.mark.parametrize(
    "fault,words",
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "could not be resolved"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "Network is unreachable"),
    ],
    ids=["no-dns", "network-unreachable"],
)
def test_no_network_at_all(tmp_path, monkeypatch, fault, words):
    from cadl_utils.models import download

    attempts = []

    def no_network(*args, **kwargs):
        attempts.append(args[:2])
        raise fault

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(download.time, "sleep", lambda seconds: None)
    monkeypatch.delenv("CADL_INCEPTION5H_URL", raising=False)
    with pytest.raises(DownloadError) as caught:
        download.ensure_inception5h(cache_dir=tmp_path / "cache", progress=False, retries=2)
    message = str(caught.value)
    assert words in message
    assert download.INCEPTION5H_URL in message  # the URL it tried
    assert str(tmp_path / "cache" / "inception5h" / "inception5h.zip") in message  # where to put it by hand
    assert "CADL_WEIGHTS=untrained" in message  # how to go on without it
    assert len(attempts) == 1  # no network is not worth retrying
    assert [p for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []


def test_no_network_with_auto_weights_falls_back_loudly(tmp_path, monkeypatch):
    from cadl_utils.models import load_model

    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.delenv("CADL_INCEPTION5H_URL", raising=False)
    with pytest.warns(RuntimeWarning, match="UNTRAINED"):
        model = load_model("inception5h", weights="auto", cache_dir=tmp_path / "cache", progress=False)
    assert model.weights == "untrained"
    assert "could not be resolved" in model.fallback_reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pretrained never falls back, it says what to do
        with pytest.raises(DownloadError, match="untrained"):
            load_model("inception5h", weights="pretrained", cache_dir=tmp_path / "cache", progress=False)


def test_cache_on_a_read_only_file_system(tmp_path, monkeypatch):
    from cadl_utils.models import download, load_model

    def read_only_fs(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    calls = []
    monkeypatch.setattr(Path, "mkdir", read_only_fs)
    monkeypatch.setattr(download.pooch, "retrieve", lambda *a, **k: calls.append(a) or pytest.fail("network used"))
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError) as caught:
        download.ensure_inception5h(cache_dir=cache, url="https://example.org/inception5h.zip", progress=False)
    message = str(caught.value)
    assert "Read-only file system" in message and "CADL_CACHE_DIR" in message
    assert calls == []  # found out before downloading 50 MB for nothing
    with pytest.warns(RuntimeWarning, match="UNTRAINED"):
        model = load_model("inception5h", weights="auto", cache_dir=cache, progress=False)
    assert model.weights == "untrained" and "Read-only file system" in model.fallback_reason


# ==================================================================================================
# Interruption (Ctrl-C): the work so far is kept and can be written; nothing half-written is left


def test_ctrl_c_in_dream_keeps_the_steps_done(tiny_model, tmp_path):
    from cadl_utils.dream import dream

    image = noise(32, 32)
    objective = O.layer("mixed")
    stop = stop_at(3)
    run = dream(image, objective, tiny_model, steps=8, octaves=1, callback=stop, progress=False)
    assert run.interrupted and run.steps_done == 3 and stop.seen == [1, 2, 3]
    partial = run.image
    assert partial.shape == image.shape and np.isfinite(partial).all()
    # The interrupted picture is exactly a finished 3-step dream: nothing was lost or half-applied.
    three = dream(image, objective, tiny_model, steps=3, octaves=1, progress=False)
    assert not three.interrupted
    np.testing.assert_allclose(partial, three.image, atol=1e-5)
    saved = load_image(run.save(tmp_path / "partial.png"))
    np.testing.assert_allclose(saved, partial, atol=0.5 / 255 + 1e-6)


def test_ctrl_c_between_octaves_returns_a_full_size_image(tiny_model):
    from cadl_utils.dream import dream

    image = noise(40, 40)
    run = dream(image, O.layer("mixed"), tiny_model, steps=2, octaves=3, octave_scale=1.5,
                callback=stop_at(3), progress=False)  # fmt: skip
    assert run.interrupted and run.steps_done == 3
    assert run.image.shape == image.shape and 0.0 <= run.image.min() and run.image.max() <= 1.0


def test_ctrl_c_inside_a_compiled_step(tiny_model, monkeypatch):
    """Ctrl-C while TensorFlow runs a step (not between steps): the step is dropped, not half-applied."""
    from cadl_utils import dream as D

    real_step = D.Dreamer.step
    calls = []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(D.Dreamer, "step", step_then_interrupt)
    run = D.feedback_loop(noise(24, 24), O.layer("mixed"), tiny_model, frames=5, frame_every=1, progress=False)
    assert run.interrupted and len(run.frames) == 2 and run.steps_done == 2
    assert all(np.isfinite(f).all() for f in run.frames)


@pytest.mark.parametrize("loop", ["feedback", "zoom"])
@pytest.mark.parametrize("at_step", [1, 5])
def test_ctrl_c_in_loops_keeps_frames_and_writes_a_valid_gif(tiny_model, tmp_path, loop, at_step):
    from cadl_utils.dream import feedback_loop, fractal_zoom

    run = feedback_loop if loop == "feedback" else fractal_zoom
    image = noise(32, 32)
    frames = run(image, O.layer("mixed"), tiny_model, frames=4, frame_every=2, step_size=0.05,
                 callback=stop_at(at_step), progress=False)  # fmt: skip
    done = at_step // 2  # frames completed before the interrupt
    assert frames.interrupted and frames.steps_done == at_step and len(frames.frames) == done
    target = tmp_path / f"{loop}.gif"
    if done == 0:
        with pytest.raises(ImageError, match="no frames"):
            frames.save_gif(target)
        assert not target.exists()
    else:
        frames.save_gif(target)
        back = read_gif(target)
        assert len(back) == done and back[0].shape == image.shape
    assert leftovers(tmp_path) == []


def test_ctrl_c_in_zoom_matches_the_uninterrupted_frames(tiny_model):
    from cadl_utils.dream import fractal_zoom

    image = noise(32, 32)
    options = dict(frames=3, frame_every=2, margin=2, progress=False)
    partial = fractal_zoom(image, O.layer("mixed"), tiny_model, callback=stop_at(5), **options)
    full = fractal_zoom(image, O.layer("mixed"), tiny_model, **options)
    assert len(partial.frames) == 2 and not full.interrupted and len(full.frames) == 3
    for kept, reference in zip(partial.frames, full.frames):
        np.testing.assert_allclose(kept, reference, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_ctrl_c_in_style_keeps_frames_and_writes_a_valid_gif(tiny_model, tmp_path, optimizer):
    from cadl_utils.style import style_transfer

    def interrupt(info):
        if info.step >= 3:
            raise KeyboardInterrupt

    result = style_transfer(noise(24, 24), noise(24, 24, seed=1), tiny_model, size=24, steps=10,
                            optimizer=optimizer, frame_every=1, callback=interrupt, progress=False)  # fmt: skip
    assert result.interrupted and 3 <= result.steps_done < 10
    assert result.frame_steps[:4] == [0, 1, 2, 3]
    assert all(np.isfinite(f).all() and f.min() >= 0.0 and f.max() <= 1.0 for f in result.frames)
    back = read_gif(result.save_gif(tmp_path / "style.gif"))
    assert 2 <= len(back) <= len(result.frames) and back[0].shape == (24, 24, 3)
    assert load_image(result.save(tmp_path / "style.png")).shape == (24, 24, 3)
    assert leftovers(tmp_path) == []


def test_ctrl_c_in_a_weight_sweep_keeps_finished_pairs(tiny_model, tmp_path, monkeypatch):
    from cadl_utils import style as st

    real_run = st.StyleTransfer.run
    runs = []

    def run_then_interrupt(self, *args, **kwargs):
        runs.append(1)
        if len(runs) == 3:
            raise KeyboardInterrupt
        return real_run(self, *args, **kwargs)

    monkeypatch.setattr(st.StyleTransfer, "run", run_then_interrupt)
    pairs = [(1.0, 1.0), (1.0, 10.0), (1.0, 100.0), (1.0, 1000.0)]
    sweep = st.weight_sweep(noise(24, 24), noise(24, 24, seed=1), pairs, tiny_model, size=24, steps=2,
                            progress=False)  # fmt: skip
    assert sweep.interrupted and sweep.pairs == pairs[:2] and len(sweep.frames) == 2
    assert len(read_gif(sweep.save_gif(tmp_path / "sweep.gif"))) == 2


@pytest.mark.parametrize("at_step", [1, 3])
def test_ctrl_c_in_guided_keeps_frames_and_writes_a_valid_gif(tiny_model, tmp_path, at_step):
    from cadl_utils.guided import guided

    dream_image, guide_image = noise(24, 24), noise(20, 28, seed=1)
    result = guided(dream_image, guide_image, tiny_model, preset="l2_neg", steps=6, frame_every=2,
                    callback=stop_at(at_step), progress=False)  # fmt: skip
    assert result.interrupted and result.steps_done == at_step
    assert len(result.frames) == 1 + at_step // 2  # the start image, then the finished frames
    np.testing.assert_array_equal(result.frames[0], dream_image)
    back = read_gif(result.save_gif(tmp_path / "guided.gif"))
    assert 1 <= len(back) <= len(result.frames) and back[0].shape == (24, 24, 3)
    assert leftovers(tmp_path) == []


# --- the command line: exit code 130, a valid partial GIF or nothing at the target


@pytest.fixture
def style_cli(tiny_model, monkeypatch):
    """cadl_utils.cli with only the style command, running on the tiny model."""
    from cadl_utils import cli, style_engine

    monkeypatch.setattr(style_engine, "resolve_model", lambda model, weights=None: tiny_model)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("style",))
    return cli


def _style_inputs(tmp_path: Path) -> list[str]:
    content = save_image(noise(24, 24), tmp_path / "content.png")
    style = save_image(noise(24, 24, seed=1), tmp_path / "texture.png")
    return [str(content), str(style)]


def test_cli_style_interrupted_mid_run_exits_130_with_a_partial_gif(style_cli, tmp_path, monkeypatch, capsys):
    from cadl_utils import style_engine

    real_report = style_engine.report

    def report_then_interrupt(callback, info):
        real_report(callback, info)
        if info.step >= 4:
            raise KeyboardInterrupt

    monkeypatch.setattr(style_engine, "report", report_then_interrupt)
    out = tmp_path / "out"
    code = style_cli.main(["style", *_style_inputs(tmp_path), "--steps", "20", "--size", "24", "--frame-every",
                           "2", "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    frames = read_gif(out / "style.gif")
    assert len(frames) == 3  # steps 0, 2 and 4
    assert load_image(out / "style.png").shape == (24, 24, 3)
    assert leftovers(out) == []


def test_cli_interrupted_while_writing_leaves_nothing_at_the_target(style_cli, tmp_path, monkeypatch, capsys):
    def write_half_then_interrupt(self, fp, *args, **kwargs):
        write_partial(fp, b"GIF89a\x00\x01 half a file")
        raise KeyboardInterrupt

    inputs = _style_inputs(tmp_path)
    monkeypatch.setattr(Image.Image, "save", write_half_then_interrupt)
    out = tmp_path / "out"
    code = style_cli.main(["style", *inputs, "--steps", "2", "--size", "24", "--out", str(out), "--no-progress"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert not (out / "style.gif").exists() and not (out / "style.png").exists()
    assert leftovers(out) == []


def test_cli_interrupted_while_writing_keeps_the_previous_output(style_cli, tmp_path, monkeypatch):
    out = tmp_path / "out"
    inputs = _style_inputs(tmp_path)
    args = ["style", *inputs, "--steps", "2", "--size", "24", "--out", str(out), "--no-progress"]
    assert style_cli.main(args) == 0
    before = (out / "style.gif").read_bytes()

    def write_half_then_interrupt(self, fp, *a, **k):
        write_partial(fp, b"GIF89a\x00\x01 half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", write_half_then_interrupt)
    assert style_cli.main(args + ["--seed", "3"]) == 130
    monkeypatch.undo()
    assert (out / "style.gif").read_bytes() == before
    assert len(read_gif(out / "style.gif")) >= 1 and leftovers(out) == []


def test_cli_bad_input_exits_2_with_the_message(style_cli, tmp_path, capsys):
    code = style_cli.main(["style", str(tmp_path / "missing.jpg"), *_style_inputs(tmp_path)[1:], "--out",
                           str(tmp_path / "out"), "--no-progress"])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing.jpg" in err and "no image file" in err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("command", ["style", "guide"])
def test_cli_checks_outputs_before_rendering(tiny_model, tmp_path, monkeypatch, capsys, command):
    from cadl_utils import cli, models
    from cadl_utils import dream as D
    from cadl_utils import style as st

    def no_rendering(*args, **kwargs):
        raise AssertionError("rendered although the output could never be written")

    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: tiny_model)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("style", "guide"))
    monkeypatch.setattr(st.StyleTransfer, "run", no_rendering)
    monkeypatch.setattr(D.Dreamer, "step", no_rendering)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    size = "--size" if command == "style" else "--max-side"
    code = cli.main([command, *_style_inputs(tmp_path), "--steps", "2", size, "24", "--out", str(blocker / "out"),
                     "--no-progress"])  # fmt: skip
    assert code == 2 and "cannot create the folder" in capsys.readouterr().err


@pytest.fixture
def dream_cli(tiny_model, monkeypatch):
    """cadl_utils.cli with only the dream and zoom commands, running on the tiny model."""
    from cadl_utils import cli

    monkeypatch.setattr("cadl_utils.cli.dream.load_cli_model", lambda args, **kwargs: tiny_model)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("dream",))
    return cli


def _dream_args(command: str, source: Path, out: Path, *extra: str) -> list[str]:
    return [command, str(source), "--layer", "mixed", "--mean", "--size", "32", "--frames", "4", "--steps", "2",
            "--out", str(out), "--no-progress", *extra]  # fmt: skip


@pytest.mark.parametrize("command", ["dream", "zoom"])
def test_cli_dream_and_zoom_interrupted_exit_130_with_a_partial_gif(dream_cli, tmp_path, monkeypatch, capsys,
                                                                    command):  # fmt: skip
    from cadl_utils import dream as D

    real_step = D.Dreamer.step
    calls = []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 6:  # Ctrl-C during the 6th step: frames 1 and 2 (steps 1-4) are finished
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(D.Dreamer, "step", step_then_interrupt)
    source = save_image(noise(32, 32), tmp_path / "photo.png")
    out = tmp_path / "out" / f"{command}.gif"
    assert dream_cli.main(_dream_args(command, source, out)) == 130
    assert "2 finished frame(s) were saved" in capsys.readouterr().err
    frames = read_gif(out)
    assert len(frames) == 2 and frames[0].shape == (32, 32, 3)
    assert load_image(out.with_suffix(".png")).shape == (32, 32, 3)
    assert leftovers(tmp_path / "out") == []


def test_cli_dream_interrupted_before_the_first_frame_writes_nothing(dream_cli, tmp_path, monkeypatch, capsys):
    from cadl_utils import dream as D

    def interrupt(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(D.Dreamer, "step", interrupt)
    source = save_image(noise(32, 32), tmp_path / "photo.png")
    out = tmp_path / "out" / "dream.gif"
    assert dream_cli.main(_dream_args("dream", source, out)) == 130
    assert "nothing saved" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert leftovers(tmp_path) == []


def test_cli_zoom_interrupted_while_writing_the_gif_leaves_nothing(dream_cli, tmp_path, monkeypatch, capsys):
    def write_half_then_interrupt(self, fp, *args, **kwargs):
        write_partial(fp, b"GIF89a\x00\x01 half a file")
        raise KeyboardInterrupt

    source = save_image(noise(32, 32), tmp_path / "photo.png")
    monkeypatch.setattr(Image.Image, "save", write_half_then_interrupt)
    out = tmp_path / "out" / "zoom.gif"
    assert dream_cli.main(_dream_args("zoom", source, out)) == 130
    assert "interrupted" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".png").exists()
    assert leftovers(tmp_path / "out") == []


def test_cli_zoom_output_equal_to_the_input_is_refused(dream_cli, tmp_path, capsys):
    source = save_image(noise(32, 32), tmp_path / "photo.png")
    before = source.read_bytes()
    args = _dream_args("zoom", source, source)
    args[args.index("--frames") + 1] = "1"  # one frame: written as an image at --out
    assert dream_cli.main(args) == 2
    assert "refusing to overwrite the input" in capsys.readouterr().err
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    "extra,words",
    [
        (["--margin", "0.6"], "too large"),
        (["--octave-scale", "1.0"], "octave_scale must be greater than 1"),
        (["--steps", "0"], "--steps must be at least 1"),
        (["--duration-ms", "0"], "--duration-ms must be at least 1"),
        (["--tile-size", "1"], "tile_size must be at least 32"),
        (["--seed=-1"], "seed must be at least 0"),
        (["--layer", "mixd"], "Closest names: mixed"),
        (["--size", "2"], "--size must be at least"),
    ],
)
def test_cli_zoom_bad_parameters_exit_2_before_rendering(dream_cli, tmp_path, monkeypatch, capsys, extra, words):
    from cadl_utils import dream as D

    monkeypatch.setattr(D.Dreamer, "step", lambda *a, **k: pytest.fail("rendered despite a bad parameter"))
    source = save_image(noise(32, 32), tmp_path / "photo.png")
    args = _dream_args("zoom", source, tmp_path / "out" / "zoom.gif")
    for i in range(0, len(extra), 2):  # replace an option given by _dream_args, or add it
        if extra[i] in args:
            args[args.index(extra[i]) + 1] = extra[i + 1]
        else:
            args += extra[i : i + 2]
    assert dream_cli.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and words in err
    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []  # the folder may be created


@pytest.fixture
def guide_cli(tiny_model, monkeypatch):
    """cadl_utils.cli with only the guide command, running on the tiny model."""
    from cadl_utils import cli, models

    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: tiny_model)
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("guide",))
    return cli


def test_cli_guide_interrupted_exits_130_with_a_partial_gif(guide_cli, tmp_path, monkeypatch, capsys):
    from cadl_utils import dream as D

    real_step = D.Dreamer.step
    calls = []

    def step_then_interrupt(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 5:  # Ctrl-C in the 5th step: frames after steps 2 and 4 are finished
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(D.Dreamer, "step", step_then_interrupt)
    first = save_image(noise(24, 24), tmp_path / "one.png")
    second = save_image(noise(24, 24, seed=1), tmp_path / "two.png")
    out = tmp_path / "out"
    code = guide_cli.main(["guide", str(first), str(second), "--all-presets", "--steps", "8", "--frame-every", "2",
                           "--out", str(out), "--no-progress"])  # fmt: skip
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["guided.gif", "guided.png"]  # later presets skipped
    assert len(read_gif(out / "guided.gif")) == 3  # start + 2 finished frames
    assert leftovers(out) == []


def test_cli_guide_unknown_preset_is_refused_by_the_parser(guide_cli, capsys):
    with pytest.raises(SystemExit) as caught:
        guide_cli.main(["guide", "--preset", "l3"])
    assert caught.value.code == 2
    assert "invalid choice: 'l3'" in capsys.readouterr().err


def test_cli_dream_checks_outputs_before_rendering(dream_cli, tmp_path, monkeypatch, capsys):
    from cadl_utils import dream as D

    monkeypatch.setattr(D.Dreamer, "step", lambda *a, **k: pytest.fail("rendered although the output is unusable"))
    source = save_image(noise(32, 32), tmp_path / "photo.png")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert dream_cli.main(_dream_args("dream", source, blocker / "dream.gif")) == 2
    assert "cannot create the folder" in capsys.readouterr().err
    assert blocker.read_text() == "not a folder"


# ==================================================================================================
# Issue 15: non-finite steps, odd paths and values, the example cases


def nan_after(real, calls: int):
    """Wrap a step function so that from its ``calls``-th call on, its picture (first result) is NaN."""
    count = [0]

    def step(*args, **kwargs):
        count[0] += 1
        new, loss = real(*args, **kwargs)
        return (new * float("nan"), loss) if count[0] >= calls else (new, loss)

    return step


@pytest.mark.parametrize("engine", ["dream", "feedback_loop", "fractal_zoom"])
def test_a_non_finite_dream_step_stops_with_the_last_finite_frame(tiny_model, monkeypatch, engine):
    from cadl_utils import dream as D
    from cadl_utils.errors import NonFiniteError

    monkeypatch.setattr(D.Dreamer, "step", nan_after(D.Dreamer.step, 3))
    with pytest.raises(NonFiniteError, match=r"step 3 produced NaN or infinite values.*use a smaller step size") as caught:
        getattr(D, engine)(noise(), O.layer("mixed"), tiny_model, steps=5, frames=4, frame_every=1, octaves=1,
                           progress=False)  # fmt: skip
    result = caught.value.result  # what was finished before the bad step
    assert result.interrupted and result.steps_done == 2
    assert len(result.frames) == (1 if engine == "dream" else 2)
    assert all(np.isfinite(frame).all() for frame in result.frames)


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_non_finite_style_step_stops_with_the_last_finite_frame(tiny_model, monkeypatch, optimizer):
    from cadl_utils import style_engine
    from cadl_utils.errors import NonFiniteError
    from cadl_utils.style import StyleTransfer

    real = style_engine._Recorder.advance

    def advance(self, rows, steps):  # the loss turns NaN after two steps
        return real(self, np.asarray(rows) * (np.nan if self.done >= 2 and steps else 1.0), steps)

    monkeypatch.setattr(style_engine._Recorder, "advance", advance)
    engine = StyleTransfer(noise(24, 28), noise(20, 20, 1), tiny_model, size=28)
    with pytest.raises(NonFiniteError, match="produced NaN or infinite values") as caught:
        engine.run(steps=6, frame_every=1, optimizer=optimizer, progress=False)
    result = caught.value.result
    assert result.interrupted and result.steps_done == 2 and result.frame_steps == [0, 1, 2]
    assert all(np.isfinite(frame).all() for frame in result.frames)
    np.testing.assert_array_equal(engine.picture(), result.frames[-1])  # the engine is back at the last good one


def test_cli_non_finite_step_writes_the_finished_frames_and_exits_2(dream_cli, tmp_path, monkeypatch, capsys):
    from cadl_utils import dream as D

    monkeypatch.setattr(D.Dreamer, "step", nan_after(D.Dreamer.step, 5))
    source = save_image(noise(32, 32), tmp_path / "photo.png")
    out = tmp_path / "out" / "dream.gif"
    assert dream_cli.main(_dream_args("dream", source, out)) == 2
    captured = capsys.readouterr()
    assert "error: step 5 produced NaN" in captured.err and "2 finite frame(s) before it are kept" in captured.err
    assert f"wrote {out}" in captured.out
    assert len(load_gif_frames(out)) == 2 and leftovers(tmp_path) == []


def load_gif_frames(path: Path) -> np.ndarray:
    import imageio.v3 as iio

    return iio.imread(path, index=None)


def test_over_budget_file_name_with_braces_is_not_a_template(tmp_path, monkeypatch):
    path = save_image(noise(40, 40), tmp_path / "{x}{0}%s.png")
    monkeypatch.setenv("CADL_MAX_PIXELS", "1000")
    with pytest.raises(ImageError, match=r"\{x\}\{0\}%s\.png has 1600 pixels, over the budget of 1000"):
        load_image(path)


@pytest.mark.parametrize("value", ["1e99", "10000000000000", "-5", "nan", "inf", "lots"])
def test_cadl_max_pixels_is_bounded(monkeypatch, tmp_path, value):
    path = save_image(noise(8, 8), tmp_path / "small.png")
    monkeypatch.setenv("CADL_MAX_PIXELS", value)
    with pytest.raises(ParameterError, match=r"CADL_MAX_PIXELS=.* is not a number of pixels from 1 to 10\^12"):
        load_image(path)


def test_cache_folder_the_system_cannot_take_is_a_parameter_error(monkeypatch):
    from cadl_utils.config import cache_dir

    with pytest.raises(ParameterError, match="cannot use the cache folder"):
        cache_dir("a\0b")
    monkeypatch.setenv("CADL_CACHE_DIR", "x" * 300)
    with pytest.raises(ParameterError, match="CADL_CACHE_DIR"):
        cache_dir()


def test_odd_output_and_input_names_are_our_errors(tmp_path, monkeypatch):
    from cadl_utils.images import save_animation
    from cadl_utils.models.download import inception5h_from_file

    monkeypatch.chdir(tmp_path)
    assert save_image(noise(8, 8), "~nobody-here.png") == Path("~nobody-here.png")  # no such user: a plain name
    with pytest.raises(OutputError, match="cannot use the output path .*File name too long"):
        save_image(noise(8, 8), "x" * 300 + ".png")
    with pytest.raises(DownloadError, match="File name too long"):
        inception5h_from_file("x" * 300 + ".zip")
    with pytest.raises(OutputError, match="no output path given"):
        save_image(noise(8, 8), 5)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="duration_ms"):
        save_animation([noise(8, 8)], "a.gif", duration_ms=None)  # type: ignore[arg-type]
    assert leftovers(tmp_path) == []


def test_cli_export_standin_and_model_commands_refuse_bad_values(capsys, tmp_path, monkeypatch):
    from cadl_utils import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["export-standin", str(tmp_path / "x.zip"), "--seed=-1"]) == 2
    assert "seed must be at least 0, got -1" in capsys.readouterr().err
    assert cli.main(["export-standin", "."]) == 2
    assert "the stand-in is written as a zip, e.g. inception5h.zip" in capsys.readouterr().err
    assert cli.main(["export-standin", "standin"]) == 2
    assert "e.g. standin.zip" in capsys.readouterr().err
    assert cli.main(["layers", "--kind", "mixd"]) == 2
    assert "unknown --kind 'mixd': use one of" in capsys.readouterr().err
    monkeypatch.setattr(cli, "main", lambda argv: pytest.fail("a course job ran"))
    assert cli.build_parser().parse_args(["course", "--weights", "imagenet"]).func is not None
    from cadl_utils.cli import course

    with pytest.raises(ParameterError, match="unknown weights mode 'imagenet'"):
        course.run_course(tmp_path / "out", "imagenet")
    assert list(tmp_path.iterdir()) == []


def test_cli_input_name_too_long_exits_2(dream_cli, capsys):
    assert dream_cli.main(["dream", "x" * 300 + ".png", "--layer", "mixed", "--mean"]) == 2
    assert "no image file" in capsys.readouterr().err
    assert dream_cli.main(["dream", "~nobody-such-user/cat.png", "--layer", "mixed", "--mean"]) == 2
    assert "no image file" in capsys.readouterr().err


def test_render_presets_refuses_presets_that_are_not_a_list(tiny_model, tmp_path):
    from cadl_utils.guided import render_presets

    with pytest.raises(ParameterError, match=r"presets must be a list of preset names such as \['self', 'l1'\]"):
        render_presets(noise(), noise(), tmp_path, False, tiny_model)  # type: ignore[arg-type]


# ==================================================================================================
# The table in docs/reliability.md


def test_every_row_names_an_existing_test():
    import re

    text = (REPO / "docs" / "reliability.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    assert len(rows) >= 30
    numbers = [int(line.split("|")[1]) for line in rows]
    assert numbers == list(range(1, len(rows) + 1))  # numbered in order, none missing
    named = re.findall(r"(test_\w+\.py)::(test_\w+)", text)
    assert all(re.search(r"test_\w+\.py::test_\w+", row.split("|")[-2]) for row in rows), "a row without a test"
    missing = []
    for file_name, test_name in set(named):
        source = REPO / "tests" / file_name
        if not source.is_file() or not re.search(rf"^def {test_name}\(", source.read_text(), re.M):
            missing.append(f"{file_name}::{test_name}")
    assert sorted(missing) == []
