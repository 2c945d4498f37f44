"""The style-transfer engine: targets computed once, the loss, and the Adam and L-BFGS loops.

``StyleTransfer`` checks everything (settings, images, layers, sizes) when it is made, then computes
the targets (``compute_targets``) and builds the loss (``StyleLoss``). Its ``run`` and ``sweep`` can
be called many times: changing the term weights does not recompute targets or retrace compiled steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Any, Sequence

import keras
import numpy as np
import tensorflow as tf

from .config import profile
from .errors import ImageError, LayerError, ParameterError
from .images import as_image, resize
from .models import resolve_model
from .runs import StepInfo, Stop, progress_bar, report
from .settings import check_choice
from .style import (INITS, MAX_SIDE, TERMS, StyleResult, StyleSettings, SweepResult, _spatial_layer, check_pairs,
                    combine_luminance, content_loss, default_layers, gram_loss, gram_matrix, match_luminance,
                    resolve_style_layers, rgb_to_yiq, total_variation)  # fmt: skip

# Settings fixed when a StyleTransfer is made (its targets depend on them).
ENGINE_SETTINGS = ("size", "content_layer", "style_layers", "blend", "style_scale", "normalize", "preserve_color",
                   "weights")  # fmt: skip
# Floor of the relative terms' denominators: a flat or black image can give all-zero features.
_RELATIVE_EPS = 1e-6


@dataclasses.dataclass
class Targets:
    """What the picture is compared with: content features, blended Gram matrices, term factors."""

    content_layer: str
    style_layers: dict[str, float]
    content: tf.Tensor
    grams: dict[str, tf.Tensor]
    content_factor: float
    style_factors: dict[str, float]


def compute_targets(model, content_layer: str, style_layers: dict[str, float], content: np.ndarray,
                    styles: Sequence[np.ndarray], blend: Sequence[float], normalize: bool) -> Targets:  # fmt: skip
    """Content features and the style images' Gram matrices averaged with ``blend`` (one pass per image).

    With ``normalize`` the factors make each term relative (see the ``style`` module); else they are
    1 for content and the layer's share of the style weights.
    """
    target = model.extract(tf.constant(content[None]), [content_layer])[0]
    names = list(style_layers)
    grams = {name: 0.0 for name in names}
    for weight, image in zip(blend, styles):
        for name, features in zip(names, model.extract(tf.constant(image[None]), names)):
            grams[name] = grams[name] + weight * gram_matrix(features)
    content_scale = float(tf.reduce_mean(tf.square(target))) + _RELATIVE_EPS if normalize else 1.0
    total = sum(style_layers.values())
    factors = {}
    for name in names:
        scale = float(tf.reduce_sum(tf.square(grams[name]))) + _RELATIVE_EPS if normalize else 1.0
        factors[name] = style_layers[name] / total / scale
    return Targets(content_layer, dict(style_layers), tf.constant(target), grams, 1.0 / content_scale, factors)


class StyleLoss:
    """The weighted terms of a picture against fixed targets: ``loss(image)`` is [content, style, tv, total].

    The term weights are variables, so changing them (``set_term_weights``) does not retrace.
    """

    def __init__(self, model, targets: Targets, preserve_color: bool):
        self.model, self.targets, self.preserve_color = model, targets, preserve_color
        self.term_weights = {t: tf.Variable(0.0, trainable=False) for t in TERMS[:3]}

    def set_term_weights(self, settings: StyleSettings) -> None:
        """Use the content, style and tv weights of ``settings``."""
        for term, variable in self.term_weights.items():
            variable.assign(getattr(settings, f"{term}_weight"))

    def __call__(self, image) -> tf.Tensor:
        """The terms of ``image`` [1, H, W, 3] (or [1, H, W, 1] luminance when colours are kept)."""
        targets = self.targets
        rgb = tf.tile(image, [1, 1, 1, 3]) if self.preserve_color else image
        features = self.model.extract(rgb, [targets.content_layer, *targets.style_layers])
        content = content_loss(features[0], targets.content) * targets.content_factor
        style = tf.add_n([gram_loss(gram_matrix(f), targets.grams[n]) * targets.style_factors[n]
                          for n, f in zip(targets.style_layers, features[1:])])  # fmt: skip
        weights = self.term_weights
        terms = [weights["content"] * content, weights["style"] * style, weights["tv"] * total_variation(image)]
        return tf.stack([*terms, tf.add_n(terms)])


class StyleTransfer:
    """Style transfer of one content image and its style images with one model, for many runs.

    Attributes:
        model, settings: the network and the settings (size and layers filled in).
        content, styles: the content image and the style images as used (resized).
        targets, loss: the Targets and the StyleLoss.
        image: the optimised variable; ``picture()`` is it as an RGB picture.
        adam_steps, gradient, terms_now: the compiled functions (built once; Adam's when first used).
    """

    def __init__(self, content, style, model=None, settings: StyleSettings | None = None, **overrides: Any):
        """Check the settings, images, layers and sizes, then compute the targets.

        Raises:
            ParameterError, LayerError, ImageError: bad input, with the fix in the message.
        """
        settings = StyleSettings.make(settings, **overrides)
        size = profile().size if settings.size is None else settings.size
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise ParameterError("no style image given: pass a style image (path or array)")
        blend = settings.blend or (1.0,) * len(styles)
        if len(blend) != len(styles):
            raise ParameterError(f"blend has {len(blend)} weights for {len(styles)} style images: give one weight per image")
        self.content = as_image(content, "content image", max_side=size)
        side = int(round(settings.style_scale * max(self.content.shape[:2])))
        if side > MAX_SIDE:
            raise ParameterError(f"style_scale {settings.style_scale:g} makes the style image {side} px long; keep it "
                                 f"under {MAX_SIDE} px (use a smaller style_scale or size)")  # fmt: skip
        self.styles = [resize(as_image(s, f"style image {i + 1}"), max(1, side)) for i, s in enumerate(styles)]
        self.model = resolve_model(model, settings.weights)
        content_layer, style_layers = default_layers(self.model)
        content_layer = _spatial_layer(self.model, settings.content_layer or content_layer, "content")
        style_layers = resolve_style_layers(self.model, settings.style_layers or style_layers)
        self._check_sizes(content_layer, style_layers)
        self.settings = dataclasses.replace(settings, size=size, content_layer=content_layer,
                                            style_layers=tuple(style_layers.items()))  # fmt: skip
        self.preserve_color = settings.preserve_color
        net_content, self._net_styles = self._network_inputs()
        self.targets = compute_targets(self.model, content_layer, style_layers, net_content, self._net_styles,
                                       [b / sum(blend) for b in blend], settings.normalize)  # fmt: skip
        self.loss = StyleLoss(self.model, self.targets, self.preserve_color)
        height, width = self.content.shape[:2]
        self.image = tf.Variable(tf.zeros([1, height, width, 1 if self.preserve_color else 3]))
        self._scale = tf.Variable(1.0, trainable=False)
        self.terms_now = tf.function(lambda: self.loss(self.image))
        self.gradient = tf.function(self._gradient)
        self.adam_steps, self._optimizer, self._adam_key = None, None, None

    def _check_sizes(self, content_layer: str, style_layers: dict[str, float]) -> None:
        need = max(self.model.min_size(n) for n in [content_layer, *style_layers])
        if min(self.content.shape[:2]) < need:
            raise LayerError(f"the content image is {self.content.shape[1]}x{self.content.shape[0]} px but layers "
                             f"{', '.join([content_layer, *style_layers])} need at least {need} px: use a larger size")
        need = max(self.model.min_size(n) for n in style_layers)  # style images only go through these
        for i, s in enumerate(self.styles):
            if min(s.shape[:2]) < need:
                raise LayerError(f"style image {i + 1} is {s.shape[1]}x{s.shape[0]} px after style_scale, but the "
                                 f"style layers need at least {need} px: use a larger style_scale or size")

    def _network_inputs(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """What the network sees: the images, or grey luminance pictures when colours are kept."""
        if not self.preserve_color:
            return self.content, list(self.styles)
        content_y = rgb_to_yiq(self.content)[..., 0]
        styles = [match_luminance(rgb_to_yiq(s)[..., 0], content_y) for s in self.styles]
        return np.repeat(content_y[..., None], 3, axis=-1), [np.repeat(y[..., None], 3, axis=-1) for y in styles]

    # --- compiled pieces -------------------------------------------------------------------------
    def _gradient(self):
        """The terms and the gradient of the scaled total (non-finite entries zeroed)."""
        with tf.GradientTape() as tape:
            terms = self.loss(self.image)
            total = terms[-1]
        grad = tape.gradient(total, self.image)
        if grad is None:  # a dead network region gives no gradient
            grad = tf.zeros_like(self.image)
        return terms, tf.where(tf.math.is_finite(grad), grad, 0.0) * self._scale

    def _adam_loop(self, count):
        """``count`` Adam steps in one compiled call; returns the terms before each step [count, 4]."""
        history = tf.TensorArray(tf.float32, size=count)
        for i in tf.range(count):
            terms, grad = self._gradient()
            self._optimizer.apply_gradients([(grad, self.image)])
            self.image.assign(tf.clip_by_value(self.image, 0.0, 1.0))
            history = history.write(i, terms)
        return history.stack()

    def _start_adam(self, settings: StyleSettings) -> None:
        """A fresh Adam state (a new optimiser, and a new trace, only when its constants change)."""
        key = (settings.beta1, settings.beta2, settings.epsilon)
        if key != self._adam_key:
            self._optimizer = keras.optimizers.Adam(beta_1=key[0], beta_2=key[1], epsilon=key[2])
            self._optimizer.build([self.image])
            self.adam_steps, self._adam_key = tf.function(self._adam_loop), key
        for variable in self._optimizer.variables:  # the step count and moments (then the learning rate)
            variable.assign(tf.zeros_like(variable))
        self._optimizer.learning_rate = settings.learning_rate

    # --- pictures and losses ---------------------------------------------------------------------
    def initial_image(self, init: Any = "content", seed: int = 0) -> np.ndarray:
        """The start in the optimised space ([H, W, 3], or [H, W, 1] luminance): ``content``, ``style``,
        ``noise`` (uniform, seeded) or an RGB array of the content's size."""
        height, width = self.content.shape[:2]
        if isinstance(init, str):
            kind = check_choice(init, "init", INITS)
            if kind == "noise":
                rgb = np.random.default_rng(seed).uniform(0.0, 1.0, size=(height, width, 3)).astype(np.float32)
            elif kind == "style":
                rgb = resize(self._net_styles[0], (height, width))
            else:
                rgb = self.content
        else:
            rgb = as_image(init, "init array")
            if rgb.shape != (height, width, 3):
                raise ImageError(f"init array has shape {rgb.shape}, expected {(height, width, 3)} (the content's "
                                 "size); or pass init='content', 'style' or 'noise'")  # fmt: skip
        if self.preserve_color:
            return np.ascontiguousarray(rgb_to_yiq(rgb)[..., :1], np.float32)
        return np.ascontiguousarray(rgb, np.float32)

    def picture(self) -> np.ndarray:
        """The current picture, RGB [H, W, 3] in [0, 1]."""
        values = self.image.numpy()[0]
        if self.preserve_color:
            return combine_luminance(values[..., 0], self.content)
        return np.clip(values, 0.0, 1.0).astype(np.float32)

    def set_term_weights(self, content_weight=None, style_weight=None, tv_weight=None) -> None:
        """Change the loss weights (None keeps one); no new targets, no retracing."""
        given = {"content_weight": content_weight, "style_weight": style_weight, "tv_weight": tv_weight}
        self.settings = StyleSettings.make(self.settings, **{k: v for k, v in given.items() if v is not None})
        self.loss.set_term_weights(self.settings)

    @property
    def term_weights(self) -> dict[str, float]:
        """The current loss weights ``{content, style, tv}``."""
        return {t: getattr(self.settings, f"{t}_weight") for t in TERMS[:3]}

    def losses(self, image: np.ndarray | None = None) -> dict[str, float]:
        """The weighted terms of an RGB picture [H, W, 3] (default: the current one) as floats."""
        self.loss.set_term_weights(self.settings)
        if image is not None:
            self.image.assign(self.initial_image(image)[None])
        return dict(zip(TERMS, (float(x) for x in self.terms_now().numpy())))

    # --- running ---------------------------------------------------------------------------------
    def _run_settings(self, overrides: dict[str, Any]) -> StyleSettings:
        fixed = sorted(set(overrides) & set(ENGINE_SETTINGS))
        if fixed:
            raise ParameterError(f"{', '.join(fixed)} cannot change between runs: make a new StyleTransfer")
        settings = StyleSettings.make(self.settings, **overrides)
        steps = profile().steps if settings.steps is None else settings.steps
        every = max(1, steps // 20) if settings.frame_every is None else settings.frame_every
        return dataclasses.replace(settings, steps=steps, frame_every=every)

    def run(self, *, callback=None, **overrides: Any) -> StyleResult:
        """Optimise the picture from ``init``.

        Args:
            callback: ``callback(StepInfo)`` at every frame; returning False stops.
            **overrides: settings for this run (optimizer, steps, learning_rate, weights of the terms...).

        Returns:
            StyleResult (Ctrl-C or a stop keeps what was done, ``interrupted=True``).
        """
        settings = self._run_settings(overrides)
        self.loss.set_term_weights(settings)
        self.image.assign(self.initial_image(settings.init, settings.seed)[None])
        # Scale the objective to start at 1: the first steps and SciPy's tolerances then behave the same
        # for any weights and network.
        self._scale.assign(1.0)
        first = self.terms_now().numpy()
        self._scale.assign(1.0 / first[-1] if math.isfinite(first[-1]) and first[-1] > 1e-30 else 1.0)
        recorder = _Recorder(self, settings, callback)
        if settings.optimizer == "lbfgs":
            recorder.record([first])  # Adam's compiled steps report it as their first row
        began = time.perf_counter()
        try:
            if settings.steps > 0 and settings.optimizer == "adam":
                self._start_adam(settings)
                _adam(self, settings, recorder)
            elif settings.steps > 0:
                _lbfgs(self, settings, recorder)
        except (KeyboardInterrupt, Stop):
            recorder.result.interrupted = True
        finally:
            recorder.close()
        return recorder.finish(time.perf_counter() - began)

    def sweep(self, pairs, *, callback=None, **overrides: Any) -> SweepResult:
        """``run`` once per (content weight, style weight) pair from the same start (Ctrl-C keeps the pairs done)."""
        checked = check_pairs(pairs)
        self._run_settings(overrides)  # bad settings fail before the first pair
        sweep = SweepResult(frames=[])
        for content_weight, style_weight in checked:
            try:
                result = self.run(callback=callback, **{**overrides, "content_weight": content_weight,
                                                        "style_weight": style_weight})  # fmt: skip
            except KeyboardInterrupt:
                result = None
            if result is None or result.interrupted:
                sweep.interrupted = True
                break
            sweep.pairs.append((content_weight, style_weight))
            sweep.results.append(result)
            sweep.frames.append(result.image)
            sweep.steps_done += result.steps_done
        return sweep


class _Recorder:
    """One run's bookkeeping: the result's history and frames, the progress bar and the callback."""

    def __init__(self, engine: StyleTransfer, settings: StyleSettings, callback):
        self.engine, self.settings, self.callback = engine, settings, callback
        self.result = StyleResult(frames=[engine.picture()], frame_steps=[0], settings=settings)
        self.bar = progress_bar(settings.progress, settings.steps, "style")

    def record(self, rows, steps: int = 0) -> None:
        """Add rows of terms to the history; ``steps`` steps were done."""
        for row in rows:
            for name, value in zip(TERMS, row):
                self.result.history[name].append(float(value))
        if self.bar is not None and steps:
            self.bar.update(steps)
            self.bar.set_postfix(loss=f"{self.result.history['total'][-1]:.4g}", refresh=False)

    def frame(self, step: int, tell: bool = True) -> None:
        """Keep the current picture as the frame of ``step`` and tell the callback (Stop if it says so)."""
        picture = self.engine.picture()
        self.result.frames.append(picture)
        self.result.frame_steps.append(step)
        history = self.result.history
        if tell:
            terms = {t: history[t][-1] for t in TERMS[:3]}
            report(self.callback, StepInfo(step, self.settings.steps, picture, history["total"][-1],
                                           frame=len(self.result.frames) - 1, terms=terms))  # fmt: skip

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def finish(self, seconds: float) -> StyleResult:
        """The result: the final terms and frame added."""
        result = self.result
        result.seconds = seconds
        if self.settings.optimizer == "adam" or not result.history["total"]:
            self.record([self.engine.terms_now().numpy()])  # Adam recorded the terms before each step
        result.steps_done = len(result.history["total"]) - 1
        if result.frame_steps[-1] != result.steps_done:
            self.frame(result.steps_done, tell=False)
        return result


def _adam(engine: StyleTransfer, settings: StyleSettings, recorder: _Recorder) -> None:
    """Compiled Adam steps, ``steps_per_call`` at a time, up to each frame."""
    done, every = 0, settings.frame_every
    while done < settings.steps:
        count = min(settings.steps_per_call, (done // every + 1) * every - done, settings.steps - done)
        rows = engine.adam_steps(tf.constant(count, tf.int32)).numpy()
        recorder.result.evaluations += count
        recorder.record(rows, count)
        done += count
        if done % every == 0 or done == settings.steps:
            recorder.frame(done)


def _lbfgs(engine: StyleTransfer, settings: StyleSettings, recorder: _Recorder) -> None:
    """SciPy's L-BFGS-B with bounds [0, 1] on TensorFlow gradients; the variable ends at the accepted point."""
    from scipy.optimize import Bounds, minimize

    shape = tuple(engine.image.shape)
    accepted = engine.image.numpy().astype(np.float64).ravel()
    last = {"x": None, "terms": None}

    def set_pixels(x) -> None:
        engine.image.assign(x.reshape(shape).astype(np.float32))

    def value_and_grad(x):
        set_pixels(x)
        terms, grad = engine.gradient()
        recorder.result.evaluations += 1
        last["x"], last["terms"] = x.copy(), terms.numpy()
        value = float(last["terms"][-1] * engine._scale.numpy())
        if not math.isfinite(value):
            return 1e30, np.zeros(x.size)  # tell the line search this point is bad instead of giving it NaN
        return value, grad.numpy().astype(np.float64).ravel()

    def on_iteration(intermediate_result) -> None:
        nonlocal accepted
        accepted = intermediate_result.x.copy()
        set_pixels(accepted)
        # The accepted point is usually the last one evaluated: reuse its terms.
        same = last["x"] is not None and np.array_equal(last["x"], accepted)
        recorder.record([last["terms"] if same else engine.terms_now().numpy()], 1)
        step = len(recorder.result.history["total"]) - 1
        if step % settings.frame_every == 0 or step == settings.steps:
            recorder.frame(step)

    # ftol = gtol = 0: run the iterations asked for (a progression then has its frames). maxcor 10 keeps
    # L-BFGS-B's float64 work arrays at about 600 bytes per RGB pixel.
    options = {"maxiter": settings.steps, "maxfun": settings.steps * 4 + 20, "ftol": 0.0, "gtol": 0.0, "maxcor": 10}
    try:
        minimize(value_and_grad, accepted, jac=True, method="L-BFGS-B", bounds=Bounds(0.0, 1.0),
                 callback=on_iteration, options=options)  # fmt: skip
    finally:
        set_pixels(accepted)
