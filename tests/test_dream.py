"""Tests for cadl_utils.dream: the step, tiles, octaves, loops, outputs, interruption and the CLI."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from cadl_utils import dream as D
from cadl_utils import objectives as O
from cadl_utils.cli import dream as cli_dream
from cadl_utils.errors import ImageError, LayerError, ParameterError
from cadl_utils.images import resize


def _image(seed: int = 0, height: int = 48, width: int | None = None) -> np.ndarray:
    width = height if width is None else width
    return np.random.default_rng(seed).random((height, width, 3)).astype(np.float32)


def _smooth(seed: int, height: int, width: int | None = None) -> np.ndarray:
    width = height if width is None else width
    small = _image(seed, max(2, height // 8), max(2, width // 8))
    return tf.image.resize(small[None], (height, width), method="bicubic")[0].numpy().clip(0, 1)


def _quiet(**kwargs):
    kwargs.setdefault("progress", False)
    return kwargs


def _traces(dreamer) -> dict[str, int]:
    """How often each compiled function of a Dreamer was traced (observed from outside)."""
    return {name: fn.experimental_get_tracing_count() for name, fn in dreamer.functions.items()}


# --- gradient normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["std", "maxabs", "laplacian"])
def test_normalize_gradient_scales_and_keeps_zero(method):
    grad = np.random.default_rng(0).normal(0, 0.001, (40, 56, 3)).astype(np.float32)
    out = D.normalize_gradient(grad, method).numpy()
    assert out.shape == grad.shape and np.all(np.isfinite(out))
    if method == "maxabs":
        assert np.abs(out).max() == pytest.approx(1.0, rel=1e-4)
    else:
        assert out.std() == pytest.approx(1.0, rel=1e-3)
    zero = D.normalize_gradient(np.zeros((16, 16, 3), np.float32), method).numpy()
    assert np.all(zero == 0.0)


def test_normalize_gradient_zeroes_nan_and_inf():
    grad = np.ones((8, 8, 3), np.float32)
    grad[0, 0, 0] = np.nan
    grad[1, 1, 1] = np.inf
    out = D.normalize_gradient(grad, "maxabs").numpy()
    assert np.all(np.isfinite(out)) and out[0, 0, 0] == 0.0 and out[1, 1, 1] == 0.0
    with pytest.raises(ParameterError, match="normalisation"):
        D.normalize_gradient(grad, "l3")


def test_laplacian_normalisation_boosts_low_frequencies():
    """A gradient that is mostly fine noise plus a weak smooth ramp: the ramp's share grows."""
    rng = np.random.default_rng(3)
    ramp = np.linspace(-1, 1, 64, dtype=np.float32)[None, :, None] * np.ones((64, 1, 3), np.float32)
    grad = 0.05 * ramp + rng.normal(0, 1, (64, 64, 3)).astype(np.float32)
    plain = D.normalize_gradient(grad, "std").numpy()
    lap = D.normalize_gradient(grad, "laplacian").numpy()
    share = lambda g: abs(np.corrcoef(g.ravel(), ramp.ravel())[0, 1])  # noqa: E731
    assert share(lap) > 2 * share(plain)


def test_gaussian_blur_keeps_mean_and_smooths():
    image = _image(4, 32)
    blurred = D.gaussian_blur(image, 1.0).numpy()
    assert blurred.shape == image.shape
    assert blurred.mean() == pytest.approx(image.mean(), abs=1e-3)
    assert float(O.total_variation(blurred)) < 0.5 * float(O.total_variation(image))


# --- octaves --------------------------------------------------------------------------------------------


def test_octave_sizes():
    assert D.octave_sizes((100, 200), 3, 2.0) == [(25, 50), (50, 100), (100, 200)]
    assert D.octave_sizes((100, 200), 1, 1.4) == [(100, 200)]
    sizes = D.octave_sizes((300, 400), 4, 1.4)
    assert sizes[-1] == (300, 400) and len(sizes) == 4
    assert sizes[0] == (round(300 / 1.4**3), round(400 / 1.4**3))
    # Octaves below the minimum side are dropped, the full size always stays.
    assert D.octave_sizes((100, 200), 4, 2.0, min_side=40) == [(50, 100), (100, 200)]
    assert D.octave_sizes((10, 10), 3, 2.0, min_side=40) == [(10, 10)]
    with pytest.raises(ParameterError, match="octave_scale"):
        D.octave_sizes((100, 100), 3, 1.0)
    with pytest.raises(ParameterError, match="octaves"):
        D.octave_sizes((100, 100), 0, 1.4)


def test_dream_visits_every_octave_size(tiny_model):
    seen = []
    D.dream(_image(0, 60, 80), O.layer("conv2"), tiny_model, steps=2, octaves=3, octave_scale=1.5,
            callback=lambda info: seen.append((info.octave, info.image.shape[:2])), **_quiet())  # fmt: skip
    expected = D.octave_sizes((60, 80), 3, 1.5)
    assert [size for _, size in seen] == [size for size in expected for _ in range(2)]
    assert [octave for octave, _ in seen] == [0, 0, 1, 1, 2, 2]


# --- the objective goes up ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: O.neuron("jellyfish", "softmax"),
        lambda: O.neuron("broom", "logits"),
        lambda: O.channel("conv2", 5),
        lambda: O.layer("mixed"),
        lambda: 0.5 * O.channel("mixed_3x3_pre_relu", 2) + 0.5 * O.neuron(4, "logits"),
    ],
)
@pytest.mark.parametrize("normalize", ["std", "laplacian"])
def test_dream_increases_the_objective(tiny_model, make, normalize):
    objective = make()
    image = _smooth(1, 48)
    before = O.evaluate(objective, tiny_model, image)
    result = D.dream(image, objective, tiny_model, steps=15, step_size=0.01, octaves=1, normalize=normalize,
                     jitter=4, **_quiet()).image  # fmt: skip
    after = O.evaluate(objective, tiny_model, result)
    assert after > before + 1e-4
    assert result.shape == image.shape and result.dtype == np.float32
    assert 0.0 <= result.min() and result.max() <= 1.0


def test_descending_a_term_with_a_negative_weight(tiny_model):
    objective = O.channel("conv2", 5)
    image = _smooth(2, 48)
    before = O.evaluate(objective, tiny_model, image)
    result = D.dream(image, -1.0 * objective, tiny_model, steps=10, octaves=1, **_quiet()).image
    assert O.evaluate(objective, tiny_model, result) < before


# --- gradients: linearity, tiles, pixel terms -------------------------------------------------------------


def test_gradient_of_a_weighted_sum_is_the_weighted_sum_of_gradients(tiny_model):
    a, b = O.channel("conv2", 3), O.neuron("minibus", "logits")
    image = _image(5, 40)
    grad_a = D.get_dreamer(tiny_model, a).gradient(image)
    grad_b = D.get_dreamer(tiny_model, b).gradient(image)
    combined = 0.7 * a - 1.5 * b
    grad = D.get_dreamer(tiny_model, combined).gradient(image)
    expected = 0.7 * grad_a - 1.5 * grad_b
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert np.abs(grad_a).max() > 0 and np.abs(grad_b).max() > 0


def test_changing_weights_and_indices_does_not_recompile(tiny_model):
    a, b = O.channel("conv2", 3), O.channel("conv2", 4)
    combined = a + b
    dreamer = D.get_dreamer(tiny_model, combined)
    image = _image(6, 40)
    first = dreamer.gradient(image)
    traces = _traces(dreamer)
    combined.set_weight(0.0, term=1)
    only_a = dreamer.gradient(image)
    np.testing.assert_allclose(only_a, D.get_dreamer(tiny_model, a).gradient(image), rtol=1e-5, atol=1e-7)
    a.set_index(7)
    moved = dreamer.gradient(image)
    assert not np.allclose(moved, only_a) and not np.allclose(only_a, first)
    assert _traces(dreamer) == traces
    assert D.get_dreamer(tiny_model, combined) is dreamer


@pytest.mark.parametrize("jitter", [0, 7])
@pytest.mark.parametrize("shape", [(48, 48), (40, 56)])
def test_a_tile_at_least_the_image_equals_the_untiled_gradient(tiny_model, jitter, shape):
    dreamer = D.get_dreamer(tiny_model, O.layer("mixed"))
    image = _image(7, *shape)
    untiled = dreamer.gradient(image, seed=3, index=2, jitter=jitter)
    for tile in (max(shape), max(shape) + 40):
        tiled = dreamer.gradient(image, seed=3, index=2, jitter=jitter, tile_size=tile)
        np.testing.assert_allclose(tiled, untiled, rtol=1e-5, atol=1e-6 * np.abs(untiled).max())


def test_tiles_cover_every_pixel_and_agree_with_the_untiled_gradient(tiny_model):
    dreamer = D.get_dreamer(tiny_model, O.layer("conv2"))
    image = _smooth(8, 150, 130)
    untiled = dreamer.gradient(image, seed=1, jitter=0)
    tiled = dreamer.gradient(image, seed=1, jitter=0, tile_size=48)  # 48 does not divide 150 or 130
    assert tiled.shape == image.shape
    # Every pixel received a gradient from some tile (conv2's gradient is non-zero almost everywhere).
    assert np.mean(np.abs(tiled).sum(-1) > 0) > 0.99
    # Same distribution: tiles only differ near their borders (padding).
    assert tiled.std() == pytest.approx(untiled.std(), rel=0.15)
    assert np.corrcoef(tiled.ravel(), untiled.ravel())[0, 1] > 0.8


@pytest.mark.parametrize("objective", [O.layer("conv2"), O.neuron(1, "logits"), O.channel("mixed", 2) - 0.5 * O.tv()])
def test_tiles_in_batches_give_each_tiles_own_gradient(tiny_model, monkeypatch, objective):
    """The tiled step runs TILE_BATCH tiles per call; each tile's gradient and loss must be what it gets alone
    (objectives are means over the batch). 150x130 in tiles of 48 is 4x3 tiles."""
    image, settings = _smooth(8, 150, 130), D.DreamSettings(seed=1, jitter=5, tile_size=48, normalize="none")
    dreamer = D.get_dreamer(tiny_model, objective)
    monkeypatch.setattr(D, "TILE_BATCH", 1)
    alone_gradient, (_, alone_loss) = dreamer.gradient(image, settings=settings), dreamer.step(image, settings)
    for batch in (4, 5):  # 4 + 4 + 4 tiles, and 5 + 5 + 2
        monkeypatch.setattr(D, "TILE_BATCH", batch)
        np.testing.assert_allclose(dreamer.gradient(image, settings=settings), alone_gradient, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(dreamer.step(image, settings)[1], alone_loss, rtol=1e-5)


def test_tiled_dream_has_no_fixed_seams(tiny_model):
    """Random tile offsets move the borders each step, so rows/columns at multiples of the tile change
    as much as any others. (With a fixed grid, the change there drops to about half: padding seams.)"""
    image = _smooth(9, 128)
    result = D.dream(image, O.layer("mixed"), tiny_model, steps=20, octaves=1, tile_size=32, jitter=0, **_quiet()).image
    change = np.abs(result - image).mean(axis=2)
    for axis in (0, 1):
        profile = change.mean(axis=1 - axis)
        by_phase = np.array([profile[j::32].mean() for j in range(32)])
        # Compare like with like: the stride-2 layers make even and odd rows differ slightly.
        even, odd = np.median(by_phase[0::2]), np.median(by_phase[1::2])
        assert by_phase[0] / even > 0.8 and by_phase[31] / odd > 0.8


def test_jitter_rolls_the_image_and_rolls_the_gradient_back(tiny_model):
    dreamer = D.get_dreamer(tiny_model, O.channel("mixed", 4))
    image = _image(30, 40, 56)
    jittered = dreamer.gradient(image, jitter=9, seed=4, index=3)
    rolled, shifts = D._roll(tf.constant(image), tf.constant([4, 3]), tf.constant(9), tf.constant(0))
    assert np.any(shifts.numpy() != 0)
    expected = tf.roll(dreamer.gradient(rolled.numpy(), jitter=0), -shifts, [0, 1]).numpy()
    np.testing.assert_allclose(jittered, expected, rtol=1e-5, atol=1e-7)
    assert not np.allclose(jittered, dreamer.gradient(image, jitter=0))


def test_pixel_terms_see_the_full_unrolled_image(tiny_model):
    class Mask(O.Objective):
        """Pixel term whose gradient is a fixed position-dependent pattern."""

        def __init__(self, mask):
            self.mask = tf.constant(mask)

        def pixel_loss(self, image):
            return tf.reduce_sum(image * self.mask)

    mask = _image(10, 40, 40) - 0.5
    dreamer = D.get_dreamer(tiny_model, Mask(mask))
    for tile in (None, 32):
        grad = dreamer.gradient(_image(11, 40, 40), jitter=9, seed=5, tile_size=tile)
        np.testing.assert_allclose(grad, mask, rtol=1e-6)


# --- robustness -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("normalize", ["std", "maxabs", "laplacian"])
def test_no_nan_on_constant_images(tiny_model, value, normalize):
    image = np.full((40, 40, 3), value, np.float32)
    objective = O.neuron("jellyfish", "softmax") + O.layer("conv1") - 0.5 * O.tv()
    result = D.dream(image, objective, tiny_model, steps=3, octaves=2, normalize=normalize, tile_size=32,
                     blur_every=2, decay=0.1, **_quiet()).image  # fmt: skip
    assert np.all(np.isfinite(result)) and 0.0 <= result.min() and result.max() <= 1.0


def test_a_zero_gradient_leaves_the_image_unchanged(tiny_model):
    class Flat(O.Objective):
        layers = ("conv1",)

        def feature_loss(self, features):
            return 0.0 * tf.reduce_sum(features["conv1"])

    image = _image(12, 32)
    result = D.dream(image, Flat(), tiny_model, steps=3, octaves=1, jitter=5, **_quiet()).image
    np.testing.assert_allclose(result, image, atol=1e-6)


def test_seeds_make_runs_reproducible(tiny_model):
    objective = O.layer("mixed")
    image = _image(13, 48)
    first = D.dream(image, objective, tiny_model, steps=4, octaves=2, seed=11, **_quiet()).image
    again = D.dream(image, objective, tiny_model, steps=4, octaves=2, seed=11, **_quiet()).image
    other = D.dream(image, objective, tiny_model, steps=4, octaves=2, seed=12, **_quiet()).image
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_decay_pulls_towards_grey(tiny_model):
    image = np.zeros((32, 32, 3), np.float32)
    image[:, :16] = 1.0
    result = D.dream(image, O.layer("conv1"), tiny_model, steps=5, step_size=1e-4, octaves=1, decay=0.2,
                     jitter=0, **_quiet()).image  # fmt: skip
    assert np.abs(result - 0.5).max() < 0.5 * 0.8**5 + 0.01


def test_no_retrace_across_steps_sizes_and_settings(tiny_model):
    objective = O.channel("mixed", 3)
    dreamer = D.get_dreamer(tiny_model, objective)
    D.dream(_image(14, 40), objective, tiny_model, steps=2, octaves=1, tile_size=32, **_quiet())
    D.dream(_image(14, 40), objective, tiny_model, steps=2, octaves=1, **_quiet())
    dreamer.gradient(_image(14, 40))
    dreamer.gradient(_image(14, 40), tile_size=32)
    traced = _traces(dreamer)
    assert all(count == 1 for count in traced.values()), traced
    for size, step_size, normalize, tile in [((52, 70), 0.02, "laplacian", 48), ((96, 33), 0.005, "maxabs", None),
                                             ((64, 64), 0.01, "std", 40)]:  # fmt: skip
        D.dream(_image(15, *size), objective, tiny_model, steps=3, octaves=2, step_size=step_size,
                normalize=normalize, tile_size=tile, blur_every=2, decay=0.01, **_quiet())  # fmt: skip
        D.feedback_loop(_image(16, *size), objective, tiny_model, frames=2, frame_every=1, **_quiet())
        dreamer.gradient(_image(17, *size), tile_size=tile)
    assert _traces(dreamer) == traced


# --- parameter checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": -0.1}, "step_size"),
        ({"step_size": float("nan")}, "step_size"),
        ({"octaves": 0}, "octaves"),
        ({"octave_scale": 1.0}, "octave_scale"),
        ({"octave_scale": 0.7}, "octave_scale"),
        ({"tile_size": 8}, "tile_size"),
        ({"jitter": -1}, "jitter"),
        ({"normalize": "l2"}, "normalisation"),
        ({"decay": 1.0}, "decay"),
        ({"blur_sigma": 5.0}, "blur_sigma"),
        ({"seed": "x"}, "seed"),
    ],
)
def test_bad_parameters_raise_parameter_error(tiny_model, kwargs, match):
    args = dict(steps=1, octaves=1, progress=False)
    args.update(kwargs)
    with pytest.raises(ParameterError, match=match):
        D.dream(_image(18, 40), O.layer("conv1"), tiny_model, **args)


@pytest.mark.parametrize("loop", ["dream", "feedback_loop", "fractal_zoom"])
@pytest.mark.parametrize("option,value", [("octaves", 0), ("octave_scale", 1.0)])
def test_bad_octave_options_fail_before_the_model_is_loaded(monkeypatch, loop, option, value):
    monkeypatch.setattr("cadl_utils.models.resolve_model", lambda *a, **k: pytest.fail("loaded the model first"))
    with pytest.raises(ParameterError, match=option):
        getattr(D, loop)(_image(32, 32), O.layer("conv1"), None, progress=False, **{option: value})


def test_bad_images_and_loop_parameters(tiny_model):
    objective = O.layer("conv1")
    with pytest.raises(D.ImageTooSmallError) as error:
        D.dream(_image(19, 4), objective, tiny_model, steps=1, octaves=1, progress=False)
    assert isinstance(error.value, LayerError) and isinstance(error.value, ParameterError)
    with pytest.raises(ImageError):
        D.dream(np.zeros((8, 8)), objective, tiny_model, progress=False)
    with pytest.raises(ImageError):
        D.dream(np.full((16, 16, 3), 2.0), objective, tiny_model, progress=False)
    with pytest.raises(ParameterError, match="objective"):
        D.dream(_image(19, 16), "mixed4c", tiny_model, progress=False)
    with pytest.raises(ParameterError, match="frames"):
        D.feedback_loop(_image(19, 16), objective, tiny_model, frames=0, progress=False)
    with pytest.raises(ParameterError, match="frame_every"):
        D.feedback_loop(_image(19, 16), objective, tiny_model, frame_every=0, progress=False)
    with pytest.raises(ParameterError, match="margin"):
        D.fractal_zoom(_image(19, 40), objective, tiny_model, margin=0.5, progress=False)
    with pytest.raises(ParameterError, match="margin"):
        D.fractal_zoom(_image(19, 40), objective, tiny_model, margin=20, progress=False)
    with pytest.raises(ParameterError, match="center"):
        D.fractal_zoom(_image(19, 40), objective, tiny_model, center=(1.5, 0.5), progress=False)


# --- zoom geometry ------------------------------------------------------------------------------------


def _quadrants(height: int = 64, width: int = 80) -> np.ndarray:
    """Top-left red, top-right green, bottom-left blue, bottom-right white."""
    image = np.zeros((height, width, 3), np.float32)
    image[: height // 2, : width // 2] = (1, 0, 0)
    image[: height // 2, width // 2 :] = (0, 1, 0)
    image[height // 2 :, : width // 2] = (0, 0, 1)
    image[height // 2 :, width // 2 :] = (1, 1, 1)
    return image


def _share(image: np.ndarray, colour) -> float:
    return float(np.mean(np.all(np.abs(image - np.array(colour, np.float32)) < 0.1, axis=-1)))


def test_zoom_keeps_the_size_and_magnifies_around_the_centre():
    image = _quadrants()
    zoomed = D.zoom_crop(image, margin=0.1)
    assert zoomed.shape == image.shape
    # Centred zoom of a symmetric layout: still four equal quadrants, the colour edges stay in the middle.
    for colour in [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 1)]:
        assert _share(zoomed, colour) == pytest.approx(0.25, abs=0.03)
    # A zoom into the top-left quarter fills the picture with red; the bottom-right one with white.
    assert _share(D.zoom_crop(image, margin=0.24, center=(0.25, 0.25)), (1, 0, 0)) > 0.9
    assert _share(D.zoom_crop(image, margin=0.24, center=(0.75, 0.75)), (1, 1, 1)) > 0.9
    assert _share(D.zoom_crop(image, margin=0.24, center=(0.25, 0.75)), (0, 1, 0)) > 0.9


def test_zoom_magnification_matches_the_margin():
    """A horizontal ramp zoomed by margin m about the centre is stretched by 1 / (1 - 2m)."""
    width = 101
    ramp = np.tile(np.linspace(0, 1, width, dtype=np.float32)[None, :, None], (61, 1, 3))
    zoomed = D.zoom_crop(ramp, margin=0.1)
    slope = np.polyfit(np.arange(width), zoomed[30, :, 0], 1)[0]
    assert slope == pytest.approx((1 / (width - 1)) * (1 - 0.2 * width / (width - 1)), rel=0.02)
    # Pixel margins are taken from the short side; the long side follows the aspect ratio.
    assert D.zoom_margins((50, 100), 5) == pytest.approx((5.0, 10.0))
    assert D.zoom_margins((50, 100), 0.1) == pytest.approx((5.0, 10.0))


def test_fractal_zoom_frames(tiny_model):
    image = _quadrants(48, 48)
    run = D.fractal_zoom(image, O.layer("conv1"), tiny_model, frames=4, frame_every=1, margin=0.15,
                            center=(0.25, 0.25), step_size=1e-4, jitter=0, **_quiet())  # fmt: skip
    frames = run.frames
    assert len(frames) == 4 and not run.interrupted and run.steps_done == 4
    assert all(frame.shape == image.shape for frame in frames)
    # The zoom runs between frames: red (top-left) takes over more and more of the picture.
    shares = [_share(frame, (1, 0, 0)) for frame in frames]
    assert shares == sorted(shares) and shares[-1] > 0.8
    with_start = D.feedback_loop(image, O.layer("conv1"), tiny_model, frames=2, frame_every=1,
                                 include_start=True, **_quiet())  # fmt: skip
    assert len(with_start.frames) == 3 and np.array_equal(with_start.frames[0], image)


# --- loops, callbacks and interruption ------------------------------------------------------------------


def test_feedback_loop_makes_a_frame_every_k_steps(tiny_model):
    infos = []
    frames = D.feedback_loop(_image(20, 40), O.neuron("jellyfish", "softmax"), tiny_model, frames=3,
                             frame_every=2, callback=infos.append, **_quiet())  # fmt: skip
    assert len(frames.frames) == 3 and frames.steps_done == 6
    assert [info.frame for info in infos] == [0, 0, 1, 1, 2, 2]
    assert [info.step for info in infos] == list(range(1, 7)) and infos[-1].total == 6
    # The last step's image is the last frame.
    np.testing.assert_array_equal(infos[-1].image, frames.image)
    np.testing.assert_array_equal(infos[1].image, frames.frames[0])


def test_keyboard_interrupt_keeps_the_frames_so_far(tiny_model):
    def stop_at_step_5(info):
        if info.step == 5:
            raise KeyboardInterrupt

    frames = D.feedback_loop(_image(21, 40), O.layer("conv2"), tiny_model, frames=6, frame_every=2,
                             callback=stop_at_step_5, **_quiet())  # fmt: skip
    assert frames.interrupted and frames.steps_done == 5
    assert len(frames.frames) == 2  # frames finish after steps 2 and 4
    zoom = D.fractal_zoom(_image(21, 40), O.layer("conv2"), tiny_model, frames=6, frame_every=2,
                          callback=stop_at_step_5, **_quiet())  # fmt: skip
    assert zoom.interrupted and len(zoom.frames) == 2


def test_interrupting_a_dream_returns_the_image_so_far(tiny_model):
    image = _image(22, 60)
    run = D.dream(image, O.layer("conv2"), tiny_model, steps=4, octaves=2,
                  callback=lambda info: False if info.step == 5 else None, **_quiet())  # fmt: skip
    assert run.interrupted and run.steps_done == 5 and len(run.frames) == 1
    assert run.image.shape == image.shape and not np.allclose(run.image, image)


@pytest.mark.parametrize("how", ["ctrl-c", "callback-false"])
@pytest.mark.parametrize("octaves", [1, 2])
def test_interrupting_the_first_octave_keeps_its_steps(tiny_model, how, octaves):
    """Stopped in the FIRST octave (inside ``_Run.steps``): the steps taken there are not lost."""
    image = _image(30, 40)
    seen = []

    def stop_at_step_2(info):
        seen.append(info)
        if info.step == 2:
            if how == "ctrl-c":
                raise KeyboardInterrupt
            return False
        return None

    run = D.dream(image, O.layer("conv2"), tiny_model, steps=4, octaves=octaves, step_size=0.05,
                  callback=stop_at_step_2, **_quiet())  # fmt: skip
    assert run.interrupted and run.steps_done == 2 and [i.octave for i in seen] == [0, 0]
    result = run.image
    assert result.shape == image.shape and not np.allclose(result, image)
    # The result is the image the callback last saw (after step 2), brought to the full size.
    last = seen[-1].image
    expected = last if octaves == 1 else resize(tf.constant(last), image.shape[:2]).numpy()
    assert last.shape[:2] == (image.shape[:2] if octaves == 1 else D.octave_sizes((40, 40), 2, 1.4)[0])
    np.testing.assert_allclose(result, expected, atol=1e-6)
    if octaves == 1:
        # Exactly a finished 2-step dream: nothing was lost or applied twice.
        two = D.dream(image, O.layer("conv2"), tiny_model, steps=2, octaves=1, step_size=0.05, **_quiet()).image
        np.testing.assert_array_equal(result, two)


def test_ctrl_c_in_a_frame_loop_drops_only_the_unfinished_frame(tiny_model):
    """The frame being rendered is dropped (documented); finished frames are the uninterrupted ones."""
    image = _image(32, 40)

    def stop_at_step_3(info):
        if info.step == 3:
            raise KeyboardInterrupt

    options = dict(frames=3, frame_every=2, octaves=2, step_size=0.05, **_quiet())
    partial = D.feedback_loop(image, O.layer("conv2"), tiny_model, callback=stop_at_step_3, **options)
    full = D.feedback_loop(image, O.layer("conv2"), tiny_model, **options)
    # Frame 0 takes steps 1-4 (2 per octave): step 3 is in its second octave, so no frame is finished.
    assert partial.interrupted and partial.steps_done == 3 and len(partial.frames) == 0 and len(full.frames) == 3
    options["frame_every"] = 1
    partial = D.feedback_loop(image, O.layer("conv2"), tiny_model, callback=stop_at_step_3, **options)
    full = D.feedback_loop(image, O.layer("conv2"), tiny_model, **options)
    assert partial.interrupted and partial.steps_done == 3 and len(partial.frames) == 1
    np.testing.assert_array_equal(partial.frames[0], full.frames[0])


def test_progress_bar_can_be_shown(tiny_model, capsys):
    D.dream(_image(23, 32), O.layer("conv1"), tiny_model, steps=2, octaves=1, progress=True)
    assert "dream" in capsys.readouterr().err


# --- outputs ------------------------------------------------------------------------------------------


def test_gif_frame_count_and_durations(tiny_model, tmp_path):
    frames = D.feedback_loop(_image(24, 32), O.layer("conv2"), tiny_model, frames=5, frame_every=1,
                             step_size=0.05, **_quiet())  # fmt: skip
    path = frames.save_gif(tmp_path / "loop.gif", duration_ms=80)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        durations = []
        for index in range(gif.n_frames):
            gif.seek(index)
            durations.append(gif.info["duration"])
            assert gif.size == (32, 32)
    assert durations == [80] * 5
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, no temp file left


# --- command line ---------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cadl")
    cli_dream.add_commands(parser.add_subparsers(dest="command"))
    return parser


def test_cli_help_documents_every_option():
    parser = _parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("dream", "zoom"):
        sub = subparsers.choices[name]
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
        text = sub.format_help()
        for option in ("--weights", "--size", "--steps", "--out", "--frames", "--tile-size", "--seed"):
            assert option in text
    assert "--margin" in subparsers.choices["zoom"].format_help()


def _run_cli(argv, monkeypatch, model):
    monkeypatch.setattr(cli_dream, "load_cli_model", lambda args, **kwargs: model)
    args = _parser().parse_args(argv)
    return args.func(args)


def test_cli_writes_gif_and_png_and_prints_them(tiny_model, tmp_path, monkeypatch, capsys):
    out = tmp_path / "sub" / "loop.gif"
    code = _run_cli(["dream", "coffee", "--size", "48", "--frames", "3", "--steps", "1", "--out", str(out),
                     "--no-progress"], monkeypatch, tiny_model)  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and f"wrote {out.with_suffix('.png')}" in printed
    with Image.open(out) as gif:
        assert gif.n_frames == 3 and max(gif.size) == 48
    zoom_out = tmp_path / "zoom.gif"
    code = _run_cli(["zoom", "--size", "40", "--frames", "2", "--steps", "1", "--margin", "2", "--out",
                     str(zoom_out), "--no-progress", "--channel", "2", "--layer", "conv2"], monkeypatch, tiny_model)  # fmt: skip
    assert code == 0 and zoom_out.exists()


def test_cli_refuses_to_overwrite_the_input_before_rendering(tiny_model, tmp_path, monkeypatch):
    from cadl_utils.errors import OutputError

    source = tmp_path / "photo.png"
    Image.fromarray((_image(31, 40) * 255).astype(np.uint8)).save(source)
    monkeypatch.setattr(D.Dreamer, "step", lambda *a, **k: pytest.fail("rendered before checking the output"))
    with pytest.raises(OutputError, match="input"):
        _run_cli(["dream", str(source), "--size", "40", "--frames", "1", "--out", str(source)], monkeypatch, tiny_model)
    with pytest.raises(ParameterError, match="extension"):
        _run_cli(["zoom", str(source), "--size", "40", "--out", str(tmp_path / "x.txt")], monkeypatch, tiny_model)


def test_cli_steps_error_names_the_option(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(D.Dreamer, "step", lambda *a, **k: pytest.fail("rendered despite --steps 0"))
    for command in ("dream", "zoom"):
        with pytest.raises(ParameterError, match="--steps must be at least 1") as caught:
            _run_cli([command, "--size", "40", "--steps", "0", "--out", str(tmp_path / "x.gif"), "--no-progress"],
                     monkeypatch, tiny_model)  # fmt: skip
        assert "frame_every" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_cli_interrupt_saves_a_valid_partial_gif(tiny_model, tmp_path, monkeypatch, capsys):
    real_step = D.Dreamer.step
    calls = {"n": 0}

    def step_then_interrupt(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(D.Dreamer, "step", step_then_interrupt)
    out = tmp_path / "partial.gif"
    code = _run_cli(["dream", "--size", "40", "--frames", "5", "--steps", "1", "--out", str(out), "--no-progress"],
                    monkeypatch, tiny_model)  # fmt: skip
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    with Image.open(out) as gif:
        assert gif.n_frames == 2


# --- the inception5h stand-in (small sizes) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def inception():
    pytest.importorskip("cadl_utils.models.inception5h")
    from cadl_utils.models import load_model

    return load_model("inception5h", weights="untrained")


@pytest.mark.slow
@pytest.mark.parametrize(
    "make, size",
    [
        (lambda: O.neuron("jellyfish"), 200),
        (lambda: O.channel("mixed4d_3x3_bottleneck", 139), 64),
        (lambda: O.layer("mixed4c"), 64),
    ],
)
def test_inception5h_objectives_increase(inception, make, size):
    objective = make()
    image = _smooth(25, size)
    before = O.evaluate(objective, inception, image)
    # No jitter: the untrained stand-in's gradients are pixel-grid patterns that random rolls average away.
    result = D.dream(image, objective, inception, steps=4, octaves=1, step_size=0.01, jitter=0, **_quiet()).image
    assert O.evaluate(objective, inception, result) > before
    assert np.all(np.isfinite(result))


@pytest.mark.slow
def test_inception5h_channel_reads_pre_relu_and_sizes_are_checked(inception):
    objective = O.channel("mixed4d_3x3_bottleneck", 139, model=inception)
    assert objective.layers == ("mixed4d_3x3_bottleneck_pre_relu",)
    with pytest.raises(D.ImageTooSmallError, match="193"):
        D.dream(_image(26, 128), O.neuron("jellyfish"), inception, steps=1, octaves=1, progress=False)
    with pytest.raises(D.ImageTooSmallError, match="tile"):
        D.dream(_image(26, 256), O.neuron("jellyfish"), inception, steps=1, octaves=1, tile_size=128,
                progress=False)  # fmt: skip


@pytest.mark.slow
def test_inception5h_no_retrace_and_tiles(inception):
    objective = O.layer("mixed3b")
    dreamer = D.get_dreamer(inception, objective)
    D.dream(_image(27, 64), objective, inception, steps=2, octaves=2, **_quiet())
    D.dream(_image(27, 80), objective, inception, steps=1, octaves=1, tile_size=48, **_quiet())
    traced = _traces(dreamer)
    D.dream(_image(28, 72, 96), objective, inception, steps=2, octaves=2, step_size=0.02, **_quiet())
    D.dream(_image(28, 100), objective, inception, steps=1, octaves=1, tile_size=64, **_quiet())
    assert _traces(dreamer) == traced
    image = _image(29, 96)
    np.testing.assert_allclose(dreamer.gradient(image, tile_size=96), dreamer.gradient(image), rtol=1e-4,
                               atol=1e-5 * np.abs(dreamer.gradient(image)).max())  # fmt: skip


@pytest.mark.slow
def test_a_bfloat16_step_stays_close_to_float32(inception):
    """The network in bfloat16, the image, normalisation and update in float32: one step is within 40 dB
    of float32's, untiled and tiled, and the image stays float32 (untrained stand-in; pretrained may differ)."""
    from cadl_utils.models import load_model

    fast = load_model("inception5h", weights="untrained", precision="bfloat16")
    assert fast.dtype == "bfloat16" and inception.dtype == "float32"
    image = _smooth(30, 160)
    for tile in (None, 96):
        settings = D.DreamSettings(jitter=8, tile_size=tile)  # the default step, 0.01
        results = [D.get_dreamer(m, O.layer("mixed4c")).step(image, settings) for m in (inception, fast)]
        (want, want_loss), (got, got_loss) = results
        assert got.dtype == tf.float32 and isinstance(got_loss, float)
        assert 10 * np.log10(1.0 / np.mean((got.numpy() - want.numpy()) ** 2)) >= 40
        assert abs(got_loss - want_loss) <= 0.05 * abs(want_loss)


@pytest.mark.parametrize("height, width, tile", [(70, 50, 32), (64, 64, 32), (33, 100, 32), (20, 30, None), (20, 30, 64)])
def test_tile_grid_gives_every_pixel_exactly_one_tile(height, width, tile):
    tile_h, tile_w, boxes = D.tile_grid(height, width, tile)
    assert (tile_h, tile_w) == ((height, width) if tile is None else (min(tile, height), min(tile, width)))
    owned = np.zeros((height, width), int)
    for top, left, y, x in boxes:
        assert 0 <= top <= y and 0 <= left <= x and top + tile_h <= height and left + tile_w <= width
        owned[y : min(y + tile_h, height), x : min(x + tile_w, width)] += 1
    assert np.all(owned == 1)
    assert [(y, x) for _, _, y, x in boxes] == sorted((y, x) for _, _, y, x in boxes)  # row by row
