"""Tests of cadl_utils.style: losses, optimisers, colour preservation, blends, sweeps, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import keras
import tensorflow as tf

from cadl_utils import style_engine

from cadl_utils import style as st
from cadl_utils.errors import ImageError, LayerError, ParameterError


def _pattern(height: int, width: int, seed: int, colour=(1.0, 0.6, 0.2)) -> np.ndarray:
    """A smooth, coloured test picture (stripes plus a blob) in [0, 1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    freq = rng.uniform(0.2, 0.6, size=2)
    base = 0.5 + 0.35 * np.sin(freq[0] * yy + freq[1] * xx)
    blob = np.exp(-(((yy - height / 2) ** 2 + (xx - width / 3) ** 2) / (0.1 * height * width)))
    grey = np.clip(0.7 * base + 0.3 * blob, 0.0, 1.0)
    return np.clip(grey[..., None] * np.asarray(colour, np.float32), 0.0, 1.0).astype(np.float32)


@pytest.fixture(scope="module")
def content():
    return _pattern(40, 48, seed=1, colour=(0.9, 0.7, 0.3))


@pytest.fixture(scope="module")
def style_a():
    rng = np.random.default_rng(2)
    return rng.uniform(0.0, 1.0, size=(36, 36, 3)).astype(np.float32) ** 2


@pytest.fixture(scope="module")
def style_b():
    return _pattern(44, 44, seed=3, colour=(0.2, 0.5, 1.0))


def _engine(tiny_model, content, style, **options):
    options.setdefault("size", 48)
    return st.StyleTransfer(content, style, tiny_model, **options)


# --- Gram matrices and losses ----------------------------------------------------------------


def test_gram_matrix_is_symmetric_psd_and_size_independent():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1, 6, 7, 5)).astype(np.float32)
    gram = st.gram_matrix(features).numpy()[0]
    assert gram.shape == (5, 5)
    np.testing.assert_allclose(gram, gram.T, rtol=1e-5, atol=1e-6)
    assert np.linalg.eigvalsh(gram.astype(np.float64)).min() > -1e-5
    # The same texture repeated 2x2 times has the same normalised Gram matrix.
    tiled = np.tile(features, (1, 2, 2, 1))
    np.testing.assert_allclose(st.gram_matrix(tiled).numpy()[0], gram, rtol=1e-5, atol=1e-6)
    # Explicit formula: F^T F / (positions * channels).
    flat = features.reshape(-1, 5).astype(np.float64)
    np.testing.assert_allclose(gram, flat.T @ flat / (42 * 5), rtol=1e-5)


def test_gram_matrix_of_empty_map_is_finite():
    gram = st.gram_matrix(tf.zeros([1, 0, 3, 4])).numpy()
    assert np.all(np.isfinite(gram)) and np.all(gram == 0)


def test_gram_of_network_features_is_symmetric_psd(tiny_model, style_a):
    features = tiny_model.extract(style_a[None], ["mixed"])[0]
    gram = st.gram_matrix(features).numpy()[0].astype(np.float64)
    np.testing.assert_allclose(gram, gram.T, rtol=1e-5, atol=1e-3)
    assert np.linalg.eigvalsh(gram).min() > -1e-3 * np.abs(gram).max()


def test_style_loss_of_image_with_itself_is_zero(tiny_model, style_a, content):
    engine = _engine(tiny_model, style_a, style_a)
    same = engine.losses(engine.content)
    assert same["style"] == pytest.approx(0.0, abs=1e-7)
    assert same["content"] == pytest.approx(0.0, abs=1e-7)
    # A different picture has a positive style and content loss (the test can fail).
    other = engine.losses(np.clip(engine.content[::-1] * 0.5 + 0.3, 0, 1))
    assert other["style"] > 1e-4 and other["content"] > 1e-4


def test_raw_terms_match_the_tutorial_definitions(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a, normalize=False, content_weight=2.0, style_weight=3.0,
                     tv_weight=0.0, style_layers=["conv1", "mixed"])
    picture = np.clip(engine.content + 0.1, 0, 1)
    terms = engine.losses(picture)
    feats = tiny_model.extract(picture[None], ["conv2", "conv1", "mixed"])
    target = tiny_model.extract(engine.content[None], ["conv2"])[0]
    expected_content = 2.0 * np.mean((feats[0].numpy() - target.numpy()) ** 2)
    style_feats = tiny_model.extract(engine.styles[0][None], ["conv1", "mixed"])
    expected_style = 0.0
    for f, s in zip(feats[1:], style_feats):
        a = f.numpy().reshape(-1, f.shape[-1]).astype(np.float64)
        b = s.numpy().reshape(-1, s.shape[-1]).astype(np.float64)
        expected_style += np.mean((a.T @ a / a.shape[0] - b.T @ b / b.shape[0]) ** 2) / 2
    assert terms["content"] == pytest.approx(expected_content, rel=1e-4)
    assert terms["style"] == pytest.approx(3.0 * expected_style, rel=1e-3)


# --- optimisation ----------------------------------------------------------------------------


@pytest.mark.parametrize("term", ["content", "style", "tv"])
def test_each_loss_falls_over_steps(tiny_model, content, style_a, term):
    weights = {"content_weight": 0.0, "style_weight": 0.0, "tv_weight": 0.0}
    weights[f"{term}_weight"] = 1.0
    engine = _engine(tiny_model, content, style_a, **weights)
    result = engine.run(steps=30, init="noise", seed=0, learning_rate=0.02, progress=False)
    values = result.history[term]
    assert len(values) == 31
    assert values[-1] < 0.7 * values[0]
    assert values[-1] < values[10]


def test_all_terms_fall_together(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a, tv_weight=0.1)
    result = engine.run(steps=40, init="noise", progress=False)
    for term in ("content", "style", "tv", "total"):
        assert result.history[term][-1] < result.history[term][0], term


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_optimisers_reduce_the_total_loss(tiny_model, content, style_a, optimizer):
    engine = _engine(tiny_model, content, style_a)
    result = engine.run(steps=15, optimizer=optimizer, init="content", progress=False)
    total = result.history["total"]
    assert len(total) == result.steps_done + 1
    assert total[-1] < 0.7 * total[0]
    assert 0.0 <= result.image.min() and result.image.max() <= 1.0
    assert result.image.shape == engine.content.shape
    # The final picture's loss is the last history entry.
    assert engine.losses(result.image)["total"] == pytest.approx(total[-1], rel=2e-2)


def test_lbfgs_beats_adam_at_equal_steps(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    adam = engine.run(steps=20, optimizer="adam", progress=False)
    lbfgs = engine.run(steps=20, optimizer="lbfgs", progress=False)
    assert lbfgs.history["total"][-1] < adam.history["total"][-1]


def test_frames_every_k_steps_and_values_in_range(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    result = engine.run(steps=10, frame_every=3, steps_per_call=2, progress=False)
    assert result.frame_steps == [0, 3, 6, 9, 10]
    assert len(result.frames) == 5
    np.testing.assert_allclose(result.frames[0], engine.content, atol=1e-6)
    np.testing.assert_allclose(result.frames[-1], result.image)
    for frame in result.frames:
        assert frame.dtype == np.float32 and frame.min() >= 0.0 and frame.max() <= 1.0
    assert not np.allclose(result.frames[0], result.frames[-1])


def test_lbfgs_frames(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    result = engine.run(steps=6, optimizer="lbfgs", frame_every=2, progress=False)
    assert result.frame_steps == [0, 2, 4, 6]
    assert result.steps_done == 6


def test_init_choices_and_seeds(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    np.testing.assert_allclose(engine.initial_image("content"), engine.content)
    styled = engine.initial_image("style")
    assert styled.shape == engine.content.shape
    a, b, c = (engine.initial_image("noise", seed=s) for s in (1, 1, 2))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert engine.run(steps=0, progress=False).steps_done == 0
    with pytest.raises(ParameterError, match="init"):
        engine.initial_image("zeros")
    with pytest.raises(ImageError, match="shape"):
        engine.initial_image(np.zeros((3, 3, 3)))


def test_init_arrays_are_read_like_every_other_picture(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    pixels = (engine.content * 255 + 0.5).astype(np.uint8)
    # uint8 means 0..255 here as everywhere (it used to be clipped to 1 as if it were floats).
    np.testing.assert_allclose(engine.initial_image(pixels), engine.content, atol=0.5 / 255 + 1e-6)
    with pytest.raises(ImageError, match="init array .*divide by 255"):
        engine.initial_image(engine.content * 255)
    with pytest.raises(ImageError, match="init array contains NaN"):
        engine.initial_image(np.full_like(engine.content, np.nan))


def _traces(engine) -> int:
    """How many times the engine's compiled functions were traced (observed from outside)."""
    compiled = [engine.adam_steps, engine.gradient, engine.terms_now]
    return sum(f.experimental_get_tracing_count() for f in compiled if f is not None)


def test_term_weights_change_without_retracing(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    engine.run(steps=3, progress=False)
    engine.run(steps=3, optimizer="lbfgs", progress=False)
    traces = _traces(engine)
    engine.set_term_weights(content_weight=5.0, style_weight=0.1)
    assert engine.settings.content_weight == 5.0 and engine.settings.style_weight == pytest.approx(0.1)
    engine.run(steps=3, progress=False)
    engine.run(steps=3, tv_weight=2.0, learning_rate=0.05, steps_per_call=3, progress=False)
    engine.run(steps=3, optimizer="lbfgs", progress=False)
    assert _traces(engine) == traces
    with pytest.raises(ParameterError, match="nothing to optimise"):
        engine.set_term_weights(0, 0, 0)
    assert engine.settings.content_weight == 5.0


def test_adam_is_keras_adam_and_restarts_every_run(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    first = engine.run(steps=6, progress=False)
    again = engine.run(steps=6, progress=False)
    np.testing.assert_allclose(again.history["total"], first.history["total"], rtol=1e-5)
    assert isinstance(engine._optimizer, keras.optimizers.Adam)
    assert int(engine._optimizer.iterations.numpy()) == 6
    # Other Adam constants: a new optimiser (and trace), the same API.
    other = engine.run(steps=6, beta1=0.5, progress=False)
    assert other.history["total"][-1] != pytest.approx(first.history["total"][-1], rel=1e-6)


def test_engine_settings_are_fixed_between_runs(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    assert engine.settings.size == 48 and engine.settings.content_layer == "conv2"
    with pytest.raises(ParameterError, match="size cannot change between runs"):
        engine.run(steps=1, size=32)


# --- colour, blends, scale -------------------------------------------------------------------


def test_preserve_color_keeps_content_chroma(tiny_model, content, style_b):
    kept = _engine(tiny_model, content, style_b, preserve_color=True, style_weight=100.0)
    result = kept.run(steps=30, progress=False)
    chroma = st.rgb_to_yiq(result.image)[..., 1:]
    target = st.rgb_to_yiq(kept.content)[..., 1:]
    assert np.mean(np.abs(chroma - target)) < 0.01
    # The luminance did change (the style was applied) ...
    assert np.mean(np.abs(st.rgb_to_yiq(result.image)[..., 0] - st.rgb_to_yiq(kept.content)[..., 0])) > 0.01
    # ... and without preservation the chroma moves towards the (blue) style.
    free = _engine(tiny_model, content, style_b, style_weight=100.0).run(steps=30, progress=False)
    assert np.mean(np.abs(st.rgb_to_yiq(free.image)[..., 1:] - target)) > 2 * np.mean(np.abs(chroma - target))


def test_yiq_round_trip():
    rng = np.random.default_rng(0)
    image = rng.uniform(size=(5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(st.yiq_to_rgb(st.rgb_to_yiq(image)), image, atol=1e-5)
    grey = np.full((2, 2, 3), 0.4, np.float32)
    np.testing.assert_allclose(st.rgb_to_yiq(grey)[..., 1:], 0.0, atol=1e-6)


def test_match_luminance():
    rng = np.random.default_rng(0)
    source = rng.uniform(size=(20, 20)).astype(np.float32)
    reference = 0.5 + 0.1 * rng.normal(size=(30, 30)).astype(np.float32)
    matched = st.match_luminance(source, reference)
    assert matched.mean() == pytest.approx(reference.mean(), abs=0.02)
    assert matched.std() == pytest.approx(reference.std(), rel=0.1)
    flat = st.match_luminance(np.full((4, 4), 0.2, np.float32), reference)
    assert np.all(np.isfinite(flat))


def test_blend_weights_interpolate_gram_targets(tiny_model, content, style_a, style_b):
    only_a = _engine(tiny_model, content, style_a)
    only_b = _engine(tiny_model, content, style_b)
    mixed = _engine(tiny_model, content, [style_a, style_b], blend=[0.3, 0.7])
    for name, gram in mixed.loss.grams.items():
        expected = 0.3 * only_a.loss.grams[name].numpy() + 0.7 * only_b.loss.grams[name].numpy()
        np.testing.assert_allclose(gram.numpy(), expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_blend_one_zero_equals_single_style(tiny_model, content, style_a, style_b):
    single = _engine(tiny_model, content, style_a).run(steps=5, progress=False)
    blended = _engine(tiny_model, content, [style_a, style_b], blend=[1.0, 0.0]).run(steps=5, progress=False)
    np.testing.assert_allclose(blended.image, single.image, atol=1e-5)
    np.testing.assert_allclose(blended.history["total"], single.history["total"], rtol=1e-4)
    other = _engine(tiny_model, content, [style_a, style_b], blend=[0.0, 1.0]).run(steps=5, progress=False)
    assert not np.allclose(other.image, single.image, atol=1e-3)


def test_style_scale_resizes_the_style_image(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a, style_scale=0.5)
    assert max(engine.styles[0].shape[:2]) == round(0.5 * max(engine.content.shape[:2]))
    bigger = _engine(tiny_model, content, style_a, style_scale=2.0)
    assert max(bigger.styles[0].shape[:2]) == 2 * max(engine.content.shape[:2])
    with pytest.raises(ParameterError, match="style_scale"):
        _engine(tiny_model, content, style_a, style_scale=0.0)
    with pytest.raises(ParameterError, match="style_scale"):
        _engine(tiny_model, content, style_a, style_scale=float("nan"))


# --- robustness ------------------------------------------------------------------------------

_EXTREMES = [(1e-6, 1e6, 1e-6), (1e6, 1e-6, 1e6), (1e6, 1e6, 1e6), (1e-6, 1e-6, 1e-6)]


@pytest.mark.parametrize("weights", _EXTREMES)
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_no_nan_with_extreme_weights(tiny_model, content, style_a, weights, optimizer):
    engine = _engine(tiny_model, content, style_a, content_weight=weights[0], style_weight=weights[1],
                     tv_weight=weights[2])
    result = engine.run(steps=5, optimizer=optimizer, init="noise", progress=False)
    history = np.array([result.history[t] for t in st.TERMS])
    assert np.all(np.isfinite(history))
    assert np.all(np.isfinite(result.image)) and result.image.min() >= 0.0 and result.image.max() <= 1.0
    assert history[-1, -1] < history[-1, 0]


@pytest.mark.parametrize("level", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("preserve_color", [False, True])
def test_no_nan_with_constant_images(tiny_model, level, preserve_color):
    flat = np.full((32, 32, 3), level, np.float32)
    for normalize in (True, False):
        engine = st.StyleTransfer(flat, flat, tiny_model, size=32, normalize=normalize,
                                  preserve_color=preserve_color, content_weight=1e6, style_weight=1e6)
        for optimizer in ("adam", "lbfgs"):
            result = engine.run(steps=3, optimizer=optimizer, init="noise", progress=False)
            history = np.array([result.history[t] for t in st.TERMS])
            assert np.all(np.isfinite(history)), (normalize, optimizer)
            assert np.all(np.isfinite(result.image))
            assert result.image.min() >= 0.0 and result.image.max() <= 1.0


def test_targets_computed_once(tiny_model, content, style_a, monkeypatch):
    calls = []
    real = style_engine.StyleLoss
    monkeypatch.setattr(style_engine, "StyleLoss", lambda *a, **k: calls.append(1) or real(*a, **k))
    engine = _engine(tiny_model, content, style_a)
    assert len(calls) == 1
    engine.run(steps=4, progress=False)
    engine.run(steps=4, optimizer="lbfgs", progress=False)
    before = dict(tiny_model.calls)
    traces = _traces(engine)
    engine.sweep([(1.0, 1.0), (1.0, 10.0), (2.0, 5.0), (0.5, 50.0)], steps=3, progress=False)
    engine.sweep([(1.0, 1.0)], steps=3, optimizer="lbfgs", progress=False)
    assert len(calls) == 1
    # No more network passes outside the compiled steps (whose bodies ran at trace time only).
    assert tiny_model.calls == before
    assert _traces(engine) == traces


def test_callback_and_interrupt_keep_frames(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    seen = []

    def stop_at_four(info):
        seen.append((info.step, set(info.terms)))
        assert info.total == 10 and info.image.shape == engine.content.shape and info.loss > 0
        return info.step < 4

    result = engine.run(steps=10, frame_every=2, callback=stop_at_four, progress=False)
    assert result.interrupted and result.steps_done == 4
    assert [s for s, _ in seen] == [2, 4]
    assert seen[-1][1] == {"content", "style", "tv"}

    def interrupt(info):
        if info.step >= 3:
            raise KeyboardInterrupt

    for optimizer in ("adam", "lbfgs"):
        result = engine.run(steps=10, optimizer=optimizer, frame_every=1, callback=interrupt, progress=False)
        assert result.interrupted
        assert result.frame_steps[:4] == [0, 1, 2, 3]
        assert len(result.frames) >= 4
        assert result.steps_done >= 3 and result.steps_done < 10


# --- sweeps ----------------------------------------------------------------------------------


def test_sweep_gives_one_frame_per_pair(tiny_model, content, style_a, tmp_path):
    pairs = [(1.0, 0.1), (1.0, 10.0), (1.0, 1000.0)]
    sweep = st.weight_sweep(content, style_a, pairs, tiny_model, size=48, steps=8, progress=False)
    assert sweep.pairs == pairs and len(sweep.frames) == 3 and not sweep.interrupted
    assert all(f.shape == sweep.frames[0].shape for f in sweep.frames)
    # More style weight moves the picture further from the content.
    distances = [np.mean(np.abs(f - sweep.results[0].frames[0])) for f in sweep.frames]
    assert distances[0] < distances[2]
    grid = sweep.grid(cols=3)
    assert grid.shape[1] >= 3 * sweep.frames[0].shape[1]
    gif = sweep.save_gif(tmp_path / "sweep.gif")
    png = sweep.save_grid(tmp_path / "grid.png")
    from PIL import Image

    with Image.open(gif) as handle:
        assert handle.n_frames == 3
    assert png.exists()


def test_sweep_errors(tiny_model, content, style_a):
    engine = _engine(tiny_model, content, style_a)
    with pytest.raises(ParameterError, match="empty"):
        engine.sweep([])
    with pytest.raises(ParameterError, match="finite"):
        engine.sweep([(1.0, float("nan"))])
    with pytest.raises(ParameterError, match="pair"):
        engine.sweep([(1.0,)])
    with pytest.raises(ParameterError, match="nothing to optimise"):
        engine.sweep([(0.0, 0.0)])
    from cadl_utils.cli.style import parse_pairs

    assert parse_pairs("1:10, 2:1e3") == [(1.0, 10.0), (2.0, 1000.0)]
    assert parse_pairs(["1:1", "1:5"]) == [(1.0, 1.0), (1.0, 5.0)]
    with pytest.raises(ParameterError, match="CONTENT:STYLE"):
        parse_pairs("1-10")


# --- bad input -------------------------------------------------------------------------------


def test_bad_parameters_raise_clear_errors(tiny_model, content, style_a):
    with pytest.raises(LayerError, match="Closest names"):
        _engine(tiny_model, content, style_a, content_layer="mixd")
    with pytest.raises(LayerError, match="positions"):
        _engine(tiny_model, content, style_a, style_layers=["conv1", "logits"])
    with pytest.raises(ParameterError, match="no style layers"):
        _engine(tiny_model, content, style_a, style_layers=[])
    with pytest.raises(ParameterError, match="content_weight"):
        _engine(tiny_model, content, style_a, content_weight=float("nan"))
    with pytest.raises(ParameterError, match="style_weight must be at least 0"):
        _engine(tiny_model, content, style_a, style_weight=-1.0)
    with pytest.raises(ParameterError, match="nothing to optimise"):
        _engine(tiny_model, content, style_a, content_weight=0, style_weight=0, tv_weight=0)
    with pytest.raises(ParameterError, match="one weight per image"):
        _engine(tiny_model, content, [style_a, style_a], blend=[1.0])
    with pytest.raises(ParameterError, match="all 0"):
        _engine(tiny_model, content, [style_a, style_a], blend=[0.0, 0.0])
    with pytest.raises(ParameterError, match="unknown setting"):
        _engine(tiny_model, content, style_a, style_blend=[1.0])
    engine = _engine(tiny_model, content, style_a)
    with pytest.raises(ParameterError, match="optimizer"):
        engine.run(steps=2, optimizer="sgd")
    with pytest.raises(ParameterError, match="steps"):
        engine.run(steps=-1)
    with pytest.raises(ParameterError, match="learning_rate"):
        engine.run(steps=2, learning_rate=float("nan"))


@pytest.mark.parametrize(
    "overrides,words",
    [
        ({"steps": 10**9}, "steps must be at most 100000"),
        ({"size": 5000}, "size must be at most 4096"),
        ({"learning_rate": 1e30}, "learning_rate must be at most 1"),
        ({"style_scale": 1e300}, "style_scale must be at most 16"),
        ({"frame_every": 0}, "frame_every must be at least 1"),
        ({"steps_per_call": 10**6}, "steps_per_call must be at most 1000"),
        ({"beta1": 1.0}, "beta1 must be less than 1"),
        ({"epsilon": float("nan")}, "epsilon must be a finite number"),
        ({"seed": -1}, "seed must be at least 0"),
        ({"init": "zeros"}, "use one of content, style, noise"),
        ({"style_layers": "conv1:x"}, "style_layers must be layer names"),
        ({"style_layers": 5}, "style_layers must be layer names"),
        ({"blend": [1.0, float("inf")]}, "blend weight must be a finite number"),
        ({"preserve_color": "yes"}, "preserve_color must be True or False"),
        ({"weights": "imagenet"}, "unknown weights mode"),
        ({"content_layer": ""}, "content_layer must be a layer name"),
    ],
)
def test_settings_refuse_bad_values_before_any_work(overrides, words, monkeypatch):
    monkeypatch.setattr(style_engine, "resolve_model", lambda *a, **k: pytest.fail("loaded a model"))
    with pytest.raises(ParameterError, match=words):
        st.StyleSettings(**overrides)
    with pytest.raises(ParameterError, match=words):
        st.style_transfer("missing.png", "missing.png", **overrides)


def test_settings_normalise_their_values():
    settings = st.StyleSettings.make(style_layers="conv1, mixed:2", blend=[1, 3], optimizer=" LBFGS ", steps=np.int64(5))
    assert settings.style_layers == (("conv1", 1.0), ("mixed", 2.0))
    assert settings.blend == (1.0, 3.0) and settings.optimizer == "lbfgs" and type(settings.steps) is int
    assert st.StyleSettings.make(settings) is settings
    with pytest.raises(Exception):
        settings.steps = 3  # frozen


def test_style_layer_spec_string(tiny_model):
    layers = st.resolve_style_layers(tiny_model, "conv1, mixed:2")
    assert layers == {"conv1": 1.0, "mixed": 2.0}
    with pytest.raises(LayerError):
        st.resolve_style_layers(tiny_model, "conv1,nope")


def test_default_layers():
    class Fake:
        name = "inception5h"

        def layer_names(self):
            return ["conv2d2", "mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c"]

    content_layer, style_layers = st.default_layers(Fake())
    assert content_layer == "mixed4b"
    assert "conv2d2" in style_layers and "mixed4c" in style_layers


def test_default_layers_for_unknown_model(tiny_model):
    content_layer, style_layers = st.default_layers(tiny_model)
    assert content_layer in tiny_model.layer_names()
    assert content_layer in style_layers and len(style_layers) >= 2


def test_course_layer_preset_puts_content_early_and_style_late(tiny_model, content, style_a):
    class Fake:
        name = "inception5h"

        def layer_names(self):
            return ["conv2d2", "mixed3a", "mixed3b", "mixed4a", "mixed4b", "mixed4c", "mixed4d", "mixed4e"]

    assert st.default_layers(Fake(), "course") == ("conv2d2", {"mixed4c": 1.0, "mixed4d": 1.0, "mixed4e": 1.0})
    assert st.default_layers(Fake(), "default")[0] == "mixed4b"
    names = tiny_model.layer_names()
    content_layer, style_layers = st.default_layers(tiny_model, "course")  # a model without its own preset
    assert all(names.index(content_layer) < names.index(name) for name in style_layers)
    engine = _engine(tiny_model, content, style_a, layers="course")
    assert (engine.settings.content_layer, dict(engine.settings.style_layers)) == (content_layer, style_layers)
    own = _engine(tiny_model, content, style_a, layers="course", content_layer="conv1")  # named layers win
    assert own.settings.content_layer == "conv1"
    with pytest.raises(ParameterError, match="cannot change between runs"):
        engine.run(layers="default", steps=1)
    with pytest.raises(ParameterError, match="layers.*course"):
        st.StyleSettings(layers="vgg")


# --- command line ----------------------------------------------------------------------------


@pytest.fixture
def cli_with_tiny(tiny_model, monkeypatch):
    monkeypatch.setattr(style_engine, "resolve_model", lambda model, weights=None: tiny_model)
    from cadl_utils import cli

    # Only this module's sub-command: the test must not depend on the other engines.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("style",))
    return cli


def _write_inputs(tmp_path, content, style):
    from cadl_utils.images import save_image

    return save_image(content, tmp_path / "content.png"), save_image(style, tmp_path / "style.png")


def test_cli_progression(cli_with_tiny, tmp_path, content, style_a, capsys):
    content_path, style_path = _write_inputs(tmp_path, content, style_a)
    out = tmp_path / "out"
    code = cli_with_tiny.main([
        "style", str(content_path), str(style_path), "--steps", "4", "--size", "40", "--out", str(out),
        "--optimizer", "lbfgs", "--frame-every", "2", "--no-progress", "--preserve-color",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert (out / "style.gif").exists() and (out / "style.png").exists()
    assert f"wrote {out / 'style.gif'}" in printed and "untrained" in printed


def test_cli_sweep(cli_with_tiny, tmp_path, content, style_a, capsys):
    content_path, style_path = _write_inputs(tmp_path, content, style_a)
    out = tmp_path / "out"
    code = cli_with_tiny.main([
        "style", str(content_path), str(style_path), "--steps", "3", "--size", "40", "--out", str(out),
        "--sweep", "1:1", "1:100", "--no-progress",
    ])
    assert code == 0
    assert (out / "style-sweep.gif").exists() and (out / "style-sweep-grid.png").exists()
    assert "style-sweep-grid.png" in capsys.readouterr().out


def test_cli_bad_sweep_is_a_clear_error(cli_with_tiny, tmp_path, content, style_a, capsys):
    content_path, style_path = _write_inputs(tmp_path, content, style_a)
    code = cli_with_tiny.main(["style", str(content_path), str(style_path), "--sweep", "abc", "--out",
                               str(tmp_path)])
    assert code == 2
    assert "CONTENT:STYLE" in capsys.readouterr().err


@pytest.mark.parametrize("sweep", [[], ["--sweep", "1:1", "1:10"]], ids=["progression", "sweep"])
def test_cli_refuses_to_overwrite_an_input_before_rendering(cli_with_tiny, tmp_path, content, style_a, capsys,
                                                             monkeypatch, sweep):  # fmt: skip
    from cadl_utils.images import save_image

    # The content image sits where the second output (the PNG) would go.
    content_path = save_image(content, tmp_path / ("style-sweep-grid.png" if sweep else "style.png"))
    style_path = save_image(style_a, tmp_path / "texture.png")
    before = content_path.read_bytes()
    monkeypatch.setattr(st.StyleTransfer, "__init__", lambda *a, **k: pytest.fail("worked before checking --out"))
    code = cli_with_tiny.main(["style", str(content_path), str(style_path), "--steps", "2", "--size", "32",
                               "--out", str(tmp_path), "--no-progress", *sweep])  # fmt: skip
    assert code == 2
    assert "refusing to overwrite the input file" in capsys.readouterr().err
    assert content_path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([content_path.name, "texture.png"])


@pytest.mark.parametrize("name", ["../escape", "sub/style", "..", ""])
def test_cli_name_must_stay_inside_out(cli_with_tiny, tmp_path, name, capsys):
    code = cli_with_tiny.main(["style", "--steps", "1", "--out", str(tmp_path / "out"), "--name", name])
    assert code == 2 and "--name" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_cli_defaults_to_sample_images(cli_with_tiny, tmp_path, capsys, monkeypatch):
    seen = []
    real_init = st.StyleTransfer.__init__
    monkeypatch.setattr(st.StyleTransfer, "__init__", lambda self, content, style, *rest, **kw:
                        seen.append((content, style, rest)) or real_init(self, content, style, *rest, **kw))
    code = cli_with_tiny.main(["style", "--steps", "1", "--size", "32", "--out", str(tmp_path), "--no-progress"])
    assert code == 0
    assert (tmp_path / "style.png").exists()
    assert seen[0][0].stem == "coffee" and [p.name for p in seen[0][1]] == ["starry_night.jpg"]
    assert seen[0][2][1].layers == "default"


def test_cli_layer_preset_option(cli_with_tiny, tmp_path, capsys, monkeypatch):
    made = []
    real_init = st.StyleTransfer.__init__
    monkeypatch.setattr(st.StyleTransfer, "__init__", lambda self, *a, **kw: real_init(self, *a, **kw)
                        or made.append(self))  # fmt: skip
    code = cli_with_tiny.main(["style", "--layers", "course", "--steps", "1", "--size", "32", "--out", str(tmp_path),
                               "--no-progress"])  # fmt: skip
    assert code == 0 and made[0].settings.layers == "course"
    assert made[0].settings.content_layer == st.default_layers(made[0].model, "course")[0]
    with pytest.raises(SystemExit) as info:  # argparse refuses it, naming the choices
        cli_with_tiny.main(["style", "--layers", "late", "--out", str(tmp_path)])
    assert info.value.code == 2 and "choose from 'default', 'course'" in capsys.readouterr().err


# --- real networks (untrained stand-ins) -------------------------------------------------------


@pytest.mark.slow
def test_inception5h_untrained_style_transfer():
    inception = pytest.importorskip("cadl_utils.models.inception5h")
    model = inception.load_inception5h(weights="untrained")
    content = _pattern(96, 128, seed=4)
    style = _pattern(96, 96, seed=5, colour=(0.3, 0.4, 1.0))
    engine = st.StyleTransfer(content, style, model, size=128)
    assert engine.settings.content_layer == "mixed4b"
    for optimizer in ("adam", "lbfgs"):
        result = engine.run(steps=6, optimizer=optimizer, progress=False)
        total = result.history["total"]
        assert np.all(np.isfinite(total)) and total[-1] < total[0], optimizer
        assert 0.0 <= result.image.min() and result.image.max() <= 1.0


@pytest.mark.slow
def test_vgg19_untrained_style_transfer():
    backbones = pytest.importorskip("cadl_utils.models.keras_backbones")
    model = backbones.load_keras_backbone("vgg19", weights="untrained")
    content = _pattern(64, 64, seed=6)
    style = _pattern(64, 64, seed=7, colour=(0.3, 0.4, 1.0))
    engine = st.StyleTransfer(content, style, model, size=64)
    assert engine.settings.content_layer == "block5_conv2"
    result = engine.run(steps=6, optimizer="lbfgs", progress=False)
    total = result.history["total"]
    assert np.all(np.isfinite(total)) and total[-1] < total[0]
    assert not math.isnan(float(result.image.mean()))
