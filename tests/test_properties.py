"""Property tests (hypothesis): finite losses, images kept in [0, 1], lossless round trips.

For random small images, sizes, seeds and loss weights inside their documented ranges, every loss
and every step of the engines returns finite values and every picture stays in [0, 1]; images
survive load -> save -> load (PNG, BMP and TIFF exactly, JPEG and WebP within a tolerance).

Bounded on purpose: ~20-30 examples per property, images of 8-40 px, the tiny model
(tests/tiny_model.py), so the file runs in seconds. ``deadline=None`` because the first example of
a property may compile a TensorFlow function.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cadl_utils import objectives as O
from cadl_utils.images import load_image, resize, save_image, to_uint8

BOUNDED = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --------------------------------------------------------------------------------------------------
# strategies

sides = st.integers(min_value=8, max_value=40)
seeds = st.integers(min_value=0, max_value=2**31 - 2)
kinds = st.sampled_from(["noise", "smooth", "constant", "black", "white", "stripes"])
# Objective weights: any sign (negative descends a term), documented as finite numbers.
weights = st.floats(min_value=-10.0, max_value=10.0, allow_nan=False, allow_infinity=False)
# Style weights: the style module promises no NaN/Inf for 1e-6 .. 1e6.
style_weights = st.floats(min_value=-6.0, max_value=6.0).map(lambda e: float(10.0**e))


def make_image(kind: str, height: int, width: int, seed: int) -> np.ndarray:
    """A float32 [H, W, 3] test picture in [0, 1] of a given kind (flat ones are the hard cases)."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.random((height, width, 3)).astype(np.float32)
    if kind == "smooth":
        corners = rng.random((2, 2, 3)).astype(np.float32)
        return resize(corners, (height, width))
    if kind == "constant":
        return np.full((height, width, 3), rng.random(), np.float32)
    if kind == "black":
        return np.zeros((height, width, 3), np.float32)
    if kind == "white":
        return np.ones((height, width, 3), np.float32)
    stripes = np.zeros((height, width, 3), np.float32)
    stripes[:, :: 2 + seed % 3] = 1.0
    return stripes


images = st.builds(make_image, kinds, sides, sides, seeds)


def assert_picture(image, shape=None) -> None:
    """Finite float values in [0, 1] (and the expected shape)."""
    array = np.asarray(image)
    assert np.isfinite(array).all(), "non-finite pixels"
    assert array.min() >= 0.0 and array.max() <= 1.0, (array.min(), array.max())
    if shape is not None:
        assert array.shape == tuple(shape)


def assert_finite(*values) -> None:
    for value in values:
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, np.float64)
        assert np.isfinite(array).all(), array


# ==================================================================================================
# Objectives (tiny model)


@pytest.fixture(scope="module")
def mixed_objective(tiny_model):
    """A weighted sum of every kind of objective; its weights are changed per example."""
    objective = (
        O.channel("mixed", 3)
        + O.channel("conv1", 2, pre_relu=True)
        + O.neuron("jellyfish", layer="softmax")
        + O.neuron(4, layer="logits")
        + O.layer("conv2")
        + O.layer("mixed_3x3_pre_relu", squared=True)
        + O.tv()
    )
    return objective.validate(tiny_model)


@BOUNDED
@given(image=images, term_weights=st.lists(weights, min_size=7, max_size=7))
def test_objective_values_and_gradients_are_finite(tiny_model, mixed_objective, image, term_weights):
    mixed_objective.set_term_weights(*term_weights)
    assert np.isfinite(O.evaluate(mixed_objective, tiny_model, image))
    batch = tf.Variable(image[None])
    with tf.GradientTape() as tape:
        layers = list(mixed_objective.layers)
        features = dict(zip(layers, tiny_model.extract(batch, layers)))
        value = mixed_objective.feature_loss(features) + mixed_objective.pixel_loss(batch)
    assert_finite(value, tape.gradient(value, batch))


@BOUNDED
@given(image=images)
def test_total_variation_is_in_range_with_a_finite_gradient(image):
    batch = tf.Variable(image[None])
    with tf.GradientTape() as tape:
        value = O.total_variation(batch)
    assert 0.0 <= float(value) <= 1.0
    assert_finite(tape.gradient(value, batch))


# ==================================================================================================
# Deep Dream steps (tiny model)


@BOUNDED
@given(
    image=images,
    seed=seeds,
    term_weights=st.lists(weights, min_size=7, max_size=7),
    step_size=st.floats(min_value=1e-4, max_value=1.0),
    normalize=st.sampled_from(["std", "maxabs", "laplacian", "none"]),
    jitter=st.integers(min_value=0, max_value=16),
    octaves=st.integers(min_value=1, max_value=2),
    decay=st.floats(min_value=0.0, max_value=0.5),
    blur_every=st.integers(min_value=0, max_value=2),
)
def test_dream_steps_keep_pictures_finite_and_in_range(
    tiny_model, mixed_objective, image, seed, term_weights, step_size, normalize, jitter, octaves, decay, blur_every
):
    from cadl_utils.dream import dream

    mixed_objective.set_term_weights(*term_weights)
    out = dream(image, mixed_objective, tiny_model, steps=2, step_size=step_size, octaves=octaves,
                octave_scale=1.3, jitter=jitter, normalize=normalize, seed=seed, decay=decay,
                blur_every=blur_every, progress=False).image  # fmt: skip
    assert_picture(out, image.shape)


@BOUNDED
@given(image=images, seed=seeds, margin=st.floats(min_value=0.01, max_value=0.2), step_size=st.floats(1e-3, 0.2))
def test_zoom_frames_keep_size_and_range(tiny_model, mixed_objective, image, seed, margin, step_size):
    from cadl_utils.dream import fractal_zoom

    mixed_objective.set_term_weights(1.0, 0.5, 1.0, 0.1, 1.0, 0.01, -0.5)
    frames = fractal_zoom(image, mixed_objective, tiny_model, frames=2, frame_every=1, margin=margin,
                          step_size=step_size, seed=seed, progress=False).frames  # fmt: skip
    assert len(frames) == 2
    for frame in frames:
        assert_picture(frame, image.shape)


# Values of any type for the dream fuzz tests.
any_values = st.one_of(st.none(), st.booleans(), st.integers(-(10**12), 10**12), st.floats(), st.text(max_size=8),
                       st.lists(st.floats(-2.0, 2.0), max_size=3))  # fmt: skip


def draw_settings(data, settings_class):
    """Up to three fields of a settings class set to odd values: the checked settings, or None when they
    were refused with a CadlError (anything else escapes and fails the test)."""
    from cadl_utils.errors import CadlError

    names = data.draw(st.lists(st.sampled_from(settings_class.names()), max_size=3, unique=True))
    values = {name: data.draw(any_values, label=name) for name in names}
    try:
        return settings_class.make(**values)
    except CadlError:
        return None


@BOUNDED
@given(data=st.data())
def test_dream_engines_accept_or_refuse_any_settings(tiny_model, data):
    """Fuzz: any values of any DreamSettings give finite pictures or a CadlError, never another exception."""
    import dataclasses

    from cadl_utils.dream import DreamSettings, dream, feedback_loop, fractal_zoom
    from cadl_utils.errors import CadlError

    chosen = draw_settings(data, DreamSettings)
    if chosen is None:
        return
    # Accepted values are inside their documented ranges; keep the run itself tiny.
    chosen = dataclasses.replace(chosen, steps=1, frames=min(chosen.frames, 2), frame_every=1,
                                 octaves=min(chosen.octave_count(1), 2), progress=False)  # fmt: skip
    engine = data.draw(st.sampled_from([dream, feedback_loop, fractal_zoom]))
    image = make_image("smooth", 24, 28, 1)
    try:
        result = engine(image, O.layer("mixed"), tiny_model, chosen)
    except CadlError:
        return
    for frame in result.frames:
        assert_picture(frame, image.shape)


@BOUNDED
@given(command=st.sampled_from(["dream", "zoom"]),
       option=st.sampled_from(["--size", "--step-size", "--octaves", "--octave-scale",
                               "--tile-size", "--jitter", "--seed", "--decay", "--blur-every", "--blur-sigma",
                               "--duration-ms", "--neuron", "--channel", "--layer", "--out", "--normalize"]),
       value=st.one_of(st.text(min_size=1, max_size=6), st.integers(-(10**12), 10**12).map(str),
                       st.floats().map(repr)))  # fmt: skip
def test_dream_cli_exits_0_or_2_for_any_option_value(tiny_model, command, option, value, capsys):
    """Fuzz: ``dream`` / ``zoom`` with one odd option value exit 0 or 2, without a traceback or temporary files.

    (--frames and --steps are left out: large valid counts take long; their bounds have example tests.)"""
    from cadl_utils import cli

    if value.startswith("-"):
        value = " " + value  # not an option name for argparse
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr("cadl_utils.cli.dream.load_cli_model", lambda args, **kwargs: tiny_model)
        patch.setattr(cli, "COMMAND_MODULES", ("dream",))
        patch.chdir(folder)  # a relative --out stays in the temporary folder
        source = str(save_image(make_image("noise", 24, 24, 1), Path(folder) / "in.png"))
        args = [command, source, "--layer", "mixed", "--mean", "--size", "24", "--frames", "1", "--steps", "1",
                "--out", str(Path(folder) / "out.gif"), "--no-progress", option, value]  # fmt: skip
        try:
            code = cli.main(args)
        except SystemExit as stop:  # argparse refuses a value of the wrong type
            code = stop.code
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, err
        assert not [p for p in Path(folder).rglob(".*")], "temporary files left"


# ==================================================================================================
# Guided hallucination terms


vector_values = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)


@BOUNDED
@given(
    data=st.data(),
    channels=st.integers(min_value=1, max_value=16),
    metric=st.sampled_from(["dot", "l1", "l2"]),
    identical=st.booleans(),
)
def test_feature_terms_are_finite_with_finite_gradients(data, channels, metric, identical):
    from cadl_utils.guided import feature_scale, feature_term

    guide = data.draw(arrays(np.float32, channels, elements=vector_values))
    dream_vector = guide.copy() if identical else data.draw(arrays(np.float32, channels, elements=vector_values))
    dream = tf.Variable(dream_vector[None])
    with tf.GradientTape() as tape:
        value = feature_term(dream, guide, metric, feature_scale(guide))
    assert_finite(value, tape.gradient(value, dream))
    if identical and metric != "dot":
        assert abs(float(value)) < 1e-5  # a distance of a vector to itself is 0


@BOUNDED
@given(image=images, guide=images, metric=st.sampled_from(["l1", "l2"]))
def test_pixel_distance_is_in_range_for_any_sizes(image, guide, metric):
    from cadl_utils.guided import pixel_distance

    batch = tf.Variable(image[None])
    with tf.GradientTape() as tape:
        value = pixel_distance(batch, guide, metric)
    assert 0.0 <= float(value) <= 1.0
    assert_finite(tape.gradient(value, batch))


@BOUNDED
@given(image=images, guide=images)
def test_guide_features_are_finite(tiny_model, image, guide):
    from cadl_utils.guided import compute_guide_features

    features = compute_guide_features(tiny_model, guide, ["conv1", "mixed", "softmax"], match_size=image.shape[:2])
    for name in features.layers:
        assert_finite(features.vectors[name])
        assert features.scales[name] > 0.0


@BOUNDED
@given(data=st.data())
def test_guided_accepts_or_refuses_any_settings(tiny_model, data):
    """Fuzz: any values of any GuidedSettings give finite pictures or a CadlError, never another exception."""
    import dataclasses

    from cadl_utils.errors import CadlError
    from cadl_utils.guided import GuidedSettings, guided

    chosen = draw_settings(data, GuidedSettings)
    if chosen is None:
        return
    # Accepted values are inside their documented ranges; keep the run itself tiny.
    chosen = dataclasses.replace(chosen, steps=min(chosen.steps or 2, 2), frame_every=1,
                                 octaves=min(chosen.octaves or 1, 2), progress=False)  # fmt: skip
    try:
        result = guided(make_image("smooth", 24, 28, 1), make_image("noise", 20, 20, 2), tiny_model, chosen)
    except CadlError:
        return
    for frame in result.frames:
        assert_picture(frame, result.start.shape)


@BOUNDED
@given(option=st.sampled_from(["--preset", "--layers", "--frame-every", "--step-size", "--octaves", "--tile-size",
                                "--seed", "--max-side", "--feature-weight", "--pixel-weight", "--tv-weight",
                                "--duration-ms"]),
       value=st.one_of(st.text(min_size=1, max_size=6), st.integers(-(10**12), 10**12).map(str),
                       st.floats().map(repr)))  # fmt: skip
def test_guide_cli_exits_0_or_2_for_any_option_value(tiny_model, option, value, capsys):
    """Fuzz: the ``guide`` command with one odd option value exits 0 or 2, without a traceback or temporary files.

    (--out is fuzzed through the dream command: the output plan check is shared.)"""
    from cadl_utils import cli

    if value.startswith("-"):
        value = " " + value  # not an option name for argparse
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr("cadl_utils.cli.guide.load_cli_model", lambda args, **kwargs: tiny_model)
        patch.setattr(cli, "COMMAND_MODULES", ("guide",))
        patch.chdir(folder)  # a relative --out stays in the temporary folder
        inputs = [str(save_image(make_image("noise", 24, 24, i), Path(folder) / f"in{i}.png")) for i in (1, 2)]
        args = ["guide", *inputs, "--steps", "2", "--layers", "mixed", "--out", str(Path(folder) / "out"),
                "--no-progress", option, value]  # fmt: skip
        try:
            code = cli.main(args)
        except SystemExit as stop:  # argparse refuses a value of the wrong type
            code = stop.code
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, err
        assert not [p for p in Path(folder).rglob(".*")], "temporary files left"


# ==================================================================================================
# Style transfer


@BOUNDED
@given(features=arrays(np.float32, st.tuples(st.integers(1, 2), st.integers(1, 6), st.integers(1, 6),
                                             st.integers(1, 5)), elements=vector_values))  # fmt: skip
def test_gram_matrices_are_finite_symmetric_and_psd(features):
    from cadl_utils.style import gram_matrix

    gram = gram_matrix(features).numpy().astype(np.float64)
    assert_finite(gram)
    np.testing.assert_allclose(gram, np.swapaxes(gram, -1, -2), rtol=1e-5, atol=1e-3)
    for matrix in gram:
        scale = max(1.0, float(np.abs(matrix).max()))
        assert np.linalg.eigvalsh(matrix).min() >= -1e-4 * scale


@pytest.fixture(scope="module")
def style_engine(tiny_model):
    """One StyleTransfer (targets computed once); weights and start pictures vary per example."""
    from cadl_utils.style import StyleTransfer

    content = make_image("smooth", 24, 28, 1)
    style = make_image("noise", 20, 20, 2)
    return StyleTransfer(content, style, tiny_model, size=28)


@BOUNDED
@given(
    picture=st.builds(make_image, kinds, st.just(24), st.just(28), seeds),
    content_weight=style_weights,
    style_weight=style_weights,
    tv_weight=style_weights,
)
def test_style_losses_are_finite_and_non_negative(style_engine, picture, content_weight, style_weight, tv_weight):
    style_engine.set_term_weights(content_weight, style_weight, tv_weight)
    losses = style_engine.losses(picture)
    assert set(losses) == {"content", "style", "tv", "total"}
    for value in losses.values():
        assert np.isfinite(value) and value >= 0.0


@BOUNDED
@given(
    init=st.sampled_from(["content", "style", "noise"]),
    seed=seeds,
    content_weight=style_weights,
    style_weight=style_weights,
    optimizer=st.sampled_from(["adam", "lbfgs"]),
)
def test_style_steps_keep_pictures_finite_and_in_range(style_engine, init, seed, content_weight, style_weight,
                                                       optimizer):  # fmt: skip
    result = style_engine.run(steps=2, optimizer=optimizer, init=init, seed=seed, frame_every=1, progress=False,
                              content_weight=content_weight, style_weight=style_weight, tv_weight=0.1)  # fmt: skip
    assert_picture(result.image, (24, 28, 3))
    for frame in result.frames:
        assert_picture(frame, (24, 28, 3))
    assert all(np.isfinite(v) for values in result.history.values() for v in values)


@BOUNDED
@given(data=st.data())
def test_style_transfer_accepts_or_refuses_any_settings(tiny_model, data):
    """Fuzz: any values of any settings give a finite picture or a CadlError, never another exception."""
    import dataclasses

    from cadl_utils.errors import CadlError
    from cadl_utils.style import StyleSettings, style_transfer

    chosen = draw_settings(data, StyleSettings)
    if chosen is None:
        return
    # Accepted values are inside their documented ranges; keep the run itself tiny.
    chosen = dataclasses.replace(chosen, steps=min(chosen.steps or 1, 2), size=min(chosen.size or 24, 24),
                                 style_scale=min(chosen.style_scale, 2.0), progress=False)  # fmt: skip
    content, style = make_image("smooth", 20, 24, 1), make_image("noise", 16, 16, 2)
    try:
        result = style_transfer(content, style, tiny_model, chosen)
    except CadlError:
        return
    for frame in result.frames:
        assert_picture(frame, result.image.shape)


@BOUNDED
@given(option=st.sampled_from(["--size", "--learning-rate", "--style-weight", "--blend", "--seed",
                                "--style-scale", "--frame-every", "--style-layers", "--sweep", "--name", "--init"]),
       value=st.one_of(st.text(min_size=1, max_size=6), st.integers(-(10**9), 10**9).map(str),
                       st.floats().map(repr)))  # fmt: skip
def test_style_cli_exits_0_or_2_for_any_option_value(tiny_model, option, value, capsys):
    """Fuzz: the ``style`` command with one odd option value exits 0 or 2, without a traceback."""
    from cadl_utils import cli, style_engine

    if value.startswith("-"):
        value = " " + value  # not an option name for argparse
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(style_engine, "resolve_model", lambda model, weights=None: tiny_model)
        patch.setattr(cli, "COMMAND_MODULES", ("style",))
        inputs = [str(save_image(make_image("noise", 20, 20, i), Path(folder) / f"in{i}.png")) for i in (1, 2)]
        args = ["style", *inputs, "--steps", "1", "--size", "24", "--out", str(Path(folder) / "out"),
                "--no-progress", option, value]  # fmt: skip
        try:
            code = cli.main(args)
        except SystemExit as stop:  # argparse refuses a value of the wrong type
            code = stop.code
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err, err


# ==================================================================================================
# Fuzz: the other commands and the public functions (issue 15). Most cases stop at validation; a spy
# that raises ``WouldWork`` makes "the model would load / the download would start now" observable, so
# valid cases cost nothing. Every case: a CadlError (exit 2) or success (exit 0), never another
# exception or a traceback, in bounded time, no temporary file left, the inputs untouched.

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Option values as a user could type them, and odd paths (empty, NUL, braces, devices, folders, long).
cli_values = st.one_of(st.text(min_size=1, max_size=6), st.integers(-(10**12), 10**12).map(str),
                       st.floats().map(repr))  # fmt: skip


def _stays_inside(path: str) -> bool:
    """A drawn path that cannot leave the test's folder (run as root, the fuzz left oddly named folders in /)."""
    return not path.startswith(("/", "~")) and ".." not in path.replace("\\", "/").split("/")


odd_paths = st.one_of(st.sampled_from(["", ".", "..", "/", "/dev/null", "/proc/version", "{x}.png", "a\0b.png",
                                       "out/{0}%s.gif", "x" * 300 + ".png", "~/", "out.PNG", "out.exe", "-1"]),
                      st.text(min_size=1, max_size=12).filter(_stays_inside))  # fmt: skip
odd_arrays = st.one_of(arrays(np.float64, st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 4)),
                              elements=st.floats(allow_nan=True, allow_infinity=True)),
                       arrays(np.int64, st.tuples(st.integers(1, 3), st.integers(1, 3), st.just(3)),
                              elements=st.integers(-(2**40), 2**40)),
                       st.builds(make_image, kinds, sides, sides, seeds))  # fmt: skip


class WouldWork(BaseException):
    """Raised by a spy where the real work (loading a model, downloading, rendering) would begin."""


def _would_work(*args, **kwargs):
    raise WouldWork()


def run_cli(args: list[str], folder: str, capsys, main=None) -> int:
    """``cli.main(args)`` in ``folder``: its exit code (WouldWork counts as 0); asserts no traceback, a
    bounded time and no temporary (hidden) file left."""
    from cadl_utils import cli

    started = time.monotonic()
    try:
        code = (main or cli.main)(args)
    except SystemExit as stop:  # argparse refuses a value of the wrong type
        code = stop.code
    except WouldWork:
        code = 0
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, (args, err)
    assert time.monotonic() - started < 30, args
    assert not [p for p in Path(folder).rglob("*") if ".tmp" in p.name], "temporary files left"
    return code


def tiny_loader(tiny_model):
    """A ``load_model`` that checks its arguments as the real one does, then gives the tiny model."""
    from cadl_utils import models
    from cadl_utils.config import weights_mode

    real = models.load_model

    def load(name="inception5h", weights=None, **kwargs):
        if str(name).strip().lower().replace("-", "_") not in {n.replace("-", "_") for n in models.MODEL_NAMES}:
            return real(name, weights)  # raises the ModelError
        weights_mode(weights)
        return tiny_model

    return load


# command -> (its first arguments, the options fuzzed; IN / OUT: the positional input / output)
COMMAND_OPTIONS = {
    "layers": (["layers"], ["--kind", "--model", "--weights"]),
    "fetch": (["fetch", "--cache-dir", "cache"], ["--url", "--path", "--cache-dir"]),
    "export-standin": (["export-standin"], ["OUT", "--seed"]),
    "course": (["course", "--out", "out"], ["--out", "--weights"]),
    "dream": (["dream", "--layer", "mixed", "--mean"], ["IN", "--out", "--weights", "--model", "--size"]),
    "zoom": (["zoom", "--layer", "mixed", "--mean"], ["IN", "--out", "--margin", "--center", "--frames"]),
    "guide": (["guide", "--steps", "2"], ["IN", "--out", "--weights", "--preset", "--all-presets"]),
    "style": (["style", "--steps", "1"], ["IN", "--out", "--name", "--weights", "--model"]),
}


def _inside_only(check_writable, folder: str):
    """``check_writable`` for folders inside ``folder``; elsewhere the real one would create it: WouldWork."""

    def check(path) -> None:
        resolved = Path(path).resolve()
        if Path(folder).resolve() not in (resolved, *resolved.parents):
            raise WouldWork()
        check_writable(path)

    return check


@pytest.mark.parametrize("command", list(COMMAND_OPTIONS))
@FUZZ
@given(data=st.data())
def test_every_command_exits_0_or_2_for_any_value_and_path(tiny_model, command, data, capsys):
    """Fuzz: each command with an odd option value, input or output path, up to the point where the model
    would load (a spy): exit 0 or 2, no traceback, no temporary file."""
    from cadl_utils import cli, style_engine
    from cadl_utils.models import download, standin

    first, options = COMMAND_OPTIONS[command]
    option = data.draw(st.sampled_from(options))
    paths = ("IN", "OUT", "--path", "--cache-dir", "--out", "--name")
    value = data.draw(odd_paths if option in paths else cli_values)
    value = " " + value if value.startswith("-") else value  # not an option name for argparse
    if option in ("IN", "OUT"):
        args = [*first, value]
    else:
        args = [*first, *(["standin.zip"] if command == "export-standin" else []), option, value]
    main = cli.main
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # relative paths stay in the temporary folder
        patch.setenv("HOME", folder)
        patch.setattr("cadl_utils.models.load_model", tiny_loader(tiny_model))
        patch.setattr(download.pooch, "retrieve", _would_work)  # a download would start now
        # A cache folder outside the temporary one (e.g. "/") would be created for real: stop there.
        patch.setattr(download, "_check_writable", _inside_only(download._check_writable, folder))
        patch.setattr(standin, "standin_graphdef", _would_work)  # the export would build the graph now
        patch.setattr("cadl_utils.cli.dream.load_cli_model", _would_work)
        patch.setattr("cadl_utils.cli.guide.load_cli_model", _would_work)
        patch.setattr(style_engine, "resolve_model", _would_work)
        patch.setattr(cli, "main", _would_work)  # the course's first job would start now
        run_cli(args, folder, capsys, main)


def call_public(function, *args, **kwargs) -> str:
    """Call a public function with odd arguments: 'ok', 'refused' (a CadlError) or 'would work' (a spy);
    any other exception fails the test. Asserts a bounded time."""
    from cadl_utils.errors import CadlError

    started = time.monotonic()
    try:
        function(*args, **kwargs)
        outcome = "ok"
    except CadlError:
        outcome = "refused"
    except WouldWork:
        outcome = "would work"
    assert time.monotonic() - started < 30, (function.__name__, args, kwargs)
    return outcome


def assert_untouched(before: list, after: list) -> None:
    for old, new in zip(before, after):
        if isinstance(old, np.ndarray):
            assert old.dtype == new.dtype and np.array_equal(old, new, equal_nan=old.dtype.kind == "f")


@pytest.mark.parametrize("function", ["load_image", "save_image", "save_animation", "save_gif"])
@FUZZ
@given(data=st.data())
def test_image_functions_accept_or_refuse_any_input(function, data):
    """Fuzz: load_image / save_image / save_animation / save_gif with odd arrays, paths, sizes and durations."""
    from cadl_utils import images

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        if function == "load_image":
            args = [data.draw(st.one_of(odd_arrays, odd_paths, any_values))]
            kwargs = {name: data.draw(st.one_of(any_values, st.tuples(any_values, any_values)), label=name)
                      for name in data.draw(st.lists(st.sampled_from(["size", "max_side", "crop", "max_pixels"]),
                                                     max_size=2, unique=True))}  # fmt: skip
        elif function == "save_image":
            args, kwargs = [data.draw(odd_arrays), data.draw(odd_paths | any_values)], {}
        else:
            args = [data.draw(st.lists(odd_arrays, max_size=3)), data.draw(odd_paths.map(lambda p: p + ".gif")
                                                                           | odd_paths)]  # fmt: skip
            kwargs = {"duration_ms": data.draw(any_values)}
        before = [arg.copy() if isinstance(arg, np.ndarray) else arg for arg in args[0:1]]
        call_public(getattr(images, function), *args, **kwargs)
        assert_untouched(before, args[0:1])
        assert not [p for p in Path(folder).rglob("*") if ".tmp" in p.name], "temporary files left"


@pytest.mark.parametrize("function", ["load_model", "export_standin_zip"])
@FUZZ
@given(first=st.one_of(any_values, odd_paths), second=any_values)
def test_model_functions_accept_or_refuse_any_input(function, first, second):
    """Fuzz: load_model(name, weights) and export_standin_zip(path, seed); spies stand where the work begins."""
    from cadl_utils import models
    from cadl_utils.models import standin

    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("HOME", folder)
        for module, loader in [("inception5h", "load_inception5h"), ("keras_backbones", "load_keras_backbone"),
                               ("random_multiscale", "load_random_multiscale")]:  # fmt: skip
            patch.setattr(f"cadl_utils.models.{module}.{loader}", _would_work)
        patch.setattr(standin, "standin_graphdef", _would_work)
        if function == "load_model":
            call_public(models.load_model, first, second)
        else:
            call_public(standin.export_standin_zip, first, second)
        assert not [p for p in Path(folder).rglob("*")], "nothing is written before the work begins"


@pytest.mark.parametrize("function", ["render_presets", "weight_sweep"])
@FUZZ
@given(data=st.data())
def test_preset_and_sweep_functions_accept_or_refuse_any_input(tiny_model, function, data):
    """Fuzz: render_presets (odd presets, folders, settings) and weight_sweep (odd pairs, settings), up to
    the first render (a spy)."""
    from cadl_utils import guided, style_engine
    from cadl_utils.guided import GuidedSettings
    from cadl_utils.style import StyleSettings, weight_sweep

    content, style = make_image("smooth", 24, 28, 1), make_image("noise", 20, 20, 2)
    before = [content.copy(), style.copy()]
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        if function == "render_presets":
            patch.setattr(guided, "guided", _would_work)
            overrides = {name: data.draw(any_values, label=name)
                         for name in data.draw(st.lists(st.sampled_from(GuidedSettings.names()), max_size=2))}
            presets = data.draw(st.one_of(st.none(), any_values, st.lists(st.sampled_from(guided.PRESET_NAMES)
                                                                         | st.text(max_size=4), max_size=3)))
            call_public(guided.render_presets, content, style, data.draw(odd_paths), presets, tiny_model,
                        duration_ms=data.draw(any_values), **overrides)  # fmt: skip
        else:
            patch.setattr(style_engine.StyleTransfer, "run", _would_work)
            overrides = {name: data.draw(any_values, label=name)
                         for name in data.draw(st.lists(st.sampled_from(StyleSettings.names()), max_size=2))
                         if name not in ("size",)}  # fmt: skip
            pairs = data.draw(st.one_of(any_values, st.lists(st.tuples(any_values, any_values), max_size=3),
                                        st.lists(st.tuples(style_weights, style_weights), min_size=1, max_size=2)))
            call_public(weight_sweep, content, style, pairs, tiny_model, size=24, **overrides)
        assert_untouched(before, [content, style])
        assert not [p for p in Path(folder).rglob("*") if ".tmp" in p.name], "temporary files left"


@pytest.mark.parametrize("explorer", ["DreamExplorer", "ZoomExplorer", "GuidedExplorer", "StyleExplorer"])
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])  # fmt: skip
@given(data=st.data())
def test_explorer_constructors_accept_or_refuse_any_input(tiny_model, explorer, data):
    """Fuzz: the widgets' explorers built with an odd image, profile, layer or setting: a CadlError or an
    explorer, never another exception."""
    from cadl_utils import widgets

    cls = getattr(widgets, explorer)
    names = ["profile", *[n for n in ("image", "content", "style", "dream_image", "guide_image", "layer", "channel")
                          if n in cls.__init__.__code__.co_varnames], *cls.settings_type.names()]  # fmt: skip
    chosen = data.draw(st.lists(st.sampled_from(names), max_size=2, unique=True))
    values = {name: data.draw(st.one_of(any_values, odd_arrays, odd_paths), label=name) for name in chosen}
    kwargs = {"profile": "quick", "threaded": False, **values}
    before = {name: value.copy() for name, value in values.items() if isinstance(value, np.ndarray)}
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        call_public(cls, tiny_model, **kwargs)
        assert_untouched(list(before.values()), [values[name] for name in before])
        assert not [p for p in Path(folder).rglob("*") if ".tmp" in p.name], "temporary files left"


# ==================================================================================================
# load -> save -> load


LUMINANCE = np.array([0.299, 0.587, 0.114], np.float32)
uint8_pictures = arrays(
    np.uint8,
    st.tuples(st.integers(1, 24), st.integers(1, 24), st.sampled_from([3])),
)


@settings(max_examples=30, deadline=None)
@given(pixels=uint8_pictures, ext=st.sampled_from([".png", ".bmp", ".tif"]))
def test_lossless_formats_round_trip_exactly(pixels, ext):
    with tempfile.TemporaryDirectory() as folder:
        first = save_image(pixels, Path(folder) / f"a{ext}")
        loaded = load_image(first)
        np.testing.assert_array_equal(to_uint8(loaded), pixels)
        again = load_image(save_image(loaded, Path(folder) / f"b{ext}"))
        np.testing.assert_array_equal(again, loaded)  # load -> save -> load changes nothing
        assert sorted(p.name for p in Path(folder).iterdir()) == [f"a{ext}", f"b{ext}"]


@settings(max_examples=30, deadline=None)
@given(
    image=st.builds(make_image, st.sampled_from(["smooth", "constant", "black", "white"]),
                    st.integers(8, 40), st.integers(8, 40), seeds),  # fmt: skip
    ext=st.sampled_from([".jpg", ".jpeg", ".webp"]),
)
def test_lossy_formats_round_trip_within_tolerance(image, ext):
    # JPEG and WebP keep brightness well but store colour at half resolution, so the promise is
    # tight for luminance and looser for the colour channels (more so for saturated edges).
    with tempfile.TemporaryDirectory() as folder:
        loaded = load_image(save_image(image, Path(folder) / f"a{ext}"))
        assert loaded.shape == image.shape and loaded.dtype == np.float32
        assert_picture(loaded)
        again = load_image(save_image(loaded, Path(folder) / f"b{ext}"))
        for generation in (loaded, again):  # saving again does not compound the loss
            error = generation - image
            luminance = np.abs(error @ LUMINANCE)
            assert luminance.mean() < 0.02 and luminance.max() < 0.15, (luminance.mean(), luminance.max())
            assert np.abs(error).mean() < 0.1
